package policy

import (
	"fmt"
	"io"
	"sort"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/merge"
)

// ChainCost is the latency of one merged chain: the layers it replaces,
// as in the model given, against the merged convolution.
type ChainCost struct {
	Chain     string   `json:"chain"` // merged node name (merge.Chain.Name)
	Blocks    []string `json:"blocks,omitempty"`
	Kernel    string   `json:"kernel"`
	MACs      int64    `json:"macs_before"`
	MACsAfter int64    `json:"macs_after"`
	KeptMs    float64  `json:"kept_ms"`
	MergedMs  float64  `json:"merged_ms"`
	Pays      bool     `json:"pays"` // MergedMs < KeptMs
}

// Prediction is the timing of a merge: every merged chain and the whole
// model before and after.
type Prediction struct {
	OriginalMs float64     `json:"original_ms"`
	MergedMs   float64     `json:"merged_ms"`
	Chains     []ChainCost `json:"chains"`
	// Source says where the figures come from, e.g. "measured now with
	// dshrink's runtime (5 rounds ...)" or "latency table FILE".
	Source string `json:"source"`
}

// Speedup returns OriginalMs / MergedMs.
func (p *Prediction) Speedup() float64 {
	if p.MergedMs <= 0 {
		return 0
	}
	return p.OriginalMs / p.MergedMs
}

// Predictor times or predicts a merge: orig is the model as given,
// applied the plan-applied model merge.Merge read, merged and rep its
// result. Chains lists only the merged chains named in need (all merged
// chains when need is nil); OriginalMs is needed only when wantWhole.
type Predictor interface {
	Predict(orig, applied, merged *graph.Graph, rep *merge.Report, need map[string]bool, wantWhole bool) (*Prediction, error)
}

// Measure is the Predictor that times the chains now with dshrink's
// runtime: each merged chain's layers (as in the model given) and its
// merged convolution compiled as small models, and the whole original
// model, in interleaved rounds (latency.Measure). Used when no latency
// table describes the model on this machine.
type Measure struct {
	Opts latency.ProfileOptions
}

// QuickOptions are the profile options for a quick measurement: a few
// rounds, enough to tell a 10% difference on a quiet machine.
func QuickOptions(threads int, log io.Writer) latency.ProfileOptions {
	return latency.ProfileOptions{Batch: 1, Threads: threads, Rounds: 5, Iters: 3, Warmup: 2, MaxRounds: 10, TargetCI: 0.05, Log: log}
}

// Predict implements Predictor.
func (m Measure) Predict(orig, applied, merged *graph.Graph, rep *merge.Report, need map[string]bool, wantWhole bool) (*Prediction, error) {
	shapes, err := orig.Shapes(1)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	ashapes, err := applied.Shapes(1)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var gs []*graph.Graph
	if wantWhole {
		gs = append(gs, orig)
	}
	var costs []ChainCost
	for _, c := range rep.Chains {
		if !c.Merged || (need != nil && !need[c.Name]) {
			continue
		}
		// The layers as in the model given; the plan-applied form when the
		// chain's values are not in it (pad-first, final activations).
		kept, err := between(orig, shapes, c.Input, c.Output, c.Name+".kept")
		if err != nil {
			if kept, err = between(applied, ashapes, c.Input, c.Output, c.Name+".kept"); err != nil {
				return nil, fmt.Errorf("policy: chain %s: %w", c.Name, err)
			}
		}
		mg, err := single(merged, ashapes, c.Name, c.Input)
		if err != nil {
			return nil, fmt.Errorf("policy: chain %s: %w", c.Name, err)
		}
		gs = append(gs, kept, mg)
		costs = append(costs, ChainCost{Chain: c.Name, Blocks: c.Blocks, Kernel: c.Kernel, MACs: c.MACs, MACsAfter: c.MACsAfter})
	}
	o := m.Opts
	if o.Rounds == 0 {
		o = QuickOptions(o.Threads, o.Log)
	}
	pr := &Prediction{}
	if len(gs) > 0 {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "merge: timing %d chains kept and merged (and the whole model: %v) with dshrink's runtime\n", len(costs), wantWhole)
		}
		ts, err := latency.Measure(gs, o)
		if err != nil {
			return nil, fmt.Errorf("policy: timing the chains: %w", err)
		}
		k := 0
		if wantWhole {
			pr.OriginalMs = ts[0].RunMs
			k = 1
		}
		for i := range costs {
			costs[i].KeptMs, costs[i].MergedMs = ts[k+2*i].RunMs, ts[k+2*i+1].RunMs
			costs[i].Pays = costs[i].MergedMs < costs[i].KeptMs
		}
	}
	pr.Chains = costs
	pr.Source = fmt.Sprintf("measured now with dshrink's runtime, each chain compiled alone, batch %d, %d thread(s), %d-%d rounds of %d runs",
		max(o.Batch, 1), max(o.Threads, 1), o.Rounds, max(o.MaxRounds, o.Rounds), o.Iters)
	return pr, nil
}

