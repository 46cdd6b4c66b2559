package runtime

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"testing"
	"time"
)

// TestWinogradSpeedup (run with DSHRINK_WINO_TIMING=1 and -v) times
// MobileNetV2-1.0 at 224, original and merged-shape, with Winograd off and
// auto, 1 thread (2 with DSHRINK_WINO_TIMING=2), in interleaved rounds (the machine may be shared: compare
// the ratios of one run), then the per-step medians of the merged model.
func TestWinogradSpeedup(t *testing.T) {
	if os.Getenv("DSHRINK_WINO_TIMING") == "" {
		t.Skip("set DSHRINK_WINO_TIMING=1 to time")
	}
	gs := benchModels(t)
	type prog struct {
		name string
		p    *Program
		x    []float32
		out  []float32
		ms   []float64
	}
	threads := 1
	if os.Getenv("DSHRINK_WINO_TIMING") == "2" {
		threads = 2
	}
	for _, batch := range []int{1, 16} {
		var ps []*prog
		for _, c := range []struct {
			g    string
			mode WinogradMode
		}{{"orig", WinogradOff}, {"merged", WinogradOff}, {"merged", WinogradAuto}} {
			g := gs[c.g]
			p, err := Compile(g, Options{Batch: batch, Threads: threads, Winograd: c.mode})
			if err != nil {
				t.Fatal(err)
			}
			x := randInput(batch, g.Input.Shape, 1)
			out := make([]float32, batch*p.OutputLen())
			_ = p.Run(x, out)
			ps = append(ps, &prog{name: fmt.Sprintf("%s/%s", c.g, map[WinogradMode]string{WinogradOff: "direct", WinogradAuto: "auto"}[c.mode]), p: p, x: x, out: out})
		}
		old := debug.SetGCPercent(-1)
		rounds, per := 15, max(1, 8/batch)
		for r := 0; r < rounds; r++ {
			for i := range ps {
				q := ps[(i+r)%len(ps)]
				for k := 0; k < per; k++ {
					t0 := time.Now()
					_ = q.p.Run(q.x, q.out)
					q.ms = append(q.ms, float64(time.Since(t0).Nanoseconds())/1e6)
				}
			}
		}
		debug.SetGCPercent(old)
		med := make([]float64, len(ps))
		for i, q := range ps {
			slices.Sort(q.ms)
			med[i] = q.ms[len(q.ms)/2]
			t.Logf("threads %d batch %d %-16s median %.3f ms (%d runs)", threads, batch, q.name, med[i], len(q.ms))
		}
		t.Logf("batch %d: merged/original speedup %.3fx direct, %.3fx Winograd auto (Winograd gain %.3fx)",
			batch, med[0]/med[1], med[0]/med[2], med[1]/med[2])
	}
	// per step, merged, batch 1
	g := gs["merged"]
	var ps []*Program
	_ = debug.SetGCPercent(-1)
	defer debug.SetGCPercent(100)
	for _, m := range []WinogradMode{WinogradOff, WinogradAuto} {
		p, err := Compile(g, Options{Batch: 1, Threads: 1, Winograd: m})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	x := randInput(1, g.Input.Shape, 1)
	// each step timed once per pass through the model, in order (the
	// weights of a step are as cold as in Run)
	var ts [2][][]float64
	for i := range ts {
		ts[i] = make([][]float64, 30)
	}
	for r := 0; r < 30; r++ {
		for i, p := range ps {
			p.packInput(x, 0, 0)
			for _, s := range p.steps {
				t0 := time.Now()
				if k := len(ts[i][r]); k < p.nSpatial {
					s.execImg(0, 0, true)
				} else {
					s.exec(1)
				}
				ts[i][r] = append(ts[i][r], float64(time.Since(t0).Nanoseconds())/1e6)
			}
		}
	}
	med := func(i, k int) float64 {
		var v []float64
		for _, m := range ts[i] {
			v = append(v, m[k])
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	for k, s := range ps[1].Steps() {
		a, b := med(0, k), med(1, k)
		t.Logf("%-7s %-9s %-20s %6.1f MMACs  direct %6.3f ms  auto %6.3f ms  %5.2fx", s.Kind, s.Kernel, s.Name, float64(s.MACs)/1e6, a, b, a/b)
	}
}
