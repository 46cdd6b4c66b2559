// Package graph is dshrink's model IR: a list of nodes in topological order
// over named values, the parameters they use, structural annotations (blocks
// and removable activation units) and shape inference, cost counting and a
// file format. Training, merging, the runtime and ONNX all read and write it.
package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/dshrink/dshrink/tensor"
)

// Op names a node's operation.
type Op string

// The operations of the IR. Every tensor is NCHW (or [N, F] after Flatten).
const (
	OpConv          Op = "Conv"           // inputs: x; params: weight [K, C/groups, kh, kw], bias [K] (optional), bias_map [K, Ho, Wo] (optional)
	OpBatchNorm     Op = "BatchNorm"      // inputs: x; params: weight, bias, running_mean, running_var (each [C])
	OpAct           Op = "Act"            // inputs: x; element-wise activation
	OpAdd           Op = "Add"            // inputs: a, b of the same shape
	OpGlobalAvgPool Op = "GlobalAvgPool"  // inputs: x [N,C,H,W] -> [N,C,1,1]
	OpFlatten       Op = "Flatten"        // inputs: x [N,...] -> [N, prod(...)]
	OpLinear        Op = "Linear"         // inputs: x [N,In]; params: weight [Out, In], bias [Out] (optional)
	OpDropout       Op = "Dropout"        // inputs: x; identity at inference
	OpPad           Op = "Pad"            // inputs: x; zero padding of H and W
	OpMaxPool       Op = "MaxPool"        // inputs: x; Pool attributes; padding never wins the max
	OpAvgPool       Op = "AvgPool"        // inputs: x; Pool attributes; Pool.CountIncludePad chooses the divisor
	OpMul           Op = "Mul"            // inputs: x [N,C,H,W], gate of the same shape or [N,C,1,1] (broadcast over H, W): squeeze-and-excitation's scale
	OpConcat        Op = "Concat"         // inputs: x1..xk [N,Ci,H,W] -> [N, sum Ci, H, W] (channel axis)
	OpSlice         Op = "Slice"          // inputs: x; channels [Slice.Start, Slice.End) -> [N, End-Start, H, W]
	OpShuffle       Op = "ChannelShuffle" // inputs: x [N,C,H,W]; Shuffle.Groups g: output channel j*g+i is input channel i*(C/g)+j
	OpSoftmax       Op = "Softmax"        // inputs: x [N,F]; softmax over F (only where it ends a graph)
)

// Block kinds (Block.Kind). Importers and builders annotate blocks with them;
// merge and the planner decide from them what a block's chain is.
const (
	BlockInvertedResidual   = "inverted_residual"    // [1x1 expand], depthwise kxk, 1x1 project, optional residual (MobileNetV2, MNASNet)
	BlockInvertedResidualSE = "inverted_residual_se" // the same with squeeze-and-excitation between depthwise and project (MobileNetV3, EfficientNet)
	BlockBasic              = "basic"                // kxk conv, act, kxk conv, residual (ResNet basic block)
	BlockBottleneck         = "bottleneck"           // 1x1, (grouped) kxk, 1x1, residual (ResNet bottleneck, RegNet X)
	BlockShuffleBranch      = "shuffle_branch"       // ShuffleNetV2 branch: 1x1, depthwise kxk, 1x1 (concatenated, then shuffled)
)

// ActKind names an element-wise activation.
type ActKind string

// Activation kinds.
const (
	ActIdentity    ActKind = "identity"
	ActReLU        ActKind = "relu"
	ActReLU6       ActKind = "relu6"
	ActHardSwish   ActKind = "hardswish"
	ActHardSigmoid ActKind = "hardsigmoid" // relu6(x+3)/6
	ActSigmoid     ActKind = "sigmoid"     // 1/(1+exp(-x))
	ActSiLU        ActKind = "silu"        // x*sigmoid(x) (Swish)
)

// Node is one operation. Exactly the attribute struct matching Op is set.
type Node struct {
	Name    string       `json:"name"`
	Op      Op           `json:"op"`
	Inputs  []string     `json:"inputs"`
	Output  string       `json:"output"`
	Params  []string     `json:"params,omitempty"` // parameter names, in the role order documented on each Op
	Block   string       `json:"block,omitempty"`  // the Block this node belongs to, if any
	Conv    *ConvAttr    `json:"conv,omitempty"`
	BN      *BNAttr      `json:"bn,omitempty"`
	Act     *ActAttr     `json:"act,omitempty"`
	Linear  *LinearAttr  `json:"linear,omitempty"`
	Dropout *DropoutAttr `json:"dropout,omitempty"`
	Pad     *PadAttr     `json:"pad,omitempty"`
	Pool    *PoolAttr    `json:"pool,omitempty"`
	Slice   *SliceAttr   `json:"slice,omitempty"`
	Shuffle *ShuffleAttr `json:"shuffle,omitempty"`
}

