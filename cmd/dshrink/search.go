package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/shrink"
)

func init() {
	var (
		configPath, model, out, runDir string
		keepRatio, gateLRScale         float64
		keep                           int
		perAct, allUnits, resume       bool
		inclUnmergeable, force         bool
		baseline                       string
		sf                             stageFlags
		jsonOut                        bool
		speedup, latencyMs, latWeight  float64
		tablePath                      string
		gumbelEpochs                   int
	)
	cmd := &cobra.Command{
		Use:   "search --model BASE.dsk (--keep-ratio R | --keep N) -o PLAN.json [flags]",
		Short: "Search which activations to remove: learnable gates under a keep budget (DepthShrinker stage 1)",
		Long: `Train a learnable gate s in [0,1] (init 0) per removable unit together with
the model's weights. By default there is one gate per inverted residual block
(shared by the block's activations, as the paper does) and only the blocks are
candidates; --per-activation gives each activation its own gate and
--all-units adds the stem and head. Blocks that the merge would leave
unmerged (MobileNetV2's features.1 under the default MAC-growth limit, see
dshrink merge --help) get no gate and keep their activation, so the budget
goes to blocks that merge; --force (plan for merge --force) or
--include-unmergeable gate them too. At every step the int(r*U) candidates
with the smallest s (or exactly --keep N) keep their activation and the others
run as the identity (hard mask; a straight-through estimator trains s).

Writes the plan file (every unit's decision and final gate value, source
"search") and prints a summary table. Training settings come from the
search section of the YAML configuration (configs/search.yaml); flags
override it. The run directory (--run-dir, default PLAN.run/) keeps the
checkpoint; --resume continues an interrupted search.`,
		Example: `  dshrink search --model runs/fmnist-mbv2-0.5/model.dsk --keep-ratio 0.4 -o plan.json
  dshrink search --model base.dsk --config configs/search.yaml --keep 6 --epochs 3 --gate-lr-scale 10 -o plan.json
  dshrink search --model base.dsk --per-activation --keep-ratio 0.5 -o plan-act.json
  dshrink search --model base.dsk -o plan.json --resume      # after Ctrl-C
  dshrink search --model base.dsk --keep 8 --baseline random --seed 2 -o random-2.json   # no training`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" || out == "" {
				return fmt.Errorf("search: --model and -o are required (see dshrink search --help)")
			}
			cfg, err := loadShrinkConfig(configPath)
			if err != nil {
				return err
			}
			st := &cfg.Search.Train
			sf.apply(cmd, &cfg, st)
			fl := cmd.Flags()
			if fl.Changed("keep-ratio") && fl.Changed("keep") {
				return fmt.Errorf("search: give --keep-ratio or --keep, not both")
			}
			if fl.Changed("keep-ratio") {
				cfg.Search.KeepRatio, cfg.Search.Keep = keepRatio, -1
			}
			if fl.Changed("keep") {
				cfg.Search.Keep = keep
			}
			if fl.Changed("gate-lr-scale") {
				st.Optimizer.ScalarLRScale = gateLRScale
			}
			if perAct {
				cfg.Search.PerActivation = true
			}
			if allUnits {
				cfg.Search.AllUnits = true
			}
			if inclUnmergeable {
				cfg.Search.IncludeUnmergeable = true
			}
			if force {
				cfg.Merge.Force = true
			}
			if runDir == "" {
				runDir = strings.TrimSuffix(out, filepath.Ext(out)) + ".run"
			}
			cfg.Out = runDir
			if err := cfg.Validate(); err != nil {
				return err
			}
			tc, err := st.TrainConfig(cfg, runDir)
			if err != nil {
				return err
			}
			base, err := graph.Load(model)
			if err != nil {
				return err
			}
			tgt := shrink.Target{Speedup: speedup, LatencyMs: latencyMs}
			if err := tgt.Validate(); err != nil {
				return fmt.Errorf("search: %w", err)
			}
			var rt *readOffCtx
			if tgt.IsSet() || latWeight != 0 {
				if rt, err = newReadOffCtx(base, tablePath, cfg, tgt, cmd.ErrOrStderr()); err != nil {
					return fmt.Errorf("search: %w", err)
				}
			}
			if baseline != "" {
				w := cmd.OutOrStdout()
				if jsonOut {
					w = cmd.ErrOrStderr()
				}
				if err := writeBaselinePlan(w, base, cfg, baseline, tc.Seed, model, out, rt); err != nil || !jsonOut {
					return err
				}
				p, err := plan.Load(out)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), map[string]any{"model": model, "baseline": baseline, "units": p.Units,
					"removed": p.Removed(), "outputs": map[string]string{"plan": out}})
			}
			if err := checkFreshRun(runDir, resume); err != nil {
				return err
			}
			so := shrink.SearchOptions{KeepRatio: cfg.Search.KeepRatio, Keep: cfg.Search.Keep,
				PerActivation: cfg.Search.PerActivation, AllUnits: cfg.Search.AllUnits,
				Merge: cfg.Merge.Options(), IncludeUnmergeable: cfg.Search.IncludeUnmergeable, Train: tc, Resume: resume, Log: cmd.ErrOrStderr(),
				Gumbel: cfg.Search.Gumbel, LatencyWeight: cfg.Search.LatencyWeight}
			if fl.Changed("gumbel-epochs") {
				so.Gumbel.Epochs = gumbelEpochs
			}
			if fl.Changed("latency-weight") {
				so.LatencyWeight = latWeight
			}
			if so.LatencyWeight != 0 {
				if rt == nil {
					if rt, err = newReadOffCtx(base, tablePath, cfg, tgt, cmd.ErrOrStderr()); err != nil {
						return fmt.Errorf("search: %w", err)
					}
				}
				so.LatencySaving = shrink.LatencySavings(rt.tab, rt.prob)
			}
			if fl.Changed("epochs") {
				so.Epochs = tc.Epochs // on --resume only an explicit --epochs changes the run's length
			}
			ctx, stop := shrinkContext()
			defer stop()
			res, err := shrink.Search(ctx, base, so)
			if err != nil {
				return err
			}
			if res.Interrupted {
				fmt.Fprintf(cmd.ErrOrStderr(), "search interrupted; continue with the same command and --resume\n")
				os.Exit(130)
			}
			res.Plan.Meta["base"] = model
			if tgt.IsSet() {
				order, err := shrink.SearchOrder(res.Plan)
				if err != nil {
					return fmt.Errorf("search: %w", err)
				}
				q, err := rt.readOff(res.Graph, plan.SourceSearch, "search", order, res.Plan)
				if err != nil {
					return fmt.Errorf("search: %w", err)
				}
				q.Meta["base"] = model
				res.Plan = q
			}
			if err := res.Plan.Save(out); err != nil {
				return fmt.Errorf("search: %w", err)
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				return printJSON(w, map[string]any{"model": model, "units": res.Plan.Units, "removed": res.Plan.Removed(),
					"kept_candidates": res.Kept, "candidates": res.Candidates, "tie_break": res.Plan.Meta[shrink.MetaTieBreak],
					"final": res.Final, "outputs": map[string]string{"plan": out, "run_dir": runDir}})
			}
			if err := shrink.WriteSummary(w, res.Plan); err != nil {
				return err
			}
			if res.Final.Count > 0 {
				fmt.Fprintf(w, "gated model at the end of the search: top-1 %.2f%% on %d held-out images\n", 100*res.Final.Top1, res.Final.Count)
			}
			fmt.Fprintf(w, "plan: %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "YAML configuration; its search section is used (default: built-in)")
	f.StringVar(&model, "model", "", "base model (.dsk), required")
	f.StringVarP(&out, "out", "o", "", "plan file to write, required")
	f.StringVar(&runDir, "run-dir", "", "directory for the search checkpoint and metrics (default: PLAN without .json + .run)")
	f.Float64Var(&keepRatio, "keep-ratio", 0.4, "fraction r of candidate units that keep their activation: int(r*U)")
	f.IntVar(&keep, "keep", -1, "exact number of candidate units that keep their activation")
	f.Float64Var(&gateLRScale, "gate-lr-scale", 0, "learning-rate multiplier of the gates (overrides the config)")
	f.BoolVar(&perAct, "per-activation", false, "one gate per activation instead of one per block")
	f.BoolVar(&allUnits, "all-units", false, "make the stem and head activations candidates too")
	f.BoolVar(&inclUnmergeable, "include-unmergeable", false, "gate units whose blocks the merge would leave unmerged (by default they keep their activation)")
	f.StringVar(&baseline, "baseline", "", "write a baseline plan at the same budget instead of searching: random (seeded by --seed) or last-k")
	f.BoolVar(&force, "force", false, "plan for merge --force: blocks whose MACs would grow past the limit count as mergeable")
	f.BoolVar(&resume, "resume", false, "continue an interrupted search from the run directory")
	f.BoolVar(&jsonOut, "json", false, "print the plan's units, decisions and the end-of-search evaluation as JSON")
	f.Float64Var(&speedup, "speedup", 0, "read the plan off the ranking at this target speedup over the base (latency table prediction)")
	f.Float64Var(&latencyMs, "latency-ms", 0, "read the plan off the ranking at this target latency in ms")
	f.StringVar(&tablePath, "table", "", "latency table for --speedup, --latency-ms and --latency-weight (reused when its key matches; measured and written otherwise)")
	f.IntVar(&gumbelEpochs, "gumbel-epochs", 0, "sample the ranking with Gumbel noise for the first N epochs (official DS.GS_SAMPLE; overrides the config)")
	f.Float64Var(&latWeight, "latency-weight", 0, "weight of the official latency term w*sum(saving*s) (overrides the config; needs --table)")
	sf.register(cmd)
	rootCmd.AddCommand(cmd)
}

