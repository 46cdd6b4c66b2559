package graph

import (
	"fmt"

	"github.com/dshrink/dshrink/tensor"
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
	if len(g.Input.Shape) != 3 {
		return nil, fmt.Errorf("graph %s: input shape %v, want [C, H, W]", g.Name, g.Input.Shape)
	}
	shapes := map[string][]int{g.Input.Name: append([]int{batch}, g.Input.Shape...)}
	seenNames := map[string]bool{}
	for _, n := range g.Nodes {
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
			return nil, err
		}
		if _, dup := shapes[n.Output]; dup {
			return nil, fmt.Errorf("node %s: output %q is already defined", n.Name, n.Output)
		}
		want, err := ExpectedParamShapes(n, out)
		if err != nil {
			return nil, err
		}
		if len(n.Params) != len(want) {
			return nil, fmt.Errorf("node %s (%s): %d parameters, want %d", n.Name, n.Op, len(n.Params), len(want))
		}
		for i, p := range n.Params {
			t, ok := g.Params[p]
			if !ok {
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

// Validate checks the graph at batch size 1 (see Shapes).
func (g *Graph) Validate() error {
	_, err := g.Shapes(1)
	return err
}

func nodeShape(n *Node, ins [][]int) ([]int, error) {
	wantInputs := 1
	if n.Op == OpAdd {
		wantInputs = 2
	}
	if len(ins) != wantInputs {
		return nil, fmt.Errorf("node %s (%s): %d inputs, want %d", n.Name, n.Op, len(ins), wantInputs)
	}
	x := ins[0]
	need4 := func() error {
		if len(x) != 4 {
			return fmt.Errorf("node %s (%s): input shape %v, want [N, C, H, W]", n.Name, n.Op, x)
		}
		return nil
	}
	switch n.Op {
	case OpConv:
		a := n.Conv
		if a == nil {
			return nil, fmt.Errorf("node %s: Conv without conv attributes", n.Name)
		}
		if err := need4(); err != nil {
			return nil, err
		}
		if a.Groups < 1 || a.InC%a.Groups != 0 || a.OutC%a.Groups != 0 || a.KH < 1 || a.KW < 1 || a.StrideH < 1 || a.StrideW < 1 {
			return nil, fmt.Errorf("node %s: invalid conv attributes %+v", n.Name, *a)
		}
		for _, p := range a.Pads {
			if p < 0 {
				return nil, fmt.Errorf("node %s: negative padding %v", n.Name, a.Pads)
			}
		}
		if x[1] != a.InC {
			return nil, fmt.Errorf("node %s: input has %d channels, conv expects %d", n.Name, x[1], a.InC)
		}
		ho := ConvOut(x[2], a.KH, a.StrideH, a.Pads[0], a.Pads[2])
		wo := ConvOut(x[3], a.KW, a.StrideW, a.Pads[1], a.Pads[3])
		if ho < 1 || wo < 1 {
			return nil, fmt.Errorf("node %s: input %dx%d is too small for kernel %dx%d with pads %v", n.Name, x[2], x[3], a.KH, a.KW, a.Pads)
		}
		return []int{x[0], a.OutC, ho, wo}, nil
	case OpBatchNorm:
		if n.BN == nil {
			return nil, fmt.Errorf("node %s: BatchNorm without attributes", n.Name)
		}
		if err := need4(); err != nil {
			return nil, err
		}
		if x[1] != n.BN.C {
			return nil, fmt.Errorf("node %s: input has %d channels, BatchNorm expects %d", n.Name, x[1], n.BN.C)
		}
		return clone(x), nil
	case OpAct:
		if n.Act == nil {
			return nil, fmt.Errorf("node %s: Act without attributes", n.Name)
		}
		switch n.Act.Kind {
		case ActIdentity, ActReLU, ActReLU6, ActHardSwish, ActHardSigmoid:
		default:
			return nil, fmt.Errorf("node %s: unknown activation %q", n.Name, n.Act.Kind)
		}
		return clone(x), nil
	case OpDropout:
		return clone(x), nil
	case OpAdd:
		if !tensor.SameShape(ins[0], ins[1]) {
			return nil, fmt.Errorf("node %s: Add of shapes %v and %v", n.Name, ins[0], ins[1])
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
			return nil, fmt.Errorf("node %s: Linear without attributes", n.Name)
		}
		if len(x) != 2 || x[1] != n.Linear.In {
			return nil, fmt.Errorf("node %s: input shape %v, want [N, %d]", n.Name, x, n.Linear.In)
		}
		return []int{x[0], n.Linear.Out}, nil
	case OpPad:
		if n.Pad == nil {
			return nil, fmt.Errorf("node %s: Pad without attributes", n.Name)
		}
		if err := need4(); err != nil {
			return nil, err
		}
		p := n.Pad.Pads
		return []int{x[0], x[1], x[2] + p[0] + p[2], x[3] + p[1] + p[3]}, nil
	}
	return nil, fmt.Errorf("node %s: unknown op %q", n.Name, n.Op)
}

func clone(s []int) []int { return append([]int(nil), s...) }

// Cost holds per-image costs of a model.
type Cost struct {
	MACs   int64 // multiply-accumulates of Conv and Linear nodes (per image)
	Params int64 // parameter values (BatchNorm running statistics excluded)
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
