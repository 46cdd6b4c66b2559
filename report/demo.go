package report

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/shrink"
	"github.com/dshrink/dshrink/train"
)

//go:embed demo.yaml
var demoYAML []byte

// DemoYAML returns the demo's embedded default configuration (the same text
// as configs/demo.yaml).
func DemoYAML() []byte { return append([]byte(nil), demoYAML...) }

// QuickOut is the run directory of `dshrink demo --quick` (a separate one, so
// that the quick and the full demo never mix their stages).
const QuickOut = "runs/demo-quick"

// DemoConfig returns the demo's pipeline configuration: the embedded
// default, made quick by Quick when quick is set.
func DemoConfig(quick bool) (shrink.Config, error) {
	cfg, err := shrink.ParseConfig(demoYAML)
	if err != nil {
		return shrink.Config{}, fmt.Errorf("embedded demo config: %w", err)
	}
	if quick {
		Quick(&cfg)
	}
	return cfg, nil
}

// Quick turns a demo configuration into its smoke-test variant (under a minute): 2000
// training and 500 test images, 2 base epochs, 1 search and 1 fine-tuning
// epoch, 128 importance images, 50 timed runs per model, and QuickOut as
// the run directory when cfg.Out is the default one. The figures are only a
// smoke test.
func Quick(cfg *shrink.Config) {
	cfg.Data.TrainSubset, cfg.Data.TestSubset = 2000, 500
	cfg.Base.Train.Epochs = 2
	cfg.Search.Train.Epochs = 1
	cfg.Finetune.Train.Epochs = 1
	cfg.Planner.ImportanceImages = min(max(cfg.Planner.ImportanceImages, 1), 128)
	cfg.Bench.Iters = 50
	if cfg.Out == "runs/demo" {
		cfg.Out = QuickOut
	}
}

// DemoOptions configures Demo.
type DemoOptions struct {
	// Log receives progress (os.Stderr when nil).
	Log io.Writer
	// Data replaces the data sets of the configuration (tests).
	Data *train.Datasets
}

// DemoResult is the outcome of Demo.
type DemoResult struct {
	// Summary is the pipeline's summary.
	Summary *shrink.Summary
	// Report is the path of the HTML report.
	Report string
	// Seconds is the wall time of this invocation.
	Seconds float64
}

// Demo runs the whole method as cfg says (shrink.RunPipeline: base, plan
// (the latency planner by default) or search, fine-tune, merge, verify,
// latency), then times the fine-tuned model before
// merging against the base (an extra point of the plot, in PointsFile), and
// writes the HTML report into the run directory. Like the pipeline, it is
// resumable: a rerun skips what is done. Cancelling ctx stops the running
// stage with a checkpoint and returns an error wrapping shrink.ErrInterrupted.
func Demo(ctx context.Context, cfg shrink.Config, opts DemoOptions) (*DemoResult, error) {
	t0 := time.Now()
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	step2 := fmt.Sprintf("2. plan      choose the blocks that lose their activations: %s", methodLine(cfg))
	fmt.Fprintf(logw, `dshrink demo: the DepthShrinker method on %s, in %s
  1. base      train MobileNetV2-%g from scratch (%d epochs on %s training images)
  %s
  3. finetune  retrain without them, distilled from the base (%d epoch(s)), then merge
               each activation-free block into one dense convolution and verify it
  4. bench     p50 latency, batch %d, %d thread, base vs. shrunk interleaved
  5. report    %s
Ctrl-C saves a checkpoint; rerun the same command to resume.

`, cfg.Data.Dataset, cfg.Out, cfg.Base.Arch.Width, cfg.Base.Train.Epochs, subset(cfg.Data.TrainSubset), step2,
		cfg.Finetune.Train.Epochs, cfg.Bench.Batch, cfg.Bench.Threads, filepath.Join(cfg.Out, HTMLFile))

	sum, err := shrink.RunPipeline(ctx, cfg, shrink.PipelineOptions{Log: logw, Data: opts.Data})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(err.Error(), "data:") && cfg.Data.Dataset == "fashion-mnist" {
			return nil, fmt.Errorf("%w\n(install the data set with ./scripts/setup.sh, or apt-get install dataset-fashion-mnist)", err)
		}
		return nil, err
	}
	if !cfg.Bench.Skip {
		if err := unmergedPoint(cfg, sum, logw); err != nil {
			// The extra point is a nicety: say why it is missing and go on.
			fmt.Fprintf(logw, "demo: no latency for the unmerged fine-tuned model: %v\n", err)
		}
	}
	fmt.Fprintf(logw, "== report\n")
	path, err := Build(cfg.Out, "")
	if err != nil {
		return nil, err
	}
	return &DemoResult{Summary: sum, Report: path, Seconds: time.Since(t0).Seconds()}, nil
}

// methodLine describes how the demo chooses its plan.
func methodLine(cfg shrink.Config) string {
	m, _ := shrink.ParseMethod(cfg.Method)
	tgt := ""
	if cfg.Target.IsSet() {
		tgt = " at a " + cfg.Target.String() + " target"
		if cfg.Target.Speedup > 0 {
			tgt = fmt.Sprintf(" at a %gx target speedup", cfg.Target.Speedup)
		}
	}
	switch {
	case cfg.Finetune.Plan != "":
		return "the given plan " + cfg.Finetune.Plan
	case m == shrink.MethodPlanner:
		return "the latency planner" + tgt + "\n               (latency table measured here, cheap importance, dynamic program)"
	case m == shrink.MethodSearch:
		return fmt.Sprintf("the paper's gate search (%d epoch(s))%s", cfg.Search.Train.Epochs, tgt)
	}
	return "a " + m + " baseline" + tgt
}

func subset(n int) string {
	if n == 0 {
		return "all"
	}
	return fmt.Sprint(n)
}

// unmergedPoint times the fine-tuned model before merging side by side with
// the base and records it in PointsFile, scaled to the base latency of
// bench.json, so the plot shows that the speed comes from the merge. A
// finished PointsFile is kept.
func unmergedPoint(cfg shrink.Config, sum *shrink.Summary, logw io.Writer) error {
	path := filepath.Join(cfg.Out, PointsFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if sum.Base.LatencyMs <= 0 {
		return errors.New("the base latency was not measured")
	}
	base, err := graph.Load(sum.Base.File)
	if err != nil {
		return fmt.Errorf("base: %w", err)
	}
	ft, err := graph.Load(sum.Finetuned.File)
	if err != nil {
		return fmt.Errorf("fine-tuned: %w", err)
	}
	fmt.Fprintf(logw, "== bench: fine-tuned model before merging vs. base (%d runs each)\n", cfg.Bench.Iters)
	lb, lf, err := shrink.MeasurePair(base, ft, cfg.Bench.Batch, cfg.Bench.Threads, cfg.Bench.Iters)
	if err != nil {
		return err
	}
	if lb.MedianMs <= 0 {
		return errors.New("zero base latency")
	}
	ratio := lf.MedianMs / lb.MedianMs
	note := fmt.Sprintf("timed side by side with the base (%.3f vs. %.3f ms, %s) and scaled to the base latency of bench.json", lf.MedianMs, lb.MedianMs, lf.Executor)
	if strings.HasPrefix(lf.Executor, "nn") {
		note += "; the runtime could not run it"
	}
	pts := []Point{{Name: "fine-tuned, not merged", Kind: "fine-tuned", Top1: sum.Finetuned.Top1, LatencyMs: sum.Base.LatencyMs * ratio,
		MACs: sum.Finetuned.MACs, Note: note}}
	return WriteJSON(path, pts)
}
