package vec

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa"
	"github.com/dshrink/dshrink/kernels/parallel"
)

// sigmoid64 returns sigmoid(x) and 1-sigmoid(x) in float64, each without
// cancellation.
func sigmoid64(x float64) (s, om float64) {
	e := math.Exp(-math.Abs(x))
	if x >= 0 {
		return 1 / (1 + e), e / (1 + e)
	}
	return e / (1 + e), 1 / (1 + e)
}

// smoothWant returns op's float64 value at x (dy the output gradient; the
// hard ops too), the
// magnitude of its terms (the value itself but for the SiLU gradient, whose
// terms cancel near x = -1.28) and the error bound of a float32 kernel: 5e-7
// of that magnitude plus a few subnormal ulps scaled by the factors that
// multiply a subnormal sigmoid.
func smoothWant(op smoothOp, x, dy float64) (want, mag, tol float64) {
	s, om := sigmoid64(x)
	const sub = 0x1p-149
	switch op {
	case smSigmoid:
		want = s
	case smSiLU:
		want = x * s
	case smSigmoidGrad:
		want = dy * s * om
	case smSiLUGrad:
		want = dy * s * (1 + x*om)
		mag = math.Abs(dy) * (s + math.Abs(x*s*om))
	case smHardSigmoid:
		want = clamp(x+3, 0, 6) / 6
	case smHardSwish:
		want = x * clamp(x+3, 0, 6) / 6
	case smHardSigmoidGrad:
		if x > -3 && x < 3 {
			want = dy / 6
		}
	case smHardSwishGrad:
		switch {
		case x < -3:
		case x > 3:
			want = dy
		default:
			want = dy * (2*x + 3) / 6
		}
	}
	if op != smSiLUGrad {
		mag = math.Abs(want)
	}
	return want, mag, 5e-7*mag + 4*sub*(1+math.Abs(x))*math.Max(1, math.Abs(dy))
}

var smoothNames = [...]string{smSigmoid: "Sigmoid", smSiLU: "SiLU", smSigmoidGrad: "SigmoidBackward", smSiLUGrad: "SiLUBackward",
	smHardSigmoid: "HardSigmoid", smHardSwish: "HardSwish", smHardSigmoidGrad: "HardSigmoidBackward", smHardSwishGrad: "HardSwishBackward"}

// smoothForward reports whether op is a forward kernel (no dy).
func smoothForward(op smoothOp) bool {
	return op == smSigmoid || op == smSiLU || op == smHardSigmoid || op == smHardSwish
}

// smoothCall runs op through the exported function.
func smoothCall(op smoothOp, dst, x, dy []float32) {
	switch op {
	case smSigmoid:
		Sigmoid(dst, x)
	case smSiLU:
		SiLU(dst, x)
	case smSigmoidGrad:
		SigmoidBackward(dst, dy, x)
	case smSiLUGrad:
		SiLUBackward(dst, dy, x)
	case smHardSigmoid:
		HardSigmoid(dst, x)
	case smHardSwish:
		HardSwish(dst, x)
	case smHardSigmoidGrad:
		HardSigmoidBackward(dst, dy, x)
	case smHardSwishGrad:
		HardSwishBackward(dst, dy, x)
	}
}

// smoothInputs returns x over [-110, 110] every 1/128, values of every
// magnitude, and the special values (dy random).
func smoothInputs(r *rand.Rand) (x, dy []float32) {
	for v := -110.0; v <= 110; v += 1.0 / 128 {
		x = append(x, float32(v))
	}
	for range 4000 {
		m := math.Exp(r.Float64()*240 - 120) // 1e-52 .. 1e52
		if r.Intn(2) == 0 {
			m = -m
		}
		x = append(x, float32(m))
	}
	for _, v := range []float64{1e-30, 0x1p-149, 0x1p-126, 1, 1.2784645, 15, 16.6, 17, 87.3, 88.72, 89, 103.27, 103.9} {
		x = append(x, float32(v), -float32(v))
	}
	x = append(x, smoothExact()...)
	dy = make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(r.NormFloat64())
	}
	return x, dy
}

