package onnx

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/onnx/onnxpb"
	"github.com/dshrink/dshrink/tensor"
)

// view is a 5-D reshape [N, g, C/g, H, W] of a computed NCHW value (or its
// transpose [N, C/g, g, H, W]): the middle step of ShuffleNet's channel
// shuffle, which the IR holds only as a whole (graph.OpShuffle).
type view struct {
	x          string // our NCHW value
	shape      []int  // the 5-D shape (batch 1)
	groups     int
	transposed bool
}

func firstIn(n *onnxpb.NodeProto) string {
	if len(n.GetInput()) == 0 {
		return ""
	}
	return n.GetInput()[0]
}

// bind makes ONNX value name (an output of n) stand for our value v.
func (im *importer) bind(n *onnxpb.NodeProto, name, v string) error {
	if name == "" {
		return nil
	}
	if _, dup := im.vals[name]; dup {
		return fmt.Errorf("%s: output %q is already defined", where(n), name)
	}
	if _, dup := im.consts[name]; dup {
		return fmt.Errorf("%s: output %q is already defined", where(n), name)
	}
	if _, dup := im.views[name]; dup {
		return fmt.Errorf("%s: output %q is already defined", where(n), name)
	}
	im.vals[name] = v
	return nil
}

// shapeOf evaluates Shape of a computed value given the static input shape;
// element 0 is flagged as the batch size.
func (im *importer) shapeOf(n *onnxpb.NodeProto, at attrs) error {
	var s []int
	if v := im.views[firstIn(n)]; v != nil {
		s = v.shape
	} else {
		var err error
		if _, s, err = im.tensorIn(n, 0); err != nil {
			return err
		}
	}
	start, err := at.int("start", 0)
	if err != nil {
		return err
	}
	end, err := at.int("end", int64(len(s)))
	if err != nil {
		return err
	}
	r := int64(len(s))
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	start, end = min(max(start, 0), r), min(max(end, 0), r)
	c := &constVal{isInt: true, shape: []int{0}}
	for i := start; i < end; i++ {
		v := int64(s[i])
		if i == 0 && im.batch > 0 {
			v = int64(im.batch)
		}
		c.i = append(c.i, v)
		c.batch = append(c.batch, i == 0)
	}
	c.shape[0] = len(c.i)
	return im.setConst(n, c)
}

// concat joins computed NCHW values along the channels.
func (im *importer) concat(n *onnxpb.NodeProto, at attrs) error {
	axis, err := at.int("axis", 0)
	if err != nil {
		return err
	}
	var xs []string
	c := 0
	var first []int
	for i := range n.GetInput() {
		x, s, err := im.tensorIn(n, i)
		if err != nil {
			return fmt.Errorf("%v (Concat mixes computed tensors and constants, or reads an undefined value)", err)
		}
		if len(s) != 4 || (axis != 1 && axis != -3) {
			return fmt.Errorf("%s: Concat along axis %d of rank-%d tensors cannot be represented (only along the channels, axis 1, of NCHW)", where(n), axis, len(s))
		}
		if first == nil {
			first = s
		} else if s[2] != first[2] || s[3] != first[3] {
			return fmt.Errorf("%s: input %d has shape %v, want [N, C, %d, %d]", where(n), i, s, first[2], first[3])
		}
		c += s[1]
		xs = append(xs, x)
	}
	if len(xs) == 0 {
		return fmt.Errorf("%s: no inputs", where(n))
	}
	if len(xs) == 1 {
		return im.setOut(n, xs[0])
	}
	return im.setOut(n, im.add(&graph.Node{Op: graph.OpConcat, Inputs: xs}, hint(n), []int{1, c, first[2], first[3]}))
}

// slice selects a channel range of a computed NCHW value (torch.chunk or
// x[:, a:b] in PyTorch).
func (im *importer) slice(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	var ins []*constVal
	ins = append(ins, nil)
	for i := 1; i < len(n.GetInput()); i++ {
		c, err := im.constIn(n, i, true)
		if err != nil {
			return err
		}
		ins = append(ins, c)
	}
	if len(s) != 4 {
		return fmt.Errorf("%s: Slice of a rank-%d tensor cannot be represented (only channels of NCHW)", where(n), len(s))
	}
	start, end, _, err := im.sliceArgs(n, at, ins, s, 1)
	if err != nil {
		return err
	}
	if start >= end {
		return fmt.Errorf("%s: Slice selects no channels ([%d, %d) of %d)", where(n), start, end, s[1])
	}
	if start == 0 && end == s[1] {
		return im.setOut(n, x)
	}
	return im.setOut(n, im.sliceNode(x, s, start, end, hint(n)))
}

