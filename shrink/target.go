package shrink

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/plan"
)

// Target is a latency target as users state it: a speedup over the base
// model (1.5 means 1.5x faster) or a latency in milliseconds, both at the
// latency table's batch size and thread count. At most one is set.
type Target struct {
	// Speedup is the target speedup over the unmodified model (0: unset).
	Speedup float64 `yaml:"speedup" json:"speedup,omitempty"`
	// LatencyMs is the target latency in milliseconds (0: unset).
	LatencyMs float64 `yaml:"latency_ms" json:"latency_ms,omitempty"`
}

// IsSet reports whether a target is given.
func (t Target) IsSet() bool { return t.Speedup > 0 || t.LatencyMs > 0 }

// Validate checks that at most one target is set and that it is usable.
func (t Target) Validate() error {
	switch {
	case t.Speedup < 0 || math.IsNaN(t.Speedup) || math.IsInf(t.Speedup, 0):
		return fmt.Errorf("target speedup %g: want a finite value >= 1 (0: unset)", t.Speedup)
	case t.Speedup > 0 && t.Speedup < 1:
		return fmt.Errorf("target speedup %g is below 1 (a slowdown): want e.g. 1.5 for 1.5x faster", t.Speedup)
	case t.LatencyMs < 0 || math.IsNaN(t.LatencyMs) || math.IsInf(t.LatencyMs, 0):
		return fmt.Errorf("target latency_ms %g: want a finite value > 0 (0: unset)", t.LatencyMs)
	case t.Speedup > 0 && t.LatencyMs > 0:
		return fmt.Errorf("give a target speedup (%g) or a target latency_ms (%g), not both", t.Speedup, t.LatencyMs)
	}
	return nil
}

// String describes the target ("1.5x", "0.15 ms", "none").
func (t Target) String() string {
	switch {
	case t.Speedup > 0:
		return strconv.FormatFloat(t.Speedup, 'g', -1, 64) + "x"
	case t.LatencyMs > 0:
		return strconv.FormatFloat(t.LatencyMs, 'g', -1, 64) + " ms"
	}
	return "none"
}

// Budget returns the target as a budget in the table's predicted
// milliseconds: the table's base latency divided by the speedup, or the
// latency divided by the table's calibration (the ratio of the measured
// whole model to the table's sum, so that the calibrated prediction meets
// an absolute latency), as dshrink plan does.
func (t Target) Budget(tab *latency.Table) (float64, error) {
	if err := t.Validate(); err != nil {
		return 0, err
	}
	switch {
	case t.Speedup > 0:
		return tab.BaseMs() / t.Speedup, nil
	case t.LatencyMs > 0:
		return t.LatencyMs / tab.Calibration(), nil
	}
	return 0, fmt.Errorf("no target: give a speedup or a latency in ms")
}

// ReadOff turns a removal order into a plan that meets a latency budget:
// starting from the unmodified model it removes the units of order one
// after another (only units of the table's blocks count) until the table
// predicts at most budgetMs, and returns the removed units and the
// prediction. It is how a ranking (the search's gates, a random order, the
// last blocks first) meets the same target as the planner, the way the
// official code reads plans for several keep ratios off one search. It
// fails when removing every unit of order does not reach the budget.
func ReadOff(tab *latency.Table, prob *latency.Problem, order []string, budgetMs float64) (map[string]bool, float64, error) {
	idx := map[string]int{}
	for i, u := range tab.Units {
		idx[u] = i
	}
	keep := make([]bool, len(tab.Units))
	for i := range keep {
		keep[i] = true
	}
	split := prob.Stage1()
	removed := map[string]bool{}
	lat, _, _ := prob.Evaluate(keep, split)
	for _, u := range order {
		if lat <= budgetMs {
			break
		}
		i, ok := idx[u]
		if !ok || !keep[i] {
			continue
		}
		keep[i] = false
		removed[u] = true
		lat, _, _ = prob.Evaluate(keep, split)
	}
	if !(lat <= budgetMs) {
		return nil, lat, fmt.Errorf("removing all %d units of the order predicts %.4f ms, above the budget %.4f ms (base %.4f ms): the target is out of reach for this method",
			len(removed), lat, budgetMs, tab.BaseMs())
	}
	return removed, lat, nil
}

