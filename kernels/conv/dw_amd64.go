//go:build amd64 && !purego

package conv

import (
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// asmLevel returns the level of the assembly depthwise kernels to use now
// (isa.AVX512 or isa.AVX2), or isa.Generic for the pure-Go loops.
func asmLevel() isa.Level {
	switch l := isa.Active(); l {
	case isa.AVX512, isa.AVX2:
		return l
	}
	return isa.Generic
}

// dwArgs is the argument block of the assembly depthwise kernels; its layout
// is fixed (offsets in the comments are used by dw_amd64.s and
// dw_avx2_amd64.s). The argument
// blocks are filled field by field: a composite literal is built in a
// temporary and copied with 16-byte moves over 8-byte stores, a
// store-forwarding stall on every call (measurable on the many small row
// copies).
type dwArgs struct {
	y, x, res, w unsafe.Pointer // 0, 8, 16, 24
	ys, xs, ld   int            // 32, 40, 48: byte strides
	rows, n      int            // 56, 64
	b, lo, hi    float32        // 72, 76, 80
	m2, m3       uint16         // 84, 86: stride-2 tail load masks
	kh, kw       int            // 88, 96
	c1, c2       int            // 104, 112: AVX2 3x3 column offsets (bytes)
}

//go:noescape
func dw3x3s1AVX512(a *dwArgs)

//go:noescape
func dw3x3s2AVX512(a *dwArgs)

//go:noescape
func dwKxKs1AVX512(a *dwArgs)

//go:noescape
func dw5x5s1AVX512(a *dwArgs)

//go:noescape
func dw3x3AVX2(a *dwArgs)

//go:noescape
func dwKxKs1AVX2(a *dwArgs)

//go:noescape
func dw5x5s1AVX2(a *dwArgs)

// useDW5 selects the dedicated 5x5 stride-1 kernel (benchmarks clear it to
// compare with the generic one).
var useDW5 = true

// dwPlaneAsm computes one whole depthwise output plane with the assembly
// kernels, bias, residual and activation included. A padded input is first
// copied into *scratch (grown as needed) with its zero border, so that the
// kernels never test bounds. It reports false when no assembly kernel applies.
func dwPlaneAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, scratch *[]float32) bool {
	l := asmLevel()
	if l == isa.Generic {
		return false
	}
	k3 := p.KH == 3 && p.KW == 3
	if !(p.StrideW == 1 || (k3 && p.StrideW == 2)) {
		return false
	}
	if l == isa.AVX2 && p.StrideW == 2 {
		return dw3x3s2PlaneAVX2(p, yp, xp, wp, rp, b, act, scratch)
	}
	src, ld := xp, p.W
	if p.PadT|p.PadL|p.PadB|p.PadR != 0 {
		pw, ph := p.W+p.PadL+p.PadR, p.H+p.PadT+p.PadB
		buf := scratchOf(scratch, pw*ph)
		// One clear and one strided row copy: a copy and two pad loops per
		// row cost as much as the kernel on small planes.
		clear(buf)
		copyRows(buf[p.PadT*pw+p.PadL:], pw, xp, p.W, p.W, p.H)
		src, ld = buf, pw
	}
	oh, ow := p.OutH(), p.OutW()
	var a dwArgs
	a.y = unsafe.Pointer(&yp[0])
	a.x = unsafe.Pointer(&src[0])
	a.w = unsafe.Pointer(&wp[0])
	a.ys = 4 * ow
	a.xs = 4 * p.StrideH * ld
	a.ld = 4 * ld
	a.rows = oh
	a.n = ow
	a.b = b
	a.kh = p.KH
	a.kw = p.KW
	a.lo, a.hi = actBounds(act)
	if rp != nil {
		a.res = unsafe.Pointer(&rp[0])
	}
	if l == isa.AVX2 {
		switch {
		case k3:
			a.c1, a.c2 = 4, 8
			dw3x3AVX2(&a)
		case p.KH == 5 && p.KW == 5 && useDW5:
			dw5x5s1AVX2(&a)
		default:
			dwKxKs1AVX2(&a)
		}
		return true
	}
	switch {
	case k3 && p.StrideW == 1:
		dw3x3s1AVX512(&a)
	case p.KH == 5 && p.KW == 5 && useDW5:
		dw5x5s1AVX512(&a)
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

// dw3x3s2PlaneAVX2 is dwPlaneAsm for 3x3 kernels at horizontal stride 2 with
// AVX2, which has no cheap two-register permute: the zero-padded input is
// first split into the planes of its even and odd columns (E then O, rows
// of ld floats in both), so that tap (r, s) of output column j reads E[j],
// O[j] and E[j+1] of input row r, a stride-1 pattern.
func dw3x3s2PlaneAVX2(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, scratch *[]float32) bool {
	pw, ph := p.W+p.PadL+p.PadR, p.H+p.PadT+p.PadB
	ld := (pw + 1) / 2
	buf := scratchOf(scratch, 2*ph*ld)
	clear(buf)
	e, o := buf[:ph*ld], buf[ph*ld:]
	d := p.PadT * ld
	if p.PadL%2 == 0 {
		// Input column i lands on padded column i+PadL: even i in E.
		deintRows(e[d+p.PadL/2:], o[d+p.PadL/2:], ld, xp, p.W, p.W, p.H)
	} else {
		deintRows(o[d+(p.PadL-1)/2:], e[d+(p.PadL+1)/2:], ld, xp, p.W, p.W, p.H)
	}
	oh, ow := p.OutH(), p.OutW()
	var a dwArgs
	a.y = unsafe.Pointer(&yp[0])
	a.x = unsafe.Pointer(&buf[0])
	a.w = unsafe.Pointer(&wp[0])
	a.ys = 4 * ow
	a.xs = 4 * p.StrideH * ld
	a.ld = 4 * ld
	a.rows = oh
	a.n = ow
	a.b = b
	a.lo, a.hi = actBounds(act)
	a.c1, a.c2 = 4*ph*ld, 4
	if rp != nil {
		a.res = unsafe.Pointer(&rp[0])
	}
	dw3x3AVX2(&a)
	return true
}

//go:noescape
func dwDots5AVX512(a *dotArgs)

//go:noescape
func dwGatherAVX512(a *gatherArgs)

//go:noescape
func dwDots5AVX2(a *dotArgs)

//go:noescape
func dwGatherAVX2(a *gatherArgs)

func callDots5(l isa.Level, a *dotArgs) {
	if l == isa.AVX2 {
		dwDots5AVX2(a)
	} else {
		dwDots5AVX512(a)
	}
}

func callGather(l isa.Level, a *gatherArgs) {
	if l == isa.AVX2 {
		dwGatherAVX2(a)
	} else {
		dwGatherAVX512(a)
	}
}

//go:noescape
func dwCopyRowsAVX512(a *rowsArgs)

//go:noescape
func dwDeintRowsAVX512(a *rowsArgs)

//go:noescape
func dwIntlvRowsAVX512(a *rowsArgs)

//go:noescape
func dwCopyRowsAVX2(a *rowsArgs)

//go:noescape
func dwDeintRowsAVX2(a *rowsArgs)

//go:noescape
func dwIntlvRowsAVX2(a *rowsArgs)

func lowMask(k int) uint16 { return uint16(1<<min(max(k, 0), 16) - 1) }

// copyRows copies rows rows of n floats from src (row stride ss) to dst (row
// stride ds).
func copyRows(dst []float32, ds int, src []float32, ss, n, rows int) {
	if rows <= 0 || n <= 0 {
		return
	}
	_ = dst[(rows-1)*ds+n-1]
	_ = src[(rows-1)*ss+n-1]
	l := asmLevel()
	if l == isa.Generic {
		copyRowsGo(dst, ds, src, ss, n, rows)
		return
	}
	var a rowsArgs
	a.d0 = unsafe.Pointer(&dst[0])
	a.s0 = unsafe.Pointer(&src[0])
	a.ds = 4 * ds
	a.ss = 4 * ss
	a.n = n
	a.rows = rows
	if l == isa.AVX2 {
		dwCopyRowsAVX2(&a)
		return
	}
	a.m0 = lowMask(n % 16)
	dwCopyRowsAVX512(&a)
}

// pairMasks sets the AVX-512 tail masks of the deinterleave and interleave
// kernels (the last block holds n%32 elements of the interleaved rows).
func pairMasks(a *rowsArgs) {
	r := a.n % 32
	a.m0 = lowMask(r)
	a.m1 = lowMask(r - 16)
	a.m2 = lowMask((r + 1) / 2)
	a.m3 = lowMask(r / 2)
}

func callDeintRows(l isa.Level, a *rowsArgs) {
	if l == isa.AVX2 {
		dwDeintRowsAVX2(a)
		return
	}
	pairMasks(a)
	dwDeintRowsAVX512(a)
}

func callIntlvRows(l isa.Level, a *rowsArgs) {
	if l == isa.AVX2 {
		dwIntlvRowsAVX2(a)
		return
	}
	pairMasks(a)
	dwIntlvRowsAVX512(a)
}

//go:noescape
func dwPrefetch(p unsafe.Pointer, n int)

// prefetch asks the CPU to bring s into the cache.
func prefetch(s []float32) {
	if len(s) > 0 {
		dwPrefetch(unsafe.Pointer(&s[0]), 4*len(s))
	}
}

// setDW5 selects (true) or not the dedicated 5x5 kernel.
func setDW5(v bool) { useDW5 = v }
