package vec

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa/isatest"
)

// BenchmarkPlanes times the plane kernels on one channel of a batch-128
// activation (planes of 14x14 and 2x2) under every instruction-set level
// this machine runs.
func BenchmarkPlanes(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, hw := range []int{196, 4} {
		const n, c = 128, 4
		stride := c * hw
		size := (n-1)*stride + hw
		x, dy, y := randSlice(r, size), randSlice(r, size), make([]float32, size)
		bench := func(name string, f func()) {
			b.Run(fmt.Sprintf("%s/hw=%d", name, hw), func(b *testing.B) {
				isatest.ForEachB(b, func(b *testing.B) {
					for b.Loop() {
						f()
					}
					b.ReportMetric(float64(n*hw)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
				})
			})
		}
		bench("stats", func() { PlaneStats(x, n, hw, stride, 0.1) })
		bench("affine", func() { AffineClamp(y, nil, x, n, hw, stride, 0.9, 0.1, 0, 6) })
		bench("gradSums", func() { ClampGradSums(dy, x, n, hw, stride, 0.9, 0.1, 0, 6, true, 0.2) })
		bench("gradAffine", func() { ClampGradAffine(y, dy, x, n, hw, stride, 0.9, 0.1, 0, 6, true, 1.1, 0.1, 0.2, 0.3) })
	}
}
