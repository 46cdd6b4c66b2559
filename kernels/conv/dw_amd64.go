//go:build amd64 && !purego

package conv

import (
	"math"
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

// dwPlaneMaxTaps bounds KH*KW for dwPlaneAsm: the AVX kernels take any
// number of taps.
const dwPlaneMaxTaps = math.MaxInt

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

// splitStride2 reports whether the 3x3 kernels at horizontal stride 2 read
// the even and odd column planes of the input: with AVX2, which has no
// cheap two-register permute (AVX-512 reads the padded plane at stride 2).
func splitStride2(l isa.Level) bool { return l == isa.AVX2 }

// callDWPlane runs the plane kernel of level l for p's kernel and strides.
func callDWPlane(l isa.Level, p *Params, a *dwArgs) {
	k3 := p.KH == 3 && p.KW == 3
	k5 := p.KH == 5 && p.KW == 5 && useDW5
	if l == isa.AVX2 {
		switch {
		case k3: // stride 1, or stride 2 on the column planes (a.c1, a.c2)
			dw3x3AVX2(a)
		case k5:
			dw5x5s1AVX2(a)
		default:
			dwKxKs1AVX2(a)
		}
		return
	}
	switch {
	case k3 && p.StrideW == 1:
		dw3x3s1AVX512(a)
	case k5:
		dw5x5s1AVX512(a)
	case k3:
		t := 2*(a.n%16) + 1
		a.m2 = uint16(1<<min(t, 16) - 1)
		a.m3 = uint16(1<<max(t-16, 0) - 1)
		dw3x3s2AVX512(a)
	default:
		dwKxKs1AVX512(a)
	}
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
