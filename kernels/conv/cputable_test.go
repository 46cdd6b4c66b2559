//go:build linux

package conv

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// threadCPU returns the CPU time consumed by the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUTable prints before/after GFLOP/s measured in thread CPU time
// (one thread, so that time stolen by other processes on a shared machine
// does not count), best of several interleaved repetitions. It only runs
// with DSHRINK_CPUTABLE=1:
//
//	DSHRINK_CPUTABLE=1 go test -run CPUTable -v ./kernels/conv
func TestCPUTable(t *testing.T) {
	if os.Getenv("DSHRINK_CPUTABLE") == "" || runtime.GOOS != "linux" {
		t.Skip("set DSHRINK_CPUTABLE=1 (linux) to print the table")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer parallel.SetThreads(parallel.Threads())
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	type variant struct {
		name string
		set  func()
		f    func()
	}
	reset := func() {
		pwBatch, fastIm2col, useDWFwdFlat = true, true, true
		setDW5(true)
	}
	defer reset()
	measure := func(name string, flops float64, vs []variant) {
		best := make([]float64, len(vs))
		for rep := 0; rep < 5; rep++ {
			for i, v := range vs {
				reset()
				v.set()
				v.f()
				iters := 0
				t0 := threadCPU()
				var el time.Duration
				for el < 40*time.Millisecond || iters < 2 {
					v.f()
					iters++
					el = threadCPU() - t0
				}
				best[i] = max(best[i], flops*float64(iters)/el.Seconds()/1e9)
			}
		}
		line := fmt.Sprintf("%-34s", name)
		for i, v := range vs {
			line += fmt.Sprintf(" %s %7.2f", v.name, best[i])
		}
		line += fmt.Sprintf("   x%.2f", best[len(best)-1]/best[0])
		t.Log(line)
	}
	nop := func() {}
	for _, s := range trainDWShapes() {
		p := s.p
		x, w := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen())
		dy, dx := randSlice(r, p.OutputLen()), make([]float32, p.InputLen())
		dw, db := make([]float32, p.WeightLen()), make([]float32, p.K)
		fl := 2 * float64(p.MACs())
		measure(s.name+" bwdW+db N=128", fl, []variant{
			{"old", nop, func() { _ = backwardWeight(p, algoDWGeneric, x, dy, dw, db, nil) }},
			{"new", nop, func() { _ = backwardWeight(p, algoDepthwise, x, dy, dw, db, nil) }},
		})
		measure(s.name+" bwdD N=128", fl, []variant{
			{"old", nop, func() { _ = backwardData(p, algoDWGeneric, dy, w, dx, nil) }},
			{"new", nop, func() { _ = backwardData(p, algoDepthwise, dy, w, dx, nil) }},
		})
	}
	mkpw := func(c, k, hw int) Params {
		return Params{N: 128, C: c, H: hw, W: hw, K: k, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}
	}
	for _, s := range []struct {
		name string
		p    Params
	}{
		{"pw16to96x28", mkpw(16, 96, 28)}, {"pw144to24x14", mkpw(144, 24, 14)}, {"pw32to192x7", mkpw(32, 192, 7)},
		{"pw576to96x4", mkpw(576, 96, 4)}, {"pw960to160x2", mkpw(960, 160, 2)},
	} {
		p := s.p
		x, w := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen())
		dy, dx := randSlice(r, p.OutputLen()), make([]float32, p.InputLen())
		dw := make([]float32, p.WeightLen())
		fl := 2 * float64(p.MACs())
		old := func() { pwBatch = false }
		measure(s.name+" bwdW N=128", fl, []variant{
			{"old", old, func() { _ = BackwardWeight(p, x, dy, dw, nil, nil) }},
			{"new", nop, func() { _ = BackwardWeight(p, x, dy, dw, nil, nil) }},
		})
		measure(s.name+" bwdD N=128", fl, []variant{
			{"old", old, func() { _ = BackwardData(p, dy, w, dx, nil) }},
			{"new", nop, func() { _ = BackwardData(p, dy, w, dx, nil) }},
		})
	}
	fwd := func(name string, p Params, old func()) {
		x, w, bias := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen()), randSlice(r, p.K)
		y, ws := make([]float32, p.OutputLen()), make([]float32, WorkspaceSize(p))
		pw, err := PackWeights(p, w)
		if err != nil {
			t.Fatal(err)
		}
		ep := Epilogue{Act: ActReLU6}
		measure(name+" fwd N=1", 2*float64(p.MACs()), []variant{
			{"old", old, func() { _ = Forward(p, x, w, bias, y, ws, ep) }},
			{"new(Forward)", nop, func() { _ = Forward(p, x, w, bias, y, ws, ep) }},
			{"new(ForwardPacked)", nop, func() { _ = ForwardPacked(p, pw, x, bias, y, ws, ep) }},
		})
	}
	dwp := func(c, hw, k, s int) Params {
		return Params{N: 1, C: c, H: hw, W: hw, K: c, KH: k, KW: k, StrideH: s, StrideW: s,
			PadT: k / 2, PadL: k / 2, PadB: k / 2, PadR: k / 2, Groups: c}
	}
	for _, s := range []struct {
		c, hw, k, s int
	}{{240, 28, 5, 1}, {240, 14, 5, 1}, {480, 7, 5, 1}, {144, 56, 5, 2}, {240, 28, 5, 2}, {240, 14, 7, 2}} {
		old := func() { setDW5(false); useDWFwdFlat = false }
		fwd(fmt.Sprintf("dw%ds%d_%dx%d", s.k, s.s, s.c, s.hw), dwp(s.c, s.hw, s.k, s.s), old)
	}
	d3 := func(c, k, hw int) Params {
		return Params{N: 1, C: c, H: hw, W: hw, K: k, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1}
	}
	for _, s := range [][3]int{{64, 64, 14}, {32, 16, 112}, {96, 96, 7}, {48, 48, 28}} {
		fwd(fmt.Sprintf("d3_%dto%dx%d", s[0], s[1], s[2]), d3(s[0], s[1], s[2]), func() { fastIm2col = false })
	}
}
