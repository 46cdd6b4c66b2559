package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/models"
	"github.com/spf13/cobra"
)

// profileFlags are the measurement settings shared by profile and plan.
type profileFlags struct {
	batch, threads int
	rounds, iters  int
	maxKernel      int
	noMulti        bool
	isolated       bool
	layerPruning   bool
	runtimeName    string
	refresh        bool
	jsonOut        bool
}

func (p *profileFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&p.batch, "batch", 1, "batch size the segments are timed at")
	f.IntVar(&p.threads, "threads", 1, "runtime threads")
	f.IntVar(&p.rounds, "rounds", 15, "interleaved timing rounds (each segment's latency is the median over rounds)")
	f.IntVar(&p.iters, "iters", 5, "runs of each segment per round")
	f.IntVar(&p.maxKernel, "max-kernel", 7, "largest kernel of a multi-block merged segment")
	f.BoolVar(&p.noMulti, "no-multi-block", false, "do not time segments of several blocks merged together")
	f.BoolVar(&p.layerPruning, "layer-pruning", false, "also time runs merged with every block's prunable layer (stride-1 depthwise) pruned (LayerMerge)")
	f.BoolVar(&p.isolated, "isolated", false, "table entries from each segment timed alone (default: timed inside whole models, kept and merged)")
	f.StringVar(&p.runtimeName, "runtime", "ours", "runtime to time segments with: ours, or ort (ONNX Runtime 1.30 via node and onnxruntime-node from ./scripts/setup.sh; entries timed in isolation, less the per-run overhead)")
	f.BoolVar(&p.refresh, "refresh", false, "measure again even when the table file's key matches")
	f.BoolVar(&p.jsonOut, "json", false, "print the result as JSON (the text report goes to stderr)")
}

func (p *profileFlags) options(log io.Writer) (latency.ProfileOptions, error) {
	rt := strings.ToLower(p.runtimeName)
	switch rt {
	case latency.RuntimeOurs:
	case latency.RuntimeORT, "onnxruntime":
		rt = latency.RuntimeORT
		if _, err := latency.FindORT(); err != nil {
			return latency.ProfileOptions{}, fmt.Errorf("--runtime ort: %w", err)
		}
	default:
		return latency.ProfileOptions{}, fmt.Errorf("--runtime %q: want ours (dshrink's runtime) or ort (ONNX Runtime)", p.runtimeName)
	}
	if p.batch < 1 || p.threads < 1 || p.rounds < 1 || p.iters < 1 {
		return latency.ProfileOptions{}, errors.New("--batch, --threads, --rounds and --iters must be at least 1")
	}
	return latency.ProfileOptions{Batch: p.batch, Threads: p.threads, Rounds: p.rounds, Iters: p.iters,
		MaxKernel: p.maxKernel, NoMultiBlock: p.noMulti, LayerPruning: p.layerPruning, Isolated: p.isolated || rt == latency.RuntimeORT, Runtime: rt, Log: log}, nil
}

// loadPlannerModel reads a model file or builds a named one: "mobilenet_v2"
// (1.0, 224x224) or "fashion-mnist" (MobileNetV2-0.5, 1x28x28).
func loadPlannerModel(arg string) (*graph.Graph, error) {
	switch strings.ToLower(arg) {
	case "mobilenet_v2", "mobilenetv2":
		return models.MobileNetV2(models.Default())
	case "fashion-mnist", "fmnist":
		return models.MobileNetV2(models.FashionMNIST())
	}
	return loadModel(arg)
}

// tableFor returns the latency table of g: the file at path when its key
// matches (and refresh is off), otherwise a fresh measurement, saved to
// path when path is not empty.
func tableFor(g *graph.Graph, path string, pf *profileFlags, log io.Writer) (*latency.Table, error) {
	opts, err := pf.options(log)
	if err != nil {
		return nil, err
	}
	key, err := latency.TableKey(latency.Fingerprint(g), opts)
	if err != nil {
		return nil, err
	}
	if path != "" && !pf.refresh {
		t, err := latency.Cached(path, key)
		switch {
		case err == nil && t != nil:
			fmt.Fprintf(log, "profile: reusing %s (key matches: %s)\n", path, key)
			return t, nil
		case errors.Is(err, latency.ErrKeyMismatch):
			fmt.Fprintf(log, "profile: %v; measuring again\n", err)
		case err != nil:
			return nil, err
		}
	}
	t, err := latency.Profile(g, opts)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if err := t.Save(path); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "profile: wrote %s\n", path)
	}
	return t, nil
}

// tableJSON is profile's --json output: the table's summary per block, the
// file holding the whole table under outputs.
func tableJSON(model string, t *latency.Table, path string) map[string]any {
	type block struct {
		Block        string  `json:"block"`
		KeptMs       float64 `json:"kept_ms"`
		KeptMACs     int64   `json:"kept_macs"`
		MergedMs     float64 `json:"merged_ms"`
		MergedMACs   int64   `json:"merged_macs"`
		MergedKernel string  `json:"merged_kernel"`
		Speedup      float64 `json:"speedup"`
	}
	blocks := make([]block, len(t.Blocks))
	for i, b := range t.Blocks {
		k, m := t.Kept(i), t.Merged(i, i+1)
		blocks[i] = block{Block: b, KeptMs: k.Ms, KeptMACs: k.MACs, MergedMs: m.Ms, MergedMACs: m.MACs, MergedKernel: m.Kernel, Speedup: k.Ms / m.Ms}
	}
	return map[string]any{"model": model, "key": t.Key, "predicted_base_ms": t.BaseMs(), "whole_ms": t.WholeMs,
		"whole_steps_ms": t.WholeStepsMs, "calibration": t.Calibration(), "blocks": blocks, "outputs": map[string]string{"table": path}}
}

