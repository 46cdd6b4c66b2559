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
