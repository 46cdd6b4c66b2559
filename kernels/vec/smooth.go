package vec

import (
	"math"
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// The smooth activations (sigmoid and SiLU, forward and backward) share one
// computation, lane by lane the same in the Go reference smoothGo and in the
// assembly kernels of every level (smooth_*.s):
//
//	t  = max(-|x|, -104)        (NaN stays NaN)
//	e  = exp(t) = 2^n p(r)       n = round(t log2 e), r = t - n ln2
//	d  = 1/(1+e)
//	sigmoid(x) = d for x >= 0, e*d for x < 0 (= e^x/(1+e^x), no cancellation;
//	             the assembly tests the sign bit or 0 > x: at -0 both give 1/2)
//	1 - sigmoid(x) = e*d for x >= 0, d for x < 0, so sigmoid' = e*d*d
//
// n is rounded by adding 1.5*2^23 (the integer lands in the low mantissa
// bits), r is reduced with ln2 in two parts (Cody-Waite), p is Cephes'
// degree-7 polynomial of expf (about 1 ulp on |r| <= ln2/2), and 2^n is
// built from exponent bits as 2^(n+64) * 2^-64, so that e is right (and
// rounded once) down to the subnormal range: exp(-104) rounds to 0, so
// clamping t there changes nothing and keeps 2^(n+64) a normal float32.
// Where the result is a normal float32 the relative error is below 4e-7.
//
// Special values: sigmoid(+Inf) = 1, sigmoid(-Inf) = 0; SiLU(+Inf) = +Inf,
// SiLU(-Inf) = -0 (the limit; x is clamped to -104 in the product, where
// PyTorch's x*sigmoid(x) gives NaN); both derivatives vanish at -Inf, and
// at +Inf they are 0 (sigmoid) and 1 (SiLU). NaN gives NaN everywhere.

// smoothClamp bounds -|x| in the exp: exp(-104) is below half the smallest
// subnormal float32.
const smoothClamp = -104

// The constants of the computation (see smoothTab).
const (
	smLog2e = 1.44269504088896341
	smMagic = 12582912 // 1.5 * 2^23
	smNegC1 = -0.693359375
	smNegC2 = 2.12194440e-4 // ln2 = C1 + C2 with C2 = -2.12194440e-4
	smP5    = 1.9875691500e-4
	smP4    = 1.3981999507e-3
	smP3    = 8.3334519073e-3
	smP2    = 4.1665795894e-2
	smP1    = 1.6666665459e-1
	smP0    = 5.0000001201e-1
	smScale = 0x1p-64
	smBias  = (127 + 64) << 23 // exponent bits of 2^64
)

// smoothTab is the constant table of the smooth assembly kernels: each value
// repeated over 8 lanes (32 bytes), at the byte offsets the kernels use:
//
//	0 sign bit, 32 smoothClamp, 64 log2 e, 96 magic, 128 -C1, 160 -C2,
//	192..352 the polynomial from P5 down to P0, 384 1, 416 exponent bits
//	of 2^64, 448 2^-64, 480 eight all-ones lanes then 512 eight zero lanes
//	(the AVX2 tail mask of k lanes is the 32 bytes at 512-4k), and for the
//	hard kernels 544 3, 576 -3, 608 6, 640 1/6.
var smoothTab = func() (t [21 * 8]uint32) {
	f := math.Float32bits
	v := [...]uint32{1 << 31, f(smoothClamp), f(smLog2e), f(smMagic), f(smNegC1), f(smNegC2),
		f(smP5), f(smP4), f(smP3), f(smP2), f(smP1), f(smP0), f(1), smBias, f(smScale), ^uint32(0), 0,
		f(3), f(-3), f(6), f(1.0 / 6)}
	for i, c := range v {
		for l := 0; l < 8; l++ {
			t[i*8+l] = c
		}
	}
	return t
}()

// smoothArgs is the argument block of the smooth assembly kernels; its
// layout is fixed (the offsets in the comments are used by smooth_amd64.s,
// smooth_avx2_amd64.s and smooth_neon_arm64.s). Callers fill a zero value
// field by field (see planeArgs).
type smoothArgs struct {
	x, y, dy, tab unsafe.Pointer // 0, 8, 16, 24 (tab: &smoothTab[0])
	n             int            // 32: number of values
}

// smoothOp selects one of the activation kernels of smooth_*.s: the smooth
// (exp-based) ones, and the piecewise-linear hard sigmoid and hard swish,
// whose kernels do the Go loops' operations in the same order (no fused
// multiply-add), so that every level gives the same bits.
type smoothOp int

const (
	smSigmoid smoothOp = iota
	smSiLU
	smSigmoidGrad
	smSiLUGrad
	smHardSigmoid
	smHardSwish
	smHardSigmoidGrad
	smHardSwishGrad
)

// Sigmoid sets dst[i] = 1/(1+exp(-src[i])): within 4e-7 relative where the
// result is a normal float32, 1 at +Inf, 0 at -Inf, NaN for NaN (the
// computation is described at the top of smooth.go).
func Sigmoid(dst, src []float32) { dispatch(opSigmoid, dst, src, nil, 0) }

// SiLU sets dst[i] = x*sigmoid(x) with x = src[i] (PyTorch's SiLU, or
// Swish); SiLU(-Inf) is -0.
func SiLU(dst, src []float32) { dispatch(opSiLU, dst, src, nil, 0) }

// SigmoidBackward sets dx[i] = dy[i] * s*(1-s) with s = sigmoid(x[i]) (x is
// the forward input).
func SigmoidBackward(dx, dy, x []float32) { dispatch(opSigmoidGrad, dx, dy, x, 0) }

// SiLUBackward sets dx[i] = dy[i] * (s + x*s*(1-s)) with s = sigmoid(x) and
// x = x[i] the forward input (1 at +Inf, 0 at -Inf).
func SiLUBackward(dx, dy, x []float32) { dispatch(opSiLUGrad, dx, dy, x, 0) }

// smoothSlice runs op over len(dst) values on the calling goroutine: x is the
// input (forward) or the forward input (backward, dy the output gradient).
func smoothSlice(op smoothOp, dst, x, dy []float32) {
	if len(dst) == 0 {
		return
	}
	x = x[:len(dst)]
	if dy != nil {
		dy = dy[:len(dst)]
	}
	if l := asmLevel(); l != isa.Generic {
		var a smoothArgs
		a.x = unsafe.Pointer(unsafe.SliceData(x))
		a.y = unsafe.Pointer(unsafe.SliceData(dst))
		a.dy = unsafe.Pointer(unsafe.SliceData(dy))
		a.tab = unsafe.Pointer(&smoothTab[0])
		a.n = len(dst)
		callSmooth(l, op, &a)
		return
	}
	smoothGo(op, dst, x, dy)
}

// smoothGo is the portable smooth kernel and the reference of the assembly
// ones: the same operations in the same order.
func smoothGo(op smoothOp, dst, x, dy []float32) {
	x = x[:len(dst)]
	switch op {
	case smSigmoid:
		for i, v := range x {
			_, e, d := smoothCore(v)
			if v < 0 {
				d *= e
			}
			dst[i] = d
		}
	case smSiLU:
		for i, v := range x {
			_, e, d := smoothCore(v)
			if v < 0 {
				d *= e
			}
			dst[i] = max(v, smoothClamp) * d
		}
	case smSigmoidGrad:
		dy = dy[:len(dst)]
		for i, v := range x {
			_, e, d := smoothCore(v)
			ed := e * d
			dst[i] = ed * d * dy[i]
		}
	case smHardSigmoid:
		hardSigmoidGo(dst, x)
	case smHardSwish:
		hardSwishGo(dst, x)
	case smHardSigmoidGrad:
		hardSigmoidGradGo(dst, dy, x)
	case smHardSwishGrad:
		hardSwishGradGo(dst, dy, x)
	case smSiLUGrad:
		dy = dy[:len(dst)]
		for i, v := range x {
			t, e, d := smoothCore(v)
			ed := e * d
			s, om := d, ed // sigmoid(x) and 1 - sigmoid(x)
			if v < 0 {
				s, om = ed, d
			}
			// x clamped to [-104, 104] (-Inf*0 and +Inf*0 are NaN): t with
			// the sign of x.
			xc := math.Float32frombits(math.Float32bits(t) ^ (^math.Float32bits(v) & (1 << 31)))
			g := xc*om + 1
			dst[i] = g * s * dy[i]
		}
	}
}

// smoothCore returns t = max(-|x|, -104), e = exp(t) and d = 1/(1+e).
func smoothCore(x float32) (t, e, d float32) {
	t = max(math.Float32frombits(math.Float32bits(x)|1<<31), smoothClamp)
	z := t*smLog2e + smMagic
	nf := z - smMagic
	r := t + nf*smNegC1
	r += nf * smNegC2
	p := float32(smP5)
	p = p*r + smP4
	p = p*r + smP3
	p = p*r + smP2
	p = p*r + smP1
	p = p*r + smP0
	p = p*r + 1
	p = p*r + 1
	s := math.Float32frombits(math.Float32bits(z)<<23 + smBias)
	e = p * s * smScale
	d = 1 / (1 + e)
	return t, e, d
}
