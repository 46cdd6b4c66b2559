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
	"math/rand/v2"
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
	// Gumbel, when Gumbel.Epochs > 0, samples the ranking of the first
	// Gumbel.Epochs epochs (the official DS.GS_SAMPLE; off by default, as in
	// every official configuration).
	Gumbel GumbelOptions
	// LatencyWeight is the weight w of the official search's latency term,
	// w * sum_u LatencySaving[u] * s_u, added to the loss (0: off). As the
	// official code writes it (LAT_COST_WEIGHT 1e-4 with LAT_BEFORE -
	// LAT_AFTER), a positive w pushes the gates of the units whose removal
	// saves most towards 0, that is towards keeping their activation; a
	// negative w rewards removing them (docs/method.md).
	LatencyWeight float64
	// LatencySaving is each candidate's latency saving in ms when its
	// block merges (the official LAT_BEFORE - LAT_AFTER); candidates missing
	// from it count 0.
	LatencySaving map[string]float64
}

// GumbelOptions configures the sampled ranking of the official search
// (DS.GS_SAMPLE): while epoch < Epochs, each step ranks the candidates by
// softmax((log_softmax(s) + G) / T) with G standard Gumbel noise and
// T = InitTemp * DecayRate^epoch, instead of by s. (A softmax and a division
// by T > 0 keep the order, so the ranking is that of s + G whatever T is;
// the formula is kept as the official code writes it.)
type GumbelOptions struct {
	// Epochs is the number of epochs with a sampled ranking (0: off; the
	// official default when enabled is 60 of 180).
	Epochs int `yaml:"epochs" json:"epochs"`
	// InitTemp is the initial temperature (official 3).
	InitTemp float64 `yaml:"init_temp" json:"init_temp"`
	// DecayRate is the per-epoch temperature decay (official 0.95).
	DecayRate float64 `yaml:"decay_rate" json:"decay_rate"`
}

// temp returns the temperature of epoch (0-based), defaults filled in.
func (g GumbelOptions) temp(epoch int) float64 {
	t0, d := g.InitTemp, g.DecayRate
	if t0 <= 0 {
		t0 = 3
	}
	if d <= 0 {
		d = 0.95
	}
	return t0 * math.Pow(d, float64(epoch))
}

// gumbelScores returns the official sampled ranking scores of gate values s
// at temperature temp, drawing the noise from rng.
func gumbelScores(s []float64, temp float64, rng *rand.Rand) []float64 {
	// log_softmax(s)
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, v)
	}
	var z float64
	for _, v := range s {
		z += math.Exp(v - mx)
	}
	lse := mx + math.Log(z)
	y := make([]float64, len(s))
	const eps = 1e-20
	for i, v := range s {
		u := rng.Float64()
		g := -math.Log(-math.Log(u+eps) + eps)
		y[i] = (v - lse + g) / temp
	}
	// softmax(y)
	mx = math.Inf(-1)
	for _, v := range y {
		mx = max(mx, v)
	}
	z = 0
	for i, v := range y {
		y[i] = math.Exp(v - mx)
		z += y[i]
	}
	for i := range y {
		y[i] /= z
	}
	return y
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
	// Gates holds the final gate value of every candidate, clamped to
	// [0, 1] as the forward pass reads it.
	Gates map[string]float64
	// Raw holds the final learned parameter s of every candidate, which
	// ranks them (it may leave [0, 1], see Search).
	Raw map[string]float64
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

