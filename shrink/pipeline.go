package shrink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/train"
)

// ErrInterrupted is returned (wrapped) by RunPipeline when the context was
// cancelled: the interrupted stage saved a checkpoint and a rerun resumes it.
var ErrInterrupted = errors.New("interrupted")

// Files written by RunPipeline into the run directory.
const (
	SummaryFile   = "summary.json"
	SummaryMDFile = "summary.md"
	BenchFile     = "bench.json"
	CompareFile   = "compare.json"
	CompareMDFile = "compare.md"
	stageDone     = "done.json"
)

// PipelineOptions are the parts of a pipeline run that are not configuration.
type PipelineOptions struct {
	// Log receives progress (os.Stderr when nil).
	Log io.Writer
	// Data replaces the data sets described by the configuration.
	Data *train.Datasets
}

// Summary is the outcome of RunPipeline, written as summary.json.
type Summary struct {
	Out           string          `json:"out"`
	Method        string          `json:"method"`
	Target        Target          `json:"target"`
	Plan          string          `json:"plan"`
	PlanFile      string          `json:"plan_file"`
	Removed       []string        `json:"removed"`
	RemovedBlocks int             `json:"removed_blocks"`
	Blocks        int             `json:"blocks"`
	Base          ModelStats      `json:"base"`
	Finetuned     ModelStats      `json:"finetuned"`
	Merged        ModelStats      `json:"merged"`
	BaseLatency   *Latency        `json:"base_latency,omitempty"`
	MergedLatency *Latency        `json:"merged_latency,omitempty"`
	Speedup       float64         `json:"speedup,omitempty"`
	Verify        *merge.Result   `json:"verify"`
	Agreement     float64         `json:"prediction_agreement"`
	Compare       *Comparison     `json:"compare,omitempty"`
	Stages        []StageStatus   `json:"stages"`
	Config        Config          `json:"config"`
	Search        *SearchSnapshot `json:"search,omitempty"`
}

// StageStatus says what happened to one stage of a run.
type StageStatus struct {
	Stage   string  `json:"stage"`
	Status  string  `json:"status"` // "ran", "resumed", "skipped (done)", "skipped"
	Seconds float64 `json:"seconds"`
}

// SearchSnapshot is the record of a finished search stage (search/done.json).
type SearchSnapshot struct {
	Candidates []string           `json:"candidates"`
	Kept       int                `json:"kept"`
	Gates      map[string]float64 `json:"gates"`
	Final      train.EvalResult   `json:"final"`
}

// baseDone is the record of a finished base stage (base/done.json).
type baseDone struct {
	Model string           `json:"model"`
	Eval  train.EvalResult `json:"eval"`
}

// stageRunner tracks the stages of a run.
type stageRunner struct {
	stages []StageStatus
	log    io.Writer
}

func (s *stageRunner) add(name, status string, t0 time.Time) {
	s.stages = append(s.stages, StageStatus{Stage: name, Status: status, Seconds: time.Since(t0).Seconds()})
	fmt.Fprintf(s.log, "== stage %s: %s (%.1fs)\n", name, status, time.Since(t0).Seconds())
}

// hasCheckpoint reports whether dir holds a training checkpoint to resume.
func hasCheckpoint(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, train.CheckpointFile))
	return err == nil
}

// stageConfigFile records the configuration a stage directory was made with.
const stageConfigFile = "stage-config.json"

// checkStageConfig makes sure that dir was (or will be) made with the
// configuration v: it writes v into dir/stage-config.json the first time and
// fails when a later run brings a different one, so that a rerun never
// silently mixes the outputs of two configurations.
func checkStageConfig(dir, name string, v any) error {
	want, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	path := filepath.Join(dir, stageConfigFile)
	have, err := fsutil.ReadFile(path, 1<<20)
	if err == nil {
		if !bytes.Equal(bytes.TrimSpace(have), want) {
			return fmt.Errorf("%s: %s was made with another configuration (%s, now %s); delete it or use another out directory",
				name, dir, bytes.TrimSpace(have), want)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := fsutil.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(want, '\n'))
		return err
	}); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func status(resume bool) string {
	if resume {
		return "resumed"
	}
	return "ran"
}