// smoothExact returns the values on which every level must give the Go
// reference's result exactly: zeros, NaN, infinities and values where exp
// underflows to 0.
func smoothExact() []float32 {
	inf := math.Inf(1)
	var x []float32
	for _, v := range []float64{0, 104, 104.1, 200, 1e10, math.MaxFloat32, inf} {
		x = append(x, float32(v), -float32(v))
	}
	nan := float32(math.NaN())
	return append(x, nan, -nan)
}

// TestSmoothMatchesFloat64 checks sigmoid, SiLU and their gradients under
// every level against float64 over [-110, 110], values of every magnitude
// and special values; on zeros, infinities, NaN and values beyond +-104
// every level must equal the Go reference exactly (NaN for NaN, the sign of
// zeros included).
func TestSmoothMatchesFloat64(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(16))
		x, dy := smoothInputs(r)
		got, ref := make([]float32, len(x)), make([]float32, len(x))
		for op := smSigmoid; op <= smSiLUGrad; op++ {
			smoothCall(op, got, x, dy)
			smoothGo(op, ref, x, dy)
			worst := 0.0
			for i, g := range got {
				v := float64(x[i])
				if math.IsNaN(v) {
					if !math.IsNaN(float64(g)) {
						t.Errorf("%s(NaN) = %v, want NaN", smoothNames[op], g)
					}
					continue
				}
				want, mag, tol := smoothWant(op, v, float64(dy[i]))
				if math.IsInf(v, 0) {
					want, mag, tol = smoothInfWant(op, v > 0, float64(dy[i])), 0, 0
				}
				if d := math.Abs(float64(g) - want); float64(g) != want && !(d <= tol) {
					t.Errorf("%s(%v) = %v, want %v (error %.3g, bound %.3g)", smoothNames[op], x[i], g, want, d, tol)
				} else if mag >= 0x1p-126 && math.Abs(v) < 87 {
					worst = max(worst, d/mag)
				}
			}
			for i := len(x) - len(smoothExact()); i < len(x); i++ {
				a, b := got[i], ref[i]
				if !(a == b && math.Signbit(float64(a)) == math.Signbit(float64(b))) && !(a != a && b != b) {
					t.Errorf("%s(%v) = %v, Go reference %v", smoothNames[op], x[i], a, b)
				}
			}
			t.Logf("%s: error up to %.3g of the terms' magnitude where sigmoid and the result are normal", smoothNames[op], worst)
		}
	})
}

// smoothInfWant is op's value at +Inf (pos) or -Inf.
func smoothInfWant(op smoothOp, pos bool, dy float64) float64 {
	switch {
	case op == smSigmoid && pos:
		return 1
	case op == smSiLU && pos:
		return math.Inf(1)
	case op == smSiLUGrad && pos:
		return dy
	}
	return 0
}

// TestHardActs checks the hard sigmoid and hard swish kernels and their
// gradients of every level against float64 and, bit for bit, against the
// Go loops, over [-8, 8] every 1/256, the kinks and the special values.
func TestHardActs(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(19))
		var x []float32
		for v := -8.0; v <= 8; v += 1.0 / 256 {
			x = append(x, float32(v))
		}
		for _, v := range []float32{3, 6, 1e-30, 0x1p-149, 1e30, math.MaxFloat32} {
			x = append(x, v, -v, math.Nextafter32(v, 0), -math.Nextafter32(v, 0), math.Nextafter32(v, 100), -math.Nextafter32(v, 100))
		}
		inf, nan := float32(math.Inf(1)), float32(math.NaN())
		x = append(x, 0, -0.0, inf, -inf, nan, -nan)
		dy := make([]float32, len(x))
		for i := range dy {
			dy[i] = float32(r.NormFloat64())
		}
		got, ref := make([]float32, len(x)), make([]float32, len(x))
		for op := smHardSigmoid; op <= smHardSwishGrad; op++ {
			smoothCall(op, got, x, dy)
			smoothGo(op, ref, x, dy)
			for i, g := range got {
				if math.Float32bits(g) != math.Float32bits(ref[i]) && !(g != g && ref[i] != ref[i]) {
					t.Fatalf("%s(%v) = %v, Go loop %v", smoothNames[op], x[i], g, ref[i])
				}
				v := float64(x[i])
				if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e30 {
					continue
				}
				if want, _, tol := smoothWant(op, v, float64(dy[i])); !(math.Abs(float64(g)-want) <= tol) {
					t.Fatalf("%s(%v) = %v, want %v", smoothNames[op], x[i], g, want)
				}
			}
		}
	})
}

