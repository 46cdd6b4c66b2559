//go:build amd64 && !purego

package conv

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX512 selects the AVX-512 depthwise kernels; tests may clear it to
// exercise the pure-Go path.
var useAVX512 = cpu.X86.HasAVX512F

// dwArgs is the argument block of the assembly depthwise kernels; its layout
// is fixed (offsets in the comments are used by dw_amd64.s).
type dwArgs struct {
	y, x, res, w unsafe.Pointer // 0, 8, 16, 24
	ys, xs, ld   int            // 32, 40, 48: byte strides
	rows, n      int            // 56, 64
	b, lo, hi    float32        // 72, 76, 80
	m2, m3       uint16         // 84, 86: stride-2 tail load masks
	kh, kw       int            // 88, 96
}

//go:noescape
func dw3x3s1AVX512(a *dwArgs)

//go:noescape
func dw3x3s2AVX512(a *dwArgs)

//go:noescape
func dwKxKs1AVX512(a *dwArgs)

// actBounds returns the clamp interval of an activation.
func actBounds(act Activation) (lo, hi float32) {
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	switch act {
	case ActReLU:
		lo = 0
	case ActReLU6:
		lo, hi = 0, 6
	}
	return lo, hi
}

// dwInteriorAsm computes the interior block of output rows [y0, y1) and
// columns [x0, x1) of one depthwise plane with the assembly kernels, bias,
// residual and activation included. It reports false when no assembly kernel
// applies.
func dwInteriorAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, y0, y1, x0, x1 int) bool {
	if !useAVX512 || y1 <= y0 || x1 <= x0 {
		return false
	}
	k3 := p.KH == 3 && p.KW == 3
	if !(p.StrideW == 1 || (k3 && p.StrideW == 2)) {
		return false
	}
	ow := p.OutW()
	n := x1 - x0
	a := dwArgs{
		y:    unsafe.Pointer(&yp[y0*ow+x0]),
		x:    unsafe.Pointer(&xp[(y0*p.StrideH-p.PadT)*p.W+x0*p.StrideW-p.PadL]),
		w:    unsafe.Pointer(&wp[0]),
		ys:   4 * ow,
		xs:   4 * p.StrideH * p.W,
		ld:   4 * p.W,
		rows: y1 - y0,
		n:    n,
		b:    b,
		kh:   p.KH,
		kw:   p.KW,
	}
	a.lo, a.hi = actBounds(act)
	if rp != nil {
		a.res = unsafe.Pointer(&rp[y0*ow+x0])
	}
	switch {
	case k3 && p.StrideW == 1:
		dw3x3s1AVX512(&a)
	case k3:
		t := 2*(n%16) + 1
		a.m2 = uint16(1<<min(t, 16) - 1)
		a.m3 = uint16(1<<max(t-16, 0) - 1)
		dw3x3s2AVX512(&a)
	default:
		dwKxKs1AVX512(&a)
	}
	return true
}