// predictCached asks p only for chains not timed before (by input, output
// and kernel) and the whole model once, and sums the whole prediction:
// original minus what each merged chain saves.
func predictCached(p Predictor, orig, applied, merged *graph.Graph, rep *merge.Report, cache map[string]ChainCost, origMs *float64, log io.Writer) (*Prediction, error) {
	key := func(c merge.Chain) string { return c.Input + "->" + c.Output + "@" + c.Kernel }
	need := map[string]bool{}
	for _, c := range rep.Chains {
		if _, ok := cache[key(c)]; c.Merged && !ok {
			need[c.Name] = true
		}
	}
	source := ""
	if len(need) > 0 || *origMs == 0 {
		pr, err := p.Predict(orig, applied, merged, rep, need, *origMs == 0)
		if err != nil {
			return nil, err
		}
		if *origMs == 0 {
			*origMs = pr.OriginalMs
		}
		byName := map[string]ChainCost{}
		for _, c := range pr.Chains {
			byName[c.Chain] = c
		}
		for _, c := range rep.Chains {
			if cc, ok := byName[c.Name]; ok && need[c.Name] {
				cache[key(c)] = cc
			}
		}
		source = pr.Source
		cache["\x00source"] = ChainCost{Chain: source}
	} else {
		source = cache["\x00source"].Chain
	}
	out := &Prediction{OriginalMs: *origMs, MergedMs: *origMs, Source: source}
	for _, c := range rep.Chains {
		if !c.Merged {
			continue
		}
		cc, ok := cache[key(c)]
		if !ok {
			return nil, fmt.Errorf("policy: the predictor gave no figure for chain %s", c.Name)
		}
		cc.Chain = c.Name
		out.Chains = append(out.Chains, cc)
		out.MergedMs -= cc.KeptMs - cc.MergedMs
	}
	return out, nil
}

// between returns a model computing the nodes of g on the paths from value
// in to value out.
func between(g *graph.Graph, shapes map[string][]int, in, out, name string) (*graph.Graph, error) {
	sh := shapes[in]
	if len(sh) != 4 {
		return nil, fmt.Errorf("value %q has shape %v, want [N, C, H, W]", in, sh)
	}
	if _, ok := shapes[out]; !ok {
		return nil, fmt.Errorf("value %q is not in model %s", out, g.Name)
	}
	// Forward from in (not past out), then backward from out.
	fwd := map[string]bool{in: true}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			if fwd[v] && v != out {
				fwd[n.Output] = true
				break
			}
		}
	}
	need := map[string]bool{out: true}
	var nodes []*graph.Node
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		if !need[n.Output] || !fwd[n.Output] {
			continue
		}
		nodes = append([]*graph.Node{n}, nodes...)
		for _, v := range n.Inputs {
			if v != in {
				need[v] = true
			}
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no node of %s lies between %q and %q", g.Name, in, out)
	}
	for _, n := range nodes {
		for _, v := range n.Inputs {
			if v != in && !fwd[v] {
				return nil, fmt.Errorf("node %s reads %q, which does not come from %q", n.Name, v, in)
			}
		}
	}
	return sub(g, sh, nodes, in, out, name)
}

// single returns a model computing node name of g alone, reading value in.
func single(g *graph.Graph, shapes map[string][]int, name, in string) (*graph.Graph, error) {
	n := g.Node(name)
	if n == nil {
		return nil, fmt.Errorf("merged model has no node %q", name)
	}
	return sub(g, shapes[in], []*graph.Node{n}, in, n.Output, name+".alone")
}

