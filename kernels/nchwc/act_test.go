package nchwc

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa/isatest"
)

// TestActMatchesFloat64 checks the activation kernels of every family
// against float64 definitions, over normal inputs, the tails and the
// clamps, in place and not, for 1 to 5 blocks.
func TestActMatchesFloat64(t *testing.T) {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	hsig := func(x float64) float64 { return min(max(x+3, 0), 6) / 6 }
	want := map[int]func(float64) float64{
		ActSigmoid:     sig,
		ActSiLU:        func(x float64) float64 { return x * sig(x) },
		ActHardSigmoid: hsig,
		ActHardSwish:   func(x float64) float64 { return x * hsig(x) },
	}
	names := map[int]string{ActSigmoid: "sigmoid", ActSiLU: "silu", ActHardSigmoid: "hardsigmoid", ActHardSwish: "hardswish"}
	isatest.ForEach(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		special := []float32{0, -0.5, 0.5, 3, -3, 2.9999, 10, -10, 30, -30, 80, -80, 87, -87, 88, -88, 100, -100, 1e-8, -1e-8}
		for kind := ActSigmoid; kind <= ActHardSwish; kind++ {
			for n := 1; n <= 5; n++ {
				for _, inPlace := range []bool{false, true} {
					src := make([]float32, n*Block)
					for i := range src {
						src[i] = float32(rng.NormFloat64() * 6)
						if i < len(special) {
							src[i] = special[i]
						}
					}
					orig := append([]float32(nil), src...)
					dst := make([]float32, len(src))
					if inPlace {
						dst = src
					}
					Act(kind, unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), n)
					for i, x := range orig {
						w := want[kind](float64(x))
						tol := 1e-6*math.Abs(w) + 1e-34 // below exp(-88): clamped
						if kind >= ActHardSigmoid {
							tol += 1e-7 * (1 + math.Abs(float64(x))) // x/6 + 1/2 rounds near 0
						}
						if d := math.Abs(float64(dst[i]) - w); d > tol {
							t.Fatalf("%s(%v) = %v, want %v (rel %.2g), n %d in place %v", names[kind], x, dst[i], w, d/math.Abs(w), n, inPlace)
						}
					}
				}
			}
		}
	})
}

// TestExpNeg checks the scalar exp(-x) against math.Exp over its range.
func TestExpNeg(t *testing.T) {
	worst := 0.0
	for x := -88.0; x <= 87.3; x += 0.0137 {
		got, want := float64(ExpNeg(float32(x))), math.Exp(-float64(float32(x)))
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 1e-6 {
		t.Errorf("ExpNeg: max relative error %.3g, want <= 1e-6", worst)
	}
}