func printTable(w io.Writer, t *latency.Table) {
	fmt.Fprintf(w, "latency table of %s: %s\n", t.Model, t.Key)
	for _, p := range t.Fixed {
		fmt.Fprintf(w, "  %-28s %-8s %9.1f MMAC %8.4f ms (IQR %.4f)\n", p.Name, "fixed", float64(p.MACs)/1e6, p.Ms, p.Spread)
	}
	for i, b := range t.Blocks {
		k, m := t.Kept(i), t.Merged(i, i+1)
		fmt.Fprintf(w, "  %-28s kept     %9.1f MMAC %8.4f ms (alone %.4f) | merged %-7s %9.1f MMAC %8.4f ms (alone %.4f)  x%.2f\n",
			b, float64(k.MACs)/1e6, k.Ms, k.IsolatedMs, m.Kernel, float64(m.MACs)/1e6, m.Ms, m.IsolatedMs, k.Ms/m.Ms)
	}
	multi := 0
	for _, s := range t.Segments {
		if s.End-s.Start > 1 {
			multi++
			var kept float64
			for i := s.Start; i < s.End; i++ {
				kept += t.Kept(i).Ms
			}
			fmt.Fprintf(w, "  %-28s %-8s %9.1f MMAC %8.4f ms (kept %.4f ms)\n", s.Blocks[0]+".."+s.Blocks[len(s.Blocks)-1], s.Kernel, float64(s.MACs)/1e6, s.Ms, kept)
		}
	}
	steps := "sum of its step medians"
	if t.Key.Executor != "ours" {
		steps = "run median"
	}
	fmt.Fprintf(w, "predicted base %.3f ms (sum of fixed parts and kept blocks); whole model measured %.3f ms (%+.1f%%), %s %.3f ms (calibration x%.3f); %d multi-block segments\n",
		t.BaseMs(), t.WholeMs, 100*(t.BaseMs()-t.WholeMs)/t.WholeMs, steps, t.WholeStepsMs, t.Calibration(), multi)
}

func init() {
	var (
		pf  profileFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "profile MODEL -o TABLE.json [--batch 1 --threads 1]",
		Short: "Measure a latency table of every candidate segment of a model on this machine",
		Long: `Measure, with the inference runtime on this machine, the latency of every
candidate segment of a model made of a chain of inverted residual blocks:
each block kept as it is, each run of consecutive blocks (one or several)
with their units removed merged into one convolution, exactly the one the
merger builds for that run (merge.Run, pad-first form over the run) while
its kernel stays within --max-kernel, and the fixed parts (stem, head,
classifier). Every segment is compiled on its own with the right input
shape and all are timed in interleaved rounds with the garbage collector
off; a segment's latency is the median over rounds. By default the entries
are then replaced by their in-context times: the whole model and, for every
segment length L and offset, the model merged along runs of L blocks run
step by step in the same rounds, and an entry is the sum of its steps'
medians there (a segment timed alone keeps its weights in cache and runs
10-13% faster than inside the model at 224x224); --isolated keeps the
alone-timings.

The table is cached in the -o file, keyed by CPU model, runtime version,
batch size, thread count and the model's structure; a matching file is
reused (use --refresh to measure again). MODEL is a .dsk or .onnx file, or
"mobilenet_v2" (1.0, 224x224) or "fashion-mnist" (MobileNetV2-0.5, 1x28x28).
With --runtime ort the segments are exported to ONNX and timed in ONNX Runtime
1.30 (node and onnxruntime-node, installed by ./scripts/setup.sh) by
tools/ortbench/bench_ort.js, interleaved in one process; each entry is the
segment's median run time less the run overhead of a model of the same input
and output shapes that computes nothing. ORT has no per-step times, so its
entries are isolated, and the table's key names the executor
onnxruntime-VERSION.`,
		Example: `  dshrink profile mobilenet_v2 -o mbv2.table.json
  dshrink profile fashion-mnist -o fm.table.json --rounds 25
  dshrink profile runs/base/model.dsk -o table.json --batch 16 --threads 2
  dshrink profile fashion-mnist --runtime ort -o fm.ort.table.json   # plan for ONNX Runtime`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("profile: missing -o TABLE.json")
			}
			g, err := loadPlannerModel(args[0])
			if err != nil {
				return fmt.Errorf("profile: %w", err)
			}
			t, err := tableFor(g, out, &pf, cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("profile: %w", err)
			}
			if pf.jsonOut {
				return printJSON(cmd.OutOrStdout(), tableJSON(args[0], t, out))
			}
			printTable(cmd.OutOrStdout(), t)
			return nil
		},
	}
	pf.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "table file (JSON); reused when its key matches")
	rootCmd.AddCommand(cmd)
}
