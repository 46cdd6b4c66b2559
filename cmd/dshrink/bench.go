package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/kernels/isa"
	"github.com/dshrink/dshrink/onnx"
	"github.com/dshrink/dshrink/runtime"
)

// benchResult is the latency of one model at one batch size and thread count.
type benchResult struct {
	Model    string  `json:"model"`
	File     string  `json:"file"`
	Batch    int     `json:"batch"`
	Threads  int     `json:"threads"`
	Runs     int     `json:"runs"`
	P50      float64 `json:"p50_ms"`
	P90      float64 `json:"p90_ms"`
	P99      float64 `json:"p99_ms"`
	Mean     float64 `json:"mean_ms"`
	Min      float64 `json:"min_ms"`
	ImgPerS  float64 `json:"img_per_s"`
	Speedup  float64 `json:"speedup_vs_first"` // first model's p50 / this p50
	MACs     int64   `json:"macs"`
	ArenaMiB float64 `json:"arena_mib"`
}

type benchOpts struct {
	batches, threads []int
	warmup           int
	rounds, iters    int
	minTime          time.Duration
	winograd         string
	// budget is the time the timing may take in all, split evenly over the
	// batch x threads combinations; each combination's rounds and runs per
	// round are sized to it from the warm-up runs' times (at least 3 runs of
	// every model). 0, or --rounds or --iters given, times exactly rounds x
	// iters.
	budget time.Duration
}

// size returns the rounds and runs per round of one combination whose
// models take perRun in all for one run each: o.rounds x o.iters when that
// fits the combination's share of the budget, fewer runs per round and then
// fewer rounds when not, but never fewer than 3 runs of each model.
func (o benchOpts) size(perRun time.Duration, combos int) (rounds, iters int) {
	if o.budget <= 0 || perRun <= 0 {
		return o.rounds, o.iters
	}
	share := o.budget / time.Duration(max(combos, 1))
	runs := int(share / perRun) // runs of each model that fit the share
	if runs >= o.rounds*o.iters {
		return o.rounds, o.iters
	}
	runs = max(runs, 3)
	iters = min(o.iters, max(1, runs/o.rounds))
	rounds = max(min(o.rounds, runs/iters), 1)
	if rounds*iters < 3 {
		rounds = 3
	}
	return rounds, iters
}

// winogradMode parses --winograd.
func (o benchOpts) winogradMode() (runtime.WinogradMode, error) {
	switch o.winograd {
	case "", "auto":
		return runtime.WinogradAuto, nil
	case "on":
		return runtime.WinogradOn, nil
	case "off":
		return runtime.WinogradOff, nil
	}
	return 0, fmt.Errorf("bench: --winograd %q: want auto, on or off", o.winograd)
}

