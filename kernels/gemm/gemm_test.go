package gemm

import (
	"github.com/dshrink/dshrink/kernels/isa"

	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// forEachKernel runs f under every kernel family, skipping the ones this CPU
// lacks.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	for _, name := range []string{"avx512", "avx2", "neon", "generic"} {
		t.Run(name, func(t *testing.T) {
			restore, err := SetKernel(name)
			if err != nil {
				t.Skipf("skipping: %v", err)
			}
			defer restore()
			f(t)
		})
	}
}

func withThreads(t testing.TB, n int) {
	old := parallel.Threads()
	parallel.SetThreads(n)
	t.Cleanup(func() { parallel.SetThreads(old) })
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

// refGemm is the float64 reference; it ignores C when beta == 0.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

// compare checks C against want and that the padding between rows of C was
// left untouched (it holds the sentinel pad).
func compare(t *testing.T, what string, m, n, k int, c []float32, ldc int, want []float64, pad float32) {
	t.Helper()
	tol := 1e-5 * float64(k+1)
	for i := 0; i < m; i++ {
		for j := 0; j < ldc && i*ldc+j < len(c); j++ {
			got := c[i*ldc+j]
			if j >= n {
				if got != pad && !(math.IsNaN(float64(got)) && math.IsNaN(float64(pad))) {
					t.Fatalf("%s: padding C[%d,%d] changed to %v", what, i, j, got)
				}
				continue
			}
			w := want[i*n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol*(1+math.Abs(w))) {
				t.Fatalf("%s: C[%d,%d] = %v, want %v (m=%d n=%d k=%d)", what, i, j, got, w, m, n, k)
			}
		}
	}
}

type shape struct{ m, n, k int }

var shapes = []shape{
	{1, 1, 1}, {7, 13, 5}, {17, 33, 65}, {12, 32, 8}, {13, 31, 3}, {6, 16, 7}, {5, 9, 11},
	{25, 17, 1}, {3, 50, 0}, {24, 48, 400}, {130, 257, 300}, {1, 100, 33}, {100, 1, 33},
	{300, 20, 100}, {50, 70, 30}, {700, 40, 20},
}

func TestSgemm(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for _, th := range []int{1, 2} {
			withThreads(t, th)
			r := rand.New(rand.NewPCG(1, 2))
			for _, s := range shapes {
				for tr := 0; tr < 4; tr++ {
					transA, transB := tr&1 != 0, tr&2 != 0
					for _, ab := range [][2]float32{{1, 0}, {0.5, 0}, {1, 1}, {-1.5, 0.25}, {0, 2}} {
						alpha, beta := ab[0], ab[1]
						m, n, k := s.m, s.n, s.k
						ar, ac := m, k
						if transA {
							ar, ac = k, m
						}
						br, bc := k, n
						if transB {
							br, bc = n, k
						}
						lda, ldb, ldc := ac+3, bc+1, n+5
						a := randSlice(r, max(0, (ar-1)*lda+ac))
						b := randSlice(r, max(0, (br-1)*ldb+bc))
						c := randSlice(r, m*ldc)
						pad := c[len(c)-1]
						if beta == 0 {
							pad = float32(math.NaN())
							for i := range c {
								c[i] = pad
							}
						} else {
							for i := 0; i < m; i++ {
								for j := n; j < ldc; j++ {
									c[i*ldc+j] = pad
								}
							}
						}
						want := refGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						what := fmt.Sprintf("threads=%d %dx%dx%d tA=%v tB=%v alpha=%v beta=%v", th, m, n, k, transA, transB, alpha, beta)
						compare(t, what, m, n, k, c, ldc, want, pad)
					}
				}
			}
		}
	})
}

func TestSgemmPacked(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for _, th := range []int{1, 2} {
			withThreads(t, th)
			r := rand.New(rand.NewPCG(3, 4))
			for _, s := range append(shapes, shape{96, 1000, 16}, shape{40, 200, 500}) {
				m, n, k := s.m, s.n, s.k
				for variant := 0; variant < 16; variant++ {
					transA, transB := variant&1 != 0, variant&2 != 0
					acc, useBias := variant&4 != 0, variant&8 != 0
					ar, ac := m, k
					if transA {
						ar, ac = k, m
					}
					br, bc := k, n
					if transB {
						br, bc = n, k
					}
					lda, ldb, ldc, ldr := ac+1, bc+2, n+3, n+1
					a := randSlice(r, max(0, (ar-1)*lda+ac))
					b := randSlice(r, max(0, (br-1)*ldb+bc))
					c := randSlice(r, m*ldc)
					pad := float32(7)
					for i := 0; i < m; i++ {
						for j := n; j < ldc; j++ {
							c[i*ldc+j] = pad
						}
					}
					var beta float32
					if acc {
						beta = 1
					}
					want := refGemm(transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
					ep := &Epilogue{Accumulate: acc}
					if useBias {
						ep.Bias = randSlice(r, m)
					}
					if variant%3 == 0 {
						ep.Residual = randSlice(r, m*ldr)
						ep.LdRes = ldr
					}
					if variant%5 != 4 {
						ep.Clamp, ep.Min, ep.Max = true, -0.5, 0.75
					}
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							v := want[i*n+j]
							if ep.Bias != nil {
								v += float64(ep.Bias[i])
							}
							if ep.Residual != nil {
								v += float64(ep.Residual[i*ldr+j])
							}
							if ep.Clamp {
								v = math.Min(math.Max(v, float64(ep.Min)), float64(ep.Max))
							}
							want[i*n+j] = v
						}
					}
					if !acc {
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								c[i*ldc+j] = float32(math.NaN())
							}
						}
					}
					pa, err := PackA(transA, m, k, a, lda)
					if err != nil {
						t.Fatal(err)
					}
					if err := SgemmPacked(pa, transB, n, b, ldb, c, ldc, ep); err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("packed threads=%d %dx%dx%d variant=%d", th, m, n, k, variant)
					compare(t, what, m, n, k, c, ldc, want, pad)
				}
			}
		}
	})
}

