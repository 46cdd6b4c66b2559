package gemm

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPackA measures packing a 1280x320 A (not transposed).
func BenchmarkPackA(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	m, k := 1280, 320
	a := randSlice(r, m*k)
	var p PackedA
	withThreads(b, 1)
	for b.Loop() {
		p.pack(activeKernel(), false, m, k, 1, a, k)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(m*k), "ns/elem")
}