// Search runs the DepthShrinker search on base (docs/method.md, stage 1), as
// the official implementation does (facebookresearch/DepthShrinker:
// Learnable_Relu6_Hard and main.py; docs/method.md compares them line by
// line): every candidate unit gets a learnable scalar s (init 0); before
// every step the k candidates with the smallest s keep their activation and
// the others run as the identity (hard mask), or, with opts.Gumbel, the k
// smallest of a Gumbel-perturbed ranking; the straight-through estimator
// carries the gradient sum dy*(x - act(x)) to s through clamp(s, 0, 1), so a
// gate outside [0, 1] gets no loss gradient (only weight decay and the
// optional latency term move it) and keeps its rank; gates train with the
// weights, same optimiser. The plan keeps the k candidates with the smallest
// final s. Exactly equal gates (at the start all are 0) are ordered by the
// mean of their gradient over the search (the unit whose identity would
// raise the loss most keeps its activation), then by position. base is not
// modified.
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
	if opts.Gumbel.Epochs < 0 || opts.Gumbel.InitTemp < 0 || opts.Gumbel.DecayRate < 0 {
		return nil, fmt.Errorf("search: gumbel epochs %d, init_temp %g, decay_rate %g: want values >= 0",
			opts.Gumbel.Epochs, opts.Gumbel.InitTemp, opts.Gumbel.DecayRate)
	}
	if math.IsNaN(opts.LatencyWeight) || math.IsInf(opts.LatencyWeight, 0) {
		return nil, fmt.Errorf("search: latency weight %g is not finite", opts.LatencyWeight)
	}
	saving := make([]float64, len(cands))
	for i, u := range cands {
		saving[i] = opts.LatencySaving[u]
	}
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	tc := opts.Train
	// The sampled ranking needs the epoch of each step: the loader's steps
	// per epoch (train.Run drops the last batch only when it would hold one
	// image).
	stepsPerEpoch := 0
	if opts.Gumbel.Epochs > 0 {
		if opts.Data == nil {
			ds, err := train.LoadDatasets(tc.Data, tc.Seed)
			if err != nil {
				return nil, fmt.Errorf("search: %w", err)
			}
			opts.Data = ds
		}
		n, b := opts.Data.Train.Len(), max(tc.BatchSize, 1)
		stepsPerEpoch = (n + b - 1) / b
		if n%b == 1 {
			stepsPerEpoch = n / b
		}
		stepsPerEpoch = max(stepsPerEpoch, 1)
	}
	vals := make([]float64, len(cands))
	tie := make([]float64, len(cands))
	gates := make([]*nn.Gate, len(cands))
	setMasks := func(m *nn.Model, step int) {
		for i, u := range cands {
			gt := m.Gates[u]
			gates[i] = gt
			vals[i] = float64(gt.Value)
		}
		rank := vals
		if opts.Gumbel.Epochs > 0 && step >= 0 {
			if epoch := step / stepsPerEpoch; epoch < opts.Gumbel.Epochs {
				// The noise of a step depends on the seed and the step
				// only, so that a resumed search draws the same.
				rng := rand.New(rand.NewPCG(tc.Seed, 0x6513_0000_0000+uint64(step)))
				rank = gumbelScores(vals, opts.Gumbel.temp(epoch), rng)
			}
		}
		keep := SelectKept(rank, tie, k)
		for i, gt := range gates {
			if keep[i] {
				gt.Mask = 0
			} else {
				gt.Mask = 1
			}
		}
	}
	// The tie-break statistics are state of the search: every checkpoint
	// stores them (with the gate gradients of the last step, which the next
	// step folds in), so that a resumed search is bit-identical.
	ts := tieState{Tie: tie, Pending: make([]float64, len(cands))}
	var latCost func(m *nn.Model) float64
	if opts.LatencyWeight != 0 {
		latCost = func(m *nn.Model) float64 {
			var c float64
			for i, u := range cands {
				c += saving[i] * float64(m.Gates[u].Value)
			}
			return opts.LatencyWeight * c
		}
	}
	var model *nn.Model
	res, err := train.Run(ctx, tc, train.Options{
		Resume: opts.Resume, Epochs: opts.Epochs, Log: logw, Data: opts.Data, Graph: g,
		Setup: func(m *nn.Model) error {
			if err := m.EnableGates(cands); err != nil {
				return err
			}
			model = m
			setMasks(m, -1)
			return nil
		},
		BeforeStep: func(m *nn.Model, step int) {
			// The tie-break is the mean gate gradient over every step of
			// the search so far: through the straight-through path it is
			// the first-order estimate of the loss change when the unit
			// runs as the identity (dL/dy . (x - act(x))), averaged over
			// all the batches seen.
			if ts.HasPending {
				ts.N++
				for i, gr := range ts.Pending {
					if !math.IsNaN(gr) && !math.IsInf(gr, 0) {
						tie[i] += (gr - tie[i]) / float64(ts.N)
					}
				}
			}
			setMasks(m, step)
			if opts.OnStep != nil {
				opts.OnStep(step, m.Gates)
			}
		},
		AfterLoss: func(step int, loss float64) float64 {
			if latCost != nil && model != nil {
				return loss + latCost(model)
			}
			return loss
		},
		AfterBackward: func(m *nn.Model, step int) {
			for i, u := range cands {
				gt := m.Gates[u]
				ts.Pending[i] = float64(gt.Grad)
				// The latency term reads the raw s (no clamp): its
				// gradient reaches every gate, inside [0, 1] or not.
				gt.Grad += float32(opts.LatencyWeight * saving[i])
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
		Gates: map[string]float64{}, Raw: map[string]float64{}}
	if res.Interrupted {
		return out, nil
	}
	for i, u := range cands {
		vals[i] = float64(res.Gates[u])
		out.Raw[u] = vals[i]
		out.Gates[u] = float64(clamp01(res.Gates[u]))
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
	if opts.Gumbel.Epochs > 0 {
		p.Meta["gumbel_epochs"] = strconv.Itoa(opts.Gumbel.Epochs)
	}
	if opts.LatencyWeight != 0 {
		p.Meta["latency_weight"] = strconv.FormatFloat(opts.LatencyWeight, 'g', -1, 64)
	}
	if opts.Keep >= 0 {
		p.Meta["keep"] = strconv.Itoa(opts.Keep)
	}
	// The raw gate values (the plan's gates are clamped to [0, 1]; the
	// ranking is that of the raw values, which can leave the interval) and
	// the tie-break signal of every candidate, so that the plan can say why
	// each unit was kept or removed (WriteSummary) and be read off at
	// another budget (ReadOff).
	if js, err := json.Marshal(out.Raw); err == nil {
		p.Meta[MetaRawGates] = string(js)
	}
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
	case math.Abs(v) < 1e-3:
		return strconv.FormatFloat(v, 'e', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// MetaTieBreak is the plan metadata key holding, as a JSON object, each
// gated unit's tie-break signal: the mean over the search of its gate's
// gradient, dLoss/ds. A larger value means the loss would rise more with the
// activation gone, so among equal gates the larger one keeps its activation.
const MetaTieBreak = "tie_break"

// MetaRawGates is the plan metadata key holding, as a JSON object, each
// gated unit's raw learned gate s (the plan's Gate fields are clamped to
// [0, 1]; the ranking is that of the raw values).
const MetaRawGates = "gate_raw"

// WriteSummary writes a readable table of a plan: each unit, its gate value
// (when it has one), the tie-break signal (when the plan records it), and the
// decision with its reason, then the count of removed units. Gates are
// clamped to [0, 1] and often rest at 0, so equal gates are common: the
// reason then names the tie-break.
func WriteSummary(w io.Writer, p *plan.Plan) error {
	var ties, raw map[string]float64
	if js := p.Meta[MetaTieBreak]; js != "" {
		_ = json.Unmarshal([]byte(js), &ties) // a malformed entry only loses the column
	}
	if js := p.Meta[MetaRawGates]; js != "" {
		_ = json.Unmarshal([]byte(js), &raw) // a malformed entry falls back to the clamped gates
	}
	// gateOf is the value that ranked u: the raw gate when the plan records
	// it, else the plan's (clamped) gate.
	gateOf := func(u plan.Unit) float64 {
		if v, ok := raw[u.Name]; ok {
			return v
		}
		return *u.Gate
	}
	// The gates of the kept and the removed candidates: a decision is a tie
	// when a unit's gate equals a gate on the other side.
	keptGates, removedGates := map[float64]bool{}, map[float64]bool{}
	for _, u := range p.Units {
		if u.Gate == nil {
			continue
		}
		if u.Keep {
			keptGates[gateOf(u)] = true
		} else {
			removedGates[gateOf(u)] = true
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
			gate = formatGate(gateOf(u))
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
		case u.Keep && removedGates[gateOf(u)] && ties != nil:
			d = "keep (gate tied with removed units; larger tie-break)"
			tied++
		case !u.Keep && keptGates[gateOf(u)] && ties != nil:
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
		if raw != nil {
			fmt.Fprintln(w, "gate s: the learned parameter; the forward pass reads clamp(s, 0, 1) (0 the activation, 1 the identity) and a gate outside [0, 1] gets no loss gradient; the units with the smallest s keep their activation.")
		} else {
			fmt.Fprintln(w, "gate s in [0, 1]: 0 is the activation, 1 the identity; the units with the smallest gates keep their activation.")
		}
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
