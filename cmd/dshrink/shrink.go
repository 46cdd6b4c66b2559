package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dshrink/dshrink/shrink"
	"github.com/dshrink/dshrink/train"
)

// shrinkContext returns a context cancelled by the first Ctrl-C (or
// SIGTERM): the running stage saves a checkpoint and stops; a second Ctrl-C
// kills the process.
func shrinkContext() (context.Context, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// stop (deferred by the caller when the command ends) also closes
		// Done; only a signal has a cause other than context.Canceled.
		if context.Cause(ctx) == context.Canceled {
			return
		}
		stop()
		fmt.Fprintln(os.Stderr, "\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to abort)")
	}()
	return ctx, stop
}

// checkFreshRun refuses to start a fresh run in a directory that holds the
// checkpoint of an earlier one, so that it is not lost by mistake.
func checkFreshRun(dir string, resume bool) error {
	ckpt := filepath.Join(dir, train.CheckpointFile)
	if _, err := os.Stat(ckpt); err == nil && !resume {
		return fmt.Errorf("%s already holds a checkpoint: continue it with --resume, or delete %s (or choose another directory) to start over", ckpt, dir)
	}
	return nil
}

// loadShrinkConfig reads the pipeline configuration (the default when path
// is empty).
func loadShrinkConfig(path string) (shrink.Config, error) {
	if path == "" {
		return shrink.DefaultConfig(), nil
	}
	return shrink.LoadConfig(path)
}

// stageFlags are the training flags shared by search and finetune.
type stageFlags struct {
	epochs, batch, maxSteps, trainSubset, testSubset, threads int
	lr                                                        float64
	seed                                                      uint64
	quiet                                                     bool
}

func (s *stageFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&s.epochs, "epochs", 0, "training epochs of this stage (overrides the config; with --resume the run's new length, else the checkpoint's is kept)")
	f.IntVar(&s.batch, "batch", 0, "batch size (overrides the config)")
	f.Float64Var(&s.lr, "lr", 0, "peak learning rate (overrides the config)")
	f.Uint64Var(&s.seed, "seed", 0, "random seed (overrides the config)")
	f.IntVar(&s.maxSteps, "max-steps", 0, "stop after N optimiser steps (overrides the config)")
	f.IntVar(&s.trainSubset, "train-subset", 0, "train on N images only (overrides the config)")
	f.IntVar(&s.testSubset, "test-subset", 0, "evaluate on the first N test images only (overrides the config)")
	f.IntVar(&s.threads, "threads", 0, "compute threads, 0 = all cores (overrides the config)")
	f.BoolVarP(&s.quiet, "quiet", "q", false, "no progress bar")
}

// apply writes the flags that were set into the configuration and stage.
func (s *stageFlags) apply(cmd *cobra.Command, cfg *shrink.Config, st *shrink.StageTrain) {
	fl := cmd.Flags()
	if fl.Changed("epochs") {
		st.Epochs = s.epochs
	}
	if fl.Changed("batch") {
		st.BatchSize = s.batch
	}
	if fl.Changed("lr") {
		st.LR = s.lr
	}
	if fl.Changed("seed") {
		st.Seed = s.seed
	}
	if fl.Changed("max-steps") {
		st.MaxSteps = s.maxSteps
	}
	if fl.Changed("train-subset") {
		cfg.Data.TrainSubset = s.trainSubset
	}
	if fl.Changed("test-subset") {
		cfg.Data.TestSubset = s.testSubset
	}
	if fl.Changed("threads") {
		cfg.Threads = s.threads
	}
	if s.quiet {
		cfg.Quiet = true
	}
}

