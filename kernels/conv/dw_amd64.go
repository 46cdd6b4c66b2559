//go:build amd64 && !purego

package conv

import (
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

// dwPlaneAsm computes one whole depthwise output plane with the assembly
// kernels, bias, residual and activation included. A padded input is first
// copied into *scratch (grown as needed) with its zero border, so that the
// kernels never test bounds. It reports false when no assembly kernel applies.
func dwPlaneAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, scratch *[]float32) bool {
	if !useAVX512 {
		return false
	}
	k3 := p.KH == 3 && p.KW == 3
	if !(p.StrideW == 1 || (k3 && p.StrideW == 2)) {
		return false
	}
	src, ld := xp, p.W
	if p.PadT|p.PadL|p.PadB|p.PadR != 0 {
		pw, ph := p.W+p.PadL+p.PadR, p.H+p.PadT+p.PadB
		if cap(*scratch) < pw*ph {
			*scratch = make([]float32, pw*ph)
		}
		buf := (*scratch)[:pw*ph]
		clear(buf[:p.PadT*pw])
		clear(buf[(p.PadT+p.H)*pw:])
		for h := 0; h < p.H; h++ {
			row := buf[(p.PadT+h)*pw : (p.PadT+h+1)*pw]
			for j := range row[:p.PadL] {
				row[j] = 0
			}
			copy(row[p.PadL:], xp[h*p.W:(h+1)*p.W])
			for j := p.PadL + p.W; j < len(row); j++ {
				row[j] = 0
			}
		}
		src, ld = buf, pw
	}
	oh, ow := p.OutH(), p.OutW()
	a := dwArgs{
		y:    unsafe.Pointer(&yp[0]),
		x:    unsafe.Pointer(&src[0]),
		w:    unsafe.Pointer(&wp[0]),
		ys:   4 * ow,
		xs:   4 * p.StrideH * ld,
		ld:   4 * ld,
		rows: oh,
		n:    ow,
		b:    b,
		kh:   p.KH,
		kw:   p.KW,
	}
	a.lo, a.hi = actBounds(act)
	if rp != nil {
		a.res = unsafe.Pointer(&rp[0])
	}
	switch {
	case k3 && p.StrideW == 1:
		dw3x3s1AVX512(&a)
	case k3:
		t := 2*(ow%16) + 1
		a.m2 = uint16(1<<min(t, 16) - 1)
		a.m3 = uint16(1<<max(t-16, 0) - 1)
		dw3x3s2AVX512(&a)
	default:
		dwKxKs1AVX512(&a)
	}
	return true
}
