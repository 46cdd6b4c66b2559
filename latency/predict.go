package latency

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
)

// ChainPrediction is the latency of one merged chain before and after the
// merge, in context (inside the whole model).
type ChainPrediction struct {
	// Name is the merged convolution's node (merge.Chain.Name), or the
	// segment's blocks for a table prediction.
	Name   string   `json:"name"`
	Blocks []string `json:"blocks,omitempty"`
	// Nodes are the nodes the chain replaces.
	Nodes []string `json:"nodes,omitempty"`
	// Kernel is the merged convolution, e.g. "5x5/s2".
	Kernel string `json:"kernel,omitempty"`
	// OriginalMs is the latency of the chain's layers unmerged, MergedMs of
	// the merged convolution.
	OriginalMs float64 `json:"original_ms"`
	MergedMs   float64 `json:"merged_ms"`
	// Pays says the merged convolution is faster (MergedMs < OriginalMs).
	Pays bool `json:"pays"`
}

// MergePrediction compares a model with its merged form, chain by chain and
// overall.
type MergePrediction struct {
	// OriginalMs and MergedMs are the whole models' latencies.
	OriginalMs float64 `json:"original_ms"`
	MergedMs   float64 `json:"merged_ms"`
	// RestOriginalMs and RestMergedMs are the latencies of everything
	// outside the chains (the same layers in both models; their difference
	// is the measurement's noise plus cache effects of the neighbours).
	RestOriginalMs float64           `json:"rest_original_ms"`
	RestMergedMs   float64           `json:"rest_merged_ms"`
	Chains         []ChainPrediction `json:"chains"`
	// Source says where the figures come from (a table's key, or how they
	// were measured).
	Source string `json:"source"`
}

// Slower reports whether the merged model is predicted slower than the
// original.
func (m *MergePrediction) Slower() bool { return m.MergedMs > m.OriginalMs }

// Speedup returns OriginalMs / MergedMs (0 when MergedMs is not positive).
func (m *MergePrediction) Speedup() float64 {
	if m.MergedMs <= 0 {
		return 0
	}
	return m.OriginalMs / m.MergedMs
}

// Losers returns the chains whose merged convolution is not faster than
// the layers it replaces.
func (m *MergePrediction) Losers() []ChainPrediction {
	var out []ChainPrediction
	for _, c := range m.Chains {
		if !c.Pays {
			out = append(out, c)
		}
	}
	return out
}

// String returns a short report: overall figures, then one line per chain.
func (m *MergePrediction) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "whole model: %.4f ms -> %.4f ms (%.2fx; %s)\n", m.OriginalMs, m.MergedMs, m.Speedup(), m.Source)
	for _, c := range m.Chains {
		verdict := "pays"
		if !c.Pays {
			verdict = "SLOWER"
		}
		fmt.Fprintf(&b, "  %-28s %-8s %.4f ms -> %.4f ms  %s\n", c.Name, c.Kernel, c.OriginalMs, c.MergedMs, verdict)
	}
	return b.String()
}

// chainOfNodes maps every node of orig that a merged chain of rep replaces
// to the chain's index: the chain's own nodes, and the BatchNorm, identity
// activation and dropout nodes merge.Merge folded or dropped inside it (a
// node of that kind whose input is produced inside the chain and is not the
// chain's output).
func chainOfNodes(orig *graph.Graph, rep *merge.Report) map[string]int {
	of := map[string]int{}
	outs := map[int]string{}
	for k, c := range rep.Chains {
		if !c.Merged {
			continue
		}
		outs[k] = c.Output
		for _, n := range c.Nodes {
			of[n] = k
		}
	}
	producer := map[string]int{} // value -> chain of its producer
	for _, n := range orig.Nodes {
		k, in := of[n.Name]
		if !in && len(n.Inputs) == 1 {
			switch {
			case n.Op == graph.OpBatchNorm, n.Op == graph.OpDropout, n.Op == graph.OpAct && n.Act != nil && n.Act.Kind == graph.ActIdentity:
				if pk, ok := producer[n.Inputs[0]]; ok && n.Inputs[0] != outs[pk] {
					k, in = pk, true
					of[n.Name] = pk
				}
			}
		}
		if in {
			producer[n.Output] = k
		}
	}
	return of
}

