package onnx

import (
	"fmt"
	"math"
	"regexp"

	"github.com/dshrink/dshrink/graph"
)

// Annotate recognises the MobileNetV2 structure of g and sets g.Blocks,
// g.Units, Node.Block and ActAttr.Unit as models.MobileNetV2 does (existing
// annotations are replaced):
//
//   - an inverted residual block is 1x1 conv [-> BN] -> act -> kxk depthwise
//     conv [-> BN] -> act -> 1x1 conv [-> BN] [-> Add with the block input],
//     or the expansion-1 form without the first 1x1 conv; each intermediate
//     value must have no other reader. Its two activations form one unit
//     named after the block;
//   - any other conv [-> BN] -> act (the stem and head) is a unit of its own,
//     named after the conv's module ("features.0.0" -> "features.0").
//
// Blocks are named after the convs' module ("features.3.conv.0.0" ->
// "features.3"), else "block.<i>". Units are listed in graph order.
func Annotate(g *graph.Graph) {
	g.Blocks, g.Units = nil, nil
	for _, n := range g.Nodes {
		n.Block = ""
		if n.Act != nil {
			n.Act.Unit = ""
		}
	}
	readers := map[string]int{}
	prod := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			readers[v]++
		}
		prod[n.Output] = n
	}
	readers[g.Output]++
	cons := map[string][]*graph.Node{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			cons[v] = append(cons[v], n)
		}
	}
	// next returns the only reader of v when it has the given op.
	next := func(v string, op graph.Op) *graph.Node {
		if readers[v] != 1 || len(cons[v]) != 1 || cons[v][0].Op != op {
			return nil
		}
		return cons[v][0]
	}
	taken := map[*graph.Node]bool{}
	pos := map[*graph.Node]int{}
	for i, n := range g.Nodes {
		pos[n] = i
	}
	var units []unitAt
	blockIdx := 0
	// stage matches conv [-> BN] -> act starting at conv c; it returns the
	// nodes and the activation.
	stage := func(c *graph.Node, needAct bool) (nodes []*graph.Node, act *graph.Node, out string) {
		nodes = []*graph.Node{c}
		out = c.Output
		if bn := next(out, graph.OpBatchNorm); bn != nil {
			nodes = append(nodes, bn)
			out = bn.Output
		}
		if !needAct {
			return nodes, nil, out
		}
		if a := next(out, graph.OpAct); a != nil {
			nodes = append(nodes, a)
			return nodes, a, a.Output
		}
		return nil, nil, ""
	}
	is1x1 := func(c *graph.Node) bool {
		a := c.Conv
		return c.Op == graph.OpConv && a.KH == 1 && a.KW == 1 && a.Groups == 1 && a.StrideH == 1 && a.StrideW == 1 && a.Pads == [4]int{}
	}
	isDW := func(c *graph.Node) bool {
		if c == nil || c.Op != graph.OpConv {
			return false
		}
		a := c.Conv
		return a.Groups == a.InC && a.InC == a.OutC && a.Groups > 1 && a.KH == a.KW && a.StrideH == a.StrideW
	}
	for _, c := range g.Nodes {
		if c.Op != graph.OpConv || taken[c] {
			continue
		}
		x := c.Inputs[0]
		var nodes, acts []*graph.Node
		var dw *graph.Node
		expand := false
		if is1x1(c) {
			ns, a1, out := stage(c, true)
			if a1 == nil || readers[out] != 1 {
				continue
			}
			d := next(out, graph.OpConv)
			if !isDW(d) || d.Conv.InC != c.Conv.OutC {
				continue
			}
			nodes, acts, dw, expand = ns, []*graph.Node{a1}, d, true
		} else if isDW(c) {
			dw = c
		} else {
			continue
		}
		ns, a2, out := stage(dw, true)
		if a2 == nil {
			continue
		}
		p := next(out, graph.OpConv)
		if p == nil || !is1x1(p) || p.Conv.InC != dw.Conv.OutC {
			continue
		}
		nodes = append(nodes, ns...)
		acts = append(acts, a2)
		ps, _, pout := stage(p, false)
		nodes = append(nodes, ps...)
		outC, hidden := p.Conv.OutC, dw.Conv.OutC
		blockIn := x
		in := c.Conv.InC
		residual := false
		if readers[pout] == 1 && len(cons[pout]) == 1 && cons[pout][0].Op == graph.OpAdd {
			add := cons[pout][0]
			other := add.Inputs[0]
			if other == pout {
				other = add.Inputs[1]
			}
			if other == blockIn && in == outC && dw.Conv.StrideH == 1 {
				residual = true
				nodes = append(nodes, add)
				pout = add.Output
			}
		}
		name := blockName(c.Name, &blockIdx)
		e := 1
		if expand {
			e = int(math.Round(float64(hidden) / float64(in)))
		}
		b := graph.Block{Name: name, Kind: "inverted_residual", InC: in, OutC: outC, Hidden: hidden, Expand: e,
			Kernel: dw.Conv.KH, Stride: dw.Conv.StrideH, Residual: residual, Input: blockIn, Output: pout}
		g.Blocks = append(g.Blocks, b)
		for _, n := range nodes {
			n.Block = name
			taken[n] = true
		}
		for _, a := range acts {
			a.Act.Unit = name
		}
		units = append(units, unitAt{graph.Unit{Name: name, Block: name}, pos[acts[0]]})
	}
	// Stem, head and other conv [-> BN] -> act stages outside blocks.
	for _, c := range g.Nodes {
		if c.Op != graph.OpConv || taken[c] {
			continue
		}
		_, a, _ := stage(c, true)
		if a == nil || a.Act.Unit != "" || taken[a] {
			continue
		}
		name := unitName(c.Name)
		for k := 1; unitTaken(units, name); k++ {
			name = fmt.Sprintf("%s.unit%d", unitName(c.Name), k)
		}
		a.Act.Unit = name
		units = append(units, unitAt{graph.Unit{Name: name}, pos[a]})
	}
	// Graph order of the first activation of each unit.
	for i := 1; i < len(units); i++ {
		for j := i; j > 0 && units[j].pos < units[j-1].pos; j-- {
			units[j], units[j-1] = units[j-1], units[j]
		}
	}
	for _, u := range units {
		g.Units = append(g.Units, u.unit)
	}
}

