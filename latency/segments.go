package latency

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/tensor"
)

// carrierName names the ReLU step put in front of a segment (see subgraph).
const carrierName = "latency.carrier"

// chain is a model seen as stem, a chain of blocks, head and classifier.
type chain struct {
	g          *graph.Graph
	shapes     map[string][]int
	blocks     []graph.Block
	units      []string
	blockNodes [][]*graph.Node
	stem, head []*graph.Node
	classifier []*graph.Node
}

// analyze checks that g is a chain of blocks (each block reads the previous
// block's output, its nodes are contiguous, and it has exactly one removable
// unit) and splits its nodes.
func analyze(g *graph.Graph) (*chain, error) {
	if g == nil {
		return nil, fmt.Errorf("latency: nil model")
	}
	if len(g.Blocks) == 0 {
		return nil, fmt.Errorf("latency: model %q has no blocks (the planner needs a chain of inverted residual blocks)", g.Name)
	}
	shapes, err := g.Shapes(1)
	if err != nil {
		return nil, fmt.Errorf("latency: model %q: %w", g.Name, err)
	}
	c := &chain{g: g, shapes: shapes, blocks: g.Blocks}
	index := map[string]int{}
	for i, b := range g.Blocks {
		index[b.Name] = i
		if i > 0 && b.Input != g.Blocks[i-1].Output {
			return nil, fmt.Errorf("latency: block %s reads %q, not the output %q of block %s: the blocks do not form a chain",
				b.Name, b.Input, g.Blocks[i-1].Output, g.Blocks[i-1].Name)
		}
		var units []string
		for _, u := range g.Units {
			if u.Block == b.Name {
				units = append(units, u.Name)
			}
		}
		if len(units) != 1 {
			return nil, fmt.Errorf("latency: block %s has %d removable units, the planner needs exactly one per block", b.Name, len(units))
		}
		c.units = append(c.units, units[0])
	}
	c.blockNodes = make([][]*graph.Node, len(g.Blocks))
	cur := -1 // last block seen
	for _, n := range g.Nodes {
		if n.Block == "" {
			switch {
			case cur < 0:
				c.stem = append(c.stem, n)
			case cur == len(g.Blocks)-1:
				if len(c.classifier) > 0 || n.Op == graph.OpGlobalAvgPool {
					c.classifier = append(c.classifier, n)
				} else {
					c.head = append(c.head, n)
				}
			default:
				return nil, fmt.Errorf("latency: node %s lies between blocks %s and %s", n.Name, g.Blocks[cur].Name, g.Blocks[cur+1].Name)
			}
			continue
		}
		i, ok := index[n.Block]
		if !ok {
			return nil, fmt.Errorf("latency: node %s belongs to unknown block %q", n.Name, n.Block)
		}
		if i != cur && i != cur+1 {
			return nil, fmt.Errorf("latency: the nodes of block %s are not contiguous and in block order", n.Block)
		}
		cur = i
		c.blockNodes[i] = append(c.blockNodes[i], n)
	}
	for i, ns := range c.blockNodes {
		if len(ns) == 0 {
			return nil, fmt.Errorf("latency: block %s has no nodes", g.Blocks[i].Name)
		}
	}
	return c, nil
}

// Fingerprint returns a short hash of g's structure (nodes, attributes,
// input and blocks; not the weights), used in table keys.
func Fingerprint(g *graph.Graph) string {
	v := struct {
		Name   string
		Input  graph.Input
		Output string
		Nodes  []*graph.Node
		Blocks []graph.Block
	}{g.Name, g.Input, g.Output, g.Nodes, g.Blocks}
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return g.Name + "@" + hex.EncodeToString(h[:6])
}

// subgraph returns a model computing nodes alone: value in becomes the
// input, out the output; parameters are shared with c.g (callers that
// modify them clone first; plan.Apply and merge.Merge do).
//
// With carrier, the input first goes through a ReLU step named carrierName:
// the runtime's per-step times then charge the input packing to that step,
// and the remaining steps are the segment's own work, as inside the model.
func (c *chain) subgraph(name string, nodes []*graph.Node, in, out string, blocks []graph.Block, units []string, carrier bool) (*graph.Graph, error) {
	sh := c.shapes[in]
	if len(sh) != 4 {
		return nil, fmt.Errorf("latency: segment %s: input %q has shape %v, want [N, C, H, W]", name, in, sh)
	}
	sub := graph.New(name, sh[1], sh[2], sh[3])
	from := sub.Input.Name
	if carrier {
		from = carrierName
		sub.Nodes = append(sub.Nodes, &graph.Node{Name: carrierName, Op: graph.OpAct, Inputs: []string{sub.Input.Name}, Output: carrierName,
			Act: &graph.ActAttr{Kind: graph.ActReLU}})
	}
	ren := func(v string) string {
		if v == in {
			return from
		}
		return v
	}
	for _, n := range nodes {
		cp := *n
		cp.Inputs = make([]string, len(n.Inputs))
		for i, v := range n.Inputs {
			cp.Inputs[i] = ren(v)
		}
		cp.Params = append([]string(nil), n.Params...)
		for _, p := range n.Params {
			sub.Params[p] = c.g.Params[p]
		}
		sub.Nodes = append(sub.Nodes, &cp)
	}
	for _, b := range blocks {
		b.Input = ren(b.Input)
		sub.Blocks = append(sub.Blocks, b)
	}
	for i, u := range units {
		sub.Units = append(sub.Units, graph.Unit{Name: u, Block: blocks[i].Name})
	}
	sub.Output = out
	sub.Classes = c.g.Classes
	if err := sub.Validate(); err != nil {
		return nil, fmt.Errorf("latency: segment %s: %w", name, err)
	}
	return sub, nil
}

