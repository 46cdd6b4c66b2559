package shrink

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/train"
)

// PlanDone is the record of a finished plan stage (plan/done.json).
type PlanDone struct {
	Method      string  `json:"method"`
	Target      Target  `json:"target"`
	BudgetMs    float64 `json:"budget_ms,omitempty"`
	PredictedMs float64 `json:"predicted_ms,omitempty"`
	BaseMs      float64 `json:"base_predicted_ms,omitempty"`
	Removed     int     `json:"removed"`
}

// Files of the plan stage (OUT/plan).
const (
	// TableFile is the latency table the stage measured (or reused).
	TableFile = "table.json"
	// ImportanceFile is the planner's importance report.
	ImportanceFile = "importance.json"
	// PruneImportanceFile is the planner's pruning importance report.
	PruneImportanceFile = "prune-importance.json"
)

// targetCtx is the latency table of the base at the bench's batch and
// threads, the planner's problem on it and the target's budget.
type targetCtx struct {
	tab    *latency.Table
	prob   *latency.Problem
	budget float64
}

func newTargetCtx(cfg Config, base *graph.Graph, dir string, imp, prune []float64, logw io.Writer) (*targetCtx, error) {
	path := cfg.Planner.Table
	if path == "" {
		path = filepath.Join(dir, TableFile)
	}
	tab, err := TableFor(base, path, cfg.Bench.Batch, cfg.Bench.Threads, cfg.Planner.MultiBlock, logw)
	if err != nil {
		return nil, err
	}
	if imp == nil {
		imp = make([]float64, len(tab.Units))
		for i := range imp {
			imp[i] = 1
		}
	}
	mo := cfg.Merge.Options()
	prob, err := latency.NewProblem(tab, imp, latency.ProblemOptions{MultiBlock: cfg.Planner.MultiBlock, Force: mo.Force, MaxMACGrowth: mo.MaxMACGrowth, Prune: prune})
	if err != nil {
		return nil, err
	}
	tc := &targetCtx{tab: tab, prob: prob}
	if cfg.Target.IsSet() {
		if tc.budget, err = cfg.Target.Budget(tab); err != nil {
			return nil, err
		}
	}
	return tc, nil
}

