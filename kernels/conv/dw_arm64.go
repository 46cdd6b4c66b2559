//go:build arm64 && !purego

package conv

import (
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// asmLevel returns isa.NEON when the NEON depthwise kernels are to be used
// now, or isa.Generic for the pure-Go loops.
func asmLevel() isa.Level {
	if isa.Active() == isa.NEON {
		return isa.NEON
	}
	return isa.Generic
}

// tapsArgs is the argument block of dwTapsNEON; its layout is fixed (offsets
// in the comments are used by dw_neon_arm64.s). Filled field by field, as
// on amd64.
type tapsArgs struct {
	y, x, res unsafe.Pointer // 0, 8, 16: first output, input and residual rows
	offs      unsafe.Pointer // 24: nt byte offsets of the taps from an input row
	w         unsafe.Pointer // 32: nt weights
	nt        int            // 40 (>= 1)
	ys, xs    int            // 48, 56: byte strides of output (and residual) and input rows
	rows, n   int            // 64, 72: rows, outputs per row
	b, lo, hi float32        // 80, 84, 88: bias, clamp bounds
	_         float32        // 92
	ld        int            // 96: byte stride of input rows (dw3x3NEON, dw5x5NEON)
	c1, c2    int            // 104, 112: byte offsets of taps 1 and 2 of a row (dw3x3NEON)
}

// dwTapsNEON sets, for each of rows rows and j < n,
// y[j] = min(max(b + res[j] + sum_t w[t]*x[offs[t]/4+j], lo), hi).
//
//go:noescape
func dwTapsNEON(a *tapsArgs)

// dw3x3NEON and dw5x5NEON are dwTapsNEON for 3x3 and 5x5 kernels with the
// weights held in registers; they read a.ld, a.c1 and a.c2 instead of
// a.offs.
//
//go:noescape
func dw3x3NEON(a *tapsArgs)

//go:noescape
func dw5x5NEON(a *tapsArgs)

// useDWK selects the dedicated 3x3 and 5x5 kernels (tests clear it to run
// the tap kernel on those shapes too).
var useDWK = true

// dwPlaneAsm computes one whole depthwise output plane with the NEON
// kernels, bias, residual and activation included: KxK kernels at stride 1
// read the zero-padded input plane (copied into *scratch when padded), 3x3
// kernels at horizontal stride 2 read the planes of its even and odd
// columns, where every tap is again a stride-1 row. It reports false when
// the NEON kernel does not apply.
func dwPlaneAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, scratch *[]float32) bool {
	if asmLevel() == isa.Generic || p.KH*p.KW > dwFlatMaxTaps {
		return false
	}
	k3 := p.KH == 3 && p.KW == 3
	if !(p.StrideW == 1 || (k3 && p.StrideW == 2)) {
		return false
	}
	pw, ph := p.W+p.PadL+p.PadR, p.H+p.PadT+p.PadB
	var offs [dwFlatMaxTaps]int
	src, ld := xp, p.W
	c1, c2 := 4, 8
	if p.StrideW == 1 {
		if p.PadT|p.PadL|p.PadB|p.PadR != 0 {
			buf := scratchOf(scratch, pw*ph)
			clear(buf)
			copyRows(buf[p.PadT*pw+p.PadL:], pw, xp, p.W, p.W, p.H)
			src, ld = buf, pw
		}
		for kh := 0; kh < p.KH; kh++ {
			for kw := 0; kw < p.KW; kw++ {
				offs[kh*p.KW+kw] = 4 * (kh*ld + kw)
			}
		}
	} else {
		// Padded column c lands in E (c even) or O (c odd) at c/2.
		ld = (pw + 1) / 2
		buf := scratchOf(scratch, 2*ph*ld)
		clear(buf)
		e, o := buf[:ph*ld], buf[ph*ld:]
		d := p.PadT * ld
		if p.PadL%2 == 0 {
			deintRows(e[d+p.PadL/2:], o[d+p.PadL/2:], ld, xp, p.W, p.W, p.H)
		} else {
			deintRows(o[d+(p.PadL-1)/2:], e[d+(p.PadL+1)/2:], ld, xp, p.W, p.W, p.H)
		}
		src = buf
		c1, c2 = 4*ph*ld, 4
		for kh := 0; kh < 3; kh++ {
			offs[3*kh] = 4 * kh * ld
			offs[3*kh+1] = 4 * (ph*ld + kh*ld)
			offs[3*kh+2] = 4 * (kh*ld + 1)
		}
	}
	oh, ow := p.OutH(), p.OutW()
	var a tapsArgs
	a.y = unsafe.Pointer(&yp[0])
	a.x = unsafe.Pointer(&src[0])
	a.offs = unsafe.Pointer(&offs[0])
	a.w = unsafe.Pointer(&wp[0])
	a.nt = p.KH * p.KW
	a.ys = 4 * ow
	a.xs = 4 * p.StrideH * ld
	a.rows = oh
	a.n = ow
	a.b = b
	a.lo, a.hi = actBounds(act)
	a.ld = 4 * ld
	a.c1, a.c2 = c1, c2
	if rp != nil {
		a.res = unsafe.Pointer(&rp[0])
	}
	switch {
	case k3 && useDWK:
		dw3x3NEON(&a)
	case p.KH == 5 && p.KW == 5 && useDWK:
		dw5x5NEON(&a)
	default:
		dwTapsNEON(&a)
	}
	return true
}

//go:noescape
func dwDots5NEON(a *dotArgs)

//go:noescape
func dwGatherNEON(a *gatherArgs)

func callDots5(_ isa.Level, a *dotArgs) { dwDots5NEON(a) }

func callGather(_ isa.Level, a *gatherArgs) { dwGatherNEON(a) }

//go:noescape
func dwDeintRowsNEON(a *rowsArgs)

//go:noescape
func dwIntlvRowsNEON(a *rowsArgs)

// copyRows copies rows rows of n floats from src (row stride ss) to dst (row
// stride ds); Go's copy is already a NEON memmove.
func copyRows(dst []float32, ds int, src []float32, ss, n, rows int) {
	copyRowsGo(dst, ds, src, ss, n, rows)
}

func callDeintRows(_ isa.Level, a *rowsArgs) { dwDeintRowsNEON(a) }

func callIntlvRows(_ isa.Level, a *rowsArgs) { dwIntlvRowsNEON(a) }

// prefetch is a no-op on arm64 (the hardware prefetchers follow the flat
// paths' sequential streams).
func prefetch(s []float32) {}

// setDW5 selects (true) or not the dedicated 3x3 and 5x5 kernels.
func setDW5(v bool) { useDWK = v }
