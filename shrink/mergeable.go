package shrink

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
)

// Excluded is a candidate unit left out of the search because removing its
// activation would merge nothing under the merge options in use.
type Excluded struct {
	Unit   string `json:"unit"`
	Block  string `json:"block"`
	Reason string `json:"reason"`
}

// MergeableCandidates returns the candidate units of g (Candidates(g, all))
// whose removal merge would turn into a merged convolution under mo, and the
// ones it would leave alone (for MobileNetV2 with the default MAC-growth
// limit, block features.1, whose merged 3x3 convolution costs 5.8x the MACs
// of its depthwise + pointwise pair). Gating such a unit spends the budget on
// a block that stays as it is, so the search, the random and last-k
// baselines and the planner leave them out. Units outside blocks (the stem
// and head, candidates only with all) are always kept as candidates.
//
// The check merges g once with every candidate block's activations removed
// (pad-first form, chains confined to single blocks) and reads the report.
func MergeableCandidates(g *graph.Graph, all bool, mo merge.Options) ([]string, []Excluded, error) {
	cands := Candidates(g, all)
	if g == nil || len(cands) == 0 {
		return cands, nil, nil
	}
	removed := map[string]bool{}
	blockOf := map[string]string{}
	for _, u := range g.Units {
		blockOf[u.Name] = u.Block
	}
	for _, u := range cands {
		if blockOf[u] != "" {
			removed[u] = true
		}
	}
	p := plan.New(g, plan.SourceManual, removed)
	ap, err := plan.Apply(g, p, plan.ApplyOptions{PadFirst: true})
	if err != nil {
		return nil, nil, fmt.Errorf("mergeable candidates of %q: %w", g.Name, err)
	}
	mo.CrossBlocks = false
	_, rep, err := merge.Merge(ap, mo)
	if err != nil {
		return nil, nil, fmt.Errorf("mergeable candidates of %q: %w", g.Name, err)
	}
	reason := map[string]string{}
	for _, c := range rep.Chains {
		if c.Merged {
			continue
		}
		for _, b := range c.Blocks {
			reason[b] = c.Reason
		}
	}
	var keep []string
	var excl []Excluded
	for _, u := range cands {
		b := blockOf[u]
		if r, ok := reason[b]; ok && b != "" {
			excl = append(excl, Excluded{Unit: u, Block: b, Reason: r})
			continue
		}
		keep = append(keep, u)
	}
	return keep, excl, nil
}
