package conv

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// MobileNetV2-1.0 224 layer shapes at batch 1.
var benchShapes = []struct {
	name string
	p    Params
}{
	{"dw3x3s1_144x56x56", Params{N: 1, C: 144, H: 56, W: 56, K: 144, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 144}},
	{"dw3x3s1_384x14x14", Params{N: 1, C: 384, H: 14, W: 14, K: 384, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 384}},
	{"dw3x3s2_96x112x112", Params{N: 1, C: 96, H: 112, W: 112, K: 96, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 96}},
	{"dw5x5s1_240x28x28", Params{N: 1, C: 240, H: 28, W: 28, K: 240, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Groups: 240}},
	{"dense3x3s1_64to64_14x14", Params{N: 1, C: 64, H: 14, W: 14, K: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1}},
	{"dense3x3s1_32to16_112x112", Params{N: 1, C: 32, H: 112, W: 112, K: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1}},
	{"pw1x1_96to24_56x56", Params{N: 1, C: 96, H: 56, W: 56, K: 24, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}},
}

func BenchmarkForward(b *testing.B) {
	benchAll(b, func(p Params, x, w, bias, y, ws []float32) {
		_ = Forward(p, x, w, bias, y, ws, Epilogue{Act: ActReLU6})
	})
}

func BenchmarkBackwardData(b *testing.B) {
	benchAll(b, func(p Params, x, w, bias, y, ws []float32) { _ = BackwardData(p, y, w, x, ws) })
}

func BenchmarkBackwardWeight(b *testing.B) {
	benchAll(b, func(p Params, x, w, bias, y, ws []float32) { _ = BackwardWeight(p, x, y, w, bias, ws) })
}

func benchAll(b *testing.B, f func(p Params, x, w, bias, y, ws []float32)) {
	defer parallel.SetThreads(parallel.Threads())
	r := rand.New(rand.NewSource(1))
	for _, s := range benchShapes {
		p := s.p
		x, w, bias := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen()), randSlice(r, p.K)
		y, ws := randSlice(r, p.OutputLen()), make([]float32, WorkspaceSize(p))
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/t%d", s.name, th), func(b *testing.B) {
				parallel.SetThreads(th)
				f(p, x, w, bias, y, ws)
				b.ResetTimer()
				for b.Loop() {
					f(p, x, w, bias, y, ws)
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