func (im *importer) sliceNode(x string, s []int, start, end int, h string) string {
	return im.add(&graph.Node{Op: graph.OpSlice, Inputs: []string{x}, Slice: &graph.SliceAttr{Start: start, End: end}}, h, []int{1, end - start, s[2], s[3]})
}

// split divides a computed NCHW value along the channels into several
// outputs, one OpSlice each.
func (im *importer) split(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	axis, err := at.int("axis", 0)
	if err != nil {
		return err
	}
	if len(s) != 4 || (axis != 1 && axis != -3) {
		return fmt.Errorf("%s: Split along axis %d of a rank-%d tensor cannot be represented (only along the channels, axis 1, of NCHW)", where(n), axis, len(s))
	}
	outs := n.GetOutput()
	var sizes []int64
	if sp, ok, err := at.ints("split"); err != nil {
		return err
	} else if ok {
		sizes = sp
	} else if len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
		c, err := im.constIn(n, 1, false)
		if err != nil {
			return err
		}
		if !c.isInt {
			return fmt.Errorf("%s: split sizes must be integers", where(n))
		}
		sizes = c.i
	} else {
		k := int64(len(outs))
		if k == 0 {
			return fmt.Errorf("%s: no outputs", where(n))
		}
		per := (int64(s[1]) + k - 1) / k
		for i := int64(0); i < k; i++ {
			sizes = append(sizes, min(per, int64(s[1])-i*per))
		}
	}
	if len(sizes) != len(outs) {
		return fmt.Errorf("%s: %d split sizes for %d outputs", where(n), len(sizes), len(outs))
	}
	start := 0
	for i, sz := range sizes {
		if sz < 1 || int64(start)+sz > int64(s[1]) {
			return fmt.Errorf("%s: split sizes %v do not divide %d channels", where(n), sizes, s[1])
		}
		end := start + int(sz)
		if outs[i] != "" && im.uses[outs[i]] > 0 {
			v := x
			if start != 0 || end != s[1] {
				v = im.sliceNode(x, s, start, end, fmt.Sprintf("%s.%d", hint(n), i))
			}
			if err := im.bind(n, outs[i], v); err != nil {
				return err
			}
		}
		start = end
	}
	if start != s[1] {
		return fmt.Errorf("%s: split sizes %v sum to %d, want %d channels", where(n), sizes, start, s[1])
	}
	return nil
}

// reshape represents a Reshape of a computed value: to [N, -1] (a
// flatten), to its own shape (nothing), to the 5-D view [N, g, C/g, H, W]
// of a channel shuffle, or from the transposed view back to [N, C, H, W]
// (the shuffle itself).
func (im *importer) reshape(n *onnxpb.NodeProto, at attrs) error {
	t, err := im.constIn(n, 1, false)
	if err != nil {
		return err
	}
	allowZero, err := at.int("allowzero", 0)
	if err != nil {
		return err
	}
	vw := im.views[firstIn(n)]
	var x string
	var s []int
	if vw != nil {
		x, s = vw.x, vw.shape
	} else if x, s, err = im.tensorIn(n, 0); err != nil {
		return err
	}
	if !t.isInt || len(t.i) < 1 || len(t.i) > MaxRank {
		return fmt.Errorf("%s: shape input %q is %v, want 1 to %d integers", where(n), n.GetInput()[1], t.shape, MaxRank)
	}
	f := numel(s[1:])
	bad := fmt.Errorf("%s: Reshape of %v to %v cannot be represented (only to [N, -1] (a flatten), or the view [N, g, C/g, H, W], Transpose and Reshape back of a channel shuffle)", where(n), s, t.i)
	flags := t.flags()
	// The first element must stand for the batch size.
	first := flags[0] || (t.i[0] == 0 && allowZero == 0) || (im.batch > 0 && t.i[0] == int64(im.batch)) || (im.batch == 0 && t.i[0] == 1 && len(t.i) > 1)
	rest := make([]int64, len(t.i))
	copy(rest, t.i)
	rest[0] = 1
	if !first {
		if t.i[0] != -1 {
			return bad
		}
		// [-1, F...] with F the per-image size: the batch is inferred.
		known := int64(1)
		for _, v := range t.i[1:] {
			if v <= 0 {
				return bad
			}
			known *= v
		}
		if known != int64(f) {
			return bad
		}
	}
	for i, v := range rest[1:] {
		if flags[i+1] {
			return bad
		}
		if v == 0 && allowZero != 0 {
			return bad
		}
	}
	out, err := reshapeDims(s, rest)
	if err != nil {
		return fmt.Errorf("%w: %v", bad, err)
	}
	switch {
	case vw == nil && len(out) == 2:
		return im.flatten(n, x, s)
	case vw == nil && tensor.SameShape(out, s):
		return im.setOut(n, x)
	case vw == nil && len(s) == 4 && len(out) == 5 && out[1]*out[2] == s[1] && out[3] == s[2] && out[4] == s[3]:
		return im.setView(n, &view{x: x, shape: out, groups: out[1]})
	case vw != nil && vw.transposed && len(out) == 4 && out[1] == s[1]*s[2] && out[2] == s[3] && out[3] == s[4]:
		xs := im.shapes[vw.x]
		return im.setOut(n, im.add(&graph.Node{Op: graph.OpShuffle, Inputs: []string{vw.x}, Shuffle: &graph.ShuffleAttr{Groups: vw.groups}}, hint(n), clone(xs)))
	}
	return bad
}

