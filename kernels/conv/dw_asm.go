//go:build (amd64 || arm64) && !purego

package conv

// The argument filling of the assembly depthwise kernels, shared by every
// architecture; dw_<arch>.go provides asmLevel, the kernels and the call*
// switches to the kernels of each level (dw_other.go the pure-Go build).
// The argument blocks are filled field by field: a composite literal is
// built in a temporary and copied with 16-byte moves over 8-byte stores, a
// store-forwarding stall on every call (measurable on the many small row
// copies).

import (
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// dwArgs is the argument block of the depthwise plane kernels; its layout
// is fixed (the offsets in the comments are used by dw_amd64.s,
// dw_avx2_amd64.s, dw_neon_arm64.s and dwk_neon_arm64.s).
type dwArgs struct {
	y, x, res, w unsafe.Pointer // 0, 8, 16, 24: first output, input and residual rows; weights
	ys, xs, ld   int            // 32, 40, 48: byte strides of output (and residual) rows, input rows of outputs and input rows
	rows, n      int            // 56, 64: rows, outputs per row
	b, lo, hi    float32        // 72, 76, 80: bias, clamp bounds
	m2, m3       uint16         // 84, 86: AVX-512 stride-2 tail load masks
	kh, kw       int            // 88, 96
	c1, c2       int            // 104, 112: byte offsets of columns 1 and 2 of a 3x3 kernel's taps (AVX2, NEON)
	offs         unsafe.Pointer // 120: nt byte offsets of the taps from an input row (dwTapsNEON)
	nt           int            // 128: taps (dwTapsNEON)
}

// dwPlaneAsm computes one whole depthwise output plane with the assembly
// kernels, bias, residual and activation included. KxK kernels at stride 1
// read the zero-padded input plane, copied into *scratch (grown as needed)
// when padded, so that they never test bounds; so do the 3x3 kernels at
// horizontal stride 2, but for the levels where splitStride2 holds: there
// they read the planes of its even and odd columns, where every tap is
// again a stride-1 row. It reports false when no assembly kernel applies.
func dwPlaneAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, scratch *[]float32) bool {
	l := asmLevel()
	k3 := p.KH == 3 && p.KW == 3
	if l == isa.Generic || p.KH*p.KW > dwPlaneMaxTaps || !(p.StrideW == 1 || (k3 && p.StrideW == 2)) {
		return false
	}
	var a dwArgs
	src, ld := xp, p.W
	a.c1, a.c2 = 4, 8
	pw, ph := p.W+p.PadL+p.PadR, p.H+p.PadT+p.PadB
	switch {
	case p.StrideW == 2 && splitStride2(l):
		// The zero-padded input split into the planes of its even and odd
		// columns (E then O, rows of ld floats in both): tap (r, s) of
		// output column j reads E[j], O[j] and E[j+1] of input row r.
		ld = (pw + 1) / 2
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
		src = buf
		a.c1, a.c2 = 4*ph*ld, 4
	case p.PadT|p.PadL|p.PadB|p.PadR != 0:
		buf := scratchOf(scratch, pw*ph)
		// One clear and one strided row copy: a copy and two pad loops per
		// row cost as much as the kernel on small planes.
		clear(buf)
		copyRows(buf[p.PadT*pw+p.PadL:], pw, xp, p.W, p.W, p.H)
		src, ld = buf, pw
	}
	oh, ow := p.OutH(), p.OutW()
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
	callDWPlane(l, p, &a)
	return true
}

// dotArgs is the argument block of the five-tap dot kernels (dwDots5AVX512,
// dwDots5AVX2, dwDots5NEON; offsets used by dw_amd64.s, dw_avx2_amd64.s and
// dw_neon_arm64.s).
type dotArgs struct {
	d   unsafe.Pointer    // 0
	p   [5]unsafe.Pointer // 8..40
	acc unsafe.Pointer    // 48: 5 x 16 lane accumulators
	nb  int               // 56: number of 16-float blocks (>= 1)
}

// gatherArgs is the argument block of the tap gather kernels
// (dwGatherAVX512, dwGatherAVX2, dwGatherNEON).
type gatherArgs struct {
	out  unsafe.Pointer // 0
	ptrs unsafe.Pointer // 8: nt tap pointers
	w    unsafe.Pointer // 16: nt weights
	nt   int            // 24 (>= 1)
	nb   int            // 32: number of 64-float blocks (>= 1)
}

// rowsArgs is the argument block of the row copy, deinterleave and
// interleave kernels.
type rowsArgs struct {
	d0, d1, s0, s1 unsafe.Pointer // 0, 8, 16, 24
	ds, ss         int            // 32, 40: byte strides of dst and src rows
	n, rows        int            // 48, 56: elements per row (see kernels), rows
	m0, m1, m2, m3 uint16         // 64..70: AVX-512 tail masks (set by the AVX-512 call switches)
}

