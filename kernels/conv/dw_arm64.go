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

// dwPlaneMaxTaps bounds KH*KW for dwPlaneAsm: dwTapsNEON reads the taps'
// offsets from a table on the stack.
const dwPlaneMaxTaps = dwFlatMaxTaps

// dwTapsNEON sets, for each of rows rows and j < n,
// y[j] = min(max(b + res[j] + sum_t w[t]*x[offs[t]/4+j], lo), hi).
//
//go:noescape
func dwTapsNEON(a *dwArgs)

// dw3x3NEON and dw5x5NEON are dwTapsNEON for 3x3 and 5x5 kernels with the
// weights held in registers; they read a.ld, a.c1 and a.c2 instead of
// a.offs.
//
//go:noescape
func dw3x3NEON(a *dwArgs)

//go:noescape
func dw5x5NEON(a *dwArgs)

// useDWK selects the dedicated 3x3 and 5x5 kernels (tests clear it to run
// the tap kernel on those shapes too).
var useDWK = true

// splitStride2 reports whether the 3x3 kernels at horizontal stride 2 read
// the even and odd column planes of the input: always with NEON.
func splitStride2(isa.Level) bool { return true }

// callDWPlane runs the NEON plane kernel for p's kernel size.
func callDWPlane(_ isa.Level, p *Params, a *dwArgs) {
	switch {
	case p.KH == 3 && p.KW == 3 && useDWK:
		dw3x3NEON(a)
	case p.KH == 5 && p.KW == 5 && useDWK:
		dw5x5NEON(a)
	default:
		dwTaps(p, a)
	}
}

// dwTaps runs dwTapsNEON with the byte offsets of the taps from an input
// row: kh rows of a.ld bytes down and, at stride 1, kw columns of 4 bytes
// right or, on the even and odd column planes at stride 2, E[j], O[j] and
// E[j+1] at 0, a.c1 and a.c2.
func dwTaps(p *Params, a *dwArgs) {
	var offs [dwFlatMaxTaps]int
	col := [3]int{0, a.c1, a.c2}
	for kh := 0; kh < p.KH; kh++ {
		for kw := 0; kw < p.KW; kw++ {
			o := 4 * kw
			if p.StrideW == 2 {
				o = col[kw]
			}
			offs[kh*p.KW+kw] = kh*a.ld + o
		}
	}
	// A copy holds the table's address: stored through a, it would move
	// the table to the heap.
	t := *a
	t.offs = unsafe.Pointer(&offs[0])
	t.nt = p.KH * p.KW
	dwTapsNEON(&t)
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
