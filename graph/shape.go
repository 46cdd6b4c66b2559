package graph

import (
	"errors"
	"fmt"

	"github.com/dshrink/dshrink/tensor"
)

// Limits on the models this package accepts. Shapes checks every dimension,
// attribute and element count against them (in 64-bit arithmetic) before
// anything downstream allocates or multiplies sizes, so that a crafted model
// gets an error, never a panic, an out-of-memory crash or a wrapped total.
const (
	// MaxDim is the largest accepted size of a dimension, channel count,
	// kernel size, stride or padding.
	MaxDim = 1 << 24
	// MaxImageElems is the largest accepted number of elements of one value
	// for one image (1 GiB of float32).
	MaxImageElems = 1 << 28
	// MaxBatchElems is the largest accepted number of elements of one value
	// for a whole batch.
	MaxBatchElems = 1 << 31
	// MaxParamElems is the largest accepted number of elements of one parameter.
	MaxParamElems = 1 << 28
	// MaxNodes is the largest accepted number of nodes.
	MaxNodes = 1 << 20
	// MaxMACs is the largest accepted number of multiply-accumulates per image.
	MaxMACs = 1 << 50
)

// ConvOut returns the output size of a convolution along one axis.
func ConvOut(in, k, stride, padLo, padHi int) int {
	return (in+padLo+padHi-k)/stride + 1
}

// Shapes infers the shape of every value for the given batch size and checks
// the graph: every input is defined before it is used, attributes are
// consistent, and every parameter exists with the expected shape. The map is
// keyed by value name and includes the graph input.
func (g *Graph) Shapes(batch int) (map[string][]int, error) {
	if batch < 1 {
		return nil, fmt.Errorf("graph %s: batch size %d, want at least 1", g.Name, batch)
	}
	if batch > MaxDim {
		return nil, fmt.Errorf("graph %s: batch size %d exceeds the limit %d", g.Name, batch, MaxDim)
	}
	if len(g.Input.Shape) != 3 {
		return nil, fmt.Errorf("graph %s: input shape %v, want [C, H, W]", g.Name, g.Input.Shape)
	}
	for i, d := range g.Input.Shape {
		if d < 1 || d > MaxDim {
			return nil, fmt.Errorf("graph %s: input shape %v: dimension %d is out of range [1, %d]", g.Name, g.Input.Shape, i, MaxDim)
		}
	}
	if len(g.Nodes) > MaxNodes {
		return nil, fmt.Errorf("graph %s: %d nodes, the limit is %d", g.Name, len(g.Nodes), MaxNodes)
	}
	in := append([]int{batch}, g.Input.Shape...)
	if err := checkElems(in); err != nil {
		return nil, fmt.Errorf("graph %s: input %q: %w", g.Name, g.Input.Name, err)
	}
	shapes := map[string][]int{g.Input.Name: in}
	seenNames := map[string]bool{}
	var macs int64
	for i, n := range g.Nodes {
		if n == nil {
			return nil, fmt.Errorf("graph %s: node %d is null", g.Name, i)
		}
		if n.Name == "" || n.Output == "" {
			return nil, fmt.Errorf("graph %s: node %d (op %q) has no name or no output", g.Name, i, n.Op)
		}
		if seenNames[n.Name] {
			return nil, fmt.Errorf("graph %s: duplicate node name %q", g.Name, n.Name)
		}
		seenNames[n.Name] = true
		ins := make([][]int, len(n.Inputs))
		for i, v := range n.Inputs {
			s, ok := shapes[v]
			if !ok {
				return nil, fmt.Errorf("node %s: input %q is not defined before use", n.Name, v)
			}
			ins[i] = s
		}
		out, err := nodeShape(n, ins)
		if err != nil {
			return nil, fmt.Errorf("graph %s: node %d (%s, %s): %w", g.Name, i, n.Name, n.Op, err)
		}
		if err := checkElems(out); err != nil {
			return nil, fmt.Errorf("graph %s: node %d (%s): output shape %v: %w", g.Name, i, n.Name, out, err)
		}
		if macs += NodeMACs(n, map[string][]int{n.Output: out}); macs > MaxMACs {
			return nil, fmt.Errorf("graph %s: node %d (%s): more than %d multiply-accumulates per image", g.Name, i, n.Name, int64(MaxMACs))
		}
		if _, dup := shapes[n.Output]; dup {
			return nil, fmt.Errorf("node %s: output %q is already defined", n.Name, n.Output)
		}
		want, err := ExpectedParamShapes(n, out)
		if err != nil {
			return nil, err
		}
		for _, w := range want {
			if e := tensor.Numel(w); e > MaxParamElems {
				return nil, fmt.Errorf("graph %s: node %d (%s): a parameter of shape %v has more than %d elements", g.Name, i, n.Name, w, MaxParamElems)
			}
		}
		if len(n.Params) != len(want) {
			return nil, fmt.Errorf("node %s (%s): %d parameters, want %d", n.Name, n.Op, len(n.Params), len(want))
		}
		for i, p := range n.Params {
			t, ok := g.Params[p]
			if !ok || t == nil {
				return nil, fmt.Errorf("node %s: parameter %q is missing", n.Name, p)
			}
			if !tensor.SameShape(t.Shape, want[i]) {
				return nil, fmt.Errorf("node %s: parameter %q has shape %v, want %v", n.Name, p, t.Shape, want[i])
			}
		}
		shapes[n.Output] = out
	}
	if _, ok := shapes[g.Output]; !ok {
		return nil, fmt.Errorf("graph %s: output %q is not produced by any node", g.Name, g.Output)
	}
	return shapes, nil
}

