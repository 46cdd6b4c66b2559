package shrink

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/plan"
)

// Baseline names a plan the search is compared with.
type Baseline string

// Baselines of the comparison.
const (
	// BaselineRandom removes a seeded random set of candidate units.
	BaselineRandom Baseline = "random"
	// BaselineLastK removes the activations of the last k candidate units
	// (the blocks nearest the classifier).
	BaselineLastK Baseline = "last-k"
)

// ParseBaseline parses a baseline name ("random", "last-k").
func ParseBaseline(s string) (Baseline, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "random", "rand":
		return BaselineRandom, nil
	case "last-k", "lastk", "last_k", "last":
		return BaselineLastK, nil
	}
	return "", fmt.Errorf("unknown baseline %q (want random or last-k)", s)
}

// BaselinePlan returns a plan for g of the given kind that removes exactly
// remove of the candidate units cands (in graph order; the search's
// candidates, see SearchCandidates), the same budget as a searched plan;
// seed drives the random choice.
func BaselinePlan(kind Baseline, g *graph.Graph, cands []string, remove int, seed uint64) (*plan.Plan, error) {
	if remove < 0 || remove > len(cands) {
		return nil, fmt.Errorf("baseline %s: remove %d of %d candidate units", kind, remove, len(cands))
	}
	removed := map[string]bool{}
	switch kind {
	case BaselineRandom:
		rng := rand.New(rand.NewPCG(seed, 0xba5e))
		for _, i := range rng.Perm(len(cands))[:remove] {
			removed[cands[i]] = true
		}
	case BaselineLastK:
		for _, u := range cands[len(cands)-remove:] {
			removed[u] = true
		}
	default:
		return nil, fmt.Errorf("unknown baseline %q", kind)
	}
	p := plan.New(g, plan.SourceManual, removed)
	p.Name = string(kind)
	p.Meta = map[string]string{"baseline": string(kind), "seed": strconv.FormatUint(seed, 10), "removed": strconv.Itoa(remove)}
	return p, nil
}

// removedCandidates counts the units of cands a plan removes.
func removedCandidates(p *plan.Plan, cands []string) int {
	n := 0
	for _, u := range cands {
		if !p.Keep(u) {
			n++
		}
	}
	return n
}
