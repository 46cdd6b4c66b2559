package main

import (
	"github.com/dshrink/dshrink/kernels/gemm"
	"github.com/dshrink/dshrink/kernels/isa"

	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/dshrink/dshrink/train"
	"github.com/spf13/cobra"
)

func init() {
	var (
		configPath string
		resume     bool
		overwrite  bool
		jsonOut    bool
		quiet      bool
		epochs     int
		batch      int
		lr         float64
		out        string
		threads    int
		seed       uint64
		maxSteps   int
		subset     int
		testSubset int
		labels     prepFlags
	)
	cmd := &cobra.Command{
		Use:   "train [--config FILE.yaml] [flags]",
		Short: "Train a model (MobileNetV2 on Fashion-MNIST by default) with checkpoints and resume",
		Long: `Train a model as a YAML configuration says (see configs/fmnist-mbv2-0.5.yaml
for every key and its default); flags override the file. Without --config the
built-in default is used: MobileNetV2-0.5 on Fashion-MNIST, SGD Nesterov 0.9,
LR 0.1 cosine after 1 epoch of warm-up, weight decay 4e-5, batch 128, label
smoothing 0.1, horizontal flips, 30 epochs (93.21% top-1 measured).

The run directory (--out) receives checkpoint.safetensors (weights, optimiser
state and run position, rewritten atomically after every epoch), metrics.jsonl
(one JSON line per epoch: loss, top-1/top-5, img/s) and, at the end, model.dsk.
Ctrl-C finishes the current step, saves a checkpoint and exits; --resume then
continues exactly where the run stopped (same data order, augmentation and
dropout); an interrupted run exits with status 130. A NaN or infinite loss
stops the run with an error and leaves the last checkpoint untouched.`,
		Example: `  dshrink train --config configs/fmnist-mbv2-0.5.yaml
  dshrink train --config configs/fmnist-mbv2-0.5.yaml --epochs 5 --lr 0.05 --out runs/quick
  dshrink train --config configs/fmnist-mbv2-0.5.yaml --out runs/quick --resume
  dshrink train --max-steps 50 --out /tmp/bench --overwrite --json   # throughput and peak memory`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := train.DefaultConfig()
			if configPath != "" {
				var err error
				if cfg, err = train.LoadConfig(configPath); err != nil {
					return err
				}
			}
			fl := cmd.Flags()
			if fl.Changed("epochs") {
				cfg.Epochs = epochs
			}
			if fl.Changed("batch") {
				cfg.BatchSize = batch
			}
			if fl.Changed("lr") {
				cfg.LR = lr
			}
			if fl.Changed("out") {
				cfg.Out = out
			}
			if fl.Changed("threads") {
				cfg.Threads = threads
			}
			if fl.Changed("seed") {
				cfg.Seed = seed
			}
			if fl.Changed("max-steps") {
				cfg.MaxSteps = maxSteps
			}
			if fl.Changed("train-subset") {
				cfg.Data.TrainSubset = subset
			}
			if fl.Changed("test-subset") {
				cfg.Data.TestSubset = testSubset
			}
			if quiet {
				cfg.Quiet = true
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			// Ctrl-C (or SIGTERM) cancels the run: the step in flight completes,
			// a checkpoint is written and Run returns. A second Ctrl-C kills.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sigc := make(chan os.Signal, 1)
			signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigc)
			go func() {
				select {
				case <-sigc:
					signal.Reset(os.Interrupt, syscall.SIGTERM)
					fmt.Fprintln(cmd.ErrOrStderr(), "\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to abort)")
					cancel()
				case <-ctx.Done():
				}
			}()
			ro := train.Options{Resume: resume, Overwrite: overwrite, Log: cmd.ErrOrStderr()}
			if fl.Changed("epochs") {
				ro.Epochs = epochs // on --resume only an explicit --epochs changes the run's length
			}
			res, err := train.Run(ctx, cfg, ro)
			if err != nil {
				return err
			}
			if labels.labels != "" && !res.Interrupted {
				if err := relabelModel(cmd, &labels, res.Model); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				enc := json.NewEncoder(w)
				enc.SetIndent("", " ")
				err := enc.Encode(map[string]any{
					"epochs_done": res.State.Epoch, "steps": res.State.Step, "finished": res.State.Finished,
					"interrupted": res.Interrupted, "final": res.Final, "train_img_per_s": res.TrainImgPerSec,
					"peak_rss_mib": res.PeakRSSMiB, "checkpoint": res.Checkpoint, "model": res.Model,
					"metrics": filepath.Join(cfg.Out, train.MetricsFile), "history": res.State.History,
					"isa": isa.Describe(), "gemm_kernel": gemm.Kernel(),
					"outputs": map[string]string{"model": res.Model, "checkpoint": res.Checkpoint,
						"metrics": filepath.Join(cfg.Out, train.MetricsFile)},
				})
				if err == nil && res.Interrupted {
					os.Exit(130)
				}
				return err
			}
			if res.Interrupted {
				os.Exit(130)
			}
			fmt.Fprintf(w, "trained %d steps (%d epochs), %.0f img/s, peak memory %.0f MiB, kernels %s\n",
				res.State.Step, res.State.Epoch, res.TrainImgPerSec, res.PeakRSSMiB, isa.Describe())
			if res.Final.Count > 0 {
				fmt.Fprintf(w, "held-out: top-1 %.2f%%, top-5 %.2f%%, loss %.4f on %d images\n",
					100*res.Final.Top1, 100*res.Final.Top5, res.Final.Loss, res.Final.Count)
			}
			fmt.Fprintf(w, "model: %s\ncheckpoint: %s\n", res.Model, res.Checkpoint)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "YAML configuration file (default: the built-in Fashion-MNIST recipe)")
	f.BoolVar(&resume, "resume", false, "continue from OUT/checkpoint.safetensors")
	f.BoolVar(&overwrite, "overwrite", false, "start afresh even if OUT already holds a checkpoint")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	labels.register(cmd)
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	f.IntVar(&epochs, "epochs", 0, "number of epochs (overrides the config; with --resume the run's new length, else the checkpoint's is kept)")
	f.IntVar(&batch, "batch", 0, "batch size (overrides the config)")
	f.Float64Var(&lr, "lr", 0, "peak learning rate (overrides the config)")
	f.StringVarP(&out, "out", "o", "", "run directory (overrides the config)")
	f.IntVar(&threads, "threads", 0, "compute threads, 0 = all cores (overrides the config)")
	f.Uint64Var(&seed, "seed", 0, "random seed (overrides the config)")
	f.IntVar(&maxSteps, "max-steps", 0, "stop after N optimiser steps, e.g. to measure throughput (overrides the config)")
	f.IntVar(&subset, "train-subset", 0, "train on N images only (overrides the config)")
	f.IntVar(&testSubset, "test-subset", 0, "evaluate on the first N test images only (overrides the config)")
	rootCmd.AddCommand(cmd)
}
