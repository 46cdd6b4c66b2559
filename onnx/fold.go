package onnx

import (
	"fmt"
	"math"

	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// foldable ops: evaluated at import when every input is a constant (the
// shape arithmetic PyTorch writes for view/reshape/chunk given the static
// input shape, Identity nodes over initializers, constant expressions).
var foldOps = map[string]bool{
	"Identity": true, "Cast": true, "Gather": true, "Unsqueeze": true, "Squeeze": true, "Concat": true,
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Reshape": true, "Slice": true, "Floor": true, "Ceil": true,
	"Neg": true, "Sqrt": true, "Shape": false,
}

// maxFoldElems bounds the size of a constant computed by folding (shape
// arithmetic is tiny; folded float expressions are at most as large as an
// initializer).
const maxFoldElems = MaxTensorElems

// fold evaluates node n whose inputs are all constants.
func (im *importer) fold(n *onnxpb.NodeProto, at attrs) error {
	op := n.GetOpType()
	var ins []*constVal
	for i := range n.GetInput() {
		c, err := im.constIn(n, i, true)
		if err != nil {
			return err
		}
		ins = append(ins, c)
	}
	if len(ins) == 0 || ins[0] == nil {
		return fmt.Errorf("%s: input 0 is missing", where(n))
	}
	in := ins[0]
	switch op {
	case "Identity":
		return im.setConst(n, in)
	case "Cast":
		to, err := at.int("to", 0)
		if err != nil {
			return err
		}
		switch onnxpb.TensorProto_DataType(to) {
		case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_FLOAT16:
			return im.setConst(n, in.asFloat())
		case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32, onnxpb.TensorProto_INT16, onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8:
			return im.setConst(n, in.asInt())
		}
		return fmt.Errorf("%s: Cast to %s of a constant is not supported (float and integer types are)", where(n), onnxpb.TensorProto_DataType(to))
	case "Gather":
		return im.foldGather(n, at, ins)
	case "Unsqueeze", "Squeeze":
		axes, ok, err := at.ints("axes")
		if err != nil {
			return err
		}
		if !ok && len(ins) > 1 && ins[1] != nil {
			if !ins[1].isInt {
				return fmt.Errorf("%s: axes must be integers", where(n))
			}
			axes = ins[1].i
		}
		return im.setConst(n, foldSqueeze(in, axes, op == "Unsqueeze"))
	case "Concat":
		axis, err := at.int("axis", 0)
		if err != nil {
			return err
		}
		c := &constVal{isInt: in.isInt}
		for i, p := range ins {
			if p == nil {
				return fmt.Errorf("%s: input %d is missing", where(n), i)
			}
			if len(p.shape) > 1 || (axis != 0 && axis != -1) {
				return fmt.Errorf("%s: Concat of constants is supported for 1-D tensors only (input %d has shape %v, axis %d)", where(n), i, p.shape, axis)
			}
			if c.numel()+p.numel() > maxFoldElems {
				return fmt.Errorf("%s: folded constant too large", where(n))
			}
			if p.isInt != c.isInt {
				c = c.asFloat()
				p = p.asFloat()
			}
			c.i = append(c.i, p.i...)
			c.f = append(c.f, p.f...)
			c.batch = append(c.batch, p.flags()...)
		}
		c.shape = []int{max(len(c.i), len(c.f))}
		if !c.isInt {
			c.batch = nil
		}
		return im.setConst(n, c)
	case "Add", "Sub", "Mul", "Div":
		if len(ins) != 2 || ins[1] == nil {
			return fmt.Errorf("%s: want 2 inputs", where(n))
		}
		c, err := foldBinary(op, ins[0], ins[1])
		if err != nil {
			return fmt.Errorf("%s: %w", where(n), err)
		}
		return im.setConst(n, c)
	case "Floor", "Ceil", "Neg", "Sqrt":
		c := in.clone()
		for i, v := range c.f {
			switch op {
			case "Floor":
				c.f[i] = float32(math.Floor(float64(v)))
			case "Ceil":
				c.f[i] = float32(math.Ceil(float64(v)))
			case "Neg":
				c.f[i] = -v
			case "Sqrt":
				c.f[i] = float32(math.Sqrt(float64(v)))
			}
		}
		for i, v := range c.i {
			if op == "Neg" {
				c.i[i] = -v
			}
		}
		c.batch = make([]bool, len(c.i))
		return im.setConst(n, c)
	case "Reshape":
		if len(ins) < 2 || ins[1] == nil || !ins[1].isInt {
			return fmt.Errorf("%s: want an integer shape input", where(n))
		}
		shape, err := reshapeDims(in.shape, ins[1].i)
		if err != nil {
			return fmt.Errorf("%s: %w", where(n), err)
		}
		c := in.clone()
		c.shape = shape
		return im.setConst(n, c)
	case "Slice":
		if len(in.shape) != 1 {
			return fmt.Errorf("%s: Slice of a constant of shape %v is not supported (1-D only)", where(n), in.shape)
		}
		start, end, step, err := im.sliceArgs(n, at, ins, in.shape, 0)
		if err != nil {
			return err
		}
		c := &constVal{isInt: in.isInt}
		for j := start; (step > 0 && j < end) || (step < 0 && j > end); j += step {
			if in.isInt {
				c.i = append(c.i, in.i[j])
				c.batch = append(c.batch, in.flags()[j])
			} else {
				c.f = append(c.f, in.f[j])
			}
		}
		c.shape = []int{max(len(c.i), len(c.f))}
		return im.setConst(n, c)
	}
	return fmt.Errorf("unsupported op %q at node %q (constant folding of this op is not supported)", op, n.GetName())
}

func (im *importer) foldGather(n *onnxpb.NodeProto, at attrs, ins []*constVal) error {
	in := ins[0]
	if len(ins) < 2 || ins[1] == nil || !ins[1].isInt {
		return fmt.Errorf("%s: want integer indices", where(n))
	}
	idx := ins[1]
	axis, err := at.int("axis", 0)
	if err != nil {
		return err
	}
	if len(in.shape) != 1 || (axis != 0 && axis != -1) || len(idx.shape) > 1 {
		return fmt.Errorf("%s: Gather of constants is supported on 1-D data along axis 0 only (data %v, indices %v, axis %d)", where(n), in.shape, idx.shape, axis)
	}
	c := &constVal{isInt: in.isInt, shape: clone(idx.shape)}
	m := int64(in.shape[0])
	for _, j := range idx.i {
		if j < 0 {
			j += m
		}
		if j < 0 || j >= m {
			return fmt.Errorf("%s: index %d out of range for %d values", where(n), j, m)
		}
		if in.isInt {
			c.i = append(c.i, in.i[j])
			c.batch = append(c.batch, in.flags()[j])
		} else {
			c.f = append(c.f, in.f[j])
		}
	}
	return im.setConst(n, c)
}

// sliceArgs reads the starts/ends/axes/steps of a Slice (inputs from opset
// 10, attributes before) for the one axis it slices, which must be axis
// want (or any axis when want < 0, returned via the normalised start/end on
// shape[axis]); the result is clamped as ONNX specifies.
func (im *importer) sliceArgs(n *onnxpb.NodeProto, at attrs, ins []*constVal, shape []int, want int) (start, end, step int, err error) {
	var starts, ends, axes, steps []int64
	if im.opset < 10 {
		starts, _, err = at.ints("starts")
		if err == nil {
			ends, _, err = at.ints("ends")
		}
		if err == nil {
			axes, _, err = at.ints("axes")
		}
		if err != nil {
			return 0, 0, 0, err
		}
	} else {
		get := func(i int) ([]int64, error) {
			if i >= len(ins) || ins[i] == nil {
				return nil, nil
			}
			if !ins[i].isInt {
				return nil, fmt.Errorf("%s: input %d must be integers", where(n), i)
			}
			return ins[i].i, nil
		}
		for i, p := range []*[]int64{&starts, &ends, &axes, &steps} {
			if *p, err = get(i + 1); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	if len(starts) != 1 || len(ends) != 1 || len(axes) > 1 || len(steps) > 1 {
		return 0, 0, 0, fmt.Errorf("%s: Slice over %d axes cannot be represented (only one axis)", where(n), len(starts))
	}
	axis := int64(0)
	if len(axes) == 1 {
		axis = axes[0]
	}
	if axis < 0 {
		axis += int64(len(shape))
	}
	if axis != int64(want) {
		return 0, 0, 0, fmt.Errorf("%s: Slice along axis %d of a tensor of shape %v cannot be represented (only along axis %d)", where(n), axis, shape, want)
	}
	st := int64(1)
	if len(steps) == 1 {
		st = steps[0]
	}
	if st != 1 {
		return 0, 0, 0, fmt.Errorf("%s: Slice with step %d cannot be represented (only step 1)", where(n), st)
	}
	dim := int64(shape[axis])
	clamp := func(v int64) int64 {
		if v < 0 {
			v += dim
		}
		return min(max(v, 0), dim)
	}
	return int(clamp(starts[0])), int(clamp(ends[0])), 1, nil
}

// reshapeDims resolves a Reshape target (0 copies, -1 infers) for a
// constant of shape s.
func reshapeDims(s []int, t []int64) ([]int, error) {
	if len(t) > MaxRank {
		return nil, fmt.Errorf("reshape to rank %d exceeds the limit %d", len(t), MaxRank)
	}
	out := make([]int, len(t))
	infer := -1
	known := 1
	for i, v := range t {
		switch {
		case v == 0 && i < len(s):
			out[i] = s[i]
		case v == -1 && infer < 0:
			infer = i
			continue
		case v >= 1 && v <= MaxDim:
			out[i] = int(v)
		default:
			return nil, fmt.Errorf("reshape of %v to %v is not valid", s, t)
		}
		known *= out[i]
		if known > MaxTensorElems {
			return nil, fmt.Errorf("reshape of %v to %v: more than %d elements", s, t, MaxTensorElems)
		}
	}
	total := numel(s)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("reshape of %v to %v is not valid", s, t)
		}
		out[infer] = total / known
	} else if known != total {
		return nil, fmt.Errorf("reshape of %v to %v changes the element count", s, t)
	}
	return out, nil
}

func foldSqueeze(in *constVal, axes []int64, unsqueeze bool) *constVal {
	c := in.clone()
	r := len(in.shape)
	if unsqueeze {
		r += len(axes)
		if len(axes) == 0 {
			axes = []int64{0}
			r++
		}
		ins := map[int64]bool{}
		for _, a := range axes {
			if a < 0 {
				a += int64(r)
			}
			ins[a] = true
		}
		var shape []int
		k := 0
		for i := 0; i < r; i++ {
			if ins[int64(i)] {
				shape = append(shape, 1)
			} else if k < len(in.shape) {
				shape = append(shape, in.shape[k])
				k++
			}
		}
		c.shape = shape
		return c
	}
	rm := map[int64]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		rm[a] = true
	}
	shape := []int{}
	for i, d := range in.shape {
		if (len(axes) == 0 && d == 1) || (rm[int64(i)] && d == 1) {
			continue
		}
		shape = append(shape, d)
	}
	c.shape = shape
	return c
}