// MemoryEstimate returns about how many bytes running g on batch images
// takes: for inference every parameter and four buffers the size of the
// largest value (executors reuse buffers); for training one buffer per
// value, its gradient and a saved activation, and the parameters with their
// gradients and optimiser buffers. It fails when Shapes does (a batch whose
// values exceed the limits included).
func (g *Graph) MemoryEstimate(batch int, training bool) (int64, error) {
	shapes, err := g.Shapes(batch)
	if err != nil {
		return 0, err
	}
	var vals, largest, params int64
	for _, s := range shapes {
		n := int64(tensor.Numel(s)) // at most MaxBatchElems, at most MaxNodes+1 of them
		vals += n
		largest = max(largest, n)
	}
	for _, t := range g.Params {
		if t != nil {
			params += int64(len(t.Data))
		}
	}
	if training {
		return 4 * (3*vals + 4*params), nil
	}
	// Inference reuses buffers: a few of the largest values are live at once.
	return 4 * (4*largest + params), nil
}

// AllocParams gives every parameter a node names but g.Params lacks a zero
// tensor of the shape the node expects (InitParams then fills them), so that
// a structure read on its own (e.g. a fuzzed or hand-written one) becomes a
// complete model. It allocates at most maxElems elements in all and fails
// when a node's shape cannot be inferred or the budget would be exceeded.
func (g *Graph) AllocParams(maxElems int) error {
	if g.Params == nil {
		g.Params = map[string]*tensor.Tensor{}
	}
	if len(g.Input.Shape) != 3 || !inRange(1, g.Input.Shape...) {
		return fmt.Errorf("graph %s: input shape %v, want [C, H, W] in [1, %d]", g.Name, g.Input.Shape, MaxDim)
	}
	shapes := map[string][]int{g.Input.Name: append([]int{1}, g.Input.Shape...)}
	total := 0
	for i, n := range g.Nodes {
		if n == nil {
			return fmt.Errorf("graph %s: node %d is null", g.Name, i)
		}
		ins := make([][]int, len(n.Inputs))
		for j, v := range n.Inputs {
			if ins[j] = shapes[v]; ins[j] == nil {
				return fmt.Errorf("graph %s: node %d (%s): input %q is not defined before use", g.Name, i, n.Name, v)
			}
		}
		out, err := nodeShape(n, ins)
		if err != nil {
			return fmt.Errorf("graph %s: node %d (%s, %s): %w", g.Name, i, n.Name, n.Op, err)
		}
		if err := checkElems(out); err != nil {
			return fmt.Errorf("graph %s: node %d (%s): %w", g.Name, i, n.Name, err)
		}
		shapes[n.Output] = out
		want, err := ExpectedParamShapes(n, out)
		if err != nil {
			return err
		}
		if len(want) != len(n.Params) {
			return fmt.Errorf("graph %s: node %d (%s): %d parameters, want %d", g.Name, i, n.Name, len(n.Params), len(want))
		}
		for j, ws := range want {
			if _, ok := g.Params[n.Params[j]]; ok {
				continue
			}
			e := tensor.Numel(ws)
			if e > maxElems-total {
				return fmt.Errorf("graph %s: node %d (%s): parameters beyond %d elements", g.Name, i, n.Name, maxElems)
			}
			total += e
			g.Params[n.Params[j]] = tensor.New(ws...)
		}
	}
	return nil
}

