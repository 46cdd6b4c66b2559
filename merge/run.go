package merge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// Segment names a run of layers to merge into one convolution: every node on
// a path from value From (the run's input, not included) to value To (the
// run's output). A run may cross block boundaries and contain residual adds
// (any Add of two linear functions of From), Pad, BatchNorm, identity
// activations and dropout; everything in it must be a function of From alone
// and nothing outside it may read a value computed inside it (other than To).
type Segment struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (s Segment) String() string { return s.From + ".." + s.To }

// ErrNeedsPadFirst is wrapped by the errors of runs that no single
// convolution computes exactly in the form the model is in: a padded spatial
// layer pads a tensor that an earlier spatial layer of the run computed, so
// the chain's zero padding of that tensor is not a zero padding of the run's
// input (docs/merge.md, section 4). The run merges exactly in the pad-first
// form: PadFirst, then Merge or Run (or Options.PadFirst in Run).
var ErrNeedsPadFirst = errors.New("not one convolution in the bias-map form (needs the pad-first form)")

// region is the set of nodes of a run, in graph order.
type region struct {
	seg   Segment
	nodes []*graph.Node
}

// findRegion returns the nodes on the paths from seg.From to seg.To and
// checks that they form a closed run: fed only by From, read from outside
// only through To.
func findRegion(g *graph.Graph, seg Segment) (*region, error) {
	if seg.From == seg.To {
		return nil, fmt.Errorf("run %s: empty (input and output are the same value)", seg)
	}
	prod := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		prod[n.Output] = n
	}
	if seg.From != g.Input.Name && prod[seg.From] == nil {
		return nil, fmt.Errorf("run %s: no value %q in the model", seg, seg.From)
	}
	if prod[seg.To] == nil {
		return nil, fmt.Errorf("run %s: no node computes %q", seg, seg.To)
	}
	desc := map[string]bool{seg.From: true}
	isDesc := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if desc[in] {
				isDesc[n] = true
				desc[n.Output] = true
				break
			}
		}
	}
	anc := map[string]bool{seg.To: true}
	in := map[*graph.Node]bool{}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		if !anc[n.Output] || n.Output == seg.From {
			continue
		}
		for _, v := range n.Inputs {
			anc[v] = true
		}
		if isDesc[n] {
			in[n] = true
		}
	}
	if !in[prod[seg.To]] {
		return nil, fmt.Errorf("run %s: %q is not computed from %q", seg, seg.To, seg.From)
	}
	r := &region{seg: seg}
	inside := map[string]bool{}
	for _, n := range g.Nodes {
		if in[n] {
			r.nodes = append(r.nodes, n)
			inside[n.Output] = true
		}
	}
	for _, n := range r.nodes {
		for _, v := range n.Inputs {
			if v != seg.From && !inside[v] {
				return nil, fmt.Errorf("run %s: node %s reads %q, which is not computed from the run's input %q (the run is not a function of its input alone)", seg, n.Name, v, seg.From)
			}
		}
	}
	for _, n := range g.Nodes {
		if in[n] {
			continue
		}
		for _, v := range n.Inputs {
			if inside[v] && v != seg.To {
				return nil, fmt.Errorf("run %s: node %s outside the run reads %q, computed inside it (end the run there or include %s)", seg, n.Name, v, n.Name)
			}
		}
	}
	for _, n := range r.nodes {
		if n.Output == g.Output && n.Output != seg.To {
			return nil, fmt.Errorf("run %s: the model output %q is computed inside the run", seg, n.Output)
		}
	}
	return r, nil
}

