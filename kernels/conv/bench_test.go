package conv

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa/isatest"
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

// Depthwise layers of MobileNetV2-0.5 training on 28x28 inputs, batch 128.
func trainDWShapes() []struct {
	name string
	p    Params
} {
	mk := func(c, hw, k, s int) Params {
		return Params{N: 128, C: c, H: hw, W: hw, K: c, KH: k, KW: k, StrideH: s, StrideW: s,
			PadT: k / 2, PadL: k / 2, PadB: k / 2, PadR: k / 2, Groups: c}
	}
	return []struct {
		name string
		p    Params
	}{
		{"dw3s1_48x28", mk(48, 28, 3, 1)},
		{"dw3s2_96x28", mk(96, 28, 3, 2)},
		{"dw3s1_144x14", mk(144, 14, 3, 1)},
		{"dw3s2_144x14", mk(144, 14, 3, 2)},
		{"dw3s1_192x7", mk(192, 7, 3, 1)},
		{"dw3s2_384x7", mk(384, 7, 3, 2)},
		{"dw3s1_576x4", mk(576, 4, 3, 1)},
		{"dw3s1_960x2", mk(960, 2, 3, 1)},
		{"dw5s1_240x7", mk(240, 7, 5, 1)},
		{"dw5s2_144x14", mk(144, 14, 5, 2)},
	}
}