// Validate checks the graph at batch size 1 (see Shapes).
func (g *Graph) Validate() error {
	_, err := g.Shapes(1)
	return err
}

func nodeShape(n *Node, ins [][]int) ([]int, error) {
	switch n.Op {
	case OpAdd, OpMul:
		if len(ins) != 2 {
			return nil, fmt.Errorf("%d inputs, want 2", len(ins))
		}
	case OpConcat:
		if len(ins) < 1 {
			return nil, errors.New("Concat without inputs")
		}
	default:
		if len(ins) != 1 {
			return nil, fmt.Errorf("%d inputs, want 1", len(ins))
		}
	}
	x := ins[0]
	need4 := func() error {
		if len(x) != 4 {
			return fmt.Errorf("input shape %v, want [N, C, H, W]", x)
		}
		return nil
	}
	switch n.Op {
	case OpConv:
		a := n.Conv
		if a == nil {
			return nil, errors.New("Conv without conv attributes")
		}
		if err := need4(); err != nil {
			return nil, err
		}
		if !inRange(1, a.Groups, a.InC, a.OutC, a.KH, a.KW, a.StrideH, a.StrideW) || a.InC%a.Groups != 0 || a.OutC%a.Groups != 0 {
			return nil, fmt.Errorf("invalid conv attributes %+v (channels, kernel, stride and groups must be in [1, %d], groups dividing the channels)", *a, MaxDim)
		}
		if !inRange(0, a.Pads[:]...) {
			return nil, fmt.Errorf("padding %v out of range [0, %d]", a.Pads, MaxDim)
		}
		// Weight elements, in 64 bits: OutC * InC/Groups * KH * KW.
		if e := int64(a.OutC) * int64(a.InC/a.Groups); e > MaxParamElems || e*int64(a.KH)*int64(a.KW) > MaxParamElems {
			return nil, fmt.Errorf("conv weight [%d %d %d %d] has more than %d elements", a.OutC, a.InC/a.Groups, a.KH, a.KW, MaxParamElems)
		}
		if x[1] != a.InC {
			return nil, fmt.Errorf("input has %d channels, conv expects %d", x[1], a.InC)
		}
		if x[2]+a.Pads[0]+a.Pads[2] < a.KH || x[3]+a.Pads[1]+a.Pads[3] < a.KW {
			return nil, fmt.Errorf("input %dx%d is too small for kernel %dx%d with pads %v", x[2], x[3], a.KH, a.KW, a.Pads)
		}
		ho := ConvOut(x[2], a.KH, a.StrideH, a.Pads[0], a.Pads[2])
		wo := ConvOut(x[3], a.KW, a.StrideW, a.Pads[1], a.Pads[3])
		if ho < 1 || wo < 1 {
			return nil, fmt.Errorf("input %dx%d is too small for kernel %dx%d with pads %v", x[2], x[3], a.KH, a.KW, a.Pads)
		}
		return []int{x[0], a.OutC, ho, wo}, nil
	case OpBatchNorm:
		if n.BN == nil {
			return nil, errors.New("BatchNorm without attributes")
		}
		if err := need4(); err != nil {
			return nil, err
		}
		if x[1] != n.BN.C {
			return nil, fmt.Errorf("input has %d channels, BatchNorm expects %d", x[1], n.BN.C)
		}
		if !(n.BN.Eps >= 0 && n.BN.Eps <= 1) || !(n.BN.Momentum >= 0 && n.BN.Momentum <= 1) {
			return nil, fmt.Errorf("BatchNorm eps %v and momentum %v, want both in [0, 1]", n.BN.Eps, n.BN.Momentum)
		}
		return clone(x), nil
	case OpAct:
		if n.Act == nil {
			return nil, errors.New("Act without attributes")
		}
		switch n.Act.Kind {
		case ActIdentity, ActReLU, ActReLU6, ActHardSwish, ActHardSigmoid, ActSigmoid, ActSiLU:
		default:
			return nil, fmt.Errorf("unknown activation %q", n.Act.Kind)
		}
		return clone(x), nil
	case OpDropout:
		if n.Dropout != nil && !(n.Dropout.P >= 0 && n.Dropout.P < 1) {
			return nil, fmt.Errorf("dropout probability %v, want [0, 1)", n.Dropout.P)
		}
		return clone(x), nil
	case OpAdd:
		if !tensor.SameShape(ins[0], ins[1]) {
			return nil, fmt.Errorf("Add of shapes %v and %v", ins[0], ins[1])
		}
		return clone(x), nil
	case OpGlobalAvgPool:
		if err := need4(); err != nil {
			return nil, err
		}
		return []int{x[0], x[1], 1, 1}, nil
	case OpFlatten:
		return []int{x[0], tensor.Numel(x[1:])}, nil
	case OpLinear:
		if n.Linear == nil {
			return nil, errors.New("Linear without attributes")
		}
		if !inRange(1, n.Linear.In, n.Linear.Out) || int64(n.Linear.In)*int64(n.Linear.Out) > MaxParamElems {
			return nil, fmt.Errorf("Linear %d -> %d out of range (each in [1, %d], at most %d weights)", n.Linear.In, n.Linear.Out, MaxDim, MaxParamElems)
		}
		if len(x) != 2 || x[1] != n.Linear.In {
			return nil, fmt.Errorf("input shape %v, want [N, %d]", x, n.Linear.In)
		}
		return []int{x[0], n.Linear.Out}, nil
	case OpPad:
		if n.Pad == nil {
			return nil, errors.New("Pad without attributes")
		}
		if err := need4(); err != nil {
			return nil, err
		}
		p := n.Pad.Pads
		if !inRange(0, p[:]...) {
			return nil, fmt.Errorf("padding %v out of range [0, %d]", p, MaxDim)
		}
		return []int{x[0], x[1], x[2] + p[0] + p[2], x[3] + p[1] + p[3]}, nil
	case OpMaxPool, OpAvgPool:
		a := n.Pool
		if a == nil {
			return nil, fmt.Errorf("%s without pool attributes", n.Op)
		}
		if err := need4(); err != nil {
			return nil, err
		}
		if !inRange(1, a.KH, a.KW, a.StrideH, a.StrideW) || !inRange(0, a.Pads[:]...) {
			return nil, fmt.Errorf("invalid pool attributes %+v (kernel and stride in [1, %d], pads in [0, %d])", *a, MaxDim, MaxDim)
		}
		if a.Pads[0] >= a.KH || a.Pads[2] >= a.KH || a.Pads[1] >= a.KW || a.Pads[3] >= a.KW {
			return nil, fmt.Errorf("pool padding %v must be smaller than the window %dx%d", a.Pads, a.KH, a.KW)
		}
		ho := PoolOut(x[2], a.KH, a.StrideH, a.Pads[0], a.Pads[2], a.CeilMode)
		wo := PoolOut(x[3], a.KW, a.StrideW, a.Pads[1], a.Pads[3], a.CeilMode)
		if ho < 1 || wo < 1 {
			return nil, fmt.Errorf("input %dx%d is too small for pool window %dx%d with pads %v", x[2], x[3], a.KH, a.KW, a.Pads)
		}
		return []int{x[0], x[1], ho, wo}, nil
	case OpMul:
		g := ins[1]
		if err := need4(); err != nil {
			return nil, err
		}
		if len(g) != 4 || g[0] != x[0] || g[1] != x[1] || !(g[2] == x[2] && g[3] == x[3] || g[2] == 1 && g[3] == 1) {
			return nil, fmt.Errorf("Mul of shapes %v and %v, want the second equal to the first or [N, C, 1, 1]", x, g)
		}
		return clone(x), nil
	case OpConcat:
		if err := need4(); err != nil {
			return nil, err
		}
		c := 0
		for i, s := range ins {
			if len(s) != 4 || s[0] != x[0] || s[2] != x[2] || s[3] != x[3] {
				return nil, fmt.Errorf("Concat input %d has shape %v, want [%d, C, %d, %d]", i, s, x[0], x[2], x[3])
			}
			c += s[1]
		}
		if c > MaxDim {
			return nil, fmt.Errorf("Concat gives %d channels, more than %d", c, MaxDim)
		}
		return []int{x[0], c, x[2], x[3]}, nil
	case OpSlice:
		if n.Slice == nil {
			return nil, errors.New("Slice without attributes")
		}
		if err := need4(); err != nil {
			return nil, err
		}
		if n.Slice.Start < 0 || n.Slice.End > x[1] || n.Slice.Start >= n.Slice.End {
			return nil, fmt.Errorf("Slice of channels [%d, %d) of %d, want 0 <= start < end <= channels", n.Slice.Start, n.Slice.End, x[1])
		}
		return []int{x[0], n.Slice.End - n.Slice.Start, x[2], x[3]}, nil
	case OpShuffle:
		if n.Shuffle == nil {
			return nil, errors.New("ChannelShuffle without attributes")
		}
		if err := need4(); err != nil {
			return nil, err
		}
		if g := n.Shuffle.Groups; g < 1 || x[1]%g != 0 {
			return nil, fmt.Errorf("ChannelShuffle of %d channels in %d groups, want groups >= 1 dividing the channels", x[1], g)
		}
		return clone(x), nil
	case OpSoftmax:
		if len(x) != 2 {
			return nil, fmt.Errorf("input shape %v, want [N, F]", x)
		}
		return clone(x), nil
	}
	return nil, fmt.Errorf("unknown op %q", n.Op)
}