// writeBaselinePlan writes a random or last-k plan with the budget the search
// would have (the same candidates and keep count) and prints its summary.
func writeBaselinePlan(w io.Writer, base *graph.Graph, cfg shrink.Config, name string, seed uint64, model, out string, rt *readOffCtx) error {
	kind, err := shrink.ParseBaseline(name)
	if err != nil {
		return fmt.Errorf("search: --baseline: %w", err)
	}
	g := base
	if cfg.Search.PerActivation {
		g = shrink.PerActivationUnits(base)
	}
	cands, excl, err := shrink.SearchCandidates(g, cfg.Search.AllUnits, cfg.Search.IncludeUnmergeable, cfg.Merge.Options())
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	k, err := shrink.GatedKeepCount(len(cands), len(excl), cfg.Search.KeepRatio, cfg.Search.Keep)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	var p *plan.Plan
	if rt != nil && rt.target.IsSet() {
		order, err := shrink.BaselineOrder(kind, cands, seed)
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if p, err = rt.readOff(g, plan.SourceManual, string(kind), order, nil); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		p.Meta["baseline"], p.Meta["seed"] = string(kind), strconv.FormatUint(seed, 10)
	} else if p, err = shrink.BaselinePlan(kind, g, cands, len(cands)-k, seed); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	p.Meta["base"] = model
	if err := p.Save(out); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if err := shrink.WriteSummary(w, p); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "plan: %s\n", out)
	return err
}

