// Package shrink implements the DepthShrinker method on top of the training,
// plan and merge packages (docs/method.md): the search for the activations
// to remove (a learnable gate per removable unit, a hard top-k mask under a
// keep budget and a straight-through estimator), the fine-tuning of the model
// without them (pad-first form, distillation from the base), the merge and
// its verification, a latency measurement, and the whole pipeline with
// resumable stages and a comparison with random and "last k blocks" plans.
package shrink

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/train"
)

// SearchOptions configures Search.
type SearchOptions struct {
	// KeepRatio is the fraction r of candidate units that keep their
	// activation: int(r*U) of them (used when Keep < 0).
	KeepRatio float64
	// Keep, when >= 0, is the exact number of candidate units that keep
	// their activation.
	Keep int
	// PerActivation gives every activation its own gate (see
	// PerActivationUnits) instead of one gate per block.
	PerActivation bool
	// AllUnits makes every unit a candidate; by default only the units of
	// blocks (the inverted residual blocks) are, and the stem and head keep
	// their activation.
	AllUnits bool
	// Merge is the merge configuration the plan will be merged with: units
	// whose removal it would not merge (see MergeableCandidates) get no gate
	// and keep their activation.
	Merge merge.Options
	// IncludeUnmergeable gates every candidate, mergeable or not.
	IncludeUnmergeable bool
	// Train is the search's training run (weights and gates train together
	// with the same optimiser; Train.Optimizer.ScalarLRScale is the gate LR
	// scale). Train.Out is the run directory.
	Train train.Config
	// Resume continues an interrupted search from Train.Out's checkpoint.
	Resume bool
	// Epochs, when resuming, is the search's new number of epochs; 0 keeps
	// the checkpoint's (Train.Epochs is ignored on resume, see
	// train.Options.Epochs).
	Epochs int
	// Data replaces the data sets described by Train.Data.
	Data *train.Datasets
	// Log receives progress (os.Stderr when nil).
	Log io.Writer
	// OnStep, when set, is called after the masks of each step are set,
	// with the step and the gates (a test hook).
	OnStep func(step int, gates map[string]*nn.Gate)
}

// SearchResult is the outcome of Search.
type SearchResult struct {
	// Plan is the searched plan (Source "search"), with every candidate
	// unit's final gate value.
	Plan *plan.Plan
	// Graph is the searched graph with the weights trained during the search
	// (the per-activation copy when PerActivation was set).
	Graph *graph.Graph
	// Candidates are the units that had a gate, in graph order.
	Candidates []string
	// Gates holds the final gate value of every candidate (clamped to [0,1]).
	Gates map[string]float64
	// Kept is the number of candidates that keep their activation.
	Kept int
	// Excluded lists the units left without a gate because the merge would
	// not merge their blocks (they keep their activation).
	Excluded []Excluded
	// Final is the last held-out evaluation of the gated model.
	Final train.EvalResult
	// Interrupted is set when the context was cancelled; the checkpoint in
	// Train.Out holds the position and Plan is nil.
	Interrupted bool
}

// PerActivationUnits returns a copy of g in which every activation node that
// belongs to a unit forms a unit of its own, named after the node and
// attached to the same block. The graph name is unchanged, so plans made on
// the copy name the same model.
func PerActivationUnits(g *graph.Graph) *graph.Graph {
	c := g.Clone()
	block := map[string]string{}
	for _, u := range g.Units {
		block[u.Name] = u.Block
	}
	var units []graph.Unit
	for _, n := range c.Nodes {
		if n.Op != graph.OpAct || n.Act == nil || n.Act.Unit == "" {
			continue
		}
		units = append(units, graph.Unit{Name: n.Name, Block: block[n.Act.Unit]})
		n.Act.Unit = n.Name
	}
	c.Units = units
	if c.Meta == nil {
		c.Meta = map[string]string{}
	}
	c.Meta["units"] = "per-activation"
	return c
}

// Candidates returns the units of g that the search gates, in graph order:
// the units of blocks, or every unit with all.
func Candidates(g *graph.Graph, all bool) []string {
	var out []string
	for _, u := range g.Units {
		if all || u.Block != "" {
			out = append(out, u.Name)
		}
	}
	return out
}