// PoolOut is the output size of a pooling window along one axis, with
// PyTorch's rule for ceil mode (the last window must start inside the input
// or its leading padding).
func PoolOut(in, k, stride, padLo, padHi int, ceil bool) int {
	span := in + padLo + padHi - k
	if span < 0 {
		return 0
	}
	if !ceil {
		return span/stride + 1
	}
	o := (span+stride-1)/stride + 1
	if (o-1)*stride >= in+padLo {
		o--
	}
	return o
}

func clone(s []int) []int { return append([]int(nil), s...) }

// inRange reports whether every v is in [lo, MaxDim].
func inRange(lo int, vs ...int) bool {
	for _, v := range vs {
		if v < lo || v > MaxDim {
			return false
		}
	}
	return true
}

// checkElems checks a value's shape ([N, ...]) against MaxImageElems per
// image and MaxBatchElems for the batch, in 64-bit arithmetic.
func checkElems(s []int) error {
	per := int64(1)
	for _, d := range s[1:] {
		if d < 0 || d > MaxDim {
			return fmt.Errorf("dimension %d out of range [0, %d]", d, MaxDim)
		}
		if per *= int64(d); per > MaxImageElems {
			return fmt.Errorf("more than %d elements per image", MaxImageElems)
		}
	}
	if per*int64(s[0]) > MaxBatchElems {
		return fmt.Errorf("%d elements per image x batch %d exceeds %d elements", per, s[0], int64(MaxBatchElems))
	}
	return nil
}

