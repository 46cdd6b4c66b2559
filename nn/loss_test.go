package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The losses compute in float64 from float32 logits, so their finite
// differences use h = 1e-3 on the logits (exactly representable steps are
// not needed: the quotient divides by the float32 difference actually
// applied) with atol 1e-6, rtol 1e-3.

func randLogits(n, k int, seed uint64) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	z := make([]float32, n*k)
	for i := range z {
		z[i] = float32(rng.NormFloat64() * 2)
	}
	l := make([]int32, n)
	for i := range l {
		l[i] = int32(rng.IntN(k))
	}
	return z, l
}

func lossFD(t *testing.T, what string, z []float32, an []float32, f func() float64) {
	t.Helper()
	for i := range z {
		old := z[i]
		z[i] = old + 1e-3
		lp := f()
		z[i] = old - 1e-3
		lm := f()
		z[i] = old
		fd := (lp - lm) / (float64(old+1e-3) - float64(old-1e-3))
		if !near(fd, float64(an[i]), 1e-6, 1e-3) {
			t.Errorf("%s: dlogits[%d] = %g, finite difference %g", what, i, an[i], fd)
		}
	}
}

func TestCrossEntropy(t *testing.T) {
	const n, k = 4, 5
	z, labels := randLogits(n, k, 1)
	for _, eps := range []float32{0, 0.1} {
		d := make([]float32, n*k)
		loss, correct, err := CrossEntropy(z, labels, n, k, eps, d)
		if err != nil {
			t.Fatal(err)
		}
		// direct float64 formula
		var want float64
		wantCorrect := 0
		for i := 0; i < n; i++ {
			row := z[i*k : (i+1)*k]
			var s float64
			best := 0
			for j, v := range row {
				s += math.Exp(float64(v))
				if v > row[best] {
					best = j
				}
			}
			if best == int(labels[i]) {
				wantCorrect++
			}
			for j, v := range row {
				tgt := float64(eps) / k
				if j == int(labels[i]) {
					tgt += 1 - float64(eps)
				}
				want -= tgt * (float64(v) - math.Log(s))
			}
		}
		want /= n
		if math.Abs(loss-want) > 1e-9 || correct != wantCorrect {
			t.Errorf("eps %g: loss %g correct %d, want %g %d", eps, loss, correct, want, wantCorrect)
		}
		lossFD(t, "cross-entropy", z, d, func() float64 {
			l, _, _ := CrossEntropy(z, labels, n, k, eps, nil)
			return l
		})
	}
	if _, _, err := CrossEntropy(z, []int32{0, 1, 5, 0}, n, k, 0, nil); err == nil {
		t.Error("label out of range accepted")
	}
	if _, _, err := CrossEntropy(z[:3], labels, n, k, 0, nil); err == nil {
		t.Error("short logits accepted")
	}
}

func TestDistill(t *testing.T) {
	const n, k = 3, 6
	s, labels := randLogits(n, k, 2)
	tz, _ := randLogits(n, k, 3)
	for _, o := range []DistillOptions{DefaultDistill(), {Weight: 0.5, Temperature: 2, Smoothing: 0.1}, {Weight: 1, Temperature: 4}} {
		d := make([]float32, n*k)
		loss, _, err := Distill(s, tz, labels, n, k, o, d)
		if err != nil {
			t.Fatal(err)
		}
		// direct formula
		T := float64(o.Temperature)
		var soft float64
		for i := 0; i < n; i++ {
			var ss, st float64
			for j := 0; j < k; j++ {
				ss += math.Exp(float64(s[i*k+j]) / T)
				st += math.Exp(float64(tz[i*k+j]) / T)
			}
			for j := 0; j < k; j++ {
				q := math.Exp(float64(tz[i*k+j])/T) / st
				soft -= q * (float64(s[i*k+j])/T - math.Log(ss))
			}
		}
		hard, _, _ := CrossEntropy(s, labels, n, k, o.Smoothing, nil)
		w := float64(o.Weight)
		want := w*T*T*soft/n + (1-w)*hard
		if math.Abs(loss-want) > 1e-9 {
			t.Errorf("%+v: loss %g, want %g", o, loss, want)
		}
		lossFD(t, "distill", s, d, func() float64 {
			l, _, _ := Distill(s, tz, labels, n, k, o, nil)
			return l
		})
	}
	if _, _, err := Distill(s, tz, labels, n, k, DistillOptions{Weight: 0.5}, nil); err == nil {
		t.Error("temperature 0 accepted")
	}
}

func TestLossAllocs(t *testing.T) {
	s, labels := randLogits(8, 10, 4)
	tz, _ := randLogits(8, 10, 5)
	d := make([]float32, 80)
	if a := testing.AllocsPerRun(10, func() {
		CrossEntropy(s, labels, 8, 10, 0.1, d)
		Distill(s, tz, labels, 8, 10, DefaultDistill(), d)
	}); a != 0 {
		t.Errorf("%g allocations per loss", a)
	}
}