func (im *importer) setView(n *onnxpb.NodeProto, v *view) error {
	if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
		return fmt.Errorf("%s: no output", where(n))
	}
	name := n.GetOutput()[0]
	if _, dup := im.vals[name]; dup {
		return fmt.Errorf("%s: output %q is already defined", where(n), name)
	}
	im.views[name] = v
	return nil
}

// transpose accepts the middle step of a channel shuffle: the view
// [N, g, C/g, H, W] transposed to [N, C/g, g, H, W].
func (im *importer) transpose(n *onnxpb.NodeProto, at attrs) error {
	perm, _, err := at.ints("perm")
	if err != nil {
		return err
	}
	vw := im.views[firstIn(n)]
	if vw == nil || vw.transposed || fmt.Sprint(perm) != "[0 2 1 3 4]" {
		return fmt.Errorf("%s: Transpose (perm %v) cannot be represented (only perm [0 2 1 3 4] of the 5-D view of a channel shuffle: Reshape to [N, g, C/g, H, W], Transpose, Reshape to [N, C, H, W])", where(n), perm)
	}
	s := vw.shape
	return im.setView(n, &view{x: vw.x, shape: []int{s[0], s[2], s[1], s[3], s[4]}, groups: vw.groups, transposed: true})
}

// pool imports MaxPool and AveragePool (2-D, dilation 1).
func (im *importer) pool(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	if len(s) != 4 {
		return fmt.Errorf("%s: input rank %d, want 4 (only 2-D pooling is supported)", where(n), len(s))
	}
	ks, ok, err := at.ints("kernel_shape")
	if err != nil {
		return err
	}
	if !ok || len(ks) != 2 || ks[0] < 1 || ks[1] < 1 || ks[0] > 1<<16 || ks[1] > 1<<16 {
		return fmt.Errorf("%s: kernel_shape %v, want two sizes in [1, 65536]", where(n), ks)
	}
	if d, ok, err := at.ints("dilations"); err != nil {
		return err
	} else if ok && (len(d) != 2 || d[0] != 1 || d[1] != 1) {
		return fmt.Errorf("%s: dilations %v are not supported (only 1)", where(n), d)
	}
	strides := []int64{1, 1}
	if st, ok, err := at.ints("strides"); err != nil {
		return err
	} else if ok {
		if len(st) != 2 || st[0] < 1 || st[1] < 1 || st[0] > 1<<16 || st[1] > 1<<16 {
			return fmt.Errorf("%s: strides %v, want two values in [1, 65536]", where(n), st)
		}
		strides = st
	}
	var pads [4]int
	autoPad, err := at.str("auto_pad", "NOTSET")
	if err != nil {
		return err
	}
	switch autoPad {
	case "NOTSET", "", "VALID":
		if p, ok, err := at.ints("pads"); err != nil {
			return err
		} else if ok && autoPad != "VALID" {
			if len(p) != 4 {
				return fmt.Errorf("%s: pads %v, want 4 values", where(n), p)
			}
			for i, v := range p {
				if v < 0 || v >= ks[i%2] {
					return fmt.Errorf("%s: pads %v, want each in [0, kernel size) (kernel %v)", where(n), p, ks)
				}
				pads[i] = int(v)
			}
		}
	default:
		return fmt.Errorf("%s: auto_pad %q is not supported (NOTSET or VALID)", where(n), autoPad)
	}
	ceil, err := at.int("ceil_mode", 0)
	if err != nil {
		return err
	}
	a := &graph.PoolAttr{KH: int(ks[0]), KW: int(ks[1]), StrideH: int(strides[0]), StrideW: int(strides[1]), Pads: pads, CeilMode: ceil != 0}
	op := graph.OpMaxPool
	if n.GetOpType() == "AveragePool" {
		op = graph.OpAvgPool
		cip, err := at.int("count_include_pad", 0)
		if err != nil {
			return err
		}
		a.CountIncludePad = cip != 0
	} else if so, err := at.int("storage_order", 0); err != nil {
		return err
	} else if so != 0 {
		return fmt.Errorf("%s: storage_order %d is not supported (only 0)", where(n), so)
	}
	ho := graph.PoolOut(s[2], a.KH, a.StrideH, pads[0], pads[2], a.CeilMode)
	wo := graph.PoolOut(s[3], a.KW, a.StrideW, pads[1], pads[3], a.CeilMode)
	if ho < 1 || wo < 1 {
		return fmt.Errorf("%s: input %dx%d is too small for window %v with pads %v", where(n), s[2], s[3], ks, pads)
	}
	return im.setOut(n, im.add(&graph.Node{Op: op, Inputs: []string{x}, Pool: a}, hint(n), []int{1, s[1], ho, wo}))
}