func foldBinary(op string, a, b *constVal) (*constVal, error) {
	na, nb := a.numel(), b.numel()
	shape := a.shape
	switch {
	case na == nb && len(a.shape) >= len(b.shape):
	case na == nb:
		shape = b.shape
	case nb == 1:
	case na == 1:
		shape = b.shape
	default:
		return nil, fmt.Errorf("%s of constants of shapes %v and %v is not supported (same shape or a scalar)", op, a.shape, b.shape)
	}
	n := numel(shape)
	at := func(c *constVal, i int) int {
		if c.numel() == 1 {
			return 0
		}
		return i
	}
	if a.isInt && b.isInt {
		c := &constVal{isInt: true, shape: clone(shape), i: make([]int64, n), batch: make([]bool, n)}
		for i := range c.i {
			x, y := a.i[at(a, i)], b.i[at(b, i)]
			switch op {
			case "Add":
				c.i[i] = x + y
			case "Sub":
				c.i[i] = x - y
			case "Mul":
				c.i[i] = x * y
			case "Div":
				if y == 0 {
					return nil, fmt.Errorf("integer division by zero")
				}
				c.i[i] = x / y
			}
		}
		return c, nil
	}
	fa, fb := a.asFloat(), b.asFloat()
	c := &constVal{shape: clone(shape), f: make([]float32, n)}
	for i := range c.f {
		x, y := fa.f[at(fa, i)], fb.f[at(fb, i)]
		switch op {
		case "Add":
			c.f[i] = x + y
		case "Sub":
			c.f[i] = x - y
		case "Mul":
			c.f[i] = x * y
		case "Div":
			c.f[i] = x / y
		}
	}
	return c, nil
}

func (c *constVal) clone() *constVal {
	return &constVal{shape: clone(c.shape), f: append([]float32(nil), c.f...), i: append([]int64(nil), c.i...), isInt: c.isInt, batch: append([]bool(nil), c.flags()...)}
}

// flags returns c.batch, or all false when unset.
func (c *constVal) flags() []bool {
	if len(c.batch) == len(c.i) {
		return c.batch
	}
	return make([]bool, len(c.i))
}

func (c *constVal) asFloat() *constVal {
	if !c.isInt {
		return c
	}
	f := make([]float32, len(c.i))
	for i, v := range c.i {
		f[i] = float32(v)
	}
	return &constVal{shape: clone(c.shape), f: f}
}

func (c *constVal) asInt() *constVal {
	if c.isInt {
		return c
	}
	v := make([]int64, len(c.f))
	for i, x := range c.f {
		v[i] = int64(x)
	}
	return &constVal{shape: clone(c.shape), i: v, isInt: true, batch: make([]bool, len(v))}
}