// linearize returns the single convolution equal to the run, composed in
// float64, with the layers it replaces. A nil *lin with no error means the
// run is the identity (only no-op nodes).
func linearize(g *graph.Graph, shapes map[string][]int, r *region) (*lin, []string, error) {
	seg := r.seg
	last := map[string]int{} // value -> index of its last reader in the run
	for i, n := range r.nodes {
		for _, v := range n.Inputs {
			last[v] = i
		}
	}
	type val struct {
		l *lin // nil: the identity of From
	}
	var ks []string // one entry per node, in run order (as Chain.Nodes)
	for _, n := range r.nodes {
		if n.Op == graph.OpMul {
			return nil, nil, fmt.Errorf("run %s: %s multiplies by a gate computed from the input (squeeze-and-excitation): the run is not linear", seg, n.Name)
		}
	}
	vals := map[string]val{seg.From: {}}
	idOf := func(v val) (*lin, error) {
		if v.l != nil {
			return v.l, nil
		}
		s := shapes[seg.From]
		if len(s) != 4 {
			return nil, fmt.Errorf("run %s: input %q has shape %v, want [N, C, H, W]", seg, seg.From, s)
		}
		return linIdentity(s[1], s[2], s[3]), nil
	}
	for i, n := range r.nodes {
		switch n.Op {
		case graph.OpAdd:
			a, b := vals[n.Inputs[0]], vals[n.Inputs[1]]
			la, err := idOf(a)
			if err != nil {
				return nil, nil, err
			}
			lb, err := idOf(b)
			if err != nil {
				return nil, nil, err
			}
			s, err := sum(la, lb)
			if err != nil {
				return nil, nil, fmt.Errorf("run %s: add %s: %w", seg, n.Name, err)
			}
			vals[n.Output] = val{l: s}
			ks = append(ks, "+residual")
		default:
			m := &merger{g: g, shapes: shapes}
			l, ok, reason := m.stage(n)
			if !ok {
				return nil, nil, fmt.Errorf("run %s: %s", seg, reason)
			}
			v := vals[n.Inputs[0]]
			if l == nil {
				vals[n.Output] = val{l: v.l}
				ks = append(ks, strings.ToLower(string(n.Op)))
				break
			}
			c := l // a fresh lin: linFromConv copies the parameters
			if v.l != nil {
				var err error
				if c, err = compose(v.l, l); err != nil {
					var ie errInexact
					if errors.As(err, &ie) {
						return nil, nil, fmt.Errorf("run %s: at %s: %w: %s", seg, n.Name, ErrNeedsPadFirst, ie.msg)
					}
					return nil, nil, fmt.Errorf("run %s: at %s: %w", seg, n.Name, err)
				}
			}
			vals[n.Output] = val{l: c}
			switch {
			case n.Op == graph.OpPad:
				ks = append(ks, "pad")
			case isCrop(l):
				ks = append(ks, "crop")
			default:
				ks = append(ks, l.kernelString())
			}
		}
		for _, v := range n.Inputs {
			if last[v] == i && v != seg.To {
				delete(vals, v)
			}
		}
	}
	return vals[seg.To].l, ks, nil
}

// isCrop reports whether l is a crop (PadFirst's): an unpadded depthwise
// convolution without bias whose kernel is one 1 at the same tap for every
// channel.
func isCrop(l *lin) bool {
	if l.groups != l.inC || l.inC != l.outC || l.pads != [4]int{} || l.hasBias() || l.m != nil || l.sh != 1 || l.sw != 1 {
		return false
	}
	per := l.kh * l.kw
	tap := -1
	for c := 0; c < l.outC; c++ {
		for t, v := range l.w[c*per : (c+1)*per] {
			switch {
			case v == 0:
			case v == 1 && (tap < 0 || tap == t):
				tap = t
			default:
				return false
			}
		}
	}
	return tap >= 0 && per > 1
}

