package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestEdgeColumns covers the column kernels (col for packed A, dot for A in
// place) and the tails around them: widths leaving 1-3 columns after the
// full panels, k around the vector width and the k block, row counts around
// the tile height, with and without transposes and with the fused epilogue.
func TestEdgeColumns(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, m := range []int{1, 5, 6, 7, 13} {
			for _, n := range []int{1, 2, 3, 17, 18, 33, 49} {
				for _, k := range []int{1, 7, 8, 9, 17, 255, 257, 400} {
					for tr := 0; tr < 4; tr++ {
						transA, transB := tr&1 != 0, tr&2 != 0
						ar, ac := m, k
						if transA {
							ar, ac = k, m
						}
						br, bc := k, n
						if transB {
							br, bc = n, k
						}
						lda, ldb, ldc := ac+1, bc+3, n+2
						a := randSlice(r, (ar-1)*lda+ac)
						b := randSlice(r, (br-1)*ldb+bc)
						c := make([]float32, m*ldc)
						pad := float32(3)
						for i := range c {
							c[i] = pad
						}
						want := refGemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
						what := fmt.Sprintf("%dx%dx%d tA=%v tB=%v", m, n, k, transA, transB)
						Sgemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
						compare(t, what, m, n, k, c, ldc, want, pad)

						// Packed A with every epilogue step, accumulating.
						pa, err := PackA(transA, m, k, a, lda)
						if err != nil {
							t.Fatal(err)
						}
						ldr := n + 1
						ep := &Epilogue{Accumulate: true, Bias: randSlice(r, m), Residual: randSlice(r, m*ldr), LdRes: ldr,
							Clamp: true, Min: -2, Max: 1.5}
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								v := want[i*n+j] + float64(c[i*ldc+j]) + float64(ep.Bias[i]) + float64(ep.Residual[i*ldr+j])
								want[i*n+j] = math.Min(math.Max(v, float64(ep.Min)), float64(ep.Max))
							}
						}
						if err := SgemmPacked(pa, transB, n, b, ldb, c, ldc, ep); err != nil {
							t.Fatal(err)
						}
						compare(t, "packed "+what, m, n, k, c, ldc, want, pad)
					}
				}
			}
		}
	})
}
