//go:build amd64 && !purego

package conv

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// BenchmarkDW5 compares the generic KxK assembly kernel ("old") with the
// dedicated 5x5 stride-1 kernel ("new"), forward, batch 1, one thread.
func BenchmarkDW5(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	defer func(v bool) { useDW5 = v }(useDW5)
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	for _, s := range []struct {
		c, hw int
	}{{240, 28}, {240, 14}, {480, 7}} {
		p := Params{N: 1, C: s.c, H: s.hw, W: s.hw, K: s.c, KH: 5, KW: 5, StrideH: 1, StrideW: 1,
			PadT: 2, PadL: 2, PadB: 2, PadR: 2, Groups: s.c}
		x, w, bias := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen()), randSlice(r, p.K)
		y := make([]float32, p.OutputLen())
		for _, v := range []bool{false, true} {
			b.Run(fmt.Sprintf("dw5s1_%dx%d/%s", s.c, s.hw, map[bool]string{false: "old", true: "new"}[v]), func(b *testing.B) {
				useDW5 = v
				for b.Loop() {
					_ = Forward(p, x, w, bias, y, nil, Epilogue{Act: ActReLU6})
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkDWStrided compares the Go forward kernels ("old") with the flat
// vector path ("new") for 5x5 and 7x7 at stride 2, batch 1, one thread.
func BenchmarkDWStrided(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	defer func(v bool) { useDWFwdFlat = v }(useDWFwdFlat)
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	for _, s := range []struct {
		c, hw, k int
	}{{144, 56, 5}, {240, 28, 5}, {240, 14, 7}} {
		pd := s.k / 2
		p := Params{N: 1, C: s.c, H: s.hw, W: s.hw, K: s.c, KH: s.k, KW: s.k, StrideH: 2, StrideW: 2,
			PadT: pd, PadL: pd, PadB: pd, PadR: pd, Groups: s.c}
		x, w, bias := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen()), randSlice(r, p.K)
		y := make([]float32, p.OutputLen())
		for _, v := range []bool{false, true} {
			b.Run(fmt.Sprintf("dw%ds2_%dx%d/%s", s.k, s.c, s.hw, map[bool]string{false: "old", true: "new"}[v]), func(b *testing.B) {
				useDWFwdFlat = v
				for b.Loop() {
					_ = Forward(p, x, w, bias, y, nil, Epilogue{Act: ActReLU6})
				}
				b.ReportMetric(2*float64(p.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
