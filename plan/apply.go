package plan

import (
	"fmt"
	"strings"

	"github.com/dshrink/dshrink/graph"
)

// ApplyOptions selects the form in which a plan is applied.
type ApplyOptions struct {
	// AddFinalAct adds a ReLU6 after the output (the residual add, when there
	// is one) of every block whose unit is removed, as the paper's fine-tuning
	// does (ADD_FINAL_ACT, docs/method.md, stage 2). It stops consecutive merged blocks
	// from being merged together.
	AddFinalAct bool
	// PadFirst rewrites every removed block into the pad-first form: one Pad
	// node before the block's first convolution with the block's total
	// padding, and the block's convolutions unpadded. The residual add still
	// reads the unpadded input. The block's output shape is unchanged, but it
	// is a different function at the border (the expand bias reaches the
	// padded border); merging this form is exact without a bias map. Blocks
	// that already contain a Pad node are left as they are.
	PadFirst bool
}

// Apply returns a copy of g with p applied: the activations of removed units
// become the identity, optionally with a ReLU6 after each removed block and
// in the pad-first form (see ApplyOptions). g is not modified.
func Apply(g *graph.Graph, p *Plan, opts ApplyOptions) (*graph.Graph, error) {
	if err := p.Validate(g); err != nil {
		return nil, err
	}
	c := g.Clone()
	removed := map[string]bool{}
	for _, u := range p.Units {
		if !u.Keep {
			removed[u.Name] = true
		}
	}
	for _, n := range c.Nodes {
		if n.Op == graph.OpAct && n.Act != nil && removed[n.Act.Unit] {
			n.Act.Kind = graph.ActIdentity
		}
	}
	for _, b := range p.Pruned {
		if err := prune(c, b); err != nil {
			return nil, fmt.Errorf("apply plan (prune): %w", err)
		}
	}
	for _, l := range p.PrunedLayers {
		if err := pruneLayer(c, l); err != nil {
			return nil, fmt.Errorf("apply plan (prune layer): %w", err)
		}
	}
	var blocks []string
	for _, u := range c.Units {
		if removed[u.Name] && u.Block != "" && c.Block(u.Block) != nil {
			blocks = append(blocks, u.Block)
		}
	}
	if opts.PadFirst {
		for _, b := range blocks {
			if err := padFirst(c, c.Block(b)); err != nil {
				return nil, fmt.Errorf("apply plan (pad-first): %w", err)
			}
		}
	}
	if opts.AddFinalAct {
		for _, b := range blocks {
			if err := addFinalAct(c, c.Block(b)); err != nil {
				return nil, fmt.Errorf("apply plan (final activation): %w", err)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("apply plan: result is not a valid model: %w", err)
	}
	if opts.PadFirst {
		before, err := g.Shapes(1)
		if err != nil {
			return nil, fmt.Errorf("apply plan: %w", err)
		}
		after, _ := c.Shapes(1)
		for _, b := range blocks {
			out := g.Block(b).Output
			if !sameInts(before[out], after[out]) {
				return nil, fmt.Errorf("apply plan (pad-first): block %s output shape changed from %v to %v", b, before[out], after[out])
			}
		}
	}
	if c.Meta == nil {
		c.Meta = map[string]string{}
	}
	name := p.Name
	if name == "" {
		name = p.Source
	}
	c.Meta["plan"] = name
	c.Meta["plan.removed"] = strings.Join(p.Removed(), ",")
	if len(p.Pruned) > 0 {
		c.Meta["plan.pruned"] = strings.Join(p.Pruned, ",")
	}
	if len(p.PrunedLayers) > 0 {
		c.Meta["plan.pruned_layers"] = strings.Join(p.PrunedLayers, ",")
	}
	if opts.PadFirst {
		c.Meta["plan.pad_first"] = "true"
	}
	if opts.AddFinalAct {
		c.Meta["plan.add_final_act"] = "true"
	}
	return c, nil
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// prune replaces block name by the identity: its nodes are deleted, the
// readers of its output read its input, and the block leaves g.Blocks (its
// units stay in g.Units, with no activation left).
func prune(g *graph.Graph, name string) error {
	b := g.Block(name)
	if b == nil {
		return fmt.Errorf("no block %q", name)
	}
	if !Prunable(b) {
		return fmt.Errorf("block %s is not a residual block with equal input and output shapes", name)
	}
	in, out := b.Input, b.Output
	var keep []*graph.Node
	for _, n := range g.Nodes {
		if n.Block == name {
			for _, p := range n.Params {
				delete(g.Params, p)
			}
			continue
		}
		keep = append(keep, n)
	}
	g.Nodes = keep
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if v == out {
				n.Inputs[i] = in
			}
		}
	}
	if g.Output == out {
		g.Output = in
	}
	var blocks []graph.Block
	for _, x := range g.Blocks {
		if x.Name == name {
			continue
		}
		if x.Input == out {
			x.Input = in
		}
		blocks = append(blocks, x)
	}
	g.Blocks = blocks
	return nil
}

// pruneLayer replaces convolution name, and the BatchNorm that alone reads
// it, by the identity: their readers read the convolution's input.
func pruneLayer(g *graph.Graph, name string) error {
	n := g.Node(name)
	if !PrunableLayer(n) {
		return fmt.Errorf("layer %q is not a convolution that keeps its input's shape", name)
	}
	drop := map[*graph.Node]bool{n: true}
	out := n.Output
	if cons := g.Consumers(out); len(cons) == 1 && cons[0].Op == graph.OpBatchNorm && out != g.Output {
		drop[cons[0]] = true
		out = cons[0].Output
	}
	in := n.Inputs[0]
	var keep []*graph.Node
	for _, x := range g.Nodes {
		if drop[x] {
			for _, p := range x.Params {
				delete(g.Params, p)
			}
			continue
		}
		keep = append(keep, x)
	}
	g.Nodes = keep
	for _, x := range g.Nodes {
		for i, v := range x.Inputs {
			if v == out {
				x.Inputs[i] = in
			}
		}
	}
	if g.Output == out {
		g.Output = in
	}
	for i := range g.Blocks {
		if g.Blocks[i].Input == out {
			g.Blocks[i].Input = in
		}
		if g.Blocks[i].Output == out {
			g.Blocks[i].Output = in
		}
	}
	return nil
}

// padFirst moves the padding of block b's convolutions into one Pad node in
// front of its first convolution.
func padFirst(g *graph.Graph, b *graph.Block) error {
	var convs []*graph.Node
	first := -1
	for i, n := range g.Nodes {
		if n.Block != b.Name {
			continue
		}
		switch n.Op {
		case graph.OpPad:
			return nil // already in the pad-first form
		case graph.OpConv:
			if first < 0 {
				first = i
			}
			convs = append(convs, n)
		}
	}
	if len(convs) == 0 {
		return fmt.Errorf("block %s has no convolution", b.Name)
	}
	if convs[0].Inputs[0] != b.Input {
		return fmt.Errorf("block %s: first convolution %s does not read the block input %q", b.Name, convs[0].Name, b.Input)
	}
	var pads [4]int
	sh, sw := 1, 1
	for _, n := range convs {
		a := n.Conv
		pads[0] += a.Pads[0] * sh
		pads[1] += a.Pads[1] * sw
		pads[2] += a.Pads[2] * sh
		pads[3] += a.Pads[3] * sw
		sh *= a.StrideH
		sw *= a.StrideW
	}
	if pads == [4]int{} {
		return nil
	}
	for _, n := range convs {
		n.Conv.Pads = [4]int{}
	}
	name := b.Name + ".pad"
	if g.Node(name) != nil || g.Producer(name) != nil {
		return fmt.Errorf("block %s: a node or value named %q already exists", b.Name, name)
	}
	pad := &graph.Node{Name: name, Op: graph.OpPad, Inputs: []string{b.Input}, Output: name, Block: b.Name, Pad: &graph.PadAttr{Pads: pads}}
	convs[0].Inputs[0] = name
	g.Nodes = append(g.Nodes[:first], append([]*graph.Node{pad}, g.Nodes[first:]...)...)
	return nil
}

// addFinalAct inserts a ReLU6 after block b's output and makes its output the
// block output.
func addFinalAct(g *graph.Graph, b *graph.Block) error {
	out := b.Output
	idx := -1
	for i, n := range g.Nodes {
		if n.Output == out {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("block %s: output %q has no producer", b.Name, out)
	}
	name := b.Name + ".final_act"
	if g.Node(name) != nil || g.Producer(name) != nil {
		return fmt.Errorf("block %s: a node or value named %q already exists", b.Name, name)
	}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == out {
				n.Inputs[i] = name
			}
		}
	}
	act := &graph.Node{Name: name, Op: graph.OpAct, Inputs: []string{out}, Output: name, Block: b.Name, Act: &graph.ActAttr{Kind: graph.ActReLU6}}
	g.Nodes = append(g.Nodes[:idx+1], append([]*graph.Node{act}, g.Nodes[idx+1:]...)...)
	if g.Output == out {
		g.Output = name
	}
	for i := range g.Blocks {
		if g.Blocks[i].Input == out {
			g.Blocks[i].Input = name
		}
		if g.Blocks[i].Output == out {
			g.Blocks[i].Output = name
		}
	}
	return nil
}
