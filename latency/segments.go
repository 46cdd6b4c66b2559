package latency

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
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
	removed    *graph.Graph // g with every block's unit removed (removedAll)
	// layers[i] is block i's prunable layer (the shape-keeping convolution
	// with the largest kernel, e.g. a stride-1 depthwise one), or "".
	layers    []string
	layerPrun *graph.Graph // removed with every block's layer pruned
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
	c.layers = make([]string, len(c.blocks))
	layers := PrunableLayers(g)
	for i, b := range c.blocks {
		c.layers[i] = layers[b.Name]
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

// run returns the merge run of blocks [i, j): from the first block's input
// to the last block's output.
func (c *chain) run(i, j int) merge.Segment {
	return merge.Segment{From: c.blocks[i].Input, To: c.blocks[j-1].Output}
}

// removedAll returns c.g with every block's unit removed (its activations
// the identity), built once: every merged run is cut from it.
func (c *chain) removedAll() (*graph.Graph, error) {
	if c.removed != nil {
		return c.removed, nil
	}
	removed := map[string]bool{}
	for _, u := range c.units {
		removed[u] = true
	}
	ap, err := plan.Apply(c.g, plan.New(c.g, plan.SourcePlanner, removed), plan.ApplyOptions{})
	if err != nil {
		return nil, fmt.Errorf("latency: every block's unit removed: %w", err)
	}
	c.removed = ap
	return ap, nil
}

// mergedRun returns what merge.Run builds for blocks [i, j) with their
// units removed, in the pad-first form over the whole run (the merger's
// real output, the node Realize puts in the model for that segment), with a
// carrier step in front (see subgraph), and the merge's chain report.
func (c *chain) mergedRun(i, j int) (*graph.Graph, merge.Chain, error) {
	ap, err := c.removedAll()
	if err != nil {
		return nil, merge.Chain{}, err
	}
	r := c.run(i, j)
	sub, ch, err := merge.Run(ap, r.From, r.To, merge.Options{PadFirst: true})
	if err != nil {
		return nil, merge.Chain{}, fmt.Errorf("latency: blocks %s: %w", c.span(i, j), err)
	}
	sub.Name = c.span(i, j) + ".merged"
	if err := withCarrier(sub); err != nil {
		return nil, merge.Chain{}, fmt.Errorf("latency: blocks %s: %w", c.span(i, j), err)
	}
	return sub, ch, nil
}

// span names blocks [i, j): "features.3" or "features.3..features.5".
func (c *chain) span(i, j int) string {
	if j == i+1 {
		return c.blocks[i].Name
	}
	return c.blocks[i].Name + ".." + c.blocks[j-1].Name
}

// withCarrier puts a ReLU step named carrierName between g's input and its
// readers (see subgraph).
func withCarrier(g *graph.Graph) error {
	in := g.Input.Name
	for _, n := range g.Nodes {
		for k, v := range n.Inputs {
			if v == in {
				n.Inputs[k] = carrierName
			}
		}
	}
	for k := range g.Blocks {
		if g.Blocks[k].Input == in {
			g.Blocks[k].Input = carrierName
		}
	}
	carrier := &graph.Node{Name: carrierName, Op: graph.OpAct, Inputs: []string{in}, Output: carrierName,
		Act: &graph.ActAttr{Kind: graph.ActReLU}}
	g.Nodes = append([]*graph.Node{carrier}, g.Nodes...)
	return g.Validate()
}

// planFor returns the plan removing every block's unit and pruning the
// layers of the blocks [a, b) of the covers flagged in lp.
func (c *chain) planFor(cover [][2]int, lp []bool) *plan.Plan {
	removed := map[string]bool{}
	for _, u := range c.units {
		removed[u] = true
	}
	p := plan.New(c.g, plan.SourcePlanner, removed)
	for k, r := range cover {
		if k < len(lp) && lp[k] {
			p.PrunedLayers = append(p.PrunedLayers, c.layers[r[0]:r[1]]...)
		}
	}
	return p
}

// mergedRunLP is mergedRun for blocks [i, j) with every block's prunable
// layer pruned.
func (c *chain) mergedRunLP(i, j int) (*graph.Graph, merge.Chain, error) {
	if c.layerPrun == nil {
		var all []string
		for _, l := range c.layers {
			if l != "" {
				all = append(all, l)
			}
		}
		p := c.planFor(nil, nil)
		p.PrunedLayers = all
		ap, err := plan.Apply(c.g, p, plan.ApplyOptions{})
		if err != nil {
			return nil, merge.Chain{}, fmt.Errorf("latency: every layer pruned: %w", err)
		}
		c.layerPrun = ap
	}
	r := c.run(i, j)
	sub, ch, err := merge.Run(c.layerPrun, r.From, r.To, merge.Options{PadFirst: true})
	if err != nil {
		return nil, merge.Chain{}, fmt.Errorf("latency: blocks %s with their layers pruned: %w", c.span(i, j), err)
	}
	sub.Name = c.span(i, j) + ".merged-pruned"
	if err := withCarrier(sub); err != nil {
		return nil, merge.Chain{}, err
	}
	return sub, ch, nil
}

// tiled returns the model with every block's unit removed, the layers of
// the runs flagged in lp pruned, and the runs [a, b) of cover (which cover
// every block once) each merged into one convolution, exactly as Realize
// builds a plan with those segments, and the name of the merged node of
// each run.
func (c *chain) tiled(cover [][2]int, lp []bool) (*graph.Graph, []string, error) {
	ap, err := plan.Apply(c.g, c.planFor(cover, lp), plan.ApplyOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("latency: merged model: %w", err)
	}
	runs := make([]merge.Segment, len(cover))
	for k, r := range cover {
		runs[k] = c.run(r[0], r[1])
	}
	mg, rep, err := mergeRuns(ap, runs)
	if err != nil {
		return nil, nil, fmt.Errorf("latency: merged model: %w", err)
	}
	names := make([]string, len(cover))
	for k, r := range runs {
		for _, ch := range rep.Chains {
			if ch.Merged && ch.Input == r.From && ch.Output == r.To {
				names[k] = ch.Name
			}
		}
		if names[k] == "" {
			return nil, nil, fmt.Errorf("latency: merged model: run %s (blocks %s) has no merged convolution in the report", r, c.span(cover[k][0], cover[k][1]))
		}
	}
	mg.Name = fmt.Sprintf("%s.tiled%v", c.g.Name, cover)
	return mg, names, nil
}

// mergeRuns returns g (activations of the runs already removed) with every
// run rewritten into the pad-first form and merged into one convolution,
// and merge's report.
func mergeRuns(g *graph.Graph, runs []merge.Segment) (*graph.Graph, *merge.Report, error) {
	pf, err := merge.PadFirst(g, runs)
	if err != nil {
		return nil, nil, err
	}
	return merge.Merge(pf, merge.Options{Segments: runs})
}

// kernelOf returns the kernel size (the larger side) of the one
// convolution of a merged segment's model.
func kernelOf(g *graph.Graph) (int, error) {
	var conv *graph.Node
	for _, n := range g.Nodes {
		if n.Op == graph.OpConv {
			if conv != nil {
				return 0, fmt.Errorf("latency: %s has more than one convolution", g.Name)
			}
			conv = n
		}
	}
	if conv == nil {
		return 0, fmt.Errorf("latency: %s has no convolution", g.Name)
	}
	return max(conv.Conv.KH, conv.Conv.KW), nil
}

func macs(g *graph.Graph) int64 {
	c, err := g.Cost()
	if err != nil {
		return 0
	}
	return c.MACs
}
