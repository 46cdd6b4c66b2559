package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// benchShapes are M x K x N: a 3x3 im2col-sized product and the MobileNetV2
// 1x1 convolution shapes (C[outC x HW] = W[outC x Cin] * X[Cin x HW]).
var benchShapes = []struct{ m, k, n int }{
	{256, 1152, 1024},
	{96, 16, 12544},
	{16, 32, 12544},
	{24, 96, 3136},
	{144, 24, 3136},
	{32, 144, 784},
	{192, 32, 784},
	{384, 64, 196},
	{64, 384, 196},
	{576, 96, 196},
	{960, 160, 49},
	{160, 960, 49},
	{1280, 320, 49},
}

// BenchmarkSgemm reports GFLOP/s of Sgemm (A packed on every call) for each
// kernel, thread count and shape. Select with e.g.
// -bench 'Sgemm/avx512/threads=1'.
func BenchmarkSgemm(b *testing.B) { benchAll(b, unpacked) }

// BenchmarkSgemmPacked is BenchmarkSgemm with A prepacked.
func BenchmarkSgemmPacked(b *testing.B) { benchAll(b, packedPlain) }

// BenchmarkSgemmPackedReLU6 adds a fused bias + ReLU6 epilogue: the inference
// path of a 1x1 convolution.
func BenchmarkSgemmPackedReLU6(b *testing.B) { benchAll(b, packedReLU6) }

const (
	unpacked = iota
	packedPlain
	packedReLU6
)

func benchAll(b *testing.B, mode int) {
	for _, name := range []string{"avx512", "avx2", "neon", "generic"} {
		b.Run(name, func(b *testing.B) {
			restore, err := SetKernel(name)
			if err != nil {
				b.Skipf("skipping: %v", err)
			}
			defer restore()
			for _, th := range []int{1, 2} {
				b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) {
					withThreads(b, th)
					for _, s := range benchShapes {
						b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n), func(b *testing.B) {
							benchOne(b, s.m, s.k, s.n, mode)
						})
					}
				})
			}
		})
	}
}

func benchOne(b *testing.B, m, k, n int, mode int) {
	r := rand.New(rand.NewPCG(1, 1))
	a, bm, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	bias := randSlice(r, m)
	pa, err := PackA(false, m, k, a, k)
	if err != nil {
		b.Fatal(err)
	}
	var ep *Epilogue
	if mode == packedReLU6 {
		ep = ReLU6(bias)
	}
	run := func() {
		if mode != unpacked {
			if err := SgemmPacked(pa, false, n, bm, n, c, n, ep); err != nil {
				b.Fatal(err)
			}
		} else {
			Sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
		}
	}
	run()
	b.ResetTimer()
	// At one thread, on a locked OS thread, also the thread's CPU time.
	single := parallel.Threads() == 1
	if single {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	var times, cpu []time.Duration
	for b.Loop() {
		t0, c0 := time.Now(), threadCPU()
		run()
		c1 := threadCPU()
		times = append(times, time.Since(t0))
		if single && c0 >= 0 && c1 >= 0 {
			cpu = append(cpu, c1-c0)
		}
	}
	slices.Sort(times)
	slices.Sort(cpu)
	flop := 2 * float64(m) * float64(n) * float64(k)
	b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// On a machine shared with other work the mean mostly measures the
	// others: the median call is less sensitive to them (and is what
	// results/*/gemm compares with OpenBLAS's median), the fastest call is
	// what the code can do when it has its cores.
	b.ReportMetric(flop/times[len(times)/2].Seconds()/1e9, "med-GFLOP/s")
	b.ReportMetric(flop/times[0].Seconds()/1e9, "best-GFLOP/s")
	if len(cpu) > 0 && cpu[len(cpu)/2] > 0 {
		b.ReportMetric(flop/cpu[len(cpu)/2].Seconds()/1e9, "cpu-GFLOP/s")
	}
}

// BenchmarkSgemmTrans covers the transposed products of training: a weight
// gradient dW = dY * cols^T (transB, long k) and an input gradient
// cols = W^T * dY (transA).
func BenchmarkSgemmTrans(b *testing.B) {
	for _, s := range []struct {
		name    string
		tA, tB  bool
		m, k, n int
	}{
		{"dW_transB", false, true, 32, 12544, 288},
		{"dX_transA", true, false, 288, 32, 12544},
	} {
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, bm, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			lda, ldb := s.k, s.n
			if s.tA {
				lda = s.m
			}
			if s.tB {
				ldb = s.k
			}
			for b.Loop() {
				Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