// RunPipeline runs the whole method as cfg says, each stage in its own
// directory under cfg.Out: base/ (train the base, unless cfg.Base.Model is
// given), search/ (skipped when cfg.Finetune.Plan names a plan), finetune/
// (fine-tune, merge, verify), bench.json (latency of base and merged model),
// compare/ (when cfg.Compare.Baselines is set), then summary.json and
// summary.md. A stage whose output exists is skipped; a stage with a
// checkpoint and no output is resumed. Cancelling ctx stops the running
// stage with a checkpoint and returns an error wrapping ErrInterrupted.
func RunPipeline(ctx context.Context, cfg Config, opts PipelineOptions) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	// One pipeline at a time per directory (each stage's run locks its own).
	unlock, err := fsutil.LockDir(cfg.Out)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sr := &stageRunner{log: logw}
	sum := &Summary{Out: cfg.Out, Config: cfg}
	ds := opts.Data
	if ds == nil {
		var err error
		if ds, err = train.LoadDatasets(cfg.Data, cfg.Base.Train.Seed); err != nil {
			return nil, err
		}
	}

	// Stage 0: the base model.
	t0 := time.Now()
	var base *graph.Graph
	var bd baseDone
	baseDir := filepath.Join(cfg.Out, "base")
	doneBase := filepath.Join(baseDir, stageDone)
	baseKey := any(struct {
		Model string
		Data  train.DataConfig
		Arch  train.ModelConfig
		Train StageTrain
	}{cfg.Base.Model, cfg.Data, cfg.Base.Arch, cfg.Base.Train})
	if cfg.Base.Model != "" {
		baseKey = struct{ Model string }{cfg.Base.Model}
	}
	if err := checkStageConfig(baseDir, "base", baseKey); err != nil {
		return nil, err
	}
	switch {
	case exists(doneBase):
		if err := readJSON(doneBase, &bd); err != nil {
			return nil, fmt.Errorf("base: %w", err)
		}
		if cfg.Base.Model != "" && cfg.Base.Model != bd.Model {
			return nil, fmt.Errorf("base: %s was made from %s, the configuration now names %s; use another out directory", doneBase, bd.Model, cfg.Base.Model)
		}
		g, err := graph.Load(bd.Model)
		if err != nil {
			return nil, fmt.Errorf("base: %w", err)
		}
		base = g
		sr.add("base", "skipped (done)", t0)
	default:
		resume := false
		if cfg.Base.Model != "" {
			g, err := graph.Load(cfg.Base.Model)
			if err != nil {
				return nil, fmt.Errorf("base: %w", err)
			}
			base, bd.Model = g, cfg.Base.Model
		} else {
			tc, err := cfg.Base.Train.TrainConfig(cfg, baseDir)
			if err != nil {
				return nil, fmt.Errorf("base: %w", err)
			}
			resume = hasCheckpoint(baseDir)
			res, err := train.Run(ctx, tc, train.Options{Resume: resume, Log: logw, Data: ds})
			if err != nil {
				return nil, fmt.Errorf("base: %w", err)
			}
			if res.Interrupted {
				return nil, fmt.Errorf("base: %w (rerun to resume)", ErrInterrupted)
			}
			base, bd.Model = res.Graph, res.Model
		}
		ev, err := train.EvaluateGraph(base, ds.Eval, evalBatch(cfg.Finetune.Train))
		if err != nil {
			return nil, fmt.Errorf("base: evaluate: %w", err)
		}
		bd.Eval = ev
		if err := os.MkdirAll(baseDir, 0o755); err != nil {
			return nil, fmt.Errorf("base: %w", err)
		}
		if err := writeJSON(doneBase, bd); err != nil {
			return nil, fmt.Errorf("base: %w", err)
		}
		sr.add("base", status(resume), t0)
	}
	fmt.Fprintf(logw, "base %s: top-1 %.2f%% on %d held-out images\n", bd.Model, 100*bd.Eval.Top1, bd.Eval.Count)

	// Stage 1: the search (or the given plan).
	t0 = time.Now()
	var p *plan.Plan
	g := base
	searchAll := cfg.Search.AllUnits
	if cfg.Finetune.Plan != "" {
		var err error
		if p, g, err = ResolvePlan(cfg.Finetune.Plan, base); err != nil {
			return nil, err
		}
		sum.PlanFile = cfg.Finetune.Plan
		sr.add("search", "skipped (plan "+cfg.Finetune.Plan+" given)", t0)
	} else {
		var snap *SearchSnapshot
		var err error
		p, g, snap, sum.PlanFile, err = planStage(ctx, cfg, base, ds, sr, logw)
		if err != nil {
			return nil, err
		}
		sum.Search = snap
	}
	sum.Method = cfg.Method
	if cfg.Finetune.Plan != "" {
		sum.Method = "given plan"
	}
	sum.Target = cfg.Target

	// Stage 2: fine-tune, merge, verify.
	rep, err := finetuneStage(ctx, cfg, base, g, p, ds, bd, filepath.Join(cfg.Out, "finetune"), 0, "finetune", sr, logw)
	if err != nil {
		return nil, err
	}
	sum.Plan, sum.Removed, sum.Base, sum.Finetuned, sum.Merged = rep.Plan, rep.Removed, rep.Base, rep.Finetuned, rep.Merged
	sum.Base.File = bd.Model
	sum.Verify, sum.Agreement = rep.Verify, rep.Agreement
	sum.Blocks = len(base.Blocks)
	for _, u := range g.Units {
		if u.Block != "" && !p.Keep(u.Name) {
			sum.RemovedBlocks++
		}
	}
	if cfg.Search.PerActivation {
		sum.RemovedBlocks = countRemovedBlocks(g, p)
	}

	// Stage 3: latency.
	t0 = time.Now()
	benchPath := filepath.Join(cfg.Out, BenchFile)
	if !cfg.Bench.Skip {
		var bench struct{ Base, Merged Latency }
		if exists(benchPath) {
			if err := readJSON(benchPath, &bench); err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			sr.add("bench", "skipped (done)", t0)
		} else {
			merged, err := graph.Load(rep.Merged.File)
			if err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			bench.Base, bench.Merged, err = MeasurePair(base, merged, cfg.Bench.Batch, cfg.Bench.Threads, cfg.Bench.Iters)
			if err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			if err := writeJSON(benchPath, bench); err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			sr.add("bench", "ran", t0)
		}
		sum.BaseLatency, sum.MergedLatency = &bench.Base, &bench.Merged
		sum.Base.LatencyMs, sum.Merged.LatencyMs = bench.Base.MedianMs, bench.Merged.MedianMs
		if bench.Merged.MedianMs > 0 {
			sum.Speedup = bench.Base.MedianMs / bench.Merged.MedianMs
		}
	}

	// Stage 4: comparison.
	if len(cfg.Compare.Baselines) > 0 && cfg.Compare.Seeds > 0 {
		cmp, err := compareStage(ctx, cfg, base, g, p, rep, ds, bd, searchAll, sr, logw)
		if err != nil {
			return nil, err
		}
		sum.Compare = cmp
	}
	sum.Stages = sr.stages
	if err := writeJSON(filepath.Join(cfg.Out, SummaryFile), sum); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(cfg.Out, SummaryMDFile), sum.WriteMarkdown); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return sum, nil
}

