package vec

import (
	"math"
	"math/rand"
	"testing"
)

// TestPlaneKernelsEdges compares the plane kernels of every level with the
// Go references on inputs with NaN and infinite values, an unmasked
// gradient with finite clamp bounds, and a nil pre over guarded planes.
func TestPlaneKernelsEdges(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(15))
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		same := func(a, b float32) bool {
			return a == b || (a != a && b != b) || math.Abs(float64(a-b)) <= 1e-5*(1+math.Abs(float64(b)))
		}
		for _, hw := range []int{1, 3, 4, 7, 8, 9, 16, 17, 31, 33} {
			const n = 3
			stride := hw + 2
			size := (n-1)*stride + hw
			x, dy := randSlice(r, size+2), randSlice(r, size+2)
			for i := range x {
				x[i] *= 4
			}
			x[0], x[size-1] = nan, inf
			if hw > 2 {
				x[stride+1] = -inf
			}
			inPlane := func(i int) bool { return i < size && i%stride < hw }
			for _, masked := range []bool{false, true} {
				sc, sh, lo, hi := float32(0.9), float32(0.5), float32(0), float32(6)
				a, b, k, mean := float32(1.1), float32(0.3), float32(0.2), float32(0.1)
				y, want := make([]float32, size+2), make([]float32, size+2)
				for i := range y {
					y[i], want[i] = -7, -7
				}
				AffineClamp(y, nil, x, n, hw, stride, sc, sh, lo, hi)
				for i := range want {
					if inPlane(i) {
						want[i] = clampNaN(x[i]*sc+sh, lo, hi)
					}
				}
				for i := range y {
					if !same(y[i], want[i]) {
						t.Fatalf("hw=%d: AffineClamp [%d] = %v, want %v", hw, i, y[i], want[i])
					}
				}
				dx := make([]float32, size+2)
				for i := range dx {
					dx[i], want[i] = -7, -7
				}
				ClampGradAffine(dx, dy, x, n, hw, stride, sc, sh, lo, hi, masked, a, b, k, mean)
				for p := 0; p < n; p++ {
					o := p * stride
					gradAffineGo(want[o:o+hw], dy[o:o+hw], x[o:o+hw], sc, sh, lo, hi, masked, a, b, k, mean)
				}
				for i := range dx {
					if !same(dx[i], want[i]) {
						t.Fatalf("hw=%d masked=%v: ClampGradAffine [%d] = %v, want %v (x %v)", hw, masked, i, dx[i], want[i], x[i])
					}
				}
				// Sums over finite inputs only (x-mean of an infinite x
				// makes them infinite or NaN at every level).
				xf := append([]float32(nil), x...)
				xf[0], xf[size-1] = 1, 2
				if hw > 2 {
					xf[stride+1] = 3
				}
				sg, sgx := ClampGradSums(dy, xf, n, hw, stride, sc, sh, lo, hi, masked, mean)
				var wg, wgx float64
				for p := 0; p < n; p++ {
					o := p * stride
					g, gx := gradSumsGo(dy[o:o+hw], xf[o:o+hw], sc, sh, lo, hi, masked, mean)
					wg += g
					wgx += gx
				}
				if !near(sg, wg, 1e-5) || !near(sgx, wgx, 1e-5) {
					t.Fatalf("hw=%d masked=%v: ClampGradSums %v %v, want %v %v", hw, masked, sg, sgx, wg, wgx)
				}
			}
			d, w := make([]float32, hw+1), make([]float32, hw+1)
			d[hw], w[hw] = -7, -7
			clampGradSlice(d[:hw], dy[:hw], x[:hw], 0, 6)
			clampGradGo(w[:hw], dy[:hw], x[:hw], 0, 6)
			for i := range d {
				if d[i] != w[i] {
					t.Fatalf("hw=%d: clampGradSlice [%d] = %v, want %v", hw, i, d[i], w[i])
				}
			}
		}
	})
}