// BenchmarkTrainDW compares the generic depthwise kernels ("old") with the
// chosen ones ("new") on the training shapes, interleaved in one run.
func BenchmarkFlatS1(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	defer func(v int) { dwFlatMaxPlane = v }(dwFlatMaxPlane)
	for _, s := range trainDWShapes() {
		p := s.p
		if p.StrideH != 1 {
			continue
		}
		w := randSlice(r, p.WeightLen())
		dy, dx := randSlice(r, p.OutputLen()), make([]float32, p.InputLen())
		for _, mp := range []int{0, 1 << 20} {
			b.Run(fmt.Sprintf("%s/flat=%v", s.name, mp > 0), func(b *testing.B) {
				dwFlatMaxPlane = mp
				for b.Loop() {
					_ = backwardData(p, algoDepthwise, dy, w, dx, nil)
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkTrainDW(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	r := rand.New(rand.NewSource(1))
	for _, s := range trainDWShapes() {
		p := s.p
		x, w := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen())
		dy, dx := randSlice(r, p.OutputLen()), make([]float32, p.InputLen())
		dw, db := make([]float32, p.WeightLen()), make([]float32, p.K)
		for _, th := range []int{1, 2} {
			for _, pass := range []string{"bwdW", "bwdD"} {
				for _, a := range []algo{algoDWGeneric, algoDepthwise} {
					name := map[algo]string{algoDWGeneric: "old", algoDepthwise: "new"}[a]
					b.Run(fmt.Sprintf("%s/%s/t%d/%s", s.name, pass, th, name), func(b *testing.B) {
						parallel.SetThreads(th)
						f := func() { _ = backwardWeight(p, a, x, dy, dw, db, nil) }
						if pass == "bwdD" {
							f = func() { _ = backwardData(p, a, dy, w, dx, nil) }
						}
						f()
						b.ResetTimer()
						for b.Loop() {
							f()
						}
						b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}

// BenchmarkForwardPacked compares Forward ("repack", weights packed on every
// call) with ForwardPacked ("packed") on the batch-1 shapes, one thread.
func BenchmarkForwardPacked(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	for _, s := range benchShapes {
		p := s.p
		x, w, bias := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen()), randSlice(r, p.K)
		y, ws := make([]float32, p.OutputLen()), make([]float32, WorkspaceSize(p))
		pw, err := PackWeights(p, w)
		if err != nil {
			b.Fatal(err)
		}
		ep := Epilogue{Act: ActReLU6}
		for _, mode := range []string{"repack", "packed"} {
			b.Run(s.name+"/"+mode, func(b *testing.B) {
				f := func() { _ = Forward(p, x, w, bias, y, ws, ep) }
				if mode == "packed" {
					f = func() { _ = ForwardPacked(p, pw, x, bias, y, ws, ep) }
				}
				f()
				b.ResetTimer()
				for b.Loop() {
					f()
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkTrainPW compares one GEMM per image ("old") with the batched 1x1
// backward passes ("new") at batch 128, interleaved in one run.
func BenchmarkTrainPW(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	defer func(v bool) { pwBatch = v }(pwBatch)
	r := rand.New(rand.NewSource(1))
	mk := func(c, k, hw int) Params {
		return Params{N: 128, C: c, H: hw, W: hw, K: k, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}
	}
	for _, s := range []struct {
		name string
		p    Params
	}{
		{"pw16to96x28", mk(16, 96, 28)}, {"pw144to24x14", mk(144, 24, 14)}, {"pw32to192x7", mk(32, 192, 7)},
		{"pw576to96x4", mk(576, 96, 4)}, {"pw960to160x2", mk(960, 160, 2)},
	} {
		p := s.p
		x, w := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen())
		dy, dx := randSlice(r, p.OutputLen()), make([]float32, p.InputLen())
		dw := make([]float32, p.WeightLen())
		for _, th := range []int{1, 2} {
			for _, pass := range []string{"bwdW", "bwdD"} {
				for _, batch := range []bool{false, true} {
					name := map[bool]string{false: "old", true: "new"}[batch]
					b.Run(fmt.Sprintf("%s/%s/t%d/%s", s.name, pass, th, name), func(b *testing.B) {
						parallel.SetThreads(th)
						pwBatch = batch
						f := func() { _ = BackwardWeight(p, x, dy, dw, nil, nil) }
						if pass == "bwdD" {
							f = func() { _ = BackwardData(p, dy, w, dx, nil) }
						}
						f()
						b.ResetTimer()
						for b.Loop() {
							f()
						}
						b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}

// BenchmarkDense compares, for the dense shapes merging produces, Forward
// with the row-by-row im2col ("old"), ForwardPacked with it ("packed") and
// ForwardPacked with the strided-copy im2col ("new"); batch 1, one thread.
func BenchmarkDense(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	defer func(v bool) { fastIm2col = v }(fastIm2col)
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	mk := func(c, k, hw int) Params {
		return Params{N: 1, C: c, H: hw, W: hw, K: k, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1}
	}
	for _, s := range []struct {
		name string
		p    Params
	}{{"d3_64to64x14", mk(64, 64, 14)}, {"d3_32to16x112", mk(32, 16, 112)}, {"d3_96to96x7", mk(96, 96, 7)}, {"d3_48to48x28", mk(48, 48, 28)}} {
		p := s.p
		x, w, bias := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen()), randSlice(r, p.K)
		y, ws := make([]float32, p.OutputLen()), make([]float32, WorkspaceSize(p))
		pw, err := PackWeights(p, w)
		if err != nil {
			b.Fatal(err)
		}
		ep := Epilogue{Act: ActReLU6}
		for _, mode := range []string{"packed", "old", "new"} {
			b.Run(s.name+"/"+mode, func(b *testing.B) {
				fastIm2col = mode == "new"
				f := func() { _ = ForwardPacked(p, pw, x, bias, y, ws, ep) }
				if mode == "old" {
					f = func() { _ = Forward(p, x, w, bias, y, ws, ep) }
				}
				for b.Loop() {
					f()
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkTrainDWISA times the depthwise training passes (forward, data and
// weight gradients) of the training shapes under every instruction-set level
// this machine runs, one thread.
func BenchmarkTrainDWISA(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	for _, s := range trainDWShapes() {
		p := s.p
		x, w, bias := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen()), randSlice(r, p.K)
		y, dy, dx := make([]float32, p.OutputLen()), randSlice(r, p.OutputLen()), make([]float32, p.InputLen())
		dw, db := make([]float32, p.WeightLen()), make([]float32, p.K)
		for _, pass := range []string{"fwd", "bwdD", "bwdW"} {
			b.Run(s.name+"/"+pass, func(b *testing.B) {
				isatest.ForEachB(b, func(b *testing.B) {
					f := func() { _ = Forward(p, x, w, bias, y, nil, Epilogue{Act: ActReLU6}) }
					switch pass {
					case "bwdD":
						f = func() { _ = BackwardData(p, dy, w, dx, nil) }
					case "bwdW":
						f = func() { _ = BackwardWeight(p, x, dy, dw, db, nil) }
					}
					f()
					b.ResetTimer()
					for b.Loop() {
						f()
					}
					b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	}
}