func evalBatch(s StageTrain) int {
	if s.EvalBatchSize > 0 {
		return s.EvalBatchSize
	}
	return max(s.BatchSize, 1)
}

// countRemovedBlocks counts the blocks all of whose units are removed.
func countRemovedBlocks(g *graph.Graph, p *plan.Plan) int {
	all := map[string]bool{}
	for _, u := range g.Units {
		if u.Block == "" {
			continue
		}
		if _, ok := all[u.Block]; !ok {
			all[u.Block] = true
		}
		if p.Keep(u.Name) {
			all[u.Block] = false
		}
	}
	n := 0
	for _, r := range all {
		if r {
			n++
		}
	}
	return n
}

// searchStage runs (or reloads) a search into dir.
func searchStage(ctx context.Context, cfg Config, base *graph.Graph, ds *train.Datasets, dir string, seed uint64, sr *stageRunner, logw io.Writer) (*plan.Plan, *graph.Graph, *SearchSnapshot, error) {
	t0 := time.Now()
	name := "search"
	if rel, err := filepath.Rel(cfg.Out, dir); err == nil {
		name = rel
	}
	planPath := filepath.Join(dir, PlanFile)
	donePath := filepath.Join(dir, stageDone)
	if err := checkStageConfig(dir, name, struct {
		Data   train.DataConfig
		Search SearchConfig
		Seed   uint64
	}{cfg.Data, cfg.Search, seed}); err != nil {
		return nil, nil, nil, err
	}
	if exists(planPath) && exists(donePath) {
		var snap SearchSnapshot
		if err := readJSON(donePath, &snap); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		p, g, err := ResolvePlan(planPath, base)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		sr.add(name, "skipped (done)", t0)
		return p, g, &snap, nil
	}
	tc, err := cfg.Search.Train.TrainConfig(cfg, dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	tc.Seed = seed
	resume := hasCheckpoint(dir)
	res, err := Search(ctx, base, SearchOptions{KeepRatio: cfg.Search.KeepRatio, Keep: cfg.Search.Keep, PerActivation: cfg.Search.PerActivation,
		AllUnits: cfg.Search.AllUnits, Merge: cfg.Merge.Options(), IncludeUnmergeable: cfg.Search.IncludeUnmergeable,
		Train: tc, Resume: resume, Data: ds, Log: logw})
	if err != nil {
		return nil, nil, nil, err
	}
	if res.Interrupted {
		return nil, nil, nil, fmt.Errorf("%s: %w (rerun to resume)", name, ErrInterrupted)
	}
	if err := res.Plan.Save(planPath); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	snap := &SearchSnapshot{Candidates: res.Candidates, Kept: res.Kept, Gates: res.Gates, Final: res.Final}
	if err := writeJSON(donePath, snap); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := WriteSummary(logw, res.Plan); err != nil {
		return nil, nil, nil, err
	}
	sr.add(name, status(resume), t0)
	g := base
	if cfg.Search.PerActivation {
		g = PerActivationUnits(base)
	}
	return res.Plan, g, snap, nil
}

// finetuneStage runs (or reloads) a fine-tune into dir; seedOffset is added
// to the fine-tuning seed.
func finetuneStage(ctx context.Context, cfg Config, base, g *graph.Graph, p *plan.Plan, ds *train.Datasets, bd baseDone, dir string, seedOffset uint64, name string, sr *stageRunner, logw io.Writer) (*FinetuneReport, error) {
	t0 := time.Now()
	repPath := filepath.Join(dir, ReportFile)
	if err := checkStageConfig(dir, name, struct {
		Data       train.DataConfig
		Finetune   FinetuneConfig
		Merge      MergeConfig
		Verify     VerifyConfig
		Removed    []string
		SeedOffset uint64
	}{cfg.Data, cfg.Finetune, cfg.Merge, cfg.Verify, p.Removed(), seedOffset}); err != nil {
		return nil, err
	}
	if exists(repPath) {
		var rep FinetuneReport
		if err := readJSON(repPath, &rep); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if rep.Merged.File != "" && exists(rep.Merged.File) {
			sr.add(name, "skipped (done)", t0)
			return &rep, nil
		}
	}
	tc, err := cfg.Finetune.Train.TrainConfig(cfg, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tc.Seed += seedOffset
	tc.Distill = train.DistillConfig{Weight: cfg.Finetune.DistillWeight, Temperature: cfg.Finetune.Temperature}
	if tc.Distill.Weight > 0 {
		tc.Distill.Teacher = bd.Model
	}
	// g is base, or its per-activation copy for a per-activation plan.
	src := g
	resume := hasCheckpoint(dir)
	ev := bd.Eval
	rep, err := Finetune(ctx, src, FinetuneOptions{Plan: p, FinalAct: cfg.Finetune.FinalAct, PadFirst: cfg.Finetune.PadFirst, Train: tc,
		TeacherPath: bd.Model, Merge: cfg.Merge.Options(), Verify: merge.VerifyOptions{Random: cfg.Verify.RandomImages, Tol: cfg.Verify.Tol, Seed: 1},
		RealImages: cfg.Verify.RealImages, BaseEval: &ev, Resume: resume, Data: ds, Log: logw})
	if err != nil {
		return nil, err
	}
	if rep.Interrupted {
		return nil, fmt.Errorf("%s: %w (rerun to resume)", name, ErrInterrupted)
	}
	sr.add(name, status(resume), t0)
	fmt.Fprintf(logw, "%s: plan %s, %d units removed; top-1 base %.2f%%, fine-tuned %.2f%%, merged %.2f%%; verify max rel %.2g\n",
		name, rep.Plan, rep.RemovedN, 100*rep.Base.Top1, 100*rep.Finetuned.Top1, 100*rep.Merged.Top1, rep.Verify.MaxRel)
	return rep, nil
}

// Arm is one arm of a comparison: a kind of plan, fine-tuned with several seeds.
type Arm struct {
	Name    string   `json:"name"` // "search", "random", "last-k" or the given plan's name
	Runs    []ArmRun `json:"runs"`
	Mean    float64  `json:"mean_top1"`
	Std     float64  `json:"std_top1"` // sample standard deviation
	Min     float64  `json:"min_top1"`
	Max     float64  `json:"max_top1"`
	MeanMAC float64  `json:"mean_macs"`
}

// ArmRun is one seed of an arm.
type ArmRun struct {
	Seed          uint64   `json:"seed"`
	Dir           string   `json:"dir"`
	Removed       []string `json:"removed"`
	FinetunedTop1 float64  `json:"finetuned_top1"`
	MergedTop1    float64  `json:"merged_top1"`
	MergedMACs    int64    `json:"merged_macs"`
}

// Comparison compares the searched (or given) plan with baselines at the
// same budget (the same number of removed candidate units).
type Comparison struct {
	Budget   int     `json:"removed_units"`
	BaseTop1 float64 `json:"base_top1"`
	Arms     []Arm   `json:"arms"`
}

func (a *Arm) finish() {
	if len(a.Runs) == 0 {
		return
	}
	a.Min, a.Max = math.Inf(1), math.Inf(-1)
	var s, mac float64
	for _, r := range a.Runs {
		s += r.MergedTop1
		mac += float64(r.MergedMACs)
		a.Min, a.Max = min(a.Min, r.MergedTop1), max(a.Max, r.MergedTop1)
	}
	n := float64(len(a.Runs))
	a.Mean, a.MeanMAC = s/n, mac/n
	if len(a.Runs) > 1 {
		var v float64
		for _, r := range a.Runs {
			v += (r.MergedTop1 - a.Mean) * (r.MergedTop1 - a.Mean)
		}
		a.Std = math.Sqrt(v / (n - 1))
	}
}

// compareStage fine-tunes the searched plan (or the given one) and each
// baseline with cfg.Compare.Seeds seeds, the first seed of the main arm being
// the main run.
func compareStage(ctx context.Context, cfg Config, base, g *graph.Graph, p *plan.Plan, main *FinetuneReport, ds *train.Datasets, bd baseDone, all bool, sr *stageRunner, logw io.Writer) (*Comparison, error) {
	cands, _, err := SearchCandidates(g, all, cfg.Search.IncludeUnmergeable, cfg.Merge.Options())
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	budget := removedCandidates(p, cands)
	cmp := &Comparison{Budget: budget, BaseTop1: bd.Eval.Top1}
	dir := filepath.Join(cfg.Out, "compare")
	seeds := cfg.Compare.Seeds
	method, _ := ParseMethod(cfg.Method)
	mainName := method
	if cfg.Finetune.Plan != "" {
		mainName = "plan:" + main.Plan
	}
	arm := Arm{Name: mainName}
	arm.Runs = append(arm.Runs, ArmRun{Seed: cfg.Finetune.Train.Seed, Dir: filepath.Join(cfg.Out, "finetune"), Removed: main.Removed,
		FinetunedTop1: main.Finetuned.Top1, MergedTop1: main.Merged.Top1, MergedMACs: main.Merged.MACs})
	for i := 1; i < seeds; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("%s-%d", strings.ReplaceAll(strings.ReplaceAll(mainName, ":", "-"), "/", "-"), i))
		pp, gg := p, g
		if cfg.Finetune.Plan == "" && method == MethodSearch {
			var err error
			pp, gg, _, err = searchStage(ctx, cfg, base, ds, filepath.Join(sub, "search"), cfg.Search.Train.Seed+uint64(i), sr, logw)
			if err != nil {
				return nil, err
			}
		}
		rep, err := finetuneStage(ctx, cfg, base, gg, pp, ds, bd, filepath.Join(sub, "finetune"), uint64(i), filepath.Join("compare", filepath.Base(sub)), sr, logw)
		if err != nil {
			return nil, err
		}
		arm.Runs = append(arm.Runs, ArmRun{Seed: cfg.Finetune.Train.Seed + uint64(i), Dir: sub, Removed: rep.Removed,
			FinetunedTop1: rep.Finetuned.Top1, MergedTop1: rep.Merged.Top1, MergedMACs: rep.Merged.MACs})
	}
	arm.finish()
	cmp.Arms = append(cmp.Arms, arm)
	for _, bname := range cfg.Compare.Baselines {
		kind, err := ParseBaseline(bname)
		if err != nil {
			return nil, err
		}
		a := Arm{Name: string(kind)}
		for i := 0; i < seeds; i++ {
			bp, err := BaselinePlan(kind, g, cands, budget, cfg.Finetune.Train.Seed+uint64(i))
			if err != nil {
				return nil, err
			}
			sub := filepath.Join(dir, fmt.Sprintf("%s-%d", kind, i))
			rep, err := finetuneStage(ctx, cfg, base, g, bp, ds, bd, sub, uint64(i), filepath.Join("compare", filepath.Base(sub)), sr, logw)
			if err != nil {
				return nil, err
			}
			a.Runs = append(a.Runs, ArmRun{Seed: cfg.Finetune.Train.Seed + uint64(i), Dir: sub, Removed: rep.Removed,
				FinetunedTop1: rep.Finetuned.Top1, MergedTop1: rep.Merged.Top1, MergedMACs: rep.Merged.MACs})
		}
		a.finish()
		cmp.Arms = append(cmp.Arms, a)
	}
	if err := writeJSON(filepath.Join(cfg.Out, CompareFile), cmp); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(cfg.Out, CompareMDFile), cmp.WriteMarkdown); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	return cmp, nil
}