// TestSmoothTails runs every length up to two vectors of the widest level
// and one more, at every start alignment, with guards after the end, in
// place and not; and long inputs split across threads.
func TestSmoothTails(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(17))
		const guard = -7
		for n := 0; n <= 2*16+1; n++ {
			for off := 0; off < 4; off++ {
				x, dy := randSlice(r, off+n+8), randSlice(r, off+n+8)
				x, dy = x[off:off+n], dy[off:off+n]
				for op := smSigmoid; op <= smHardSwishGrad; op++ {
					dst := make([]float32, off+n+8)
					for i := range dst {
						dst[i] = guard
					}
					smoothCall(op, dst[off:off+n], x, dy)
					for i, g := range dst {
						if i < off || i >= off+n {
							if g != guard {
								t.Fatalf("%s n=%d off=%d: wrote %v at %d, outside the slice", smoothNames[op], n, off, g, i-off)
							}
							continue
						}
						want, _, tol := smoothWant(op, float64(x[i-off]), float64(dy[i-off]))
						if !(math.Abs(float64(g)-want) <= tol) {
							t.Fatalf("%s n=%d off=%d [%d] = %v, want %v", smoothNames[op], n, off, i-off, g, want)
						}
					}
					// In place: dst aliasing x (forward) or dy (backward).
					in := append([]float32(nil), x...)
					src := append([]float32(nil), dy...)
					if smoothForward(op) {
						smoothCall(op, in, in, nil)
					} else {
						smoothCall(op, src, x, src)
						in = src
					}
					for i, g := range in {
						if g != dst[off+i] {
							t.Fatalf("%s n=%d in place [%d] = %v, want %v", smoothNames[op], n, i, g, dst[off+i])
						}
					}
				}
			}
		}
	})
}

// TestSmoothParallel checks a long input split across threads against the
// one-thread result.
func TestSmoothParallel(t *testing.T) {
	defer parallel.SetThreads(parallel.Threads())
	r := rand.New(rand.NewSource(18))
	n := 3*parGrain + 5
	x, dy := randSlice(r, n), randSlice(r, n)
	for op := smSigmoid; op <= smHardSwishGrad; op++ {
		parallel.SetThreads(1)
		one := make([]float32, n)
		smoothCall(op, one, x, dy)
		parallel.SetThreads(2)
		two := make([]float32, n)
		smoothCall(op, two, x, dy)
		for i := range one {
			if one[i] != two[i] {
				t.Fatalf("%s: [%d] = %v with 2 threads, %v with 1", smoothNames[op], i, two[i], one[i])
			}
		}
	}
}

// BenchmarkSmooth times the activation kernels on 64 Ki values (an
// EfficientNet-B0 activation at 64x64 of batch 8 is ~0.3-1 M values) under
// every level (generic is the portable Go loop; for sigmoid and SiLU about
// as fast as nn's former expf loop), one thread.
func BenchmarkSmooth(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	const n = 1 << 16
	x, dy, y := randSlice(r, n), randSlice(r, n), make([]float32, n)
	for op := smSigmoid; op <= smHardSwishGrad; op++ {
		b.Run(smoothNames[op], func(b *testing.B) {
			for _, l := range isa.Available() {
				restore, err := isa.Force(l)
				if err != nil {
					b.Fatal(err)
				}
				b.Run(fmt.Sprint(l), func(b *testing.B) {
					for b.Loop() {
						smoothCall(op, y, x, dy)
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
				})
				restore()
			}
		})
	}
}
