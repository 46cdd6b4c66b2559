package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are M x K x N: a 3x3 im2col-sized product and the MobileNetV2
// 1x1 convolution shapes (C[outC x HW] = W[outC x Cin] * X[Cin x HW]).
var benchShapes = []struct{ m, k, n int }{
	{256, 1152, 1024},
	{96, 16, 12544},
	{24, 96, 3136},
	{384, 64, 196},
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
	for _, name := range []string{"avx512", "avx2", "generic"} {
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
	for b.Loop() {
		run()
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