// WriteMarkdown writes the comparison as a markdown table.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "Merged-model top-1 (%%) at the same budget (%d candidate units removed); base %.2f%%.\n\n", c.Budget, 100*c.BaseTop1)
	fmt.Fprintln(w, "| plan | seeds | mean | std | min | max | mean MACs | per seed |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, a := range c.Arms {
		var per []string
		for _, r := range a.Runs {
			per = append(per, fmt.Sprintf("%.2f", 100*r.MergedTop1))
		}
		fmt.Fprintf(w, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %s | %s |\n", a.Name, len(a.Runs), 100*a.Mean, 100*a.Std, 100*a.Min, 100*a.Max,
			human(int64(a.MeanMAC)), strings.Join(per, ", "))
	}
	_, err := fmt.Fprintln(w)
	return err
}

// human formats a count with an M or K suffix.
func human(v int64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", float64(v)/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fK", float64(v)/1e3)
	}
	return fmt.Sprint(v)
}

// WriteTable writes the final base-vs-shrunk table.
func (s *Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\ttop-1 %\tparams\tMACs\tconvs\tlatency ms\tspeedup\t")
	lat := func(l *Latency) string {
		if l == nil {
			return "-"
		}
		return fmt.Sprintf("%.3f", l.MedianMs)
	}
	fmt.Fprintf(tw, "base\t%.2f\t%s\t%s\t%d\t%s\t%s\t\n", 100*s.Base.Top1, human(s.Base.Params), human(s.Base.MACs), s.Base.Convs, lat(s.BaseLatency), "1.00x")
	fmt.Fprintf(tw, "fine-tuned\t%.2f\t%s\t%s\t%d\t%s\t%s\t\n", 100*s.Finetuned.Top1, human(s.Finetuned.Params), human(s.Finetuned.MACs), s.Finetuned.Convs, "-", "-")
	sp := "-"
	if s.Speedup > 0 {
		sp = fmt.Sprintf("%.2fx", s.Speedup)
	}
	fmt.Fprintf(tw, "merged\t%.2f\t%s\t%s\t%d\t%s\t%s\t\n", 100*s.Merged.Top1, human(s.Merged.Params), human(s.Merged.MACs), s.Merged.Convs, lat(s.MergedLatency), sp)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "plan %s: activations removed in %d of %d blocks (%s)\n", s.Plan, s.RemovedBlocks, s.Blocks, strings.Join(s.Removed, ","))
	if s.Verify != nil {
		fmt.Fprintf(w, "merge verified: max relative difference %.3g (tolerance %.3g) on %d images; predictions agree on %.2f%% of held-out images\n",
			s.Verify.MaxRel, s.Verify.Tol, s.Verify.Images, 100*s.Agreement)
	}
	if s.MergedLatency != nil {
		fmt.Fprintf(w, "latency: batch %d, %d thread(s), median of %d runs, %s\n", s.MergedLatency.Batch, s.MergedLatency.Threads, s.MergedLatency.Iters, s.MergedLatency.Executor)
	}
	fmt.Fprintf(w, "accuracy change (merged - base): %+.2f points\n", 100*(s.Merged.Top1-s.Base.Top1))
	return nil
}