// Cost holds per-image costs of a model.
type Cost struct {
	MACs   int64 `json:"macs"`   // multiply-accumulates of Conv and Linear nodes (per image)
	Params int64 `json:"params"` // parameter values (BatchNorm running statistics excluded)
}

// NodeMACs returns the multiply-accumulates of one node for one image, given
// the shapes from Shapes.
func NodeMACs(n *Node, shapes map[string][]int) int64 {
	out := shapes[n.Output]
	switch n.Op {
	case OpConv:
		a := n.Conv
		return int64(a.OutC) * int64(out[2]*out[3]) * int64(a.InC/a.Groups*a.KH*a.KW)
	case OpLinear:
		return int64(n.Linear.In) * int64(n.Linear.Out)
	}
	return 0
}

// Cost counts MACs and parameters per image.
func (g *Graph) Cost() (Cost, error) {
	shapes, err := g.Shapes(1)
	if err != nil {
		return Cost{}, err
	}
	var c Cost
	for _, n := range g.Nodes {
		c.MACs += NodeMACs(n, shapes)
		for i, p := range n.Params {
			if n.Op == OpBatchNorm && i >= 2 {
				continue // running statistics are buffers, not parameters
			}
			c.Params += int64(len(g.Params[p].Data))
		}
	}
	return c, nil
}