func sub(g *graph.Graph, sh []int, nodes []*graph.Node, in, out, name string) (*graph.Graph, error) {
	if len(sh) != 4 {
		return nil, fmt.Errorf("input %q has shape %v, want [N, C, H, W]", in, sh)
	}
	s := graph.New(name, sh[1], sh[2], sh[3])
	for _, n := range nodes {
		cp := *n
		cp.Inputs = make([]string, len(n.Inputs))
		for i, v := range n.Inputs {
			if v == in {
				v = s.Input.Name
			}
			cp.Inputs[i] = v
		}
		cp.Params = append([]string(nil), n.Params...)
		for _, p := range n.Params {
			s.Params[p] = g.Params[p]
		}
		s.Nodes = append(s.Nodes, &cp)
	}
	s.Output = out
	s.Classes = g.Classes
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// InContext is the Predictor that times the merge now with dshrink's
// runtime, inside the whole models (latency.MeasureMerge): the plan-applied
// model and its merged form run whole and step by step in interleaved
// rounds, and each step's time is charged to the merged chain whose layers
// it runs. It is the default of dshrink merge when no latency table
// describes the model on this machine.
type InContext struct {
	Opts latency.ProfileOptions
}

// Predict implements Predictor.
func (m InContext) Predict(orig, applied, merged *graph.Graph, rep *merge.Report, need map[string]bool, wantWhole bool) (*Prediction, error) {
	o := m.Opts
	if o.Rounds == 0 {
		o = QuickOptions(o.Threads, o.Log)
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "merge: timing the model and its merged form (%d chains) step by step with dshrink's runtime\n", rep.Merged)
	}
	// The model as given is the baseline (in the pad-first form the
	// plan-applied model pads its blocks' inputs and runs slower than it);
	// its layers carry the same names as the merge report's chain nodes.
	mp, err := latency.MeasureMerge(orig, merged, rep, o)
	if err != nil {
		if mp, err = latency.MeasureMerge(applied, merged, rep, o); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	pr := &Prediction{OriginalMs: mp.OriginalMs, MergedMs: mp.MergedMs, Source: mp.Source}
	byName := map[string]merge.Chain{}
	for _, c := range rep.Chains {
		byName[c.Name] = c
	}
	for _, c := range mp.Chains {
		if need != nil && !need[c.Name] {
			continue
		}
		rc := byName[c.Name]
		pr.Chains = append(pr.Chains, ChainCost{Chain: c.Name, Blocks: c.Blocks, Kernel: rc.Kernel, MACs: rc.MACs, MACsAfter: rc.MACsAfter,
			KeptMs: c.OriginalMs, MergedMs: c.MergedMs, Pays: c.MergedMs < c.OriginalMs})
	}
	return pr, nil
}

// Table is the Predictor that reads a latency table of the model measured
// on this machine (dshrink profile): a chain that is one block, or a run
// of blocks the table has merged, costs the table's kept entries against
// its merged entry; the original is the table's base. Chains the table
// does not describe are timed by Fallback.
type Table struct {
	T        *latency.Table
	Path     string
	Fallback Predictor
}

// Predict implements Predictor.
func (p Table) Predict(orig, applied, merged *graph.Graph, rep *merge.Report, need map[string]bool, wantWhole bool) (*Prediction, error) {
	idx := map[string]int{}
	for i, b := range p.T.Blocks {
		idx[b] = i
	}
	pr := &Prediction{OriginalMs: p.T.BaseMs(), Source: fmt.Sprintf("latency table %s (%s)", p.Path, p.T.Key.Timing)}
	rest := map[string]bool{}
	for _, c := range rep.Chains {
		if !c.Merged || (need != nil && !need[c.Name]) {
			continue
		}
		cc, ok := p.fromTable(c, idx)
		if !ok {
			rest[c.Name] = true
			continue
		}
		pr.Chains = append(pr.Chains, cc)
	}
	if len(rest) > 0 {
		if p.Fallback == nil {
			return nil, fmt.Errorf("policy: latency table %s does not describe chains %v", p.Path, keys(rest))
		}
		fb, err := p.Fallback.Predict(orig, applied, merged, rep, rest, false)
		if err != nil {
			return nil, err
		}
		pr.Chains = append(pr.Chains, fb.Chains...)
		pr.Source += fmt.Sprintf("; %d chains it does not describe: %s", len(rest), fb.Source)
	}
	pr.MergedMs = pr.OriginalMs
	for _, c := range pr.Chains {
		pr.MergedMs -= c.KeptMs - c.MergedMs
	}
	return pr, nil
}

func (p Table) fromTable(c merge.Chain, idx map[string]int) (ChainCost, bool) {
	if len(c.Blocks) == 0 {
		return ChainCost{}, false
	}
	lo, ok := idx[c.Blocks[0]]
	if !ok {
		return ChainCost{}, false
	}
	for k, b := range c.Blocks {
		if i, ok := idx[b]; !ok || i != lo+k {
			return ChainCost{}, false
		}
	}
	hi := lo + len(c.Blocks)
	seg := p.T.Merged(lo, hi)
	if seg == nil {
		return ChainCost{}, false
	}
	kept := 0.0
	for i := lo; i < hi; i++ {
		k := p.T.Kept(i)
		if k == nil {
			return ChainCost{}, false
		}
		kept += k.Ms
	}
	return ChainCost{Chain: c.Name, Blocks: c.Blocks, Kernel: c.Kernel, MACs: c.MACs, MACsAfter: c.MACsAfter,
		KeptMs: kept, MergedMs: seg.Ms, Pays: seg.Ms < kept}, true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