// Extract returns the run from..to of g as a standalone model: its input is
// the value from (shape at batch 1 without the batch), its output to, its
// nodes and parameters copies of the run's. It is the unmerged run that Run's
// result replaces (what Verify compares Run's graph with).
func Extract(g *graph.Graph, from, to string) (*graph.Graph, error) {
	seg := Segment{from, to}
	r, err := findRegion(g, seg)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	shapes, err := g.Shapes(1)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	s := shapes[from]
	if len(s) != 4 {
		return nil, fmt.Errorf("merge: run %s: input %q has shape %v, want [N, C, H, W]", seg, from, s)
	}
	sub := graph.New(g.Name+"["+seg.String()+"]", s[1], s[2], s[3])
	sub.Input.Name = from
	sub.Output = to
	sub.Classes = 0
	vals := map[string]bool{from: true}
	for _, n := range r.nodes {
		sub.Nodes = append(sub.Nodes, cloneNode(n))
		vals[n.Output] = true
		for _, p := range n.Params {
			if t := g.Params[p]; t != nil {
				sub.Params[p] = t.Clone()
			}
		}
	}
	for _, b := range g.Blocks {
		if vals[b.Input] && vals[b.Output] && b.Output != from {
			sub.Blocks = append(sub.Blocks, b)
		}
	}
	for k, v := range g.Meta {
		sub.Meta[k] = v
	}
	if err := sub.Validate(); err != nil {
		return nil, fmt.Errorf("merge: run %s as a model: %w", seg, err)
	}
	return sub, nil
}

// cloneNode deep-copies a node (graph's clone is unexported: a one-node
// graph's Clone does it).
func cloneNode(n *graph.Node) *graph.Node {
	g := &graph.Graph{Nodes: []*graph.Node{n}, Params: map[string]*tensor.Tensor{}}
	return g.Clone().Nodes[0]
}

// Run returns what the run of layers from..to of g merges into: a standalone
// model whose input is the value from and whose only node is the merged
// convolution (computing to), and the chain's report (kernel, stride, MACs and
// parameters before and after, bias map). It is built by the same code, on
// the same folded parameters, as Merge(g, Options{Segments: [{from, to}]}):
// the node Merge would put in the model. g is not modified. The run is merged
// whatever its kernel growth (opts.MaxKernel and MaxMACGrowth do not apply:
// the caller prices the growth); with opts.PadFirst the run is first
// rewritten into the pad-first form (PadFirst), which every linear run
// merges exactly in. Without it, a run that no single convolution computes
// exactly returns an error wrapping ErrNeedsPadFirst.
func Run(g *graph.Graph, from, to string, opts Options) (*graph.Graph, Chain, error) {
	sub, err := Extract(g, from, to)
	if err != nil {
		return nil, Chain{}, err
	}
	if err := checkEndpoints(g, Segment{from, to}); err != nil {
		return nil, Chain{}, fmt.Errorf("merge: %w", err)
	}
	if opts.PadFirst {
		if sub, err = PadFirst(sub, []Segment{{from, to}}); err != nil {
			return nil, Chain{}, err
		}
	}
	o := opts
	o.Segments = []Segment{{from, to}}
	o.PadFirst = false
	merged, rep, err := Merge(sub, o)
	if err != nil {
		return nil, Chain{}, err
	}
	for _, c := range rep.Chains {
		if c.Merged {
			return merged, c, nil
		}
	}
	return nil, Chain{}, fmt.Errorf("merge: run %s: nothing merged (a bug)", Segment{from, to})
}

// checkEndpoints refuses a run that ends (or starts) at a convolution's
// output read only by a BatchNorm: Merge folds that BatchNorm into the
// convolution, so the value disappears.
func checkEndpoints(g *graph.Graph, seg Segment) error {
	for _, v := range []string{seg.From, seg.To} {
		p := g.Producer(v)
		if p == nil || p.Op != graph.OpConv {
			continue
		}
		cons := g.Consumers(v)
		if len(cons) == 1 && cons[0].Op == graph.OpBatchNorm && v != g.Output {
			return fmt.Errorf("run %s: %q is the output of convolution %s, read only by BatchNorm %s, which the merge folds into it: end the run at %q", seg, v, p.Name, cons[0].Name, cons[0].Output)
		}
	}
	return nil
}

// margin is how far a value's grid extends beyond its original grid in the
// pad-first form: top, left, bottom, right.
type margin [4]int

func maxMargin(a, b margin) margin {
	for i := range a {
		a[i] = max(a[i], b[i])
	}
	return a
}