// planStage chooses the plan by cfg.Method: the planner, a random or
// last-k order read off at the target (into OUT/plan), or the search (into
// OUT/search, read off at the target when one is set).
func planStage(ctx context.Context, cfg Config, base *graph.Graph, ds *train.Datasets, sr *stageRunner, logw io.Writer) (*plan.Plan, *graph.Graph, *SearchSnapshot, string, error) {
	method, err := ParseMethod(cfg.Method)
	if err != nil {
		return nil, nil, nil, "", err
	}
	if method == MethodSearch {
		dir := filepath.Join(cfg.Out, "search")
		p, g, snap, err := searchStage(ctx, cfg, base, ds, dir, cfg.Search.Train.Seed, sr, logw)
		if err != nil || !cfg.Target.IsSet() {
			return p, g, snap, filepath.Join(dir, PlanFile), err
		}
		t0 := time.Now()
		path := filepath.Join(dir, "plan-target.json")
		if exists(path) {
			if q, g2, err := ResolvePlan(path, base); err == nil {
				sr.add("search read-off", "skipped (done)", t0)
				return q, g2, snap, path, nil
			}
		}
		tc, err := newTargetCtx(cfg, base, dir, nil, nil, logw)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("search: %w", err)
		}
		order, err := SearchOrder(p)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("search: %w", err)
		}
		removed, pred, err := ReadOff(tc.tab, tc.prob, order, tc.budget)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("search: target %s: %w", cfg.Target, err)
		}
		q := TargetPlan(g, plan.SourceSearch, "search", removed, tc.tab, tc.budget, pred, cfg.Target)
		for k, v := range p.Meta {
			if _, ok := q.Meta[k]; !ok {
				q.Meta[k] = v
			}
		}
		for i := range q.Units {
			q.Units[i].Gate = p.Units[i].Gate
		}
		if err := q.Save(path); err != nil {
			return nil, nil, nil, "", fmt.Errorf("search: %w", err)
		}
		fmt.Fprintf(logw, "search read off at %s: predicted %.4f ms (base %.4f ms), %d units removed\n", cfg.Target, pred, tc.tab.BaseMs(), len(removed))
		sr.add("search read-off", "ran", t0)
		return q, g, snap, path, nil
	}

	t0 := time.Now()
	dir := filepath.Join(cfg.Out, "plan")
	planPath := filepath.Join(dir, PlanFile)
	donePath := filepath.Join(dir, stageDone)
	if err := checkStageConfig(dir, "plan", struct {
		Method  string
		Target  Target
		Planner PlannerConfig
		Merge   MergeConfig
		Data    train.DataConfig
		Keep    float64
		KeepN   int
		Seed    uint64
	}{method, cfg.Target, cfg.Planner, cfg.Merge, cfg.Data, cfg.Search.KeepRatio, cfg.Search.Keep, cfg.Search.Train.Seed}); err != nil {
		return nil, nil, nil, "", err
	}
	if exists(planPath) && exists(donePath) {
		p, g, err := ResolvePlan(planPath, base)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
		}
		sr.add("plan", "skipped (done)", t0)
		return p, g, nil, planPath, nil
	}
	var p *plan.Plan
	done := PlanDone{Method: method, Target: cfg.Target}
	switch method {
	case MethodPlanner:
		tc0, err := newTargetCtx(cfg, base, dir, nil, nil, logw)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
		}
		imp, err := plannerImportance(cfg, base, tc0.tab, ds, filepath.Join(dir, ImportanceFile), logw)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
		}
		var prune []float64
		if cfg.Planner.Prune {
			if prune, err = plannerPruneCosts(cfg, base, tc0.tab, ds, filepath.Join(dir, PruneImportanceFile), logw); err != nil {
				return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
			}
		}
		tc, err := newTargetCtx(cfg, base, dir, imp.Deltas(), prune, logw)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
		}
		sol, err := tc.prob.Solve(tc.budget, 0)
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("plan: target %s (budget %.4f ms, base %.4f ms, fastest plan %.4f ms): %w",
				cfg.Target, tc.budget, tc.tab.BaseMs(), tc.prob.MinLatency(), err)
		}
		if p, err = latency.PlanFor(base, tc.tab, sol, imp.Method); err != nil {
			return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
		}
		p.Meta["target"] = cfg.Target.String()
		done.BudgetMs, done.PredictedMs, done.BaseMs = tc.budget, sol.LatencyMs, tc.tab.BaseMs()
	case MethodRandom, MethodLastK:
		kind := BaselineRandom
		if method == MethodLastK {
			kind = BaselineLastK
		}
		cands, excl, err := SearchCandidates(base, cfg.Search.AllUnits, cfg.Search.IncludeUnmergeable, cfg.Merge.Options())
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
		}
		seed := cfg.Search.Train.Seed
		if cfg.Target.IsSet() {
			tc, err := newTargetCtx(cfg, base, dir, nil, nil, logw)
			if err != nil {
				return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
			}
			order, err := BaselineOrder(kind, cands, seed)
			if err != nil {
				return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
			}
			removed, pred, err := ReadOff(tc.tab, tc.prob, order, tc.budget)
			if err != nil {
				return nil, nil, nil, "", fmt.Errorf("plan: %s at target %s: %w", method, cfg.Target, err)
			}
			p = TargetPlan(base, plan.SourceManual, string(kind), removed, tc.tab, tc.budget, pred, cfg.Target)
			p.Meta["baseline"] = string(kind)
			done.BudgetMs, done.PredictedMs, done.BaseMs = tc.budget, pred, tc.tab.BaseMs()
		} else {
			k, err := GatedKeepCount(len(cands), len(excl), cfg.Search.KeepRatio, cfg.Search.Keep)
			if err != nil {
				return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
			}
			if p, err = BaselinePlan(kind, base, cands, len(cands)-k, seed); err != nil {
				return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
			}
		}
	}
	done.Removed = len(p.Removed())
	if err := p.Save(planPath); err != nil {
		return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
	}
	if err := writeJSON(donePath, done); err != nil {
		return nil, nil, nil, "", fmt.Errorf("plan: %w", err)
	}
	if done.PredictedMs > 0 {
		fmt.Fprintf(logw, "plan (%s, target %s): predicted %.4f ms of %.4f ms (%.2fx), %d units removed\n",
			method, cfg.Target, done.PredictedMs, done.BaseMs, done.BaseMs/done.PredictedMs, done.Removed)
	}
	if err := WriteSummary(logw, p); err != nil {
		return nil, nil, nil, "", err
	}
	sr.add("plan", "ran", t0)
	return p, base, nil, planPath, nil
}

