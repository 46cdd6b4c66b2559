package latency

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
)

// planned reports whether p is a planner plan in the segment form (merged
// segments or pruned blocks listed).
func planned(p *plan.Plan) bool { return len(p.Segments) > 0 || len(p.Pruned) > 0 }

// Realize returns the model plan p describes, as it would be deployed, from
// the unmerged model g. A plan with merged segments or pruned blocks (as
// PlanFor writes them) is MergePlanned(ApplyPlanned(g, p), p): exactly the
// segments the latency table timed, merged whatever their growth (the table
// priced it; mo does not apply). A plan with neither is applied in the
// per-block pad-first form (as fine-tuning trains it) and merged with mo.
func Realize(g *graph.Graph, p *plan.Plan, mo merge.Options) (*graph.Graph, *merge.Report, error) {
	if planned(p) {
		ap, err := ApplyPlanned(g, p)
		if err != nil {
			return nil, nil, err
		}
		return MergePlanned(ap, p)
	}
	ap, err := plan.Apply(g, p, plan.ApplyOptions{PadFirst: true})
	if err != nil {
		return nil, nil, fmt.Errorf("latency: realize plan: %w", err)
	}
	mg, rep, err := merge.Merge(ap, mo)
	if err != nil {
		return nil, nil, fmt.Errorf("latency: realize plan: %w", err)
	}
	return mg, rep, nil
}

// ApplyPlanned returns g with plan p applied in the form to fine-tune a
// planner plan in, and to merge it from: the activations of removed units
// the identity, pruned blocks the identity, and every run of Runs in the
// pad-first form over the whole run (merge.PadFirst: the run's input padded
// once, its layers unpadded, residual skips cropped), so that each run
// merges into one convolution exactly. For a run of one block this is the
// per-block pad-first form of plan.ApplyOptions.PadFirst. g is not
// modified.
func ApplyPlanned(g *graph.Graph, p *plan.Plan) (*graph.Graph, error) {
	ap, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		return nil, fmt.Errorf("latency: apply plan: %w", err)
	}
	runs, err := runsIn(ap, p)
	if err != nil {
		return nil, err
	}
	pf, err := merge.PadFirst(ap, runs)
	if err != nil {
		return nil, fmt.Errorf("latency: apply plan: %w", err)
	}
	for k, v := range ap.Meta {
		if _, ok := pf.Meta[k]; !ok {
			pf.Meta[k] = v
		}
	}
	return pf, nil
}

// MergePlanned merges m, a model in ApplyPlanned's form (fine-tuned or
// not), along the runs of plan p: each run becomes one convolution,
// nothing else is merged (BatchNorm is folded everywhere). Verify m
// against the result to prove it.
func MergePlanned(m *graph.Graph, p *plan.Plan) (*graph.Graph, *merge.Report, error) {
	runs, err := runsIn(m, p)
	if err != nil {
		return nil, nil, err
	}
	mg, rep, err := merge.Merge(m, merge.Options{Segments: runs})
	if err != nil {
		return nil, nil, fmt.Errorf("latency: merge planned segments: %w", err)
	}
	return mg, rep, nil
}

// Runs returns the runs of layers that plan p merges in g (the unmerged
// model), in model order: one per segment of p.Segments (first block's
// input to last block's output) and one per other block whose units are
// all removed; pruned blocks are skipped, and a run after a pruned block
// reads that block's input (what it reads once the block is pruned).
func Runs(g *graph.Graph, p *plan.Plan) ([]merge.Segment, error) {
	ap, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		return nil, fmt.Errorf("latency: runs of plan: %w", err)
	}
	return runsIn(ap, p)
}

// runsIn returns the runs of p in m, a model p has been applied to
// (pruned blocks gone from m.Blocks, their readers reading their inputs).
func runsIn(m *graph.Graph, p *plan.Plan) ([]merge.Segment, error) {
	index := map[string]int{}
	for i, b := range m.Blocks {
		index[b.Name] = i
	}
	removed := map[string]bool{}
	units := map[string]int{}
	for _, u := range p.Units {
		var blk string
		for _, gu := range m.Units {
			if gu.Name == u.Name {
				blk = gu.Block
			}
		}
		if blk == "" {
			continue
		}
		units[blk]++
		if u.Keep {
			removed[blk] = false
		} else if _, seen := removed[blk]; !seen {
			removed[blk] = true
		}
	}
	inSeg := map[string]bool{}
	var runs []merge.Segment
	segOf := map[string][]string{}
	for _, seg := range p.Segments {
		i, ok := index[seg[0]]
		if !ok || i+len(seg) > len(m.Blocks) || m.Blocks[i+len(seg)-1].Name != seg[len(seg)-1] {
			return nil, fmt.Errorf("latency: plan segment %v is not a run of blocks of model %s", seg, m.Name)
		}
		segOf[seg[0]] = seg
		for _, b := range seg {
			inSeg[b] = true
		}
	}
	for i := 0; i < len(m.Blocks); i++ {
		b := m.Blocks[i]
		if seg, ok := segOf[b.Name]; ok {
			runs = append(runs, merge.Segment{From: b.Input, To: m.Blocks[i+len(seg)-1].Output})
			i += len(seg) - 1
			continue
		}
		if removed[b.Name] && units[b.Name] > 0 && !inSeg[b.Name] {
			runs = append(runs, merge.Segment{From: b.Input, To: b.Output})
		}
	}
	return runs, nil
}
