package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/shrink"
	"github.com/dshrink/dshrink/train"
	"github.com/spf13/cobra"
)

type planFlags struct {
	pf            profileFlags
	table         string
	budget        float64
	speedup       float64
	match         string
	pareto        int
	resolution    float64
	multiBlock    bool
	prune         bool
	pruneImp      string
	pruneWeight   float64
	pruneLayers   bool
	force         bool
	importance    string
	dataset       string
	dataDir       string
	impImages     int
	calibBatches  int
	importanceOut string
	out           string
	measure       bool
	compare       []string
	finetuneEp    int
	finetuneSub   int
	seed          uint64
}

func init() {
	var o planFlags
	cmd := &cobra.Command{
		Use:   "plan MODEL (--budget-ms X | --speedup S | --match PLAN.json | --pareto N) [--table TABLE.json] -o OUT",
		Short: "Pick the activations to remove under a latency budget (two-stage dynamic program on a measured table)",
		Long: `Plan which removable activation units of a model to remove so that the
merged model meets a latency budget on this machine while keeping as much
importance as possible (Kim et al., ICML 2023; docs/method.md, latency-aware planning):

  stage 1: for every run of blocks [i, j) without activations, the fastest
           split into merged segments, from the latency table;
  stage 2: which blocks keep their activations, maximising the summed
           importance of the kept units subject to the predicted latency
           (fixed parts + kept blocks + merged segments) <= the budget
           (latencies discretised in buckets of --resolution-ms, rounded up).

The latency table comes from --table (reused when its key matches this
machine, runtime, batch and threads; measured and written there otherwise).
The importance of each block's unit is:
  uniform          every unit 1: keep as many blocks as the budget allows;
  FILE.json        an importance report written by --importance-out;
  data             with --data: the held-out loss increase when the unit
                   alone runs as the identity, on --importance-images
                   images of a validation split of the training set,
                   optionally after --calib-batches batches of BatchNorm
                   recalibration (minutes, not fine-tuning epochs).

The stem and head units always keep their activations (removing them
merges nothing). Every merged segment of the table, one block or several
(--multi-block, on by default), is the merger's own convolution for that run
of blocks, timed inside a whole model; the plan file lists its segments and
the merge builds exactly those (latency.Realize; --measure checks it).

--prune (with --data) or --prune-importance FILE (from dshrink importance
--prune) lets the planner also prune (LayerMerge): a residual block with
equal input and output shapes removed whole (the identity kept), and with
--prune-layers, inside a merged segment, each block's stride-1 depthwise
layer (the merged kernel then stays 1x1; the table times those segments
too; their cheap importance ranks poorly against fine-tuning), when that buys more
latency per unit of importance than removing activations; the importance
lost is the held-out loss increase with the block (or layer) pruned
(times --prune-weight: dshrink importance --check measures how fine-tuning
weighs pruning against removed activations).

--match PLAN.json sets the budget to the predicted latency of another plan
(a gate-search plan, say): the planner's answer at equal latency.

-o is the plan file (source "planner", prediction in meta) that search,
finetune and merge accept; with --pareto N it is a directory receiving one
plan per distinct point of N budgets, pareto.json, pareto.png and
pareto.svg. --measure applies each plan (pad-first), merges it and times
the merged model against the prediction. --compare adds other plans
(gate search, random) to the chart. --finetune-epochs fine-tunes every
Pareto plan with shrink.Finetune (expensive) and plots accuracy.`,
		Example: `  dshrink plan mobilenet_v2 --speedup 1.6 --table mbv2.table.json -o plan.json --measure
  dshrink plan fashion-mnist --budget-ms 0.15 --table fm.table.json -o plan.json
  dshrink plan base.dsk --speedup 1.5 --data fashion-mnist --importance-out imp.json -o plan.json
  dshrink plan base.dsk --pareto 12 --importance imp.json --table fm.table.json -o pareto/ --measure \
      --compare runs/search/plan.json,runs/random/plan.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlan(cmd.Context(), args[0], &o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.pf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.table, "table", "", "latency table file (reused when its key matches; measured and written otherwise)")
	f.Float64Var(&o.budget, "budget-ms", 0, "latency budget in milliseconds")
	f.Float64Var(&o.speedup, "speedup", 0, "target speedup over the unmodified model's predicted latency (budget = base / speedup)")
	f.StringVar(&o.match, "match", "", "budget = the predicted latency of this plan file (e.g. a gate-search plan): the best plan at the same latency")
	f.IntVar(&o.pareto, "pareto", 0, "plan for N budgets from the fastest plan to the base latency")
	f.Float64Var(&o.resolution, "resolution-ms", 0, "latency bucket of the DP (default budget/4000)")
	f.BoolVar(&o.multiBlock, "multi-block", true, "allow segments of several blocks merged into one convolution (--multi-block=false: one block per merged convolution)")
	f.BoolVar(&o.prune, "prune", false, "also plan pruning whole residual blocks (LayerMerge); importance from --data")
	f.StringVar(&o.pruneImp, "prune-importance", "", "pruning importance report (dshrink importance --prune-out); implies --prune")
	f.BoolVar(&o.pruneLayers, "prune-layers", false, "with --prune, also prune the depthwise layers inside merged segments (their cheap importance is a rough guess: see dshrink importance --check)")
	f.Float64Var(&o.pruneWeight, "prune-weight", 1, "multiply the pruning importance by this (dshrink importance --check suggests one)")
	f.BoolVar(&o.force, "force", false, "assume merge --force (blocks whose MACs grow past the limit are merged too)")
	f.StringVar(&o.importance, "importance", "", "uniform, or an importance report file (default: estimated from --data, else uniform)")
	f.StringVar(&o.dataset, "data", "", "data set for the importance estimate (fashion-mnist, mnist, cifar10, cifar100)")
	f.StringVar(&o.dataDir, "data-dir", "", "data directory (default location for fashion-mnist)")
	f.IntVar(&o.impImages, "importance-images", 512, "held-out images of the importance estimate")
	f.IntVar(&o.calibBatches, "calib-batches", 0, "BatchNorm recalibration batches before each importance measurement")
	f.StringVar(&o.importanceOut, "importance-out", "", "write the importance report here")
	f.StringVarP(&o.out, "output", "o", "", "plan file (or directory with --pareto)")
	f.BoolVar(&o.measure, "measure", false, "merge each plan and measure its latency against the prediction")
	f.StringSliceVar(&o.compare, "compare", nil, "other plan files to place on the chart (comma-separated)")
	f.IntVar(&o.finetuneEp, "finetune-epochs", 0, "fine-tune every Pareto plan this many epochs (needs --data; expensive)")
	f.IntVar(&o.finetuneSub, "finetune-subset", 0, "training images per fine-tuning epoch (0: all)")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the validation split, calibration and fine-tuning")
	rootCmd.AddCommand(cmd)
}

func runPlan(ctx context.Context, model string, o *planFlags, stdout, log io.Writer) error {
	jsonW := stdout
	if o.pf.jsonOut {
		stdout = log // the text report goes to stderr, the JSON document to stdout
	}
	modes := 0
	for _, on := range []bool{o.budget > 0, o.speedup > 0, o.pareto > 0, o.match != ""} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return errors.New("plan: give exactly one of --budget-ms, --speedup, --match and --pareto (positive)")
	}
	if o.out == "" {
		return errors.New("plan: missing -o (a plan file, or a directory with --pareto)")
	}
	if o.finetuneEp > 0 && (o.pareto == 0 || o.dataset == "") {
		return errors.New("plan: --finetune-epochs needs --pareto and --data")
	}
	g, err := loadPlannerModel(model)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if o.pruneLayers {
		if !o.prune && o.pruneImp == "" {
			return errors.New("plan: --prune-layers needs --prune or --prune-importance")
		}
		o.pf.layerPruning = true // the table times the layer-pruned segments too
	}
	t, err := tableFor(g, o.table, &o.pf, log)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	var ds *train.Datasets
	if o.dataset != "" {
		if ds, err = loadPlanData(o); err != nil {
			return fmt.Errorf("plan: %w", err)
		}
	}
	imp, source, err := importanceFor(g, t, o, ds, log)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	pruneCosts, layerCosts, err := pruneCostsFor(g, t, o, ds, log)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	prob, err := latency.NewProblem(t, imp, latency.ProblemOptions{MultiBlock: o.multiBlock, Force: o.force, Prune: pruneCosts, LayerPrune: layerCosts})
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	mo := merge.Options{Force: o.force}
	if o.pareto > 0 {
		res, err := runPareto(ctx, g, t, prob, source, mo, o, ds, stdout, log)
		if err != nil || !o.pf.jsonOut {
			return err
		}
		return printJSON(jsonW, map[string]any{"model": model, "pareto": res, "outputs": map[string]string{"dir": o.out,
			"pareto": filepath.Join(o.out, "pareto.json"), "chart": filepath.Join(o.out, "pareto.png")}})
	}
	budget := o.budget
	if o.speedup > 0 {
		budget = t.BaseMs() / o.speedup
	}
	cal := t.Calibration()
	if o.budget > 0 {
		// An absolute budget is met by the calibrated prediction.
		budget /= cal
	}
	if o.match != "" {
		mp, err := plan.Load(o.match)
		if err != nil {
			return fmt.Errorf("plan: --match: %w", err)
		}
		if err := mp.Validate(g); err != nil {
			return fmt.Errorf("plan: --match %s: %w", o.match, err)
		}
		if len(mp.Pruned) > 0 && pruneCosts == nil {
			return fmt.Errorf("plan: --match %s prunes blocks (%s): add --prune (with --data) or --prune-importance", o.match, strings.Join(mp.Pruned, ","))
		}
		keep, pruned := latency.Choices(t, mp)
		lat, imp, _ := prob.EvaluatePruned(keep, pruned, prob.Stage1())
		if math.IsInf(lat, 0) || !(lat > 0) {
			return fmt.Errorf("plan: --match %s: the table cannot predict its latency (%g)", o.match, lat)
		}
		budget = lat
		fmt.Fprintf(stdout, "matching %s: predicted %.4f ms, kept importance %.4g, removes %d blocks\n", o.match, lat, imp, len(mp.Removed()))
	}
	sol, err := prob.Solve(budget, o.resolution)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	p, err := latency.PlanFor(g, t, sol, source)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if o.speedup > 0 {
		p.Meta["speedup_target"] = fmt.Sprint(o.speedup)
	}
	p.Meta["calibration"] = fmt.Sprintf("%.4f", cal)
	p.Meta["predicted_calibrated_ms"] = fmt.Sprintf("%.4f", sol.LatencyMs*cal)
	fmt.Fprintf(stdout, "plan for %s: table budget %.4f ms, predicted %.4f ms (base %.4f ms, %.2fx; calibrated x%.3f: %.4f ms), importance %.4g (%s)\n",
		g.Name, budget, sol.LatencyMs, t.BaseMs(), t.BaseMs()/sol.LatencyMs, cal, sol.LatencyMs*cal, sol.Importance, source)
	fmt.Fprintf(stdout, "removed %d of %d blocks: %s\n", len(p.Removed()), len(t.Blocks), strings.Join(p.Removed(), ","))
	fmt.Fprintf(stdout, "merged segments: %s\n", p.Meta["merged_segments"])
	if len(p.Pruned) > 0 {
		fmt.Fprintf(stdout, "pruned blocks: %s\n", strings.Join(p.Pruned, ","))
	}
	var checks []planCheck
	if o.measure {
		checks, err = measurePlans(g, []*plan.Plan{p}, []float64{sol.LatencyMs}, t, mo, &o.pf, log)
		if err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		printChecks(stdout, checks)
		explainChecks(stdout, checks)
		p.Meta["measured_ms"] = fmt.Sprintf("%.4f", checks[1].MeasuredMs)
		p.Meta["measured_steps_ms"] = fmt.Sprintf("%.4f", checks[1].StepsMs)
	}
	if err := p.Save(o.out); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", o.out)
	if o.pf.jsonOut {
		return printJSON(jsonW, map[string]any{"model": model, "table_budget_ms": budget, "predicted_ms": sol.LatencyMs,
			"predicted_base_ms": t.BaseMs(), "predicted_speedup": t.BaseMs() / sol.LatencyMs, "calibration": cal,
			"predicted_calibrated_ms": sol.LatencyMs * cal, "importance": sol.Importance, "importance_source": source,
			"removed": p.Removed(), "merged_segments": p.Meta["merged_segments"], "checks": checks,
			"outputs": map[string]string{"plan": o.out}})
	}
	return nil
}

func loadPlanData(o *planFlags) (*train.Datasets, error) {
	all, err := train.LoadDataset(o.dataset, o.dataDir, "train")
	if err != nil {
		return nil, err
	}
	tr, val, err := data.Split(all, max(o.impImages, 1000), o.seed)
	if err != nil {
		return nil, err
	}
	// Eval is a validation split of the training set: the importance's
	// held-out images, and the fine-tuning's evaluation set.
	return &train.Datasets{Train: tr, Eval: val, EvalName: "val", Norm: all.Normalization()}, nil
}

// importanceFor returns the importance of each block's unit (t.Blocks
// order) and a description of where it comes from.
func importanceFor(g *graph.Graph, t *latency.Table, o *planFlags, ds *train.Datasets, log io.Writer) ([]float64, string, error) {
	spec := o.importance
	if spec == "" && ds == nil {
		spec = "uniform"
	}
	if spec == "uniform" {
		imp := make([]float64, len(t.Blocks))
		for i := range imp {
			imp[i] = 1
		}
		return imp, "uniform (1 per kept block)", nil
	}
	var rep *latency.ImportanceReport
	if spec != "" {
		b, err := fsutil.ReadFile(spec, 1<<26)
		if err != nil {
			return nil, "", fmt.Errorf("importance: %w", err)
		}
		rep = &latency.ImportanceReport{}
		if err := json.Unmarshal(b, rep); err != nil {
			return nil, "", fmt.Errorf("importance %s: %w", spec, err)
		}
	} else {
		fmt.Fprintf(log, "plan: estimating the importance of %d units on %d held-out images\n", len(t.Units), o.impImages)
		var err error
		rep, err = latency.Importance(g, t.Units, ds.Eval, ds.Train, latency.ImportanceOptions{Images: o.impImages, CalibBatches: o.calibBatches, Seed: o.seed})
		if err != nil {
			return nil, "", err
		}
		if o.importanceOut != "" {
			if err := writeJSONFile(o.importanceOut, rep); err != nil {
				return nil, "", err
			}
		}
	}
	by := map[string]float64{}
	for _, u := range rep.Units {
		by[u.Unit] = u.Delta
	}
	imp := make([]float64, len(t.Units))
	for i, u := range t.Units {
		v, ok := by[u]
		if !ok {
			return nil, "", fmt.Errorf("importance: no estimate for unit %s", u)
		}
		imp[i] = v
	}
	return imp, rep.Method, nil
}

// pruneCostsFor returns the importance lost by pruning each table block
// and by pruning each block's layer inside a merged segment (+Inf where not
// possible), or nils when pruning is off.
func pruneCostsFor(g *graph.Graph, t *latency.Table, o *planFlags, ds *train.Datasets, log io.Writer) (blocks, layers []float64, err error) {
	if !o.prune && o.pruneImp == "" {
		return nil, nil, nil
	}
	if o.importance == "uniform" || (o.importance == "" && ds == nil) {
		return nil, nil, errors.New("pruning weighs the loss a pruned block costs against the loss removed activations cost: give --data or --importance FILE, not uniform importance")
	}
	if !(o.pruneWeight > 0) || math.IsInf(o.pruneWeight, 0) {
		return nil, nil, fmt.Errorf("--prune-weight %g: want a positive number", o.pruneWeight)
	}
	var rep *latency.ImportanceReport
	switch {
	case o.pruneImp != "":
		b, err := fsutil.ReadFile(o.pruneImp, 1<<26)
		if err != nil {
			return nil, nil, fmt.Errorf("pruning importance: %w", err)
		}
		rep = &latency.ImportanceReport{}
		if err := json.Unmarshal(b, rep); err != nil {
			return nil, nil, fmt.Errorf("pruning importance %s: %w", o.pruneImp, err)
		}
	case ds != nil:
		if rep, err = pruneReport(g, ds.Eval, ds.Train, latency.ImportanceOptions{Images: o.impImages, CalibBatches: o.calibBatches, Seed: o.seed}, log); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, errors.New("--prune needs --data (or --prune-importance FILE from dshrink importance --prune)")
	}
	blocks, layers = latency.PruneCosts(t, rep), latency.LayerPruneCosts(t, rep)
	anyLayer := false
	for i := range blocks {
		blocks[i] *= o.pruneWeight
		layers[i] *= o.pruneWeight
		anyLayer = anyLayer || !math.IsInf(layers[i], 1)
	}
	if !anyLayer || !o.pruneLayers {
		layers = nil
	}
	return blocks, layers, nil
}

// pruneReport estimates the importance of pruning every prunable block of
// g and every block's prunable layer (entries named latency.LayerPrefix +
// block) in one report.
func pruneReport(g *graph.Graph, eval, calib data.Dataset, iopts latency.ImportanceOptions, log io.Writer) (*latency.ImportanceReport, error) {
	blocks := latency.PrunableBlocks(g)
	fmt.Fprintf(log, "pruning importance of %d blocks on %d held-out images\n", len(blocks), iopts.Images)
	rep, err := latency.PruneImportance(g, blocks, eval, calib, iopts)
	if err != nil {
		return nil, err
	}
	var withLayer []string
	layers := latency.PrunableLayers(g)
	for _, b := range g.Blocks {
		if layers[b.Name] != "" {
			withLayer = append(withLayer, b.Name)
		}
	}
	fmt.Fprintf(log, "layer pruning importance of %d blocks\n", len(withLayer))
	lr, err := latency.LayerPruneImportance(g, withLayer, eval, calib, iopts)
	if err != nil {
		return nil, err
	}
	rep.Units = append(rep.Units, lr.Units...)
	rep.Method += "; " + latency.LayerPrefix + "BLOCK: " + lr.Method
	return rep, nil
}

func writeJSONFile(path string, v any) error {
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(v)
	})
}

// planCheck is a predicted-vs-measured comparison of one model.
type planCheck struct {
	Name        string  `json:"name"`
	PredictedMs float64 `json:"predicted_ms"`
	MeasuredMs  float64 `json:"measured_ms"` // median Run time
	StepsMs     float64 `json:"steps_ms"`    // sum of per-step medians
	ErrPct      float64 `json:"error_pct"`   // (predicted - measured) / measured, on MeasuredMs
	ErrStepsPct float64 `json:"error_steps_pct"`
	// CalibratedMs is PredictedMs times the table's calibration factor;
	// ErrCalPct its error against MeasuredMs.
	CalibratedMs float64 `json:"calibrated_ms"`
	ErrCalPct    float64 `json:"error_calibrated_pct"`
	Merged       int     `json:"merged_chains"`
	// NoisePct is the half-width of the 95% confidence interval of
	// MeasuredMs, in percent: a prediction error within it is noise.
	NoisePct float64 `json:"noise_pct"`
	Rounds   int     `json:"rounds"`
}

// measurePlans realises every plan and times the merged models, with the
// unmodified model first, in interleaved rounds.
func measurePlans(g *graph.Graph, ps []*plan.Plan, pred []float64, t *latency.Table, mo merge.Options, pf *profileFlags, log io.Writer) ([]planCheck, error) {
	gs := []*graph.Graph{g}
	checks := []planCheck{{Name: "base (unmodified)", PredictedMs: t.BaseMs()}}
	for i, p := range ps {
		mg, rep, err := latency.Realize(g, p, mo)
		if err != nil {
			return nil, err
		}
		gs = append(gs, mg)
		name := p.Name
		if name == "" {
			name = p.Source
		}
		checks = append(checks, planCheck{Name: name, PredictedMs: pred[i], Merged: rep.Merged})
	}
	opts, err := pf.options(log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "plan: measuring %d merged models and the base\n", len(ps))
	ts, err := latency.Measure(gs, opts)
	if err != nil {
		return nil, err
	}
	for i := range checks {
		c := &checks[i]
		c.MeasuredMs, c.StepsMs = ts[i].RunMs, ts[i].StepsMs
		c.ErrPct = 100 * (c.PredictedMs - c.MeasuredMs) / c.MeasuredMs
		c.ErrStepsPct = 100 * (c.PredictedMs - c.StepsMs) / c.StepsMs
		c.CalibratedMs = c.PredictedMs * t.Calibration()
		c.ErrCalPct = 100 * (c.CalibratedMs - c.MeasuredMs) / c.MeasuredMs
		c.NoisePct, c.Rounds = 100*ts[i].CI, ts[i].Rounds
	}
	return checks, nil
}

// explainChecks says, under the table of printChecks, which prediction
// errors are within the measurement's noise, and warns when a merged model
// measured slower than the base or the machine is loaded: the figures are
// then the load's, not the planner's.
func explainChecks(w io.Writer, cs []planCheck) {
	if len(cs) == 0 {
		return
	}
	for _, c := range cs {
		switch e := math.Abs(c.ErrCalPct); {
		case e <= c.NoisePct:
			fmt.Fprintf(w, "%s: calibrated prediction off by %.1f%%, within the measurement's noise (+-%.1f%%, 95%% interval over %d rounds)\n",
				c.Name, c.ErrCalPct, c.NoisePct, c.Rounds)
		default:
			fmt.Fprintf(w, "%s: calibrated prediction off by %.1f%%, beyond the measurement's noise (+-%.1f%% over %d rounds)\n",
				c.Name, c.ErrCalPct, c.NoisePct, c.Rounds)
		}
	}
	for _, c := range cs[1:] {
		if c.MeasuredMs > cs[0].MeasuredMs {
			fmt.Fprintf(w, "warning: %s measured slower than the base (%.4f vs %.4f ms): with fewer MACs and convolutions that points at load on the machine; measure again when it is quiet, or with more --rounds\n",
				c.Name, c.MeasuredMs, cs[0].MeasuredMs)
		}
	}
	if load, ok := loadAverage(); ok && load > float64(goruntime.NumCPU())/2 {
		fmt.Fprintf(w, "note: load average %.1f on %d CPUs while timing: other processes share the cores, so every figure above carries their noise\n",
			load, goruntime.NumCPU())
	}
}

// loadAverage returns the 1-minute load average (Linux), ok false elsewhere.
func loadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return 0, false
	}
	return l, true
}

func printChecks(w io.Writer, cs []planCheck) {
	fmt.Fprintf(w, "%-22s %12s %12s %8s %12s %8s %12s %8s\n", "model", "predicted", "measured", "error", "step-sum", "error", "calibrated", "error")
	for _, c := range cs {
		fmt.Fprintf(w, "%-22s %9.4f ms %9.4f ms %+7.1f%% %9.4f ms %+7.1f%% %9.4f ms %+7.1f%%\n", c.Name, c.PredictedMs, c.MeasuredMs, c.ErrPct,
			c.StepsMs, c.ErrStepsPct, c.CalibratedMs, c.ErrCalPct)
	}
}

// paretoResult is pareto.json.
type paretoResult struct {
	Model      string              `json:"model"`
	Table      latency.Key         `json:"table_key"`
	BaseMs     float64             `json:"base_predicted_ms"`
	Importance string              `json:"importance"`
	Points     []latency.Point     `json:"points"`
	Checks     []planCheck         `json:"checks,omitempty"`
	Finetuned  bool                `json:"finetuned"`
	Note       string              `json:"note"`
	Solutions  []*latency.Solution `json:"solutions"`
}

func runPareto(ctx context.Context, g *graph.Graph, t *latency.Table, prob *latency.Problem, source string, mo merge.Options,
	o *planFlags, ds *train.Datasets, stdout, log io.Writer) (*paretoResult, error) {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	sols, err := prob.Sweep(o.pareto, o.resolution)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	res := &paretoResult{Model: g.Name, Table: t.Key, BaseMs: t.BaseMs(), Importance: source, Solutions: sols}
	var plans []*plan.Plan
	var preds []float64
	for k, sol := range sols {
		p, err := latency.PlanFor(g, t, sol, source)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		file := filepath.Join(o.out, fmt.Sprintf("plan-%02d.json", k))
		if err := p.Save(file); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		plans, preds = append(plans, p), append(preds, sol.LatencyMs)
		res.Points = append(res.Points, latency.Point{Name: p.Name, Kind: "planner", PredictedMs: sol.LatencyMs, Importance: sol.Importance,
			Removed: p.Removed(), PlanFile: file})
	}
	blockIdx := map[string]int{}
	for i, u := range t.Units {
		blockIdx[u] = i
	}
	split := prob.Stage1()
	for _, file := range o.compare {
		p, err := plan.Load(file)
		if err != nil {
			return nil, fmt.Errorf("plan: --compare: %w", err)
		}
		if err := p.Validate(g); err != nil {
			return nil, fmt.Errorf("plan: --compare %s: %w", file, err)
		}
		keep, pruned := latency.Choices(t, p)
		lat, imp, _ := prob.EvaluatePruned(keep, pruned, split)
		kind := "compare"
		switch p.Source {
		case plan.SourceSearch:
			kind = "search"
		case "random":
			kind = "random"
		}
		if strings.Contains(strings.ToLower(filepath.Base(file)+p.Name), "random") {
			kind = "random"
		}
		plans, preds = append(plans, p), append(preds, lat)
		res.Points = append(res.Points, latency.Point{Name: file, Kind: kind, PredictedMs: lat, Importance: imp, Removed: p.Removed(), PlanFile: file})
	}
	if o.measure {
		checks, err := measurePlans(g, plans, preds, t, mo, &o.pf, log)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		res.Checks = checks
		for i := range res.Points {
			res.Points[i].MeasuredMs = checks[i+1].MeasuredMs
		}
		printChecks(stdout, checks)
		explainChecks(stdout, checks)
	}
	yName, y := "kept importance (predicted)", func(p latency.Point) float64 { return p.Importance }
	if o.finetuneEp > 0 {
		for i := range res.Points {
			acc, err := finetunePoint(ctx, g, plans[i], o, ds, filepath.Join(o.out, fmt.Sprintf("ft-%02d", i)), log)
			if err != nil {
				return nil, fmt.Errorf("plan: fine-tune %s: %w", res.Points[i].Name, err)
			}
			res.Points[i].Top1 = acc
		}
		res.Finetuned = true
		yName, y = "fine-tuned top-1 (held-out)", func(p latency.Point) float64 { return p.Top1 }
		res.Note = fmt.Sprintf("each plan fine-tuned %d epoch(s) with shrink.Finetune (seed %d)", o.finetuneEp, o.seed)
	} else {
		res.Note = "not fine-tuned: the chart shows the planner's objective (kept importance) against predicted latency"
	}
	xName, x := "predicted latency (ms)", func(p latency.Point) float64 { return p.PredictedMs }
	if o.measure {
		xName, x = "measured latency of the merged model (ms)", func(p latency.Point) float64 { return p.MeasuredMs }
	}
	fmt.Fprintf(stdout, "%-22s %-8s %12s %12s %10s %7s  removed\n", "plan", "kind", "predicted", "measured", "importance", "top1")
	for _, p := range res.Points {
		fmt.Fprintf(stdout, "%-22s %-8s %9.4f ms %9.4f ms %10.4g %6.2f%%  %d\n", filepath.Base(p.Name), p.Kind, p.PredictedMs, p.MeasuredMs, p.Importance, 100*p.Top1, len(p.Removed))
	}
	if err := writeJSONFile(filepath.Join(o.out, "pareto.json"), res); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	title := fmt.Sprintf("%s: %s vs latency (batch %d, %d thread(s))", g.Name, yName, t.Key.Batch, t.Key.Threads)
	if err := latency.PlotPoints(res.Points, latency.PlotOptions{Title: title, XLabel: xName, YLabel: yName, X: x, Y: y},
		filepath.Join(o.out, "pareto.png"), filepath.Join(o.out, "pareto.svg")); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s/{plan-*.json,pareto.json,pareto.png,pareto.svg}\n", o.out)
	return res, nil
}

// finetunePoint fine-tunes g with plan p for o.finetuneEp epochs and
// returns the held-out top-1 of the merged model.
func finetunePoint(ctx context.Context, g *graph.Graph, p *plan.Plan, o *planFlags, ds *train.Datasets, dir string, log io.Writer) (float64, error) {
	cfg := train.DefaultConfig()
	cfg.Epochs = o.finetuneEp
	cfg.LR = 0.01
	cfg.Schedule = train.ScheduleConfig{Name: "cosine"} // no warm-up: the weights are trained
	cfg.LabelSmoothing = 0
	cfg.Seed = o.seed
	cfg.Out = dir
	cfg.Quiet = true
	cfg.Data.Dataset = o.dataset
	cfg.Data.Dir = o.dataDir
	cfg.Data.TrainSubset = o.finetuneSub
	train := ds
	if o.finetuneSub > 0 && ds.Train.Len() > o.finetuneSub {
		idx := make([]int, o.finetuneSub)
		for i := range idx {
			idx[i] = i
		}
		sub, err := data.NewSubset(ds.Train, idx)
		if err != nil {
			return 0, err
		}
		d := *ds
		d.Train = sub
		train = &d
	}
	rep, err := shrink.Finetune(ctx, g, shrink.FinetuneOptions{Plan: p, PadFirst: true, Train: cfg, Data: train, Log: log})
	if err != nil {
		return 0, err
	}
	return rep.Merged.Top1, nil
}