// plannerImportance returns the planner's importance of every unit of the
// table (the held-out loss increase of each unit alone, on a seeded
// split of the training images), from path when it holds one.
func plannerImportance(cfg Config, base *graph.Graph, tab *latency.Table, ds *train.Datasets, path string, logw io.Writer) (*latency.ImportanceReport, error) {
	var rep latency.ImportanceReport
	if exists(path) {
		if err := readJSON(path, &rep); err == nil && len(rep.Units) == len(tab.Units) {
			return &rep, nil
		}
	}
	n := cfg.Planner.ImportanceImages
	if n <= 0 {
		n = 512
	}
	n = min(n, ds.Train.Len()/2)
	rest, val, err := data.Split(ds.Train, n, cfg.Search.Train.Seed)
	if err != nil {
		return nil, fmt.Errorf("importance: %w", err)
	}
	fmt.Fprintf(logw, "plan: importance of %d units on %d held-out training images\n", len(tab.Units), n)
	r, err := latency.Importance(base, tab.Units, val, rest, latency.ImportanceOptions{Images: n, CalibBatches: cfg.Planner.CalibBatches, Seed: cfg.Search.Train.Seed})
	if err != nil {
		return nil, fmt.Errorf("importance: %w", err)
	}
	if err := writeJSON(path, r); err != nil {
		return nil, fmt.Errorf("importance: %w", err)
	}
	return r, nil
}

// plannerPruneCosts returns the pruning cost of every block of the table
// (latency.PruneCosts of the held-out loss increase with the block pruned,
// times planner.prune_weight; +Inf for blocks that cannot be pruned), from
// path when it holds the report.
func plannerPruneCosts(cfg Config, base *graph.Graph, tab *latency.Table, ds *train.Datasets, path string, logw io.Writer) ([]float64, error) {
	var rep latency.ImportanceReport
	if !exists(path) || readJSON(path, &rep) != nil {
		n := cfg.Planner.ImportanceImages
		if n <= 0 {
			n = 512
		}
		n = min(n, ds.Train.Len()/2)
		rest, val, err := data.Split(ds.Train, n, cfg.Search.Train.Seed)
		if err != nil {
			return nil, fmt.Errorf("pruning importance: %w", err)
		}
		blocks := latency.PrunableBlocks(base)
		fmt.Fprintf(logw, "plan: pruning importance of %d blocks on %d held-out training images\n", len(blocks), n)
		r, err := latency.PruneImportance(base, blocks, val, rest, latency.ImportanceOptions{Images: n, CalibBatches: cfg.Planner.CalibBatches, Seed: cfg.Search.Train.Seed})
		if err != nil {
			return nil, fmt.Errorf("pruning importance: %w", err)
		}
		if err := writeJSON(path, r); err != nil {
			return nil, fmt.Errorf("pruning importance: %w", err)
		}
		rep = *r
	}
	costs := latency.PruneCosts(tab, &rep)
	if w := cfg.Planner.PruneWeight; w > 0 && w != 1 {
		for i := range costs {
			costs[i] *= w
		}
	}
	return costs, nil
}
