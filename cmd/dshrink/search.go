package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dshrink/dshrink/graph"
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
			if baseline != "" {
				w := cmd.OutOrStdout()
				if jsonOut {
					w = cmd.ErrOrStderr()
				}
				if err := writeBaselinePlan(w, base, cfg, baseline, tc.Seed, model, out); err != nil || !jsonOut {
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
				Merge: cfg.Merge.Options(), IncludeUnmergeable: cfg.Search.IncludeUnmergeable, Train: tc, Resume: resume, Log: cmd.ErrOrStderr()}
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
	sf.register(cmd)
	rootCmd.AddCommand(cmd)
}

// writeBaselinePlan writes a random or last-k plan with the budget the search
// would have (the same candidates and keep count) and prints its summary.
func writeBaselinePlan(w io.Writer, base *graph.Graph, cfg shrink.Config, name string, seed uint64, model, out string) error {
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
	p, err := shrink.BaselinePlan(kind, g, cands, len(cands)-k, seed)
	if err != nil {
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