// SearchOrder returns the removal order a searched plan encodes: its gated
// units by decreasing raw gate (the official ranking read from the other
// end: the largest s lose their activation first), exact ties by the
// smaller tie-break signal first, then by position.
func SearchOrder(p *plan.Plan) ([]string, error) {
	var raw, ties map[string]float64
	if js := p.Meta[MetaRawGates]; js != "" {
		if err := json.Unmarshal([]byte(js), &raw); err != nil {
			return nil, fmt.Errorf("plan meta %s: %w", MetaRawGates, err)
		}
	}
	if js := p.Meta[MetaTieBreak]; js != "" {
		if err := json.Unmarshal([]byte(js), &ties); err != nil {
			return nil, fmt.Errorf("plan meta %s: %w", MetaTieBreak, err)
		}
	}
	var us []string
	val := map[string]float64{}
	for _, u := range p.Units {
		if u.Gate == nil {
			continue
		}
		us = append(us, u.Name)
		val[u.Name] = *u.Gate
		if v, ok := raw[u.Name]; ok {
			val[u.Name] = v
		}
	}
	if len(us) == 0 {
		return nil, fmt.Errorf("plan %q has no gates: it does not come from a search", p.Name)
	}
	sort.SliceStable(us, func(a, b int) bool {
		if val[us[a]] != val[us[b]] {
			return val[us[a]] > val[us[b]]
		}
		return ties[us[a]] < ties[us[b]]
	})
	return us, nil
}

// BaselineOrder returns the removal order of a baseline over the candidate
// units cands (graph order): a seeded random permutation (the same one
// BaselinePlan draws from, so its first k units are BaselinePlan's random
// plan removing k) or the last units first.
func BaselineOrder(kind Baseline, cands []string, seed uint64) ([]string, error) {
	out := make([]string, 0, len(cands))
	switch kind {
	case BaselineRandom:
		rng := rand.New(rand.NewPCG(seed, 0xba5e))
		for _, i := range rng.Perm(len(cands)) {
			out = append(out, cands[i])
		}
	case BaselineLastK:
		for i := len(cands) - 1; i >= 0; i-- {
			out = append(out, cands[i])
		}
	default:
		return nil, fmt.Errorf("unknown baseline %q (want random or last-k)", kind)
	}
	return out, nil
}

// TargetPlan returns the plan of g that removes the units of removed,
// named and annotated for a read-off at a target: source, the budget and
// the prediction.
func TargetPlan(g *graph.Graph, source, name string, removed map[string]bool, tab *latency.Table, budgetMs, predictedMs float64, t Target) *plan.Plan {
	p := plan.New(g, source, removed)
	p.Name = name
	var rs []string
	for _, u := range g.Units {
		if removed[u.Name] {
			rs = append(rs, u.Name)
		}
	}
	p.Meta = map[string]string{
		"target":            t.String(),
		"budget_ms":         strconv.FormatFloat(budgetMs, 'f', -1, 64),
		"predicted_ms":      strconv.FormatFloat(predictedMs, 'f', -1, 64),
		"base_predicted_ms": strconv.FormatFloat(tab.BaseMs(), 'f', -1, 64),
		"predicted_speedup": strconv.FormatFloat(tab.BaseMs()/predictedMs, 'f', 3, 64),
		"removed_blocks":    strconv.Itoa(len(removed)),
		"removed":           strings.Join(rs, ","),
	}
	return p
}

// TableFor returns the latency table of g at batch and threads (1 when 0):
// the table in path when its key matches this machine, runtime and model,
// else a fresh measurement (seconds to minutes; segments of several blocks
// only with multiBlock), saved to path when path is not empty. log
// receives progress.
func TableFor(g *graph.Graph, path string, batch, threads int, multiBlock bool, log io.Writer) (*latency.Table, error) {
	opts := latency.ProfileOptions{Batch: max(batch, 1), Threads: max(threads, 1), NoMultiBlock: !multiBlock, Log: log}
	key, err := latency.TableKey(latency.Fingerprint(g), opts)
	if err != nil {
		return nil, fmt.Errorf("latency table: %w", err)
	}
	if path != "" {
		t, err := latency.Cached(path, key)
		switch {
		case err == nil && t != nil:
			fmt.Fprintf(log, "latency table: reusing %s\n", path)
			return t, nil
		case errors.Is(err, latency.ErrKeyMismatch):
			fmt.Fprintf(log, "latency table: %v; measuring again\n", err)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("latency table: %w", err)
		}
	}
	fmt.Fprintf(log, "latency table: measuring %s (batch %d, %d threads)\n", g.Name, opts.Batch, opts.Threads)
	t, err := latency.Profile(g, opts)
	if err != nil {
		return nil, fmt.Errorf("latency table: %w", err)
	}
	if path != "" {
		if err := t.Save(path); err != nil {
			return nil, fmt.Errorf("latency table: %w", err)
		}
	}
	return t, nil
}

// LatencySavings returns, for each block's unit of the table, the predicted
// latency saved when the block merges on its own (kept minus merged; 0 for
// a block merge.Merge would leave unmerged): the official search's
// LAT_BEFORE - LAT_AFTER, measured here.
func LatencySavings(tab *latency.Table, prob *latency.Problem) map[string]float64 {
	out := map[string]float64{}
	for i, u := range tab.Units {
		if m := prob.Merge[i][i+1]; !math.IsInf(m, 0) {
			out[u] = max(prob.Keep[i]-m, 0)
		}
	}
	return out
}