// keptBlock returns the model of block i as it is.
func (c *chain) keptBlock(i int) (*graph.Graph, error) {
	b := c.blocks[i]
	return c.subgraph(b.Name+".kept", c.blockNodes[i], b.Input, b.Output, []graph.Block{b}, []string{c.units[i]}, true)
}

// mergedBlock returns block i with its unit removed, in the pad-first form,
// merged into one convolution (forced past the MAC-growth check), and the
// merge report's chain.
func (c *chain) mergedBlock(i int) (*graph.Graph, merge.Chain, error) {
	kept, err := c.keptBlock(i)
	if err != nil {
		return nil, merge.Chain{}, err
	}
	p := plan.New(kept, plan.SourcePlanner, map[string]bool{c.units[i]: true})
	ap, err := plan.Apply(kept, p, plan.ApplyOptions{PadFirst: true})
	if err != nil {
		return nil, merge.Chain{}, fmt.Errorf("latency: block %s: %w", c.blocks[i].Name, err)
	}
	mg, rep, err := merge.Merge(ap, merge.Options{Force: true, MaxKernel: 1 << 10})
	if err != nil {
		return nil, merge.Chain{}, fmt.Errorf("latency: block %s: %w", c.blocks[i].Name, err)
	}
	if rep.Merged != 1 {
		return nil, merge.Chain{}, fmt.Errorf("latency: block %s merges into %d convolutions, want 1", c.blocks[i].Name, rep.Merged)
	}
	for _, ch := range rep.Chains {
		if ch.Merged {
			mg.Name = c.blocks[i].Name + ".merged"
			return mg, ch, nil
		}
	}
	return nil, merge.Chain{}, fmt.Errorf("latency: block %s: no merged chain in the report", c.blocks[i].Name)
}

// convGeom is the geometry of a merged convolution.
type convGeom struct {
	k, s, pad int // square kernel, stride, top/left padding
}

func geomOf(g *graph.Graph) (convGeom, error) {
	var conv *graph.Node
	for _, n := range g.Nodes {
		if n.Op == graph.OpConv {
			if conv != nil {
				return convGeom{}, fmt.Errorf("latency: %s has more than one convolution", g.Name)
			}
			conv = n
		}
	}
	if conv == nil {
		return convGeom{}, fmt.Errorf("latency: %s has no convolution", g.Name)
	}
	a := conv.Conv
	pad := a.Pads[0]
	// A Pad node in front (pad-first form) adds to the padding.
	for _, n := range g.Nodes {
		if n.Op == graph.OpPad {
			pad += n.Pad.Pads[0]
		}
	}
	if a.KH != a.KW || a.StrideH != a.StrideW {
		return convGeom{}, fmt.Errorf("latency: %s: non-square merged kernel %dx%d/s%dx%d", g.Name, a.KH, a.KW, a.StrideH, a.StrideW)
	}
	return convGeom{k: a.KH, s: a.StrideH, pad: pad}, nil
}

// composeGeom returns the geometry of b after a (docs/merge.md, section 3).
func composeGeom(a, b convGeom) convGeom {
	return convGeom{k: a.k + (b.k-1)*a.s, s: a.s * b.s, pad: a.pad + b.pad*a.s}
}

// multiBlock returns a dense convolution with the composed geometry of
// blocks [i, j) (random weights: only its time matters).
func (c *chain) multiBlock(i, j int, g convGeom) (*graph.Graph, error) {
	bi, bj := c.blocks[i], c.blocks[j-1]
	in, out := c.shapes[bi.Input], c.shapes[bj.Output]
	name := fmt.Sprintf("%s-%s.merged", bi.Name, bj.Name)
	sub := graph.New(name, in[1], in[2], in[3])
	ho := out[2]
	padHi := max(0, (ho-1)*g.s-g.pad+g.k-in[2])
	a := &graph.ConvAttr{InC: in[1], OutC: out[1], KH: g.k, KW: g.k, StrideH: g.s, StrideW: g.s,
		Pads: [4]int{g.pad, g.pad, padHi, padHi}, Groups: 1, Bias: true}
	if graph.ConvOut(in[2], g.k, g.s, g.pad, padHi) != out[2] || graph.ConvOut(in[3], g.k, g.s, g.pad, padHi) != out[3] {
		return nil, fmt.Errorf("latency: blocks %s..%s: a %dx%d/s%d kernel does not give the %dx%d output", bi.Name, bj.Name, g.k, g.k, g.s, out[2], out[3])
	}
	carrier := &graph.Node{Name: carrierName, Op: graph.OpAct, Inputs: []string{sub.Input.Name}, Output: carrierName,
		Act: &graph.ActAttr{Kind: graph.ActReLU}}
	n := &graph.Node{Name: "merged", Op: graph.OpConv, Inputs: []string{carrierName}, Output: "merged", Conv: a,
		Params: []string{"merged.weight", "merged.bias"}}
	sub.Params["merged.weight"] = tensor.New(out[1], in[1], g.k, g.k)
	sub.Params["merged.bias"] = tensor.New(out[1])
	sub.Nodes = []*graph.Node{carrier, n}
	sub.Output = "merged"
	sub.InitParams(uint64(i*1000 + j))
	if err := sub.Validate(); err != nil {
		return nil, fmt.Errorf("latency: %s: %w", name, err)
	}
	return sub, nil
}

func macs(g *graph.Graph) int64 {
	c, err := g.Cost()
	if err != nil {
		return 0
	}
	return c.MACs
}