func init() {
	var (
		o       benchOpts
		jsonOut bool
		names   []string
		steps   bool
	)
	cmd := &cobra.Command{
		Use:   "bench MODEL... [--batch 1,16] [--threads 1,2]",
		Short: "Time models on this machine with the inference runtime (latency percentiles, img/s, ratios)",
		Long: `Compile each model (.dsk, or .onnx through the ONNX importer) with the
inference runtime and time a forward pass on a fixed input. All models are
warmed up, then run in interleaved rounds (round-robin, the starting model
rotating every round) so that a machine whose speed drifts affects all of them
alike. Prints latency p50/p90/p99, throughput and, for every model, the speedup
of its median latency over the first model's, for every combination of batch
size and thread count. The Go garbage collector is switched off while timing
(the runtime allocates nothing per run anyway).

The timing fits a time budget (--time, 30s by default, split over the
batch x threads combinations): the warm-up runs tell how long a run takes,
and --rounds x --iters shrink until the combination fits its share, never
below 3 runs of each model. Progress and the time left go to stderr. Give
--rounds or --iters (or --time 0) to time exactly that many runs.`,
		Example: `  dshrink bench orig.dsk merged.dsk
  dshrink bench mobilenet_v2.onnx merged.dsk --batch 1,16 --threads 1,2 --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fl := cmd.Flags(); fl.Changed("rounds") || fl.Changed("iters") {
				o.budget = 0 // the user sized the timing
			}
			if o.warmup < 0 || o.rounds < 1 || o.iters < 1 {
				return fmt.Errorf("bench: --warmup must be >= 0, --rounds and --iters >= 1")
			}
			for _, b := range o.batches {
				if b < 1 {
					return fmt.Errorf("bench: batch size %d, want at least 1", b)
				}
			}
			for _, t := range o.threads {
				if t < 1 {
					return fmt.Errorf("bench: thread count %d, want at least 1", t)
				}
			}
			if len(names) != 0 && len(names) != len(args) {
				return fmt.Errorf("bench: %d names for %d models", len(names), len(args))
			}
			gs := make([]*graph.Graph, len(args))
			for i, a := range args {
				g, err := loadModel(a)
				if err != nil {
					return err
				}
				gs[i] = g
				for _, b := range o.batches {
					if err := checkInferenceMemory(g, b, a); err != nil {
						return fmt.Errorf("bench: %w", err)
					}
				}
			}
			if len(names) == 0 {
				names = args
			}
			if steps {
				return printSteps(cmd.OutOrStdout(), gs, args, o)
			}
			res, err := runBench(gs, names, args, o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				enc := json.NewEncoder(w)
				enc.SetIndent("", " ")
				return enc.Encode(map[string]any{"isa": runtime.KernelISA(), "isa_level": isa.Describe(), "goos": goruntime.GOOS, "goarch": goruntime.GOARCH,
					"cpus": goruntime.NumCPU(), "results": res})
			}
			printBench(w, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&o.batches, "batch", []int{1}, "batch sizes (comma-separated)")
	f.IntSliceVar(&o.threads, "threads", []int{1}, "thread counts (comma-separated)")
	f.IntVar(&o.warmup, "warmup", 5, "untimed runs of each model before timing")
	f.IntVar(&o.rounds, "rounds", 10, "interleaved rounds (fewer when --time needs it)")
	f.IntVar(&o.iters, "iters", 5, "timed runs of each model per round (fewer when --time needs it)")
	f.DurationVar(&o.minTime, "min-time", 0, "keep adding rounds until each model has run this long (e.g. 5s)")
	f.DurationVar(&o.budget, "time", 30*time.Second, "time budget of the whole timing: rounds and runs are sized to it from the warm-up (at least 3 runs per model); 0, or --rounds or --iters given: exactly --rounds x --iters")
	f.StringSliceVar(&names, "names", nil, "display names of the models (default: the file names)")
	f.BoolVar(&jsonOut, "json", false, "print the results as JSON")
	f.StringVar(&o.winograd, "winograd", "auto", "dense 3x3 stride-1 convolutions as Winograd F(2x2,3x3): auto (where faster), on, off")
	f.BoolVar(&steps, "steps", false, "print the compiled steps of each model instead of timing")
	rootCmd.AddCommand(cmd)
}

// loadModel reads a .dsk model or imports an .onnx one.
func loadModel(path string) (*graph.Graph, error) {
	if strings.HasSuffix(strings.ToLower(path), ".onnx") {
		return onnx.ImportFile(path, onnx.ImportOptions{NoStructure: true})
	}
	return graph.Load(path)
}

// benchInput returns the deterministic input the peers' scripts use:
// x[i] = sin(0.001 i).
func benchInput(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(0.001 * float64(i)))
	}
	return x
}

func runBench(gs []*graph.Graph, names, files []string, o benchOpts, log io.Writer) ([]benchResult, error) {
	var out []benchResult
	wm, err := o.winogradMode()
	if err != nil {
		return nil, err
	}
	combos, combo := len(o.threads)*len(o.batches), 0
	start := time.Now()
	for _, th := range o.threads {
		for _, b := range o.batches {
			combo++
			var perRun time.Duration // one run of every model, from the last warm-up run
			progs := make([]*runtime.Program, len(gs))
			xs := make([][]float32, len(gs))
			ys := make([][]float32, len(gs))
			for i, g := range gs {
				p, err := runtime.Compile(g, runtime.Options{Batch: b, Threads: th, Winograd: wm})
				if err != nil {
					return nil, fmt.Errorf("bench %s: %w", files[i], err)
				}
				progs[i] = p
				xs[i] = benchInput(b * p.InputLen())
				ys[i] = make([]float32, b*p.OutputLen())
				checkRef(files[i], xs[i], ys[i], p, log)
				var last time.Duration
				for k := 0; k < max(o.warmup, 1); k++ {
					t0 := time.Now()
					if err := p.Run(xs[i], ys[i]); err != nil {
						return nil, fmt.Errorf("bench %s: %w", files[i], err)
					}
					last = time.Since(t0)
				}
				perRun += last
			}
			rounds, iters := o.size(perRun, combos)
			est := time.Duration(rounds*iters) * perRun
			// A first guess: every combination like this one; from the second on,
			// the combinations so far give the pace of the rest.
			left := est * time.Duration(combos)
			if combo > 1 {
				left = est + time.Duration(float64(time.Since(start))/float64(combo-1)*float64(combos-combo))
			}
			fmt.Fprintf(log, "bench: batch %d, %d thread(s) (%d/%d): %d rounds x %d runs of %d model(s), about %s; about %s left in all\n",
				b, th, combo, combos, rounds, iters, len(gs), est.Round(100*time.Millisecond), left.Round(time.Second))
			times := make([][]float64, len(gs))
			for i := range times {
				times[i] = make([]float64, 0, rounds*iters)
			}
			t0, lastLog := time.Now(), time.Now()
			spent := make([]time.Duration, len(gs))
			goruntime.GC()
			old := debug.SetGCPercent(-1)
			for r := 0; r < rounds || (o.minTime > 0 && slices.Min(spent) < o.minTime); r++ {
				if r > 0 && time.Since(lastLog) > 10*time.Second {
					el := time.Since(t0)
					fmt.Fprintf(log, "bench: round %d/%d, about %s left\n", r+1, rounds,
						time.Duration(float64(el)/float64(r)*float64(max(rounds-r, 0))).Round(time.Second))
					lastLog = time.Now()
				}
				for j := range gs {
					i := (j + r) % len(gs)
					p, x, y := progs[i], xs[i], ys[i]
					for k := 0; k < iters; k++ {
						t0 := time.Now()
						err := p.Run(x, y)
						d := time.Since(t0)
						if err != nil {
							debug.SetGCPercent(old)
							return nil, fmt.Errorf("bench %s: %w", files[i], err)
						}
						spent[i] += d
						times[i] = append(times[i], float64(d.Nanoseconds())/1e6)
					}
				}
			}
			debug.SetGCPercent(old)
			var base float64
			for i := range gs {
				t := times[i]
				slices.Sort(t)
				var sum float64
				for _, v := range t {
					sum += v
				}
				r := benchResult{Model: names[i], File: files[i], Batch: b, Threads: th, Runs: len(t),
					P50: pct(t, 0.5), P90: pct(t, 0.9), P99: pct(t, 0.99), Mean: sum / float64(len(t)), Min: t[0],
					MACs: progs[i].MACs(), ArenaMiB: float64(progs[i].ArenaBytes()) / (1 << 20)}
				r.ImgPerS = float64(b) / (r.Mean / 1e3)
				if i == 0 {
					base = r.P50
				}
				r.Speedup = base / r.P50
				out = append(out, r)
			}
			fmt.Fprintf(log, "bench: batch %d, %d thread(s) done\n", b, th)
		}
	}
	return out, nil
}

// checkRef compares the output of p with FILE.ref.bin (raw float32, as the
// peers' export script writes next to an .onnx file) when it exists and has
// the size of a batch, and reports the largest difference.
func checkRef(file string, x, y []float32, p *runtime.Program, log io.Writer) {
	ext := filepath.Ext(file)
	data, err := fsutil.ReadFile(strings.TrimSuffix(file, ext)+".ref.bin", 1<<30)
	if err != nil || len(data) != 4*len(y) {
		return
	}
	if err := p.Run(x, y); err != nil {
		return
	}
	var diff, scale float64
	for i := range y {
		r := float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		diff = math.Max(diff, math.Abs(float64(y[i])-r))
		scale = math.Max(scale, math.Abs(r))
	}
	fmt.Fprintf(log, "check %s batch %d: max |ours - ref| %.2e (max |ref| %.2e)\n", file, len(y)/p.OutputLen(), diff, scale)
}

// pct returns the p-quantile of sorted t (nearest rank).
func pct(t []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(t)))) - 1
	return t[min(max(i, 0), len(t)-1)]
}

func printBench(w io.Writer, res []benchResult) {
	fmt.Fprintf(w, "kernels: %s (isa %s), %d CPUs\n", runtime.KernelISA(), isa.Describe(), goruntime.NumCPU())
	if warn := isa.Warning(); warn != "" {
		fmt.Fprintln(w, warn)
	}
	fmt.Fprintf(w, "%-28s %5s %3s %5s %9s %9s %9s %9s %8s %8s\n", "model", "batch", "thr", "runs", "p50 ms", "p90 ms", "p99 ms", "img/s", "GMAC/s", "speedup")
	for _, r := range res {
		name := r.Model
		if len(name) > 28 {
			name = "..." + name[len(name)-25:]
		}
		gmacs := float64(r.MACs) / (r.P50 / 1e3) / 1e9
		fmt.Fprintf(w, "%-28s %5d %3d %5d %9.3f %9.3f %9.3f %9.1f %8.1f %7.2fx\n", name, r.Batch, r.Threads, r.Runs, r.P50, r.P90, r.P99, r.ImgPerS, gmacs, r.Speedup)
	}
}

// printSteps lists the compiled program of each model (first batch size).
func printSteps(w io.Writer, gs []*graph.Graph, files []string, o benchOpts) error {
	for i, g := range gs {
		wm, err := o.winogradMode()
		if err != nil {
			return err
		}
		p, err := runtime.Compile(g, runtime.Options{Batch: o.batches[0], Threads: o.threads[0], Winograd: wm})
		if err != nil {
			return fmt.Errorf("bench %s: %w", files[i], err)
		}
		ms, err := p.StepTimes(benchInput(o.batches[0]*p.InputLen()), 21)
		if err != nil {
			return fmt.Errorf("bench %s: %w", files[i], err)
		}
		var total float64
		for _, t := range ms {
			total += t
		}
		fmt.Fprintf(w, "%s: %d steps, %.1f MMACs, arena %.1f MiB, %.3f ms (sum of step medians)\n", files[i], len(p.Steps()), float64(p.MACs())/1e6, float64(p.ArenaBytes())/(1<<20), total)
		for k, s := range p.Steps() {
			fmt.Fprintf(w, "  %-7s %-9s %-36s %-13s %9.2f MMACs %8.3f ms %6.1f GMAC/s\n", s.Kind, s.Kernel, s.Name, s.Fused, float64(s.MACs)/1e6, ms[k], float64(s.MACs)/ms[k]/1e6)
		}
	}
	return nil
}