// ConvAttr describes a 2-D convolution (dilation 1).
type ConvAttr struct {
	InC     int    `json:"in_channels"`
	OutC    int    `json:"out_channels"`
	KH      int    `json:"kernel_h"`
	KW      int    `json:"kernel_w"`
	StrideH int    `json:"stride_h"`
	StrideW int    `json:"stride_w"`
	Pads    [4]int `json:"pads"` // top, left, bottom, right
	Groups  int    `json:"groups"`
	Bias    bool   `json:"bias"`               // params[1] is a [OutC] bias
	BiasMap bool   `json:"bias_map,omitempty"` // the last param is a [OutC, Ho, Wo] constant added to the output (exact merge at borders)
	Fixed   bool   `json:"fixed,omitempty"`    // constant weights that training must not change (the merger's pad-first crops)
}

// BNAttr describes a BatchNorm2d.
type BNAttr struct {
	C        int     `json:"channels"`
	Eps      float64 `json:"eps"`
	Momentum float64 `json:"momentum"` // PyTorch convention: running = (1-m)*running + m*batch
}

// ActAttr describes an activation. Unit names the removable activation unit
// it belongs to (see Graph.Units); empty means it is never removed.
type ActAttr struct {
	Kind ActKind `json:"kind"`
	Unit string  `json:"unit,omitempty"`
}

// LinearAttr describes a fully connected layer.
type LinearAttr struct {
	In   int  `json:"in_features"`
	Out  int  `json:"out_features"`
	Bias bool `json:"bias"`
}

// DropoutAttr describes dropout (active only in training).
type DropoutAttr struct {
	P float64 `json:"p"`
}

// PadAttr describes zero padding of the two spatial dimensions.
type PadAttr struct {
	Pads [4]int `json:"pads"` // top, left, bottom, right
}

// PoolAttr describes a 2-D max or average pooling window (dilation 1).
// With CeilMode the output size rounds up, as PyTorch's ceil_mode does (a
// window must still start inside the input or its leading padding).
type PoolAttr struct {
	KH              int    `json:"kernel_h"`
	KW              int    `json:"kernel_w"`
	StrideH         int    `json:"stride_h"`
	StrideW         int    `json:"stride_w"`
	Pads            [4]int `json:"pads"` // top, left, bottom, right
	CeilMode        bool   `json:"ceil_mode,omitempty"`
	CountIncludePad bool   `json:"count_include_pad,omitempty"` // AvgPool: divide by the whole window, padding included
}

// SliceAttr selects the channels [Start, End) of its input.
type SliceAttr struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// ShuffleAttr describes ShuffleNet's channel shuffle: view the channels as
// [Groups, C/Groups], transpose to [C/Groups, Groups], flatten.
type ShuffleAttr struct {
	Groups int `json:"groups"`
}