// SearchCandidates returns the units the search gates: the mergeable
// candidates under mo (every candidate with includeUnmergeable) and the
// excluded ones.
func SearchCandidates(g *graph.Graph, all, includeUnmergeable bool, mo merge.Options) ([]string, []Excluded, error) {
	if includeUnmergeable {
		return Candidates(g, all), nil, nil
	}
	return MergeableCandidates(g, all, mo)
}

// GatedKeepCount returns how many of the gated candidates keep their
// activation when excluded more candidates (see MergeableCandidates) keep
// theirs without a gate: the budget counts every candidate, the excluded
// ones among the kept (keep ratio 0.4 of MobileNetV2's 17 blocks still
// removes 11, all of them mergeable).
func GatedKeepCount(gated, excluded int, ratio float64, keep int) (int, error) {
	k, err := KeepCount(gated+excluded, ratio, keep)
	if err != nil {
		return 0, err
	}
	return max(k-excluded, 0), nil
}

// KeepCount returns how many of u candidate units keep their activation:
// keep when keep >= 0, else int(ratio*u). It fails when the count is
// outside [0, u].
func KeepCount(u int, ratio float64, keep int) (int, error) {
	if keep >= 0 {
		if keep > u {
			return 0, fmt.Errorf("keep %d units, but there are only %d candidates", keep, u)
		}
		return keep, nil
	}
	if !(ratio >= 0) || ratio > 1 {
		return 0, fmt.Errorf("keep ratio %g out of range [0, 1]", ratio)
	}
	// int(r*U) as in the official code, with a guard against 0.4*10 = 3.9999.
	return int(ratio*float64(u) + 1e-9), nil
}

// SelectKept returns, for gate values s (one per candidate), which
// candidates keep their activation: the k with the smallest s. Ties are
// broken by tie (a larger tie value keeps its activation first; nil
// ignores it), then by position.
func SelectKept(s []float64, tie []float64, k int) []bool {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		i, j := idx[a], idx[b]
		if s[i] != s[j] {
			return s[i] < s[j]
		}
		if tie != nil && tie[i] != tie[j] {
			return tie[i] > tie[j]
		}
		return false
	})
	keep := make([]bool, len(s))
	for _, i := range idx[:min(k, len(idx))] {
		keep[i] = true
	}
	return keep
}

// clamp01 returns v clamped to [0, 1] (NaN becomes 0).
func clamp01(v float32) float32 {
	switch {
	case v > 1:
		return 1
	case v >= 0:
		return v
	}
	return 0
}

