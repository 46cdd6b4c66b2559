package graph

import (
	"fmt"

	"github.com/dshrink/dshrink/tensor"
)

// Builder appends nodes to a graph with torchvision-style parameter names.
// Each method takes the input value and returns the output value.
type Builder struct {
	G     *Graph
	Block string // block annotation given to new nodes
}

// NewBuilder starts a graph with input [c, h, w].
func NewBuilder(name string, c, h, w int) *Builder {
	return &Builder{G: New(name, c, h, w)}
}

func (b *Builder) add(n *Node, params map[string][]int, order []string) string {
	n.Output = n.Name
	n.Block = b.Block
	for _, p := range order {
		full := n.Name + "." + p
		b.G.Params[full] = tensor.New(params[p]...)
		n.Params = append(n.Params, full)
	}
	b.G.Nodes = append(b.G.Nodes, n)
	return n.Output
}

// Conv adds a convolution named name (parameters name.weight and, with bias,
// name.bias) with symmetric padding pad.
func (b *Builder) Conv(name, x string, inC, outC, k, stride, pad, groups int, bias bool) string {
	a := &ConvAttr{InC: inC, OutC: outC, KH: k, KW: k, StrideH: stride, StrideW: stride, Pads: [4]int{pad, pad, pad, pad}, Groups: groups, Bias: bias}
	ps := map[string][]int{"weight": {outC, inC / groups, k, k}, "bias": {outC}}
	order := []string{"weight"}
	if bias {
		order = append(order, "bias")
	}
	return b.add(&Node{Name: name, Op: OpConv, Inputs: []string{x}, Conv: a}, ps, order)
}

// BatchNorm adds a BatchNorm2d (eps 1e-5, momentum 0.1 as in PyTorch).
func (b *Builder) BatchNorm(name, x string, c int) string {
	ps := map[string][]int{"weight": {c}, "bias": {c}, "running_mean": {c}, "running_var": {c}}
	return b.add(&Node{Name: name, Op: OpBatchNorm, Inputs: []string{x}, BN: &BNAttr{C: c, Eps: 1e-5, Momentum: 0.1}}, ps, []string{"weight", "bias", "running_mean", "running_var"})
}

// Act adds an activation; unit names its removable unit ("" for none).
func (b *Builder) Act(name, x string, kind ActKind, unit string) string {
	return b.add(&Node{Name: name, Op: OpAct, Inputs: []string{x}, Act: &ActAttr{Kind: kind, Unit: unit}}, nil, nil)
}

// Add adds an element-wise sum.
func (b *Builder) Add(name, x, y string) string {
	return b.add(&Node{Name: name, Op: OpAdd, Inputs: []string{x, y}}, nil, nil)
}

// GlobalAvgPool adds a global average pooling.
func (b *Builder) GlobalAvgPool(name, x string) string {
	return b.add(&Node{Name: name, Op: OpGlobalAvgPool, Inputs: []string{x}}, nil, nil)
}

// Flatten adds a flatten to [N, F].
func (b *Builder) Flatten(name, x string) string {
	return b.add(&Node{Name: name, Op: OpFlatten, Inputs: []string{x}}, nil, nil)
}

// Dropout adds dropout with probability p.
func (b *Builder) Dropout(name, x string, p float64) string {
	return b.add(&Node{Name: name, Op: OpDropout, Inputs: []string{x}, Dropout: &DropoutAttr{P: p}}, nil, nil)
}

// Linear adds a fully connected layer.
func (b *Builder) Linear(name, x string, in, out int, bias bool) string {
	ps := map[string][]int{"weight": {out, in}, "bias": {out}}
	order := []string{"weight"}
	if bias {
		order = append(order, "bias")
	}
	return b.add(&Node{Name: name, Op: OpLinear, Inputs: []string{x}, Linear: &LinearAttr{In: in, Out: out, Bias: bias}}, ps, order)
}

// MaxPool adds a max pooling with a square window k, stride and symmetric
// padding pad.
func (b *Builder) MaxPool(name, x string, k, stride, pad int) string {
	a := &PoolAttr{KH: k, KW: k, StrideH: stride, StrideW: stride, Pads: [4]int{pad, pad, pad, pad}}
	return b.add(&Node{Name: name, Op: OpMaxPool, Inputs: []string{x}, Pool: a}, nil, nil)
}

// AvgPool adds an average pooling with a square window k, stride and
// symmetric padding pad; countPad divides by the whole window.
func (b *Builder) AvgPool(name, x string, k, stride, pad int, countPad bool) string {
	a := &PoolAttr{KH: k, KW: k, StrideH: stride, StrideW: stride, Pads: [4]int{pad, pad, pad, pad}, CountIncludePad: countPad}
	return b.add(&Node{Name: name, Op: OpAvgPool, Inputs: []string{x}, Pool: a}, nil, nil)
}

// Mul adds x * gate, gate of x's shape or [N, C, 1, 1].
func (b *Builder) Mul(name, x, gate string) string {
	return b.add(&Node{Name: name, Op: OpMul, Inputs: []string{x, gate}}, nil, nil)
}

// Concat adds a concatenation along the channels.
func (b *Builder) Concat(name string, xs ...string) string {
	return b.add(&Node{Name: name, Op: OpConcat, Inputs: append([]string(nil), xs...)}, nil, nil)
}

// Slice adds a selection of the channels [start, end).
func (b *Builder) Slice(name, x string, start, end int) string {
	return b.add(&Node{Name: name, Op: OpSlice, Inputs: []string{x}, Slice: &SliceAttr{Start: start, End: end}}, nil, nil)
}

// Shuffle adds a channel shuffle in groups.
func (b *Builder) Shuffle(name, x string, groups int) string {
	return b.add(&Node{Name: name, Op: OpShuffle, Inputs: []string{x}, Shuffle: &ShuffleAttr{Groups: groups}}, nil, nil)
}

// Softmax adds a softmax over the features of [N, F].
func (b *Builder) Softmax(name, x string) string {
	return b.add(&Node{Name: name, Op: OpSoftmax, Inputs: []string{x}}, nil, nil)
}

// Finish sets the output and validates the graph.
func (b *Builder) Finish(out string) (*Graph, error) {
	b.G.Output = out
	if err := b.G.Validate(); err != nil {
		return nil, fmt.Errorf("build %s: %w", b.G.Name, err)
	}
	return b.G, nil
}