func init() {
	var (
		configPath, out, model, planSpec, compare string
		baseEpochs, searchEpochs, ftEpochs        int
		trainSubset, testSubset, threads, seeds   int
		keepRatio                                 float64
		keep                                      int
		quiet, jsonOut                            bool
		method                                    string
		speedup, latencyMs                        float64
		multiBlock, prune                         bool
	)
	cmd := &cobra.Command{
		Use:   "shrink [--config FILE.yaml] [flags]",
		Short: "The whole DepthShrinker method in one command: base, plan, fine-tune, merge, verify, benchmark",
		Long: `Run the whole method as a YAML configuration says (configs/shrink-fmnist.yaml
documents every key; without --config the built-in Fashion-MNIST
MobileNetV2-0.5 recipe is used). The plan (which activations go) is chosen
by --method at a target (--speedup 1.5, or --latency-ms 0.15):

  planner     (default) the latency planner: a measured latency table of
              this machine and a cheap importance estimate, two-stage DP
              (Kim et al.); it beats the others at equal measured latency
              on Fashion-MNIST (docs/method.md, BENCHMARKS.md). With
              --multi-block --prune it also merges runs of blocks and prunes
              whole blocks (LayerMerge): best there at 1.6x and above
  search      the paper's gate search (official recipe), its ranking read
              off at the target
  random      a seeded random order, read off at the target
  last-k      the last blocks first, read off at the target

Each stage writes into its own directory under --out:

  base/       the base model (trained unless --model or base.model names one)
  plan/       planner, random, last-k: plan.json, the latency table, the importance
  search/     method search: plan.json with every gate, plan-target.json (skipped with --plan)
  finetune/   fine-tuned model, merged model, report.json (merge verified)
  bench.json  batch-1 latency of the base and merged models (package runtime)
  compare/    with --compare: the searched plan vs random and last-k plans,
              --seeds seeds each (compare.json, compare.md)
  summary.json, summary.md

Stages are resumable: rerunning the same command skips every finished stage
and resumes an interrupted one from its checkpoint (Ctrl-C saves one).
--plan accepts a plan file, a preset (all, ds-a ... ds-f) or a list of units.`,
		Example: `  dshrink shrink --config configs/shrink-fmnist.yaml
  dshrink shrink --config configs/shrink-fmnist.yaml --speedup 1.6
  dshrink shrink --config configs/shrink-fmnist.yaml --method search --speedup 1.6
  dshrink shrink --config configs/shrink-fmnist.yaml --speedup 2 --multi-block --prune
  dshrink shrink --config configs/shrink-fmnist.yaml --model runs/fmnist-mbv2-0.5/model.dsk --out runs/shrink
  dshrink shrink --model base.dsk --plan ds-d --out runs/ds-d
  dshrink shrink --config configs/shrink-fmnist.yaml --compare random,last-k --seeds 3
  dshrink shrink --config configs/shrink-quick.yaml      # a few minutes, for a first look`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadShrinkConfig(configPath)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if fl.Changed("out") {
				cfg.Out = out
			}
			if fl.Changed("model") {
				cfg.Base.Model = model
			}
			if fl.Changed("plan") {
				cfg.Finetune.Plan = planSpec
			}
			if fl.Changed("base-epochs") {
				cfg.Base.Train.Epochs = baseEpochs
			}
			if fl.Changed("search-epochs") {
				cfg.Search.Train.Epochs = searchEpochs
			}
			if fl.Changed("finetune-epochs") {
				cfg.Finetune.Train.Epochs = ftEpochs
			}
			if fl.Changed("train-subset") {
				cfg.Data.TrainSubset = trainSubset
			}
			if fl.Changed("test-subset") {
				cfg.Data.TestSubset = testSubset
			}
			if fl.Changed("threads") {
				cfg.Threads = threads
			}
			if fl.Changed("keep-ratio") {
				cfg.Search.KeepRatio, cfg.Search.Keep = keepRatio, -1
			}
			if fl.Changed("keep") {
				cfg.Search.Keep = keep
			}
			if fl.Changed("compare") {
				cfg.Compare.Baselines = nil
				for _, b := range strings.Split(compare, ",") {
					if b = strings.TrimSpace(b); b != "" {
						cfg.Compare.Baselines = append(cfg.Compare.Baselines, b)
					}
				}
			}
			if fl.Changed("seeds") {
				cfg.Compare.Seeds = seeds
			}
			if fl.Changed("method") {
				m, err := shrink.ParseMethod(method)
				if err != nil {
					return err
				}
				cfg.Method = m
			}
			if fl.Changed("speedup") || fl.Changed("latency-ms") {
				cfg.Target = shrink.Target{Speedup: speedup, LatencyMs: latencyMs}
			}
			if fl.Changed("multi-block") {
				cfg.Planner.MultiBlock = multiBlock
			}
			if fl.Changed("prune") {
				cfg.Planner.Prune = prune
			}
			if quiet {
				cfg.Quiet = true
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx, stop := shrinkContext()
			defer stop()
			sum, err := shrink.RunPipeline(ctx, cfg, shrink.PipelineOptions{Log: cmd.ErrOrStderr()})
			exitIfInterrupted(cmd, err)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			if err := sum.WriteTable(w); err != nil {
				return err
			}
			explainPadFirstMACs(w, sum.Base, sum.Finetuned, sum.Merged)
			if sum.Compare != nil {
				if err := sum.Compare.WriteMarkdown(w); err != nil {
					return err
				}
			}
			fmt.Fprintf(w, "summary: %s/%s\n", cfg.Out, shrink.SummaryFile)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "YAML pipeline configuration (default: the built-in Fashion-MNIST recipe)")
	f.StringVarP(&out, "out", "o", "", "run directory (overrides the config)")
	f.StringVar(&model, "model", "", "use this base model (.dsk) instead of training one")
	f.StringVar(&planSpec, "plan", "", "skip the search and use this plan: a file, a preset (all, ds-a ... ds-f) or a list of units")
	f.IntVar(&baseEpochs, "base-epochs", 0, "epochs of the base training (overrides the config)")
	f.IntVar(&searchEpochs, "search-epochs", 0, "epochs of the search (overrides the config)")
	f.IntVar(&ftEpochs, "finetune-epochs", 0, "epochs of the fine-tuning (overrides the config)")
	f.IntVar(&trainSubset, "train-subset", 0, "train on N images only (overrides the config)")
	f.IntVar(&testSubset, "test-subset", 0, "evaluate on the first N test images only (overrides the config)")
	f.IntVar(&threads, "threads", 0, "compute threads, 0 = all cores (overrides the config)")
	f.Float64Var(&keepRatio, "keep-ratio", 0, "fraction of candidate blocks that keep their activation (overrides the config)")
	f.IntVar(&keep, "keep", -1, "exact number of candidate blocks that keep their activation (overrides --keep-ratio)")
	f.StringVar(&compare, "compare", "", "compare the searched plan with these baselines at the same budget: random,last-k")
	f.IntVar(&seeds, "seeds", 0, "seeds per arm of the comparison (overrides the config)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bars")
	f.BoolVar(&jsonOut, "json", false, "print the summary as JSON")
	f.StringVar(&method, "method", "", "how the plan is chosen: planner (default: the latency planner, best at equal measured latency), search (the paper's gates), random or last-k")
	f.Float64Var(&speedup, "speedup", 0, "target speedup over the base, e.g. 1.5 (overrides the config's target)")
	f.Float64Var(&latencyMs, "latency-ms", 0, "target latency in ms at the bench's batch and threads (overrides the config's target)")
	f.BoolVar(&multiBlock, "multi-block", false, "planner: also merge runs of several blocks into one convolution (overrides planner.multi_block)")
	f.BoolVar(&prune, "prune", false, "planner: also prune whole residual blocks, LayerMerge (overrides planner.prune; best at 1.6x and above on Fashion-MNIST)")
	rootCmd.AddCommand(cmd)
}

// exitIfInterrupted ends the process with status 130 when a pipeline run was
// interrupted (Ctrl-C): its checkpoint is saved and a rerun resumes it.
func exitIfInterrupted(cmd *cobra.Command, err error) {
	if errors.Is(err, shrink.ErrInterrupted) {
		fmt.Fprintf(cmd.ErrOrStderr(), "%v; rerun the same command to resume\n", err)
		os.Exit(130)
	}
}