// Block annotates a structural block (e.g. a MobileNetV2 inverted residual).
type Block struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`             // one of the Block* kinds
	Groups   int    `json:"groups,omitempty"` // groups of the block's middle kxk conv when neither 1 nor depthwise (RegNet)
	SE       bool   `json:"se,omitempty"`     // squeeze-and-excitation inside the block (its projection chain is not linear)
	InC      int    `json:"in_channels"`
	OutC     int    `json:"out_channels"`
	Hidden   int    `json:"hidden_channels"`
	Expand   int    `json:"expand_ratio"`
	Kernel   int    `json:"kernel"`
	Stride   int    `json:"stride"`
	Residual bool   `json:"residual"`
	Input    string `json:"input"`  // value entering the block
	Output   string `json:"output"` // value leaving the block (after the residual add)
}

// Unit is a removable activation unit: a set of activation nodes that the
// search keeps or removes together (by default, one per block).
type Unit struct {
	Name  string `json:"name"`
	Block string `json:"block,omitempty"` // the block it belongs to; empty for stem/head units
}

// Input describes the model input: [C, H, W] with a free batch dimension.
type Input struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// Graph is a whole model.
type Graph struct {
	Name    string                    `json:"name"`
	Input   Input                     `json:"input"`
	Output  string                    `json:"output"`
	Nodes   []*Node                   `json:"nodes"`
	Blocks  []Block                   `json:"blocks,omitempty"`
	Units   []Unit                    `json:"units,omitempty"`
	Meta    map[string]string         `json:"meta,omitempty"`
	Params  map[string]*tensor.Tensor `json:"-"`
	Classes int                       `json:"classes"`
}

// New returns an empty graph with the given input shape [C, H, W].
func New(name string, c, h, w int) *Graph {
	return &Graph{Name: name, Input: Input{Name: "input", Shape: []int{c, h, w}}, Params: map[string]*tensor.Tensor{}, Meta: map[string]string{}}
}

// Node returns the node with the given name, or nil.
func (g *Graph) Node(name string) *Node {
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Producer returns the node that outputs value v, or nil (for the graph input).
func (g *Graph) Producer(v string) *Node {
	for _, n := range g.Nodes {
		if n.Output == v {
			return n
		}
	}
	return nil
}

// Consumers returns the nodes reading value v, in graph order.
func (g *Graph) Consumers(v string) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == v {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// Param returns parameter i of node n, or nil when absent.
func (g *Graph) Param(n *Node, i int) *tensor.Tensor {
	if i < 0 || i >= len(n.Params) {
		return nil
	}
	return g.Params[n.Params[i]]
}

// Block returns the block with the given name, or nil.
func (g *Graph) Block(name string) *Block {
	for i := range g.Blocks {
		if g.Blocks[i].Name == name {
			return &g.Blocks[i]
		}
	}
	return nil
}

// ParamNames returns every parameter name in graph order (node order, then
// role order), the order used for optimiser state and checkpoints.
func (g *Graph) ParamNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range g.Nodes {
		for _, p := range n.Params {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	// Parameters not referenced by nodes (should not exist) come last, sorted.
	var rest []string
	for p := range g.Params {
		if !seen[p] {
			rest = append(rest, p)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// Clone returns a deep copy of g (parameters included).
func (g *Graph) Clone() *Graph {
	c := *g
	c.Input.Shape = append([]int(nil), g.Input.Shape...)
	c.Nodes = make([]*Node, len(g.Nodes))
	for i, n := range g.Nodes {
		c.Nodes[i] = n.clone()
	}
	c.Blocks = append([]Block(nil), g.Blocks...)
	c.Units = append([]Unit(nil), g.Units...)
	c.Meta = make(map[string]string, len(g.Meta))
	for k, v := range g.Meta {
		c.Meta[k] = v
	}
	c.Params = make(map[string]*tensor.Tensor, len(g.Params))
	for k, v := range g.Params {
		c.Params[k] = v.Clone()
	}
	return &c
}

func (n *Node) clone() *Node {
	c := *n
	c.Inputs = append([]string(nil), n.Inputs...)
	c.Params = append([]string(nil), n.Params...)
	if n.Conv != nil {
		v := *n.Conv
		c.Conv = &v
	}
	if n.BN != nil {
		v := *n.BN
		c.BN = &v
	}
	if n.Act != nil {
		v := *n.Act
		c.Act = &v
	}
	if n.Linear != nil {
		v := *n.Linear
		c.Linear = &v
	}
	if n.Dropout != nil {
		v := *n.Dropout
		c.Dropout = &v
	}
	if n.Pad != nil {
		v := *n.Pad
		c.Pad = &v
	}
	if n.Pool != nil {
		v := *n.Pool
		c.Pool = &v
	}
	if n.Slice != nil {
		v := *n.Slice
		c.Slice = &v
	}
	if n.Shuffle != nil {
		v := *n.Shuffle
		c.Shuffle = &v
	}
	return &c
}

// ExpectedParamShapes returns the shapes a node's parameters must have, in role
// order, given the node's input shape (needed only for a conv bias map).
func ExpectedParamShapes(n *Node, outShape []int) ([][]int, error) {
	switch n.Op {
	case OpConv:
		a := n.Conv
		s := [][]int{{a.OutC, a.InC / a.Groups, a.KH, a.KW}}
		if a.Bias {
			s = append(s, []int{a.OutC})
		}
		if a.BiasMap {
			if len(outShape) != 4 {
				return nil, fmt.Errorf("node %s: bias map needs a 4-D output shape", n.Name)
			}
			s = append(s, []int{a.OutC, outShape[2], outShape[3]})
		}
		return s, nil
	case OpBatchNorm:
		c := n.BN.C
		return [][]int{{c}, {c}, {c}, {c}}, nil
	case OpLinear:
		s := [][]int{{n.Linear.Out, n.Linear.In}}
		if n.Linear.Bias {
			s = append(s, []int{n.Linear.Out})
		}
		return s, nil
	}
	return nil, nil
}

// InitParams fills every parameter deterministically from seed, as torchvision
// initialises MobileNetV2: conv weights Kaiming-normal (fan-out), BN weight 1
// and bias 0 with running mean 0 and variance 1, linear weights N(0, 0.01),
// biases 0. Bias maps are zero.
func (g *Graph) InitParams(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for _, n := range g.Nodes {
		switch n.Op {
		case OpConv:
			a := n.Conv
			fanOut := float64(a.OutC * a.KH * a.KW / a.Groups)
			g.Params[n.Params[0]].RandN(rng, math.Sqrt(2/fanOut))
			for _, p := range n.Params[1:] {
				g.Params[p].Fill(0)
			}
		case OpBatchNorm:
			g.Params[n.Params[0]].Fill(1)
			g.Params[n.Params[1]].Fill(0)
			g.Params[n.Params[2]].Fill(0)
			g.Params[n.Params[3]].Fill(1)
		case OpLinear:
			g.Params[n.Params[0]].RandN(rng, 0.01)
			if n.Linear.Bias {
				g.Params[n.Params[1]].Fill(0)
			}
		}
	}
}