// PadFirst returns a copy of g with each run rewritten into the pad-first
// form (docs/merge.md, section 4): the run's input is zero-padded once, by
// the run's total padding, and every layer of the run computes on the
// enlarged grid without padding of its own, so every value inside the run
// extends beyond its original grid by a margin (the layers after it read the
// extension instead of zeros). A reader that needs a smaller margin than its
// input has reads it cropped (a depthwise convolution, unpadded, whose
// kernel is a single 1: an exact crop in an op every executor runs; a
// residual's skip, for example); readers of the run's input read it padded by
// what they need. Pad nodes inside the run become identities (their padding
// joins the run's). The run's output keeps its shape and value name, and
// every value outside the runs is unchanged. Inside, the function differs
// from g's at the border (the zero padding of inner tensors is replaced by
// the run's own values there): this is the form to fine-tune a model in
// before merging the runs, and the one in which every linear run merges
// exactly, without a bias map. g is not modified.
func PadFirst(g *graph.Graph, runs []Segment) (*graph.Graph, error) {
	c := g.Clone()
	for _, seg := range runs {
		if err := padFirstRun(c, seg); err != nil {
			return nil, fmt.Errorf("merge: pad-first: %w", err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("merge: pad-first form is not a valid model (a bug): %w", err)
	}
	before, err := g.Shapes(1)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	after, _ := c.Shapes(1)
	for _, seg := range runs {
		if !sameShape(before[seg.To], after[seg.To]) {
			return nil, fmt.Errorf("merge: pad-first: run %s output shape changed from %v to %v (a bug)", seg, before[seg.To], after[seg.To])
		}
	}
	if c.Meta == nil {
		c.Meta = map[string]string{}
	}
	all, err := RecordedRuns(g)
	if err != nil {
		return nil, err
	}
	all = append(all, runs...)
	js, err := json.Marshal(all)
	if err != nil {
		return nil, fmt.Errorf("merge: pad-first: %w", err)
	}
	c.Meta[MetaRuns] = string(js)
	return c, nil
}

// MetaRuns is the Graph.Meta key under which PadFirst records the runs it
// rewrote (a JSON array of Segment), so that a model fine-tuned in that form
// carries them: Merge without Options.Segments merges each recorded run as
// one convolution (then finds chains in the rest as usual).
const MetaRuns = "merge.pad_first_runs"

// RecordedRuns returns the runs PadFirst recorded in g (none when g was not
// rewritten by it).
func RecordedRuns(g *graph.Graph) ([]Segment, error) {
	v := g.Meta[MetaRuns]
	if v == "" {
		return nil, nil
	}
	var runs []Segment
	if err := json.Unmarshal([]byte(v), &runs); err != nil {
		return nil, fmt.Errorf("merge: model metadata %s: %w (want a JSON array of {\"from\", \"to\"})", MetaRuns, err)
	}
	return runs, nil
}

func padFirstRun(g *graph.Graph, seg Segment) error {
	r, err := findRegion(g, seg)
	if err != nil {
		return err
	}
	shapes, err := g.Shapes(1)
	if err != nil {
		return err
	}
	// Backward: the margin every value of the run needs, the maximum over
	// its readers; req[n][i] is what node n needs of its input i.
	need := map[string]margin{seg.To: {}}
	req := map[*graph.Node][]margin{}
	for i := len(r.nodes) - 1; i >= 0; i-- {
		n := r.nodes[i]
		e := need[n.Output]
		var in margin
		switch n.Op {
		case graph.OpConv, graph.OpPad:
			kh, kw, sh, sw, pads := 1, 1, 1, 1, [4]int{}
			if n.Op == graph.OpConv {
				a := n.Conv
				kh, kw, sh, sw, pads = a.KH, a.KW, a.StrideH, a.StrideW, a.Pads
			} else {
				pads = n.Pad.Pads
			}
			xs, os := shapes[n.Inputs[0]], shapes[n.Output]
			in[0] = pads[0] + sh*e[0]
			in[1] = pads[1] + sw*e[1]
			in[2] = max(0, (os[2]+e[0]+e[2]-1)*sh+kh-xs[2]-in[0])
			in[3] = max(0, (os[3]+e[1]+e[3]-1)*sw+kw-xs[3]-in[1])
		case graph.OpBatchNorm, graph.OpDropout, graph.OpAdd:
			in = e
		case graph.OpAct:
			if n.Act.Kind != graph.ActIdentity {
				return fmt.Errorf("run %s: %s is a non-linear activation (%s): the run would not merge", seg, n.Name, n.Act.Kind)
			}
			in = e
		case graph.OpMul:
			return fmt.Errorf("run %s: %s multiplies by a gate computed from the input (squeeze-and-excitation): the run is not linear; end it before the gate", seg, n.Name)
		default:
			return fmt.Errorf("run %s: %s is a %s, which the pad-first form does not run on an enlarged grid", seg, n.Name, n.Op)
		}
		req[n] = make([]margin, len(n.Inputs))
		for j, v := range n.Inputs {
			req[n][j] = in
			need[v] = maxMargin(need[v], in)
		}
	}
	// Forward: unpad the layers, insert the input pads and the crops.
	inserted := map[string]string{} // value + margin -> value to read
	taken := map[string]bool{g.Input.Name: true}
	for _, n := range g.Nodes {
		taken[n.Name], taken[n.Output] = true, true
	}
	unique := func(base string) string {
		s := base
		for i := 1; taken[s]; i++ {
			s = fmt.Sprintf("%s%d", base, i)
		}
		taken[s] = true
		return s
	}
	var out []*graph.Node
	inRun := map[*graph.Node]bool{}
	for _, n := range r.nodes {
		inRun[n] = true
	}
	for _, n := range g.Nodes {
		if !inRun[n] {
			out = append(out, n)
			continue
		}
		for j, v := range n.Inputs {
			want := req[n][j]
			have := margin{}
			if v != seg.From {
				have = need[v]
			}
			if want == have {
				continue
			}
			key := fmt.Sprint(v, want)
			if w, ok := inserted[key]; ok {
				n.Inputs[j] = w
				continue
			}
			s := shapes[v]
			var nn *graph.Node
			if v == seg.From {
				name := unique(v + ".pad_first")
				nn = &graph.Node{Name: name, Op: graph.OpPad, Inputs: []string{v}, Output: name, Block: n.Block, Pad: &graph.PadAttr{Pads: [4]int(want)}}
			} else {
				d := margin{have[0] - want[0], have[1] - want[1], have[2] - want[2], have[3] - want[3]}
				for _, x := range d {
					if x < 0 {
						return fmt.Errorf("run %s: %s needs margin %v of %q, which has %v (a bug)", seg, n.Name, want, v, have)
					}
				}
				name := unique(v + ".crop")
				a := &graph.ConvAttr{InC: s[1], OutC: s[1], KH: d[0] + d[2] + 1, KW: d[1] + d[3] + 1, StrideH: 1, StrideW: 1, Groups: s[1], Fixed: true}
				nn = &graph.Node{Name: name, Op: graph.OpConv, Inputs: []string{v}, Output: name, Block: n.Block, Conv: a}
				wName := uniqueParam(g, name+".weight")
				w := tensor.New(s[1], 1, a.KH, a.KW)
				for ch := 0; ch < s[1]; ch++ {
					w.Data[(ch*a.KH+d[0])*a.KW+d[1]] = 1
				}
				g.Params[wName] = w
				nn.Params = []string{wName}
			}
			out = append(out, nn)
			inserted[key] = nn.Output
			n.Inputs[j] = nn.Output
		}
		switch n.Op {
		case graph.OpConv:
			n.Conv.Pads = [4]int{}
		case graph.OpPad:
			n.Op, n.Pad, n.Act = graph.OpAct, nil, &graph.ActAttr{Kind: graph.ActIdentity}
		}
		out = append(out, n)
	}
	g.Nodes = out
	return nil
}
