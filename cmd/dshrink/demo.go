package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dshrink/dshrink/report"
	"github.com/dshrink/dshrink/shrink"
)

func init() {
	var (
		configPath, out string
		quick, quiet    bool
		jsonOut         bool
		threads         int
		printConfig     bool
	)
	demo := &cobra.Command{
		Use:   "demo [--out DIR] [--quick] [--config FILE.yaml]",
		Short: "The whole method on Fashion-MNIST from nothing, ending in an HTML report (a few minutes on 2 cores)",
		Long: `Run DepthShrinker end to end on Fashion-MNIST with the embedded demo
configuration (configs/demo.yaml holds the same text; --print-config prints it):
train a short MobileNetV2-0.5 base, choose which blocks lose their
activations with the latency planner at a 1.5x target (a latency table
measured on this machine, a cheap importance estimate, a dynamic program;
it beats the paper's gate search at equal measured latency, see
docs/method.md), fine-tune without them (distilled from the base), merge
each activation-free block into one dense convolution, verify the merge,
time base and shrunk model side by side (p50, batch 1, 1 thread), print the
final table and write report.html into the run directory. The other
methods are one flag away in dshrink shrink (--method search|random|last-k).

It trains on 12000 images (base 5 epochs, fine-tune 3): 3m14s on 2
shared AMD EPYC Zen 4 cores (AVX-512) with other jobs running (2026-12-06),
up to 9 minutes when other jobs load the cores heavily. Expect a base near
84% top-1 on 2000 test images, activations removed in 8 or 9 of 17 blocks,
and the shrunk model within about a point of the base and about 1.4x
faster (84.65% vs 84.00%, 1.43x). It is a demo, not the headline run
(dshrink shrink --config configs/shrink-fmnist.yaml).
--quick is a smoke test of under a minute (39s on the same machine; 2000
training images, 1-2 epochs per stage) into runs/demo-quick, whose
accuracies mean little. dshrink predict RUN_DIR/finetune/merged.dsk IMAGE...
classifies images with the result.

The run is resumable: Ctrl-C saves a checkpoint of the running stage and
rerunning the same command skips finished stages and resumes the rest.
It needs the Fashion-MNIST files (Debian package dataset-fashion-mnist;
./scripts/setup.sh installs it).`,
		Example: `  dshrink demo                      # into runs/demo, then open runs/demo/report.html
  dshrink demo --quick              # under a minute, into runs/demo-quick
  dshrink demo --out /tmp/demo --threads 2
  dshrink demo --print-config > my-demo.yaml && dshrink demo --config my-demo.yaml --out runs/my-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if printConfig {
				_, err := cmd.OutOrStdout().Write(report.DemoYAML())
				return err
			}
			var cfg shrink.Config
			var err error
			if configPath != "" {
				cfg, err = shrink.LoadConfig(configPath)
				if err == nil && quick {
					report.Quick(&cfg)
				}
			} else {
				cfg, err = report.DemoConfig(quick)
			}
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if fl.Changed("out") {
				cfg.Out = out
			}
			if fl.Changed("threads") {
				cfg.Threads = threads
			}
			if quiet {
				cfg.Quiet = true
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx, stop := shrinkContext()
			defer stop()
			res, err := report.Demo(ctx, cfg, report.DemoOptions{Log: cmd.ErrOrStderr()})
			exitIfInterrupted(cmd, err)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				return printJSON(w, map[string]any{"run_dir": cfg.Out, "seconds": res.Seconds, "summary": res.Summary,
					"outputs": map[string]string{"report": res.Report, "model": res.Summary.Merged.File, "summary": filepath.Join(cfg.Out, shrink.SummaryFile)}})
			}
			fmt.Fprintln(w)
			if err := res.Summary.WriteTable(w); err != nil {
				return err
			}
			explainPadFirstMACs(w, res.Summary.Base, res.Summary.Finetuned, res.Summary.Merged)
			abs, aerr := filepath.Abs(res.Report)
			if aerr != nil {
				abs = res.Report
			}
			fmt.Fprintf(w, "\ndemo finished in %s (this invocation)\nreport: %s\n  open it in a browser: file://%s\n", fmtDuration(res.Seconds), res.Report, abs)
			if res.Summary.Merged.File != "" {
				fmt.Fprintf(w, "classify images with the shrunk model: dshrink predict %s IMAGE.png...\n", res.Summary.Merged.File)
			}
			return nil
		},
	}
	f := demo.Flags()
	f.StringVarP(&out, "out", "o", "runs/demo", "run directory (runs/demo-quick with --quick)")
	f.BoolVar(&quick, "quick", false, "a smoke-test variant of under a minute, into runs/demo-quick unless --out (CI)")
	f.StringVarP(&configPath, "config", "c", "", "YAML pipeline configuration instead of the embedded one (keys of configs/shrink-fmnist.yaml)")
	f.IntVar(&threads, "threads", 0, "compute threads for training, 0 = all cores (latency is always timed as the config says)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bars")
	f.BoolVar(&printConfig, "print-config", false, "print the embedded demo configuration and exit")
	f.BoolVar(&jsonOut, "json", false, "print the run's summary as JSON (progress still goes to stderr)")
	rootCmd.AddCommand(demo)

	var (
		reportOut  string
		pareto     []string
		repJSON    bool
		plotOut    string
		evalImages int
	)
	rep := &cobra.Command{
		Use:   "report (RUN_DIR [-o report.html] | --pareto FILES --plot OUT.png)",
		Short: "(Re)build the HTML report of a shrink or demo run directory",
		Long: `Build a self-contained HTML page (inline CSS, plots embedded as PNG, no
scripts, renders offline) from a finished run directory of dshrink shrink or
dshrink demo: the original-vs-shrunk table, the accuracy-vs-latency plot
(with the comparison runs, and the points of RUN_DIR/pareto.json,
RUN_DIR/pareto/pareto.json and --pareto files, e.g. from dshrink plan --pareto),
the decision for every block (gate, kept/removed, merged kernel, MACs
before/after), the training curves of every stage and the merge
verification figures. Without -o it writes RUN_DIR/report.html.`,
		Example: `  dshrink report runs/demo
  dshrink report runs/shrink-fmnist -o /tmp/shrink-report.html
  dshrink report runs/shrink-fmnist --pareto runs/pareto/pareto.json
  dshrink report --pareto runs/i19/exp/pareto.json --plot pareto.png --eval-images 5000`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				// Only the points of --pareto files, as one plot.
				if plotOut == "" || len(pareto) == 0 {
					return fmt.Errorf("report: give a RUN_DIR, or --pareto FILES with --plot OUT.png")
				}
				var pts []report.Point
				for _, f := range pareto {
					p, err := report.ReadPareto(f)
					if err != nil {
						return fmt.Errorf("report: %w", err)
					}
					pts = append(pts, p...)
				}
				png, err := report.LatencyPlot(pts, evalImages)
				if err != nil {
					return fmt.Errorf("report: %w", err)
				}
				if png == nil {
					return fmt.Errorf("report: no point of %s has an accuracy and a latency", strings.Join(pareto, ", "))
				}
				if err := os.WriteFile(plotOut, png, 0o644); err != nil {
					return fmt.Errorf("report: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "plot: %s (%d points)\n", plotOut, len(pts))
				return nil
			}
			if plotOut != "" {
				return fmt.Errorf("report: --plot draws --pareto files alone; give no RUN_DIR with it")
			}
			path, err := report.BuildWith(args[0], reportOut, report.Options{Pareto: pareto})
			if err != nil {
				return err
			}
			if repJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"run_dir": args[0], "outputs": map[string]string{"report": path}})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", path)
			return nil
		},
	}
	rep.Flags().StringVarP(&reportOut, "output", "o", "", "output file (default RUN_DIR/report.html)")
	rep.Flags().StringSliceVar(&pareto, "pareto", nil, "also plot these accuracy-latency point files (e.g. the pareto.json of dshrink plan --pareto)")
	rep.Flags().BoolVar(&repJSON, "json", false, "print the result as JSON")
	rep.Flags().StringVar(&plotOut, "plot", "", "without RUN_DIR: write the accuracy-latency plot of the --pareto files' points to this PNG")
	rep.Flags().IntVar(&evalImages, "eval-images", 0, "with --plot: the number of held-out images behind the accuracies (for the axis label)")
	rootCmd.AddCommand(rep)
}

// fmtDuration formats seconds as "9m41s".
func fmtDuration(s float64) string {
	m := int(s) / 60
	if m == 0 {
		return fmt.Sprintf("%.0fs", s)
	}
	return fmt.Sprintf("%dm%02ds", m, int(s)%60)
}