// MeasureMerge measures, in context, what merging bought: orig is the model
// as given to merge.Merge (plan applied), merged and rep are its result.
// Both models run whole and step by step in interleaved rounds with our
// runtime at opts' batch and threads; each step's median is charged to the
// merged chain whose layers it runs (in orig, the steps of the chain's
// nodes; in merged, the merged convolution's step) or to the rest. Works on
// any graph (no blocks needed). opts.Runtime must be ours.
func MeasureMerge(orig, merged *graph.Graph, rep *merge.Report, opts ProfileOptions) (*MergePrediction, error) {
	opts = opts.withDefaults()
	if ort, err := useORT(opts.Runtime); err != nil || ort {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("latency: measuring merged chains needs per-step times: use our runtime, not ONNX Runtime")
	}
	if orig == nil || merged == nil || rep == nil {
		return nil, fmt.Errorf("latency: measure merge: nil model or report")
	}
	of := chainOfNodes(orig, rep)
	mergedOf := map[string]int{}
	for k, c := range rep.Chains {
		if c.Merged {
			mergedOf[c.Name] = k
		}
	}
	a := &candidate{g: orig, run: true, ctx: true}
	b := &candidate{g: merged, run: true, ctx: true}
	cands := []*candidate{a, b}
	if err := prepareCandidates(cands, opts); err != nil {
		return nil, err
	}
	if err := timeRounds(cands, opts, 0, opts.Rounds, opts.Rounds); err != nil {
		return nil, err
	}
	// per-round sums by chain index (-1: the rest)
	split := func(cd *candidate, owner map[string]int) (map[int][]float64, error) {
		steps := cd.prog.Steps()
		idx := make([]int, len(steps))
		for s, st := range steps {
			k, ok := owner[st.Name]
			if !ok {
				k = -1
			}
			idx[s] = k
		}
		out := map[int][]float64{}
		for _, round := range cd.stepRounds {
			if len(round) != len(steps) {
				return nil, fmt.Errorf("latency: %s: %d step times for %d steps", cd.g.Name, len(round), len(steps))
			}
			sums := map[int]float64{}
			for s, v := range round {
				sums[idx[s]] += v
			}
			for k, v := range sums {
				out[k] = append(out[k], v)
			}
		}
		return out, nil
	}
	ra, err := split(a, of)
	if err != nil {
		return nil, err
	}
	rb, err := split(b, mergedOf)
	if err != nil {
		return nil, err
	}
	mp := &MergePrediction{Source: fmt.Sprintf("measured in context with our runtime (%s), batch %d, %d threads, %d rounds",
		RuntimeID(), opts.Batch, opts.Threads, opts.Rounds)}
	mp.OriginalMs, _ = summary(a.meds)
	mp.MergedMs, _ = summary(b.meds)
	mp.RestOriginalMs, _ = summary(ra[-1])
	mp.RestMergedMs, _ = summary(rb[-1])
	for k, c := range rep.Chains {
		if !c.Merged {
			continue
		}
		o, _ := summary(ra[k])
		m, _ := summary(rb[k])
		if len(rb[k]) == 0 {
			return nil, fmt.Errorf("latency: merged convolution %s has no step in the merged model", c.Name)
		}
		mp.Chains = append(mp.Chains, ChainPrediction{Name: c.Name, Blocks: c.Blocks, Nodes: c.Nodes, Kernel: c.Kernel,
			OriginalMs: o, MergedMs: m, Pays: m < o})
	}
	return mp, nil
}

// PredictPlan predicts from table t, without timing anything, the latency
// of the model plan p describes (as Realize builds it) against the
// unmodified model, per merged segment and overall: the fixed parts, every
// kept block, every merged segment (p.Segments; a removed block outside
// them on its own) and no time for pruned blocks. The original figure is
// t.BaseMs. An error names a segment the table has no entry for.
func PredictPlan(t *Table, p *plan.Plan) (*MergePrediction, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	index := map[string]int{}
	for i, b := range t.Blocks {
		index[b] = i
	}
	n := len(t.Blocks)
	pruned := make([]bool, n)
	for _, b := range p.Pruned {
		i, ok := index[b]
		if !ok {
			return nil, fmt.Errorf("latency: plan prunes %q, not a block of the table's model %s", b, t.Model)
		}
		pruned[i] = true
	}
	segEnd := make([]int, n) // end of the segment starting at i, 0 if none
	for _, seg := range p.Segments {
		i, ok := index[seg[0]]
		if !ok || i+len(seg) > n || t.Blocks[i+len(seg)-1] != seg[len(seg)-1] {
			return nil, fmt.Errorf("latency: plan segment %v is not a run of the table's blocks", seg)
		}
		segEnd[i] = i + len(seg)
	}
	mp := &MergePrediction{OriginalMs: t.BaseMs(), MergedMs: t.FixedMs(), RestOriginalMs: t.FixedMs(), RestMergedMs: t.FixedMs(),
		Source: "table " + t.Key.String()}
	for i := 0; i < n; {
		kept := t.Kept(i)
		switch {
		case pruned[i]:
			mp.Chains = append(mp.Chains, ChainPrediction{Name: t.Blocks[i] + " (pruned)", Blocks: []string{t.Blocks[i]}, Kernel: "identity",
				OriginalMs: kept.Ms, Pays: kept.Ms > 0})
			i++
			continue
		case p.Keep(t.Units[i]):
			mp.MergedMs += kept.Ms
			mp.RestOriginalMs += kept.Ms
			mp.RestMergedMs += kept.Ms
			i++
			continue
		}
		j := segEnd[i]
		if j == 0 {
			j = i + 1
		}
		s := t.Merged(i, j)
		if lp := t.MergedLayerPruned(i, j); lp != nil && len(lp.PrunedLayers) > 0 {
			all := true
			for _, l := range lp.PrunedLayers {
				all = all && slices.Contains(p.PrunedLayers, l)
			}
			if all {
				s = lp
			}
		}
		if s == nil {
			return nil, fmt.Errorf("latency: the table has no merged segment for blocks %s..%s", t.Blocks[i], t.Blocks[j-1])
		}
		var orig float64
		for k := i; k < j; k++ {
			orig += t.Kept(k).Ms
		}
		name := t.Blocks[i]
		if j > i+1 {
			name += ".." + t.Blocks[j-1]
		}
		mp.MergedMs += s.Ms
		mp.Chains = append(mp.Chains, ChainPrediction{Name: name, Blocks: append([]string(nil), t.Blocks[i:j]...), Kernel: s.Kernel,
			OriginalMs: orig, MergedMs: s.Ms, Pays: s.Ms < orig})
		i = j
	}
	return mp, nil
}
