package vec

import (
	"math"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/parallel"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * 5)
	}
	return s
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

func check(t *testing.T, what string, got []float32, want func(i int) float64) {
	t.Helper()
	for i, g := range got {
		w := want(i)
		if math.Abs(float64(g)-w) > 1e-5*(1+math.Abs(w)) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, g, w)
		}
	}
}

func TestElementwise(t *testing.T) {
	defer parallel.SetThreads(parallel.Threads())
	r := rand.New(rand.NewSource(1))
	for _, th := range []int{1, 2} {
		parallel.SetThreads(th)
		for _, n := range []int{0, 1, 7, 1001, 3*parGrain + 5} {
			x, y, dy := randSlice(r, n), randSlice(r, n), randSlice(r, n)
			x = append(x, -3, 3, 0, 6)[:n] // exercise edges when long enough
			d := make([]float32, n)
			f := func(i int) float64 { return float64(x[i]) }
			ReLU(d, x)
			check(t, "relu", d, func(i int) float64 { return math.Max(f(i), 0) })
			ReLU6(d, x)
			check(t, "relu6", d, func(i int) float64 { return clamp(f(i), 0, 6) })
			HardSigmoid(d, x)
			check(t, "hsig", d, func(i int) float64 { return clamp(f(i)+3, 0, 6) / 6 })
			HardSwish(d, x)
			check(t, "hswish", d, func(i int) float64 { return f(i) * clamp(f(i)+3, 0, 6) / 6 })
			g := func(i int) float64 { return float64(dy[i]) }
			ReLUBackward(d, dy, x)
			check(t, "drelu", d, func(i int) float64 {
				if f(i) > 0 {
					return g(i)
				}
				return 0
			})
			ReLU6Backward(d, dy, x)
			check(t, "drelu6", d, func(i int) float64 {
				if f(i) > 0 && f(i) < 6 {
					return g(i)
				}
				return 0
			})
			HardSigmoidBackward(d, dy, x)
			check(t, "dhsig", d, func(i int) float64 {
				if f(i) > -3 && f(i) < 3 {
					return g(i) / 6
				}
				return 0
			})
			HardSwishBackward(d, dy, x)
			check(t, "dhswish", d, func(i int) float64 {
				switch v := f(i); {
				case v < -3:
					return 0
				case v > 3:
					return g(i)
				default:
					return g(i) * (2*v + 3) / 6
				}
			})
			Add(d, x, y)
			check(t, "add", d, func(i int) float64 { return f(i) + float64(y[i]) })
			Scale(d, 0.5, x)
			check(t, "scale", d, func(i int) float64 { return 0.5 * f(i) })
			copy(d, y)
			Axpy(-2, x, d)
			check(t, "axpy", d, func(i int) float64 { return float64(y[i]) - 2*f(i) })
			var s, dot float64
			for i := range x {
				s += f(i)
				dot += f(i) * float64(y[i])
			}
			if got := Sum(x); math.Abs(float64(got)-s) > 1e-4*(1+math.Abs(s)) {
				t.Errorf("Sum(n=%d) = %v, want %v", n, got, s)
			}
			if got := Dot(x, y); math.Abs(float64(got)-dot) > 1e-4*(1+math.Abs(dot)) {
				t.Errorf("Dot(n=%d) = %v, want %v", n, got, dot)
			}
		}
	}
}

func TestChannel(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	n, c, hw := 3, 5, 7
	x := randSlice(r, n*c*hw)
	sc, sh := randSlice(r, c), randSlice(r, c)
	d := make([]float32, len(x))
	ScaleShift(d, x, sc, sh, n, c, hw)
	check(t, "scaleshift", d, func(i int) float64 {
		ch := i / hw % c
		return float64(x[i])*float64(sc[ch]) + float64(sh[ch])
	})
	ScaleShift(d, x, sc, nil, n, c, hw)
	check(t, "scale", d, func(i int) float64 { return float64(x[i]) * float64(sc[i/hw%c]) })
	copy(d, x)
	AddBias(d, sh, n, c, hw)
	check(t, "bias", d, func(i int) float64 { return float64(x[i]) + float64(sh[i/hw%c]) })
	out := make([]float32, c)
	ChannelSum(out, x, n, c, hw)
	check(t, "chansum", out, func(ch int) float64 {
		var s float64
		for i := range x {
			if i/hw%c == ch {
				s += float64(x[i])
			}
		}
		return s
	})
}

func TestAllocs(t *testing.T) {
	defer parallel.SetThreads(parallel.Threads())
	parallel.SetThreads(2)
	x, d := make([]float32, 3*parGrain), make([]float32, 3*parGrain)
	if n := testing.AllocsPerRun(10, func() { ReLU6(d, x); Axpy(2, x, d); HardSwishBackward(d, x, x) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
