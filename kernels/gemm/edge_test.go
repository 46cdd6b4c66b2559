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

// TestPackedB covers products whose B (not transposed) is packed rather than
// read in place (see packBWorth): many rows at any stride (on families with
// packBMinRows), and fewer rows with B's rows a multiple of 2 KiB apart; k split into blocks or not,
// widths ending in a narrow or partial panel, one and two threads (two split
// the rows for the tall shapes, each thread packing its own copy of B).
func TestPackedB(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, th := range []int{1, 2} {
			withThreads(t, th)
			for _, s := range []struct{ m, n, k, ldb int }{
				{40, 512, 300, 512}, {40, 500, 90, 512}, {100, 100, 130, 100}, {200, 37, 600, 40},
				{97, 1024, 70, 1024}, {130, 260, 65, 270}, {640, 49, 320, 49},
			} {
				m, n, k, ldb := s.m, s.n, s.k, s.ldb
				a := randSlice(r, m*k)
				b := randSlice(r, (k-1)*ldb+n)
				ldc := n + 1
				c := make([]float32, m*ldc)
				pad := float32(5)
				for i := range c {
					c[i] = pad
				}
				want := refGemm(false, false, m, n, k, 1, a, k, b, ldb, 0, c, ldc)
				what := fmt.Sprintf("threads=%d %dx%dx%d ldb=%d", th, m, n, k, ldb)
				Sgemm(false, false, m, n, k, 1, a, k, b, ldb, 0, c, ldc)
				compare(t, what, m, n, k, c, ldc, want, pad)

				pa, err := PackA(false, m, k, a, k)
				if err != nil {
					t.Fatal(err)
				}
				ep := ReLU6(randSlice(r, m))
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						want[i*n+j] = math.Min(math.Max(want[i*n+j]+float64(ep.Bias[i]), 0), 6)
					}
				}
				if err := SgemmPacked(pa, false, n, b, ldb, c, ldc, ep); err != nil {
					t.Fatal(err)
				}
				compare(t, "packed "+what, m, n, k, c, ldc, want, pad)
			}
		}
	})
}

// TestPackBRows checks the B packer of each family (assembly where there is
// one) against the element-by-element layout: rows pc.. and columns j0.. of
// B in panels of nr columns, the last one narrow or zero-padded.
func TestPackBRows(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		kern := activeKernel()
		nr := kern.nr
		r := rand.New(rand.NewPCG(11, 12))
		for _, s := range []struct{ pc, kc, j0, cols, ldb int }{
			{0, 1, 0, nr, nr}, {3, 17, 5, 3*nr + 1, 7 * nr}, {1, 40, 2, 2 * nr, 2*nr + 3}, {0, 9, 0, nr - 1, nr}, {2, 5, 1, 4*nr + nr/2, 6 * nr},
		} {
			b := randSlice(r, (s.pc+s.kc)*s.ldb)
			j := &mulJob{kern: kern, b: b, ldb: s.ldb}
			panels := (s.cols + nr - 1) / nr
			dst := randSlice(r, panels*s.kc*nr)
			j.packBRows(dst, s.pc, s.kc, s.j0, s.cols)
			for p := 0; p < panels; p++ {
				w, _ := kern.width(min(nr, s.cols-p*nr))
				for kk := 0; kk < s.kc; kk++ {
					for jj := 0; jj < w; jj++ {
						var want float32
						if col := p*nr + jj; col < s.cols {
							want = b[(s.pc+kk)*s.ldb+s.j0+col]
						}
						if got := dst[p*s.kc*nr+kk*w+jj]; got != want {
							t.Fatalf("%+v: panel %d row %d column %d = %v, want %v", s, p, kk, jj, got, want)
						}
					}
				}
			}
		}
	})
}
