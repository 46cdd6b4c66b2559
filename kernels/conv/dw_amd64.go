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

// dotArgs is the argument block of dwDots5AVX512 and dwDots5AVX2 (offsets
// used by dw_amd64.s and dw_avx2_amd64.s).
type dotArgs struct {
	d   unsafe.Pointer    // 0
	p   [5]unsafe.Pointer // 8..40
	acc unsafe.Pointer    // 48: 5 x 16 lane accumulators
	nb  int               // 56: number of 16-float blocks
}

// gatherArgs is the argument block of dwGatherAVX512 and dwGatherAVX2.
type gatherArgs struct {
	out  unsafe.Pointer // 0
	ptrs unsafe.Pointer // 8: nt tap pointers
	w    unsafe.Pointer // 16: nt weights
	nt   int            // 24 (>= 1)
	nb   int            // 32: number of 64-float blocks
}

//go:noescape
func dwDots5AVX512(a *dotArgs)

//go:noescape
func dwGatherAVX512(a *gatherArgs)

//go:noescape
func dwDots5AVX2(a *dotArgs)

//go:noescape
func dwGatherAVX2(a *gatherArgs)

// dotTaps adds, for each tap t, the lanes of sum_q d[q]*src[offs[t]+q] into
// acc[16*t : 16*t+16] (the caller sums the 16 lanes). len(d) must be a
// multiple of 16 and every offs[t]+len(d) at most len(src).
func dotTaps(d, src []float32, offs []int, acc []float32) {
	l := asmLevel()
	if l == isa.Generic || len(d)%16 != 0 || len(d) == 0 {
		dotTapsGo(d, src, offs, acc)
		return
	}
	dots5 := func(a *dotArgs) {
		if l == isa.AVX2 {
			dwDots5AVX2(a)
		} else {
			dwDots5AVX512(a)
		}
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
			dots5(&a)
			continue
		}
		// Partial group: accumulate into a temporary and keep the used taps.
		tmp = [80]float32{}
		a.acc = unsafe.Pointer(&tmp[0])
		dots5(&a)
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
	if l == isa.AVX2 {
		dwGatherAVX2(&a)
		return
	}
	dwGatherAVX512(&a)
}

// rowsArgs is the argument block of the row copy kernels.
type rowsArgs struct {
	d0, d1, s0, s1 unsafe.Pointer // 0, 8, 16, 24
	ds, ss         int            // 32, 40: byte strides of dst and src rows
	n, rows        int            // 48, 56: elements per row (see kernels), rows
	m0, m1, m2, m3 uint16         // 64..70: AVX-512 tail masks
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
	r := n % 32
	var a rowsArgs
	a.d0 = unsafe.Pointer(&d0[0])
	a.d1 = unsafe.Pointer(&d1[0])
	a.s0 = unsafe.Pointer(&src[0])
	a.ds = 4 * ds
	a.ss = 4 * ss
	a.n = n
	a.rows = rows
	a.m0 = lowMask(r)
	a.m1 = lowMask(r - 16)
	a.m2 = lowMask((r + 1) / 2)
	a.m3 = lowMask(r / 2)
	if l == isa.AVX2 {
		dwDeintRowsAVX2(&a)
		return
	}
	dwDeintRowsAVX512(&a)
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
	r := n % 32
	var a rowsArgs
	a.d0 = unsafe.Pointer(&dst[0])
	a.s0 = unsafe.Pointer(&s0[0])
	a.s1 = unsafe.Pointer(&s1[0])
	a.ds = 4 * ds
	a.ss = 4 * ss
	a.n = n
	a.rows = rows
	a.m0 = lowMask(r)
	a.m1 = lowMask(r - 16)
	a.m2 = lowMask((r + 1) / 2)
	a.m3 = lowMask(r / 2)
	if l == isa.AVX2 {
		dwIntlvRowsAVX2(&a)
		return
	}
	dwIntlvRowsAVX512(&a)
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