type unitAt struct {
	unit graph.Unit
	pos  int
}

func unitTaken(units []unitAt, name string) bool {
	for _, u := range units {
		if u.unit.Name == name {
			return true
		}
	}
	return false
}

var convSuffix = regexp.MustCompile(`\.conv(\.\d+)+$`)

// blockName derives a block's name from its first conv's module path.
func blockName(conv string, idx *int) string {
	*idx++
	if loc := convSuffix.FindStringIndex(conv); loc != nil && loc[0] > 0 {
		return conv[:loc[0]]
	}
	return fmt.Sprintf("block.%d", *idx)
}

var numSuffix = regexp.MustCompile(`\.\d+$`)

// unitName derives a stem/head unit's name from its conv's module path
// ("features.0.0" -> "features.0", as torchvision's Conv2dNormActivation).
func unitName(conv string) string {
	if loc := numSuffix.FindStringIndex(conv); loc != nil && loc[0] > 0 {
		return conv[:loc[0]]
	}
	return conv
}

// pruneIdentity removes identity activations that belong to no unit (an
// ONNX Identity outside the block structure), rewiring their readers.
func pruneIdentity(g *graph.Graph) {
	alias := map[string]string{}
	var nodes []*graph.Node
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if a, ok := alias[v]; ok {
				n.Inputs[i] = a
			}
		}
		if n.Op == graph.OpAct && n.Act.Kind == graph.ActIdentity && n.Act.Unit == "" && n.Output != g.Output {
			alias[n.Output] = n.Inputs[0]
			continue
		}
		nodes = append(nodes, n)
	}
	for i := range g.Blocks {
		b := &g.Blocks[i]
		if a, ok := alias[b.Input]; ok {
			b.Input = a
		}
		if a, ok := alias[b.Output]; ok {
			b.Output = a
		}
	}
	g.Nodes = nodes
}