// softmax imports a Softmax over the features of [N, F].
func (im *importer) softmax(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	def := int64(-1)
	if im.opset < 13 {
		def = 1
	}
	axis, err := at.int("axis", def)
	if err != nil {
		return err
	}
	if len(s) != 2 || (axis != 1 && axis != -1) {
		return fmt.Errorf("%s: Softmax along axis %d of a rank-%d tensor cannot be represented (only over the features of [N, F])", where(n), axis, len(s))
	}
	if out := n.GetOutput(); len(out) == 0 || out[0] != im.outName {
		return fmt.Errorf("%s: Softmax is supported only where it ends the graph (its output is not the model output %q)", where(n), im.outName)
	}
	return im.setOut(n, im.add(&graph.Node{Op: graph.OpSoftmax, Inputs: []string{x}}, hint(n), clone(s)))
}

// mulTensors represents the product of two computed values: x*sigmoid(x)
// (SiLU), or squeeze-and-excitation's scale x*gate with gate of x's shape or
// [N, C, 1, 1].
func (im *importer) mulTensors(n *onnxpb.NodeProto) (bool, error) {
	in0, in1 := n.GetInput()[0], n.GetInput()[1]
	a, ok1 := im.vals[in0]
	b, ok2 := im.vals[in1]
	if !ok1 || !ok2 {
		return false, nil
	}
	for _, p := range [][2]string{{a, b}, {b, a}} {
		if h := im.prod[p[1]]; h != nil && h.Op == graph.OpAct && h.Act.Kind == graph.ActSigmoid && h.Inputs[0] == p[0] {
			return true, im.setOut(n, im.add(&graph.Node{Op: graph.OpAct, Inputs: []string{p[0]}, Act: &graph.ActAttr{Kind: graph.ActSiLU}}, im.hints[h], clone(im.shapes[p[0]])))
		}
	}
	sa, sb := im.shapes[a], im.shapes[b]
	gate := func(x, g []int) bool {
		return len(x) == 4 && len(g) == 4 && g[1] == x[1] && g[2] == 1 && g[3] == 1
	}
	switch {
	case tensor.SameShape(sa, sb) && len(sa) == 4:
	case gate(sa, sb):
	case gate(sb, sa):
		a, b = b, a
	default:
		return true, fmt.Errorf("%s: Mul of computed tensors of shapes %v and %v cannot be represented (want the same NCHW shape, or one [N, C, 1, 1] gate)", where(n), sa, sb)
	}
	return true, im.setOut(n, im.add(&graph.Node{Op: graph.OpMul, Inputs: []string{a, b}}, hint(n), clone(im.shapes[a])))
}