func TestPackedErrors(t *testing.T) {
	if _, err := PackA(false, 2, 3, make([]float32, 5), 3); err == nil {
		t.Error("PackA accepted a short slice")
	}
	if _, err := PackA(false, 2, 3, make([]float32, 6), 2); err == nil {
		t.Error("PackA accepted lda < k")
	}
	if _, err := PackA(false, -1, 3, nil, 3); err == nil {
		t.Error("PackA accepted m < 0")
	}
	pa, err := PackA(false, 2, 3, make([]float32, 6), 3)
	if err != nil {
		t.Fatal(err)
	}
	if pa.Rows() != 2 || pa.Cols() != 3 {
		t.Errorf("Rows, Cols = %d, %d", pa.Rows(), pa.Cols())
	}
	c := make([]float32, 8)
	if err := SgemmPacked(nil, false, 4, make([]float32, 12), 4, c, 4, nil); err == nil {
		t.Error("SgemmPacked accepted nil PackedA")
	}
	if err := SgemmPacked(pa, false, 4, make([]float32, 11), 4, c, 4, nil); err == nil {
		t.Error("SgemmPacked accepted a short B")
	}
	if err := SgemmPacked(pa, false, 4, make([]float32, 12), 4, c[:7], 4, nil); err == nil {
		t.Error("SgemmPacked accepted a short C")
	}
	if err := SgemmPacked(pa, false, 4, make([]float32, 12), 4, c, 4, &Epilogue{Bias: []float32{1}}); err == nil {
		t.Error("SgemmPacked accepted a short bias")
	}
	if err := SgemmPacked(pa, false, 4, make([]float32, 12), 4, c, 4, &Epilogue{Residual: c, LdRes: 3}); err == nil {
		t.Error("SgemmPacked accepted a bad residual stride")
	}
	if _, err := SetKernel("sse9"); err == nil {
		t.Error("SetKernel accepted an unknown kernel")
	}
}

func TestSgemmPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Sgemm with a short A did not panic")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}

func TestAllocs(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for _, th := range []int{1, 2} {
			withThreads(t, th)
			for _, s := range []shape{{7, 13, 5}, {64, 300, 64}, {96, 3136, 24}} {
				r := rand.New(rand.NewPCG(5, 6))
				a, b, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
				bias := randSlice(r, s.m)
				allocs := testing.AllocsPerRun(20, func() {
					Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, b, s.n, 0, c, s.n)
					Sgemm(true, true, s.m, s.n, s.k, 1, a, s.m, b, s.k, 0.5, c, s.n)
				})
				if allocs != 0 {
					t.Errorf("threads=%d %v: Sgemm allocates %v times per call", th, s, allocs)
				}
				pa, _ := PackA(false, s.m, s.k, a, s.k)
				allocs = testing.AllocsPerRun(20, func() {
					ep := Epilogue{Bias: bias, Clamp: true, Max: 6}
					if err := SgemmPacked(pa, false, s.n, b, s.n, c, s.n, &ep); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("threads=%d %v: SgemmPacked allocates %v times per call", th, s, allocs)
				}
			}
		}
	})
}

func TestTileArgsLayout(t *testing.T) {
	var p tileArgs
	offs := []struct {
		name      string
		got, want uintptr
	}{
		{"a", unsafe.Offsetof(p.a), 0}, {"b", unsafe.Offsetof(p.b), 8}, {"c", unsafe.Offsetof(p.c), 16},
		{"k", unsafe.Offsetof(p.k), 24}, {"bstride", unsafe.Offsetof(p.bstride), 32},
		{"ldc", unsafe.Offsetof(p.ldc), 40}, {"flags", unsafe.Offsetof(p.flags), 48},
		{"mask", unsafe.Offsetof(p.mask), 56}, {"maskp", unsafe.Offsetof(p.maskp), 64},
		{"bias", unsafe.Offsetof(p.bias), 72}, {"res", unsafe.Offsetof(p.res), 80},
		{"ldr", unsafe.Offsetof(p.ldr), 88}, {"beta", unsafe.Offsetof(p.beta), 96},
		{"min", unsafe.Offsetof(p.min), 100}, {"max", unsafe.Offsetof(p.max), 104},
		{"lda", unsafe.Offsetof(p.lda), 112},
	}
	for _, o := range offs {
		if o.got != o.want {
			t.Errorf("tileArgs.%s at offset %d, assembly expects %d", o.name, o.got, o.want)
		}
	}
}

func TestKernelNames(t *testing.T) {
	names := Kernels()
	if names[len(names)-1] != "generic" {
		t.Errorf("Kernels() = %v, want generic last", names)
	}
	if l := isa.Active(); (l == isa.AVX2 || l == isa.AVX512) && Kernel() != l.String() {
		t.Errorf("Kernel() = %q, want the isa level's, %q", Kernel(), l)
	}
	best := Kernel()
	restore, err := SetKernel("generic")
	if err != nil {
		t.Fatal(err)
	}
	if Kernel() != "generic" {
		t.Errorf("Kernel() = %q after SetKernel(generic)", Kernel())
	}
	restore()
	if Kernel() != best {
		t.Errorf("Kernel() = %q after restore", Kernel())
	}
}