// readOffCtx holds what reading a plan off a ranking at a target needs: the
// latency table of the base, the planner's problem on it and the budget.
type readOffCtx struct {
	tab    *latency.Table
	prob   *latency.Problem
	target shrink.Target
	budget float64
	log    io.Writer
}

func newReadOffCtx(base *graph.Graph, tablePath string, cfg shrink.Config, tgt shrink.Target, log io.Writer) (*readOffCtx, error) {
	tab, err := shrink.TableFor(base, tablePath, 1, 1, false, log)
	if err != nil {
		return nil, err
	}
	uniform := make([]float64, len(tab.Units))
	for i := range uniform {
		uniform[i] = 1
	}
	prob, err := latency.NewProblem(tab, uniform, latency.ProblemOptions{Force: cfg.Merge.Force, MaxMACGrowth: cfg.Merge.MaxMACGrowth})
	if err != nil {
		return nil, err
	}
	rt := &readOffCtx{tab: tab, prob: prob, target: tgt, log: log}
	if tgt.IsSet() {
		if rt.budget, err = tgt.Budget(tab); err != nil {
			return nil, err
		}
	}
	return rt, nil
}

// readOff returns the plan of g that removes units in order until the
// table predicts the target; from, when not nil, is the searched plan whose
// gates and metadata the result keeps.
func (rt *readOffCtx) readOff(g *graph.Graph, source, name string, order []string, from *plan.Plan) (*plan.Plan, error) {
	removed, pred, err := shrink.ReadOff(rt.tab, rt.prob, order, rt.budget)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", rt.target, err)
	}
	p := shrink.TargetPlan(g, source, name, removed, rt.tab, rt.budget, pred, rt.target)
	if from != nil {
		for k, v := range from.Meta {
			if _, ok := p.Meta[k]; !ok {
				p.Meta[k] = v
			}
		}
		for i := range p.Units {
			for _, u := range from.Units {
				if u.Name == p.Units[i].Name {
					p.Units[i].Gate = u.Gate
				}
			}
		}
	}
	fmt.Fprintf(rt.log, "target %s: budget %.4f ms (table), predicted %.4f ms (base %.4f ms, %.2fx), %d units removed\n",
		rt.target, rt.budget, pred, rt.tab.BaseMs(), rt.tab.BaseMs()/pred, len(removed))
	return p, p.Validate(g)
}
