package shrink

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/memlimit"
	"github.com/dshrink/dshrink/kernels/parallel"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/runtime"
)

// Latency is a latency measurement of one model.
type Latency struct {
	// MedianMs and MinMs are the median and fastest time of one run of a
	// batch, in milliseconds.
	MedianMs float64 `json:"median_ms"`
	MinMs    float64 `json:"min_ms"`
	Batch    int     `json:"batch"`
	Threads  int     `json:"threads"`
	Iters    int     `json:"iters"`
	// Executor says what ran the model ("runtime (<ISA>)").
	Executor string `json:"executor"`
}

// MeasureLatency compiles g with package runtime for batch images and
// threads threads, runs it a few times to warm up, then times iters runs
// on a seeded random input and returns the median and fastest time. When
// the runtime cannot run g (an error or a panic in the runtime), it times
// the nn executor's eval forward instead and says so in Executor.
func MeasureLatency(g *graph.Graph, batch, threads, iters int) (Latency, error) {
	batch, threads, iters = max(batch, 1), max(threads, 1), max(iters, 1)
	need, err := g.MemoryEstimate(batch, false)
	if err != nil {
		return Latency{}, fmt.Errorf("latency of %s at batch %d: %w", g.Name, batch, err)
	}
	// The compiled program's packed weights and workspaces counted as much again.
	if err := memlimit.Check(fmt.Sprintf("latency of %s at batch %d", g.Name, batch), memlimit.Mul(need, 2)); err != nil {
		return Latency{}, err
	}
	l, rerr := runtimeLatency(g, batch, threads, iters)
	if rerr == nil {
		return l, nil
	}
	l, err = nnLatency(g, batch, threads, iters)
	if err != nil {
		return Latency{}, fmt.Errorf("latency: %w (runtime: %v)", err, rerr)
	}
	l.Executor = fmt.Sprintf("nn eval forward (runtime failed: %v)", rerr)
	return l, nil
}

// timeRuns warms run up, then times iters calls.
func timeRuns(run func() error, batch, threads, iters int) (Latency, error) {
	for i := 0; i < max(3, iters/10); i++ {
		if err := run(); err != nil {
			return Latency{}, err
		}
	}
	ts := make([]float64, iters)
	for i := range ts {
		t0 := time.Now()
		if err := run(); err != nil {
			return Latency{}, err
		}
		ts[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	sort.Float64s(ts)
	return Latency{MedianMs: ts[len(ts)/2], MinMs: ts[0], Batch: batch, Threads: threads, Iters: iters}, nil
}

func randomInput(n int) []float32 {
	x := make([]float32, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// runtimeLatency times g with package runtime; a panic inside the runtime
// is returned as an error.
func runtimeLatency(g *graph.Graph, batch, threads, iters int) (l Latency, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("runtime panicked on %s: %v", g.Name, r)
		}
	}()
	p, err := runtime.Compile(g, runtime.Options{Batch: batch, Threads: threads})
	if err != nil {
		return Latency{}, fmt.Errorf("compile %s: %w", g.Name, err)
	}
	x := randomInput(batch * p.InputLen())
	out := make([]float32, batch*p.OutputLen())
	l, err = timeRuns(func() error { return p.Run(x, out) }, batch, threads, iters)
	if err != nil {
		return Latency{}, fmt.Errorf("run %s: %w", g.Name, err)
	}
	l.Executor = "runtime (" + runtime.KernelISA() + ")"
	return l, nil
}

// nnLatency times g's eval forward with the nn executor.
func nnLatency(g *graph.Graph, batch, threads, iters int) (Latency, error) {
	m, err := nn.NewModel(g, batch)
	if err != nil {
		return Latency{}, err
	}
	prev := parallel.Threads()
	parallel.SetThreads(threads)
	defer parallel.SetThreads(prev)
	x := randomInput(batch * m.InputSize())
	l, err := timeRuns(func() error { m.Forward(x, batch, false); return nil }, batch, threads, iters)
	l.Executor = "nn eval forward"
	return l, err
}

// MeasurePair times two models alternately (a, b, a, b, ... in rounds), so
// that both see the same machine load, and returns both measurements.
func MeasurePair(a, b *graph.Graph, batch, threads, iters int) (Latency, Latency, error) {
	const rounds = 5
	per := max(iters/rounds, 1)
	var la, lb []Latency
	for r := 0; r < rounds; r++ {
		x, err := MeasureLatency(a, batch, threads, per)
		if err != nil {
			return Latency{}, Latency{}, err
		}
		y, err := MeasureLatency(b, batch, threads, per)
		if err != nil {
			return Latency{}, Latency{}, err
		}
		la, lb = append(la, x), append(lb, y)
	}
	ca, cb := combine(la), combine(lb)
	if ca.Executor != cb.Executor {
		// One model fell back to nn: time both with nn so the ratio compares like with like.
		var err error
		if ca, err = nnLatency(a, max(batch, 1), max(threads, 1), max(iters, 1)); err != nil {
			return Latency{}, Latency{}, err
		}
		if cb, err = nnLatency(b, max(batch, 1), max(threads, 1), max(iters, 1)); err != nil {
			return Latency{}, Latency{}, err
		}
		ca.Executor = "nn eval forward (the runtime could not run both models)"
		cb.Executor = ca.Executor
	}
	return ca, cb, nil
}

// combine merges per-round measurements: the median of the medians and the
// overall minimum.
func combine(ls []Latency) Latency {
	out := ls[0]
	meds := make([]float64, len(ls))
	out.Iters = 0
	for i, l := range ls {
		meds[i] = l.MedianMs
		out.MinMs = min(out.MinMs, l.MinMs)
		out.Iters += l.Iters
	}
	sort.Float64s(meds)
	out.MedianMs = meds[len(meds)/2]
	return out
}
