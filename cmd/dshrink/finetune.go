package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/plan/policy"
	"github.com/dshrink/dshrink/shrink"
	"github.com/dshrink/dshrink/train"
)

func init() {
	var (
		configPath, model, planSpec, out string
		finalAct, padFirst, resume       bool
		distillWeight, temperature, tol  float64
		jsonOut                          bool
		sf                               stageFlags
	)
	cmd := &cobra.Command{
		Use:   "finetune --model BASE.dsk --plan PLAN -o DIR [flags]",
		Short: "Fine-tune without the removed activations, then merge and verify (DepthShrinker stages 2 and 3)",
		Long: `Start from the base weights, turn the plan's removed activations into the
identity and fine-tune with distillation from the base model
(loss = w * softCE(teacher, T) + (1-w) * CE(label), w = 0.7 and T = 1 by
default). Blocks that will be merged train in the pad-first form (default on),
which makes the merge exact; --final-act adds the paper's ReLU6 after each
removed block. The fine-tuned model is then merged (BatchNorm folded, each
activation-free chain composed into one convolution) and verified against
itself; a merged model above tolerance is not written.

--plan takes a plan file (from dshrink search), a preset (all, ds-a ... ds-f)
or a list of units ("features.3,features.5-8"). With all, blocks whose
activations the final merge would not take away (the merge options of the
configuration, e.g. MobileNetV2's expansion-1 block above the MAC-growth
limit) keep their activations, so that nothing is removed for no speed; with
any other plan such units are listed in a warning. DIR receives finetuned.dsk,
merged.dsk, plan.json, report.json (accuracy of base / fine-tuned / merged,
MACs, parameters, maximum error) and the training checkpoint (--resume).
Training settings come from the finetune section of the YAML configuration
(configs/finetune.yaml); flags override it.`,
		Example: `  dshrink finetune --model runs/fmnist-mbv2-0.5/model.dsk --plan plan.json -o runs/ft
  dshrink finetune --model base.dsk --plan ds-d --epochs 5 --lr 0.01 -o runs/ft-ds-d
  dshrink finetune --model base.dsk --plan features.2-9 --final-act --distill-weight 0 -o runs/ft-nokd
  dshrink finetune --model base.dsk --plan plan.json -o runs/ft --resume     # after Ctrl-C`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" || planSpec == "" || out == "" {
				return fmt.Errorf("finetune: --model, --plan and -o are required (see dshrink finetune --help)")
			}
			cfg, err := loadShrinkConfig(configPath)
			if err != nil {
				return err
			}
			st := &cfg.Finetune.Train
			sf.apply(cmd, &cfg, st)
			fl := cmd.Flags()
			if fl.Changed("final-act") {
				cfg.Finetune.FinalAct = finalAct
			}
			if fl.Changed("pad-first") {
				cfg.Finetune.PadFirst = padFirst
			}
			if fl.Changed("distill-weight") {
				cfg.Finetune.DistillWeight = distillWeight
			}
			if fl.Changed("temperature") {
				cfg.Finetune.Temperature = temperature
			}
			if fl.Changed("tol") {
				cfg.Verify.Tol = tol
			}
			cfg.Out = out
			if err := cfg.Validate(); err != nil {
				return err
			}
			tc, err := st.TrainConfig(cfg, out)
			if err != nil {
				return err
			}
			tc.Distill = train.DistillConfig{Weight: cfg.Finetune.DistillWeight, Temperature: cfg.Finetune.Temperature}
			if tc.Distill.Weight > 0 {
				tc.Distill.Teacher = model
			}
			base, err := graph.Load(model)
			if err != nil {
				return err
			}
			warnFoldedBN(cmd.ErrOrStderr(), model, base)
			p, g, err := shrink.ResolvePlan(planSpec, base)
			if err != nil {
				return err
			}
			if err := checkFreshRun(out, resume); err != nil {
				return err
			}
			if p, err = finetuneAgree(cmd.ErrOrStderr(), g, p, cfg); err != nil {
				return err
			}
			fo := shrink.FinetuneOptions{Plan: p, FinalAct: cfg.Finetune.FinalAct, PadFirst: cfg.Finetune.PadFirst,
				Train: tc, TeacherPath: model, Merge: cfg.Merge.Options(),
				Verify:     merge.VerifyOptions{Random: cfg.Verify.RandomImages, Tol: cfg.Verify.Tol, Seed: 1},
				RealImages: cfg.Verify.RealImages, Resume: resume, Log: cmd.ErrOrStderr()}
			if fl.Changed("epochs") {
				fo.Epochs = tc.Epochs // on --resume only an explicit --epochs changes the run's length
			}
			ctx, stop := shrinkContext()
			defer stop()
			rep, err := shrink.Finetune(ctx, g, fo)
			if err != nil {
				return err
			}
			if rep.Interrupted {
				fmt.Fprintf(cmd.ErrOrStderr(), "fine-tuning interrupted; continue with the same command and --resume\n")
				os.Exit(130)
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				return printJSON(w, struct {
					*shrink.FinetuneReport
					Outputs map[string]string `json:"outputs"`
				}{rep, map[string]string{
					"finetuned": filepath.Join(out, shrink.FinetunedFile), "merged": filepath.Join(out, shrink.MergedFile),
					"report": filepath.Join(out, shrink.ReportFile), "plan": filepath.Join(out, shrink.PlanFile)}})
			}
			fmt.Fprintf(w, "plan %s: %d of %d units removed\n", rep.Plan, rep.RemovedN, rep.Units)
			fmt.Fprintf(w, "%-11s %8s %10s %10s %6s\n", "model", "top-1 %", "params", "MACs", "convs")
			for _, r := range []struct {
				name string
				s    shrink.ModelStats
			}{{"base", rep.Base}, {"fine-tuned", rep.Finetuned}, {"merged", rep.Merged}} {
				fmt.Fprintf(w, "%-11s %8.2f %10d %10d %6d\n", r.name, 100*r.s.Top1, r.s.Params, r.s.MACs, r.s.Convs)
			}
			explainPadFirstMACs(w, rep.Base, rep.Finetuned, rep.Merged)
			fmt.Fprintf(w, "merged %d chains; verified: max relative difference %.3g (tolerance %.3g), predictions agree on %.2f%%\n",
				rep.Chains, rep.Verify.MaxRel, rep.Verify.Tol, 100*rep.Agreement)
			fmt.Fprintf(w, "wrote %s, %s and %s/%s\n", rep.Finetuned.File, rep.Merged.File, out, shrink.ReportFile)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "YAML configuration; its finetune, merge and verify sections are used (default: built-in)")
	f.StringVar(&model, "model", "", "base model (.dsk): the starting weights and the teacher, required")
	f.StringVar(&planSpec, "plan", "", "plan file, preset (all, ds-a ... ds-f) or list of units, required")
	f.StringVarP(&out, "out", "o", "", "output directory, required")
	f.BoolVar(&finalAct, "final-act", false, "add a ReLU6 after each removed block (the paper's ADD_FINAL_ACT)")
	f.BoolVar(&padFirst, "pad-first", true, "train removed blocks in the pad-first form (exact merge without a bias map)")
	f.Float64Var(&distillWeight, "distill-weight", 0.7, "weight of the distillation term; 0 turns the teacher off")
	f.Float64Var(&temperature, "temperature", 1, "distillation temperature")
	f.Float64Var(&tol, "tol", 0, "relative tolerance of the merge verification (default 1e-4)")
	f.BoolVar(&resume, "resume", false, "continue an interrupted fine-tune from DIR's checkpoint")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	sf.register(cmd)
	rootCmd.AddCommand(cmd)
}