// Search runs the DepthShrinker search on base (docs/method.md, stage 1): every
// candidate unit gets a gate s (init 0), clamped to [0,1] before each step;
// at every step the k candidates with the smallest s keep their activation
// and the others run as the identity (hard mask; the straight-through
// estimator carries the gradient x - act(x) to s); gates train with the
// weights. Gates that are equal (typically several at 0) are ordered by a
// mean of their gradient over the search: the unit whose identity would
// raise the loss most keeps its activation. base is not modified.
func Search(ctx context.Context, base *graph.Graph, opts SearchOptions) (*SearchResult, error) {
	if base == nil {
		return nil, fmt.Errorf("search: nil model")
	}
	g := base.Clone()
	if opts.PerActivation {
		g = PerActivationUnits(base)
	}
	cands, excl, err := SearchCandidates(g, opts.AllUnits, opts.IncludeUnmergeable, opts.Merge)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("search: model %q has no candidate units (units: %d; use all units to include the stem and head)", g.Name, len(g.Units))
	}
	k, err := GatedKeepCount(len(cands), len(excl), opts.KeepRatio, opts.Keep)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	vals := make([]float64, len(cands))
	tie := make([]float64, len(cands))
	gates := make([]*nn.Gate, len(cands))
	setMasks := func(m *nn.Model) {
		for i, u := range cands {
			gt := m.Gates[u]
			gates[i] = gt
			gt.Value = clamp01(gt.Value)
			vals[i] = float64(gt.Value)
		}
		keep := SelectKept(vals, tie, k)
		for i, gt := range gates {
			if keep[i] {
				gt.Mask = 0
			} else {
				gt.Mask = 1
			}
		}
	}
	tc := opts.Train
	// The tie-break statistics are state of the search: every checkpoint
	// stores them (with the gate gradients of the last step, which the next
	// step folds in), so that a resumed search is bit-identical.
	ts := tieState{Tie: tie, Pending: make([]float64, len(cands))}
	res, err := train.Run(ctx, tc, train.Options{
		Resume: opts.Resume, Epochs: opts.Epochs, Log: logw, Data: opts.Data, Graph: g,
		Setup: func(m *nn.Model) error {
			if err := m.EnableGates(cands); err != nil {
				return err
			}
			setMasks(m)
			return nil
		},
		BeforeStep: func(m *nn.Model, step int) {
			// The tie-break is the mean gate gradient over every step of
			// the search so far: through the straight-through path it is
			// the first-order estimate of the loss change when the unit
			// runs as the identity (dL/dy . (x - act(x))), averaged over
			// all the batches seen. (A short running average, used before,
			// ranked by the last few batches only: no better than random.)
			if ts.HasPending {
				ts.N++
				for i, gr := range ts.Pending {
					if !math.IsNaN(gr) && !math.IsInf(gr, 0) {
						tie[i] += (gr - tie[i]) / float64(ts.N)
					}
				}
			}
			setMasks(m)
			if opts.OnStep != nil {
				opts.OnStep(step, m.Gates)
			}
		},
		AfterBackward: func(m *nn.Model, step int) {
			for i, u := range cands {
				ts.Pending[i] = float64(m.Gates[u].Grad)
			}
			ts.HasPending = true
		},
		SaveExtra: func() ([]byte, error) {
			b, err := json.Marshal(&ts)
			if err != nil {
				return nil, fmt.Errorf("search tie-break statistics: %w", err)
			}
			return b, nil
		},
		LoadExtra: func(b []byte) error {
			if b == nil {
				return fmt.Errorf("the checkpoint has no tie-break statistics (an older dshrink wrote it); the search cannot resume exactly: start it again")
			}
			var got tieState
			if err := json.Unmarshal(b, &got); err != nil {
				return fmt.Errorf("search tie-break statistics: %w", err)
			}
			if len(got.Tie) != len(cands) || len(got.Pending) != len(cands) || got.N < 0 {
				return fmt.Errorf("search tie-break statistics: %d and %d values for %d candidates", len(got.Tie), len(got.Pending), len(cands))
			}
			copy(tie, got.Tie)
			copy(ts.Pending, got.Pending)
			ts.N, ts.HasPending = got.N, got.HasPending
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := &SearchResult{Graph: res.Graph, Candidates: cands, Final: res.Final, Interrupted: res.Interrupted, Kept: k,
		Gates: map[string]float64{}}
	if res.Interrupted {
		return out, nil
	}
	for i, u := range cands {
		vals[i] = float64(clamp01(res.Gates[u]))
		out.Gates[u] = vals[i]
	}
	keep := SelectKept(vals, tie, k)
	removed := map[string]bool{}
	for i, u := range cands {
		if !keep[i] {
			removed[u] = true
		}
	}
	p := plan.New(g, plan.SourceSearch, removed)
	for i := range p.Units {
		if v, ok := out.Gates[p.Units[i].Name]; ok {
			v := v
			p.Units[i].Gate = &v
		}
	}
	p.Meta = map[string]string{
		"candidates":     strconv.Itoa(len(cands)),
		"kept":           strconv.Itoa(k),
		"keep_ratio":     strconv.FormatFloat(opts.KeepRatio, 'g', -1, 64),
		"per_activation": strconv.FormatBool(opts.PerActivation),
		"epochs":         strconv.Itoa(res.State.Config.Epochs), // the checkpoint's on resume
		"steps":          strconv.Itoa(res.State.Step),
		"lr":             strconv.FormatFloat(tc.LR, 'g', -1, 64),
		"gate_lr_scale":  strconv.FormatFloat(max(tc.Optimizer.ScalarLRScale, 0), 'g', -1, 64),
		"seed":           strconv.FormatUint(tc.Seed, 10),
	}
	if opts.Keep >= 0 {
		p.Meta["keep"] = strconv.Itoa(opts.Keep)
	}
	// The tie-break signal of every candidate, so that the plan can say why
	// each unit was kept or removed when gates are equal (WriteSummary).
	ties := make(map[string]float64, len(cands))
	for i, u := range cands {
		ties[u] = tie[i]
	}
	if js, err := json.Marshal(ties); err == nil {
		p.Meta[MetaTieBreak] = string(js)
	}
	if len(excl) > 0 {
		var names []string
		for _, e := range excl {
			names = append(names, e.Unit)
		}
		p.Meta["not_mergeable"] = strings.Join(names, ",")
	}
	out.Excluded = excl
	if err := p.Validate(g); err != nil {
		return nil, fmt.Errorf("search: plan: %w", err)
	}
	out.Plan = p
	return out, nil
}

// tieState is the search's state besides the training run's: the running
// mean of each candidate's gate gradient over N steps, and the gradients of
// the last step, folded in before the next one.
type tieState struct {
	Tie        []float64 `json:"tie"`
	N          int       `json:"n"`
	Pending    []float64 `json:"pending"`
	HasPending bool      `json:"has_pending"`
}

// formatGate shows a gate value so that distinct values look distinct: 0
// exactly, tiny values in exponent form (a gate of 3e-06 is above a gate of
// 0, and that decided the unit), others with 4 decimals.
func formatGate(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1e-3:
		return strconv.FormatFloat(v, 'e', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// MetaTieBreak is the plan metadata key holding, as a JSON object, each
// gated unit's tie-break signal: the mean over the search of its gate's
// gradient, dLoss/ds. A larger value means the loss would rise more with the
// activation gone, so among equal gates the larger one keeps its activation.
const MetaTieBreak = "tie_break"

// WriteSummary writes a readable table of a plan: each unit, its gate value
// (when it has one), the tie-break signal (when the plan records it), and the
// decision with its reason, then the count of removed units. Gates are
// clamped to [0, 1] and often rest at 0, so equal gates are common: the
// reason then names the tie-break.
func WriteSummary(w io.Writer, p *plan.Plan) error {
	var ties map[string]float64
	if js := p.Meta[MetaTieBreak]; js != "" {
		_ = json.Unmarshal([]byte(js), &ties) // a malformed entry only loses the column
	}
	// The gates of the kept and the removed candidates: a decision is a tie
	// when a unit's gate equals a gate on the other side.
	keptGates, removedGates := map[float64]bool{}, map[float64]bool{}
	for _, u := range p.Units {
		if u.Gate == nil {
			continue
		}
		if u.Keep {
			keptGates[*u.Gate] = true
		} else {
			removedGates[*u.Gate] = true
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if ties != nil {
		fmt.Fprintln(tw, "unit\tgate\ttie-break\tdecision")
	} else {
		fmt.Fprintln(tw, "unit\tgate\tdecision")
	}
	notMergeable := map[string]bool{}
	for _, u := range strings.Split(p.Meta["not_mergeable"], ",") {
		notMergeable[u] = u != ""
	}
	removed, tied := 0, 0
	for _, u := range p.Units {
		gate, tb := "-", "-"
		if u.Gate != nil {
			gate = formatGate(*u.Gate)
		}
		if v, ok := ties[u.Name]; ok {
			tb = strconv.FormatFloat(v, 'g', 3, 64)
		}
		d := "keep"
		if !u.Keep {
			d = "remove"
			removed++
		}
		switch {
		case u.Gate == nil && notMergeable[u.Name]:
			d = "keep (not mergeable: no gate)"
		case u.Gate == nil && len(keptGates)+len(removedGates) > 0:
			d += " (not a candidate: no gate)"
		case u.Gate == nil:
			// A plan without gates (preset, baseline, planner): the decision alone.
		case u.Keep && removedGates[*u.Gate] && ties != nil:
			d = "keep (gate tied with removed units; larger tie-break)"
			tied++
		case !u.Keep && keptGates[*u.Gate] && ties != nil:
			d = "remove (gate tied with kept units; smaller tie-break)"
			tied++
		case u.Keep:
			d = "keep (gate among the smallest)"
		default:
			d = "remove (gate above every kept unit's)"
		}
		if ties != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, gate, tb, d)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, gate, d)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(keptGates)+len(removedGates) > 0 {
		fmt.Fprintln(w, "gate s in [0, 1]: 0 is the activation, 1 the identity; the units with the smallest gates keep their activation.")
		if ties != nil {
			fmt.Fprintln(w, "tie-break: the mean gate gradient dLoss/ds over the search; among equal gates the larger keeps its activation.")
		}
		if tied > 0 {
			fmt.Fprintf(w, "%d decisions were ties on the gate value, settled by the tie-break (gates clamped at 0 are common).\n", tied)
		}
	}
	name := p.Name
	if name == "" {
		name = p.Source
	}
	_, err := fmt.Fprintf(w, "plan %s: %d of %d units removed (%s)\n", name, removed, len(p.Units), strings.Join(p.Removed(), ","))
	return err
}