// dotTaps adds, for each tap t, the lanes of sum_q d[q]*src[offs[t]+q] into
// acc[16*t : 16*t+16] (the caller sums the 16 lanes). len(d) must be a
// multiple of 16 and every offs[t]+len(d) at most len(src).
func dotTaps(d, src []float32, offs []int, acc []float32) {
	l := asmLevel()
	if l == isa.Generic || len(d)%16 != 0 || len(d) == 0 {
		dotTapsGo(d, src, offs, acc)
		return
	}
	_ = acc[16*len(offs)-1]
	for _, off := range offs {
		_ = src[off+len(d)-1]
	}
	var a dotArgs
	var tmp [80]float32
	a.d, a.nb = unsafe.Pointer(&d[0]), len(d)/16
	for g := 0; g < len(offs); g += 5 {
		for k := range 5 {
			a.p[k] = unsafe.Pointer(&src[offs[min(g+k, len(offs)-1)]])
		}
		if g+5 <= len(offs) {
			a.acc = unsafe.Pointer(&acc[16*g])
			callDots5(l, &a)
			continue
		}
		// Partial group: accumulate into a temporary and keep the used taps.
		tmp = [80]float32{}
		a.acc = unsafe.Pointer(&tmp[0])
		callDots5(l, &a)
		for i := range 16 * (len(offs) - g) {
			acc[16*g+i] += tmp[i]
		}
	}
}

// gatherTaps sets out[p] = sum_t w[t]*src[offs[t]+p]. len(out) must be a
// multiple of 64 and every offs[t]+len(out) at most len(src).
func gatherTaps(out, src []float32, offs []int, w []float32) {
	l := asmLevel()
	if l == isa.Generic || len(out)%64 != 0 || len(out) == 0 || len(offs) == 0 || len(offs) > dwFlatMaxTaps {
		gatherTapsGo(out, src, offs, w)
		return
	}
	_ = w[len(offs)-1]
	var ptrs [dwFlatMaxTaps]unsafe.Pointer
	for t, off := range offs {
		_ = src[off+len(out)-1]
		ptrs[t] = unsafe.Pointer(&src[off])
	}
	var a gatherArgs
	a.out = unsafe.Pointer(&out[0])
	a.ptrs = unsafe.Pointer(&ptrs[0])
	a.w = unsafe.Pointer(&w[0])
	a.nt = len(offs)
	a.nb = len(out) / 64
	callGather(l, &a)
}

// deintRows sets d0[r*ds+k] = src[r*ss+2k] and d1[r*ds+k] = src[r*ss+2k+1]
// for the n source elements of each row.
func deintRows(d0, d1 []float32, ds int, src []float32, ss, n, rows int) {
	if rows <= 0 || n <= 0 {
		return
	}
	_ = d0[(rows-1)*ds+(n+1)/2-1]
	if n > 1 {
		_ = d1[(rows-1)*ds+n/2-1]
	}
	_ = src[(rows-1)*ss+n-1]
	l := asmLevel()
	if l == isa.Generic || n < 2 {
		deintRowsGo(d0, d1, ds, src, ss, n, rows)
		return
	}
	var a rowsArgs
	a.d0 = unsafe.Pointer(&d0[0])
	a.d1 = unsafe.Pointer(&d1[0])
	a.s0 = unsafe.Pointer(&src[0])
	a.ds = 4 * ds
	a.ss = 4 * ss
	a.n = n
	a.rows = rows
	callDeintRows(l, &a)
}

// intlvRows sets dst[r*ds+2k] = s0[r*ss+k] and dst[r*ds+2k+1] = s1[r*ss+k]
// for the n destination elements of each row.
func intlvRows(dst []float32, ds int, s0, s1 []float32, ss, n, rows int) {
	if rows <= 0 || n <= 0 {
		return
	}
	_ = dst[(rows-1)*ds+n-1]
	_ = s0[(rows-1)*ss+(n+1)/2-1]
	if n > 1 {
		_ = s1[(rows-1)*ss+n/2-1]
	}
	l := asmLevel()
	if l == isa.Generic || n < 2 {
		intlvRowsGo(dst, ds, s0, s1, ss, n, rows)
		return
	}
	var a rowsArgs
	a.d0 = unsafe.Pointer(&dst[0])
	a.s0 = unsafe.Pointer(&s0[0])
	a.s1 = unsafe.Pointer(&s1[0])
	a.ds = 4 * ds
	a.ss = 4 * ss
	a.n = n
	a.rows = rows
	callIntlvRows(l, &a)
}
