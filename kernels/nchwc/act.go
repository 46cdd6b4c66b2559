package nchwc

import (
	"math"
	"unsafe"
)

// Activation kinds of Act.
const (
	ActSigmoid     = iota // 1/(1+exp(-x))
	ActSiLU               // x*sigmoid(x)
	ActHardSigmoid        // min(max(x/6 + 1/2, 0), 1)
	ActHardSwish          // x*hardsigmoid(x)
)

// actConsts is the constant table of the activation kernels, each value
// repeated over one block (gen_kernels.go's ac* indices): the clamp of x,
// -log2(e), -1, -ln2 in two parts (Cody-Waite), the float32 exponent bias
// (as integer bits), the Taylor coefficients of exp from 1/6! down to 1,
// 1, 0, 1/6 and 1/2.
var actConsts = func() []float32 {
	v := []float32{87.3, -88, -1.44269504088896341, -1, -0.693359375, 2.12194440e-4,
		math.Float32frombits(127), 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1, 1, 0}
	t := make([]float32, len(v)*Block)
	for i, c := range v {
		for l := 0; l < Block; l++ {
			t[i*Block+l] = c
		}
	}
	return t
}()

// Act applies activation kind (Act*) to n blocks from src to dst (which
// may be src): vector kernels of the active family, with exp computed as
// 2^n times a degree-6 polynomial (relative error about 2e-7).
func Act(kind int, dst, src unsafe.Pointer, n int) {
	if n <= 0 {
		return
	}
	var a Args
	a.In, a.Out, a.W, a.KW = src, dst, unsafe.Pointer(&actConsts[0]), n
	if f := active(); f != generic && f.hasPoolAct {
		callAct(f, kind, &a)
		return
	}
	actGo(kind, &a)
}

// actGo is the portable activation kernel, the same computation lane by
// lane.
func actGo(kind int, a *Args) {
	src := unsafe.Slice((*float32)(a.In), a.KW*Block)
	dst := unsafe.Slice((*float32)(a.Out), a.KW*Block)
	for i, x := range src {
		var r float32
		if kind >= ActHardSigmoid {
			r = min(max(x*(1.0/6)+0.5, 0), 1)
		} else {
			r = 1 / (1 + ExpNeg(x))
		}
		if kind%2 == 1 {
			r *= x
		}
		dst[i] = r
	}
}

// ExpNeg is exp(-x) computed as the activation kernels compute it, for x
// in [-88, 87.3] (x is clamped to it): n = round(-x log2 e), r = -x - n ln2
// (ln2 in two parts), exp(-x) = 2^n p(r) with p the degree-6 Taylor
// polynomial of exp (|r| <= ln2/2: relative error about 2e-7).
func ExpNeg(x float32) float32 {
	x = min(max(x, -88), 87.3)
	z := x * -1.44269504088896341
	n := int32(math.RoundToEven(float64(z)))
	nf := float32(n)
	r := -x
	r += nf * -0.693359375
	r += nf * 2.12194440e-4
	p := r*(1.0/720) + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	return p * math.Float32frombits(uint32(n+127)<<23)
}