// finetuneAgree makes the plan agree with the merge that ends fine-tuning
// (the configuration's merge options, the fine-tuning form): with the preset
// all, units whose activations no merged chain would take away keep them
// (printed on log); with another plan they are listed in a warning. A
// latency planner's plan (segments, pruned blocks) is returned as it is.
// It times nothing, so a resumed run gets the same plan.
func finetuneAgree(log io.Writer, g *graph.Graph, p *plan.Plan, cfg shrink.Config) (*plan.Plan, error) {
	if len(p.Segments) > 0 || len(p.Pruned) > 0 {
		return p, nil
	}
	auto := p.Source == plan.SourcePreset && p.Name == "all"
	d, err := policy.Decide(g, p, policy.Options{
		Apply: plan.ApplyOptions{PadFirst: cfg.Finetune.PadFirst, AddFinalAct: cfg.Finetune.FinalAct},
		Merge: cfg.Merge.Options(), Auto: auto, Force: !auto})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	if auto {
		if len(d.Restored) > 0 {
			fmt.Fprintf(log, "finetune: plan all: %d blocks keep their activations (the merge after fine-tuning would not merge them):\n", len(d.Restored))
			for _, u := range d.Restored {
				fmt.Fprintf(log, "  %s: %s\n", u.Unit, u.Why)
			}
		}
		return d.Plan, nil
	}
	if len(d.Orphans) > 0 {
		fmt.Fprintf(log, "warning: the plan removes activations that the merge after fine-tuning will not take away (they cost accuracy and buy no speed):\n")
		for _, u := range d.Orphans {
			fmt.Fprintf(log, "  %s: %s\n", u.Unit, u.Why)
		}
	}
	return p, nil
}
