package vec

import (
	"math"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa/isatest"
)

// withKernels runs f under every instruction-set level this machine runs.
func withKernels(t *testing.T, f func(t *testing.T)) { isatest.ForEach(t, f) }

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

func TestPlanes(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(3))
		for _, hw := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 23, 33, 49, 196, 511, 512, 513, 520, 1030, 2048, 2100} {
			for _, n := range []int{1, 3} {
				stride := hw + 5
				size := (n-1)*stride + hw
				x, dy := randSlice(r, size), randSlice(r, size)
				sc, sh, mean := float32(0.7), float32(1.5), float32(0.3)
				in := func(yield func(int)) {
					for p := 0; p < n; p++ {
						for j := 0; j < hw; j++ {
							yield(p*stride + j)
						}
					}
				}
				var ws, wss, as float64
				in(func(i int) { d := float64(x[i] - mean); ws += d; wss += d * d; as += math.Abs(d) })
				s, ss := PlaneStats(x, n, hw, stride, mean)
				if math.Abs(s-ws) > 1e-6*(1+as) || !near(ss, wss, 1e-6) {
					t.Fatalf("hw=%d n=%d: stats %v %v, want %v %v", hw, n, s, ss, ws, wss)
				}
				for _, act := range [][2]float32{{0, 6}, {0, float32(math.Inf(1))}, {float32(math.Inf(-1)), float32(math.Inf(1))}} {
					lo, hi := act[0], act[1]
					masked := !math.IsInf(float64(lo), -1)
					y, pre := make([]float32, size+3), make([]float32, size+3)
					for i := range y {
						y[i], pre[i] = -7, -7
					}
					AffineClamp(y, pre, x, n, hw, stride, sc, sh, lo, hi)
					inPlane := make([]bool, size+3)
					in(func(i int) { inPlane[i] = true })
					for i := range y {
						if !inPlane[i] {
							if y[i] != -7 || pre[i] != -7 {
								t.Fatalf("hw=%d n=%d: wrote outside the planes at %d", hw, n, i)
							}
							continue
						}
						v := float64(x[i])*float64(sc) + float64(sh)
						if !near(float64(pre[i]), v, 1e-6) || !near(float64(y[i]), math.Min(math.Max(v, float64(lo)), float64(hi)), 1e-6) {
							t.Fatalf("hw=%d n=%d: affine clamp [%d] = %v %v, want pre %v", hw, n, i, y[i], pre[i], v)
						}
					}
					AffineClamp(y, nil, x, n, hw, stride, sc, sh, lo, hi)
					g := func(i int) float64 {
						v := x[i]*sc + sh
						if masked && !(v > lo && v < hi) {
							return 0
						}
						return float64(dy[i])
					}
					var wg, wgx, ag, agx float64 // ag, agx: sums of magnitudes, for the tolerance
					in(func(i int) {
						wg += g(i)
						wgx += g(i) * float64(x[i]-mean)
						ag += math.Abs(g(i))
						agx += math.Abs(g(i) * float64(x[i]-mean))
					})
					sg, sgx := ClampGradSums(dy, x, n, hw, stride, sc, sh, lo, hi, masked, mean)
					if math.Abs(sg-wg) > 1e-6*(1+ag) || math.Abs(sgx-wgx) > 1e-6*(1+agx) {
						t.Fatalf("hw=%d n=%d lo=%v: grad sums %v %v, want %v %v", hw, n, lo, sg, sgx, wg, wgx)
					}
					a, b, k := float32(1.3), float32(0.2), float32(-0.4)
					dx := make([]float32, size+3)
					for i := range dx {
						dx[i] = -7
					}
					ClampGradAffine(dx, dy, x, n, hw, stride, sc, sh, lo, hi, masked, a, b, k, mean)
					for i := range dx {
						if !inPlane[i] && dx[i] != -7 {
							t.Fatalf("hw=%d n=%d: grad affine wrote outside the planes at %d", hw, n, i)
						}
					}
					in(func(i int) {
						w := float64(a)*g(i) - float64(b) - float64(k)*float64(x[i]-mean)
						if !near(float64(dx[i]), w, 1e-5) {
							t.Fatalf("hw=%d n=%d: grad affine [%d] = %v, want %v", hw, n, i, dx[i], w)
						}
					})
					// in place over dy
					d2 := append([]float32(nil), dy...)
					ClampGradAffine(d2, d2, x, n, hw, stride, sc, sh, lo, hi, masked, a, b, k, mean)
					in(func(i int) {
						if d2[i] != dx[i] {
							t.Fatalf("hw=%d n=%d: in-place grad affine differs at %d", hw, n, i)
						}
					})
				}
			}
		}
	})
}

func TestClampKernels(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(4))
		for _, n := range []int{1, 15, 16, 17, 100} {
			x, dy := randSlice(r, n), randSlice(r, n)
			x[0] = float32(math.NaN())
			d := make([]float32, n)
			relu6(d, x)
			if !math.IsNaN(float64(d[0])) {
				t.Fatalf("relu6(NaN) = %v", d[0])
			}
			relu6Grad(d, dy, x)
			if d[0] != 0 {
				t.Fatalf("relu6'(NaN) passes %v", d[0])
			}
			for i := 1; i < n; i++ {
				if d[i] != dy[i] && x[i] > 0 && x[i] < 6 || d[i] != 0 && !(x[i] > 0 && x[i] < 6) {
					t.Fatalf("relu6 grad [%d] = %v (x %v dy %v)", i, d[i], x[i], dy[i])
				}
			}
		}
	})
}

func TestPlaneAllocs(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		x := make([]float32, 1000)
		if n := testing.AllocsPerRun(10, func() {
			PlaneStats(x, 10, 90, 100, 0)
			AffineClamp(x, x, x, 10, 90, 100, 1, 0, 0, 6)
			ClampGradSums(x, x, 10, 90, 100, 1, 0, 0, 6, true, 0)
			ClampGradAffine(x, x, x, 10, 90, 100, 1, 0, 0, 6, true, 1, 0, 0, 0)
		}); n != 0 {
			t.Errorf("%v allocs", n)
		}
	})
}