// WriteMarkdown writes the summary as markdown (summary.md).
func (s *Summary) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "# dshrink run %s\n\n", s.Out)
	fmt.Fprintln(w, "| model | top-1 % | params | MACs | convs | latency ms | speedup |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	lat := func(l *Latency) string {
		if l == nil {
			return "-"
		}
		return fmt.Sprintf("%.3f", l.MedianMs)
	}
	fmt.Fprintf(w, "| base | %.2f | %s | %s | %d | %s | 1.00x |\n", 100*s.Base.Top1, human(s.Base.Params), human(s.Base.MACs), s.Base.Convs, lat(s.BaseLatency))
	fmt.Fprintf(w, "| fine-tuned | %.2f | %s | %s | %d | - | - |\n", 100*s.Finetuned.Top1, human(s.Finetuned.Params), human(s.Finetuned.MACs), s.Finetuned.Convs)
	fmt.Fprintf(w, "| merged | %.2f | %s | %s | %d | %s | %.2fx |\n\n", 100*s.Merged.Top1, human(s.Merged.Params), human(s.Merged.MACs), s.Merged.Convs, lat(s.MergedLatency), s.Speedup)
	fmt.Fprintf(w, "Plan %s: activations removed in %d of %d blocks: %s.\n\n", s.Plan, s.RemovedBlocks, s.Blocks, strings.Join(s.Removed, ", "))
	if s.Compare != nil {
		if err := s.Compare.WriteMarkdown(w); err != nil {
			return err
		}
	}
	stages := s.Stages
	fmt.Fprintln(w, "| stage | status | seconds |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, st := range stages {
		fmt.Fprintf(w, "| %s | %s | %.1f |\n", st.Stage, st.Status, st.Seconds)
	}
	return nil
}
