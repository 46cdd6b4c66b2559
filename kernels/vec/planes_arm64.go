//go:build arm64 && !purego

package vec

import (
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// asmLevel returns isa.NEON when the NEON plane kernels are to be used now,
// or isa.Generic for the pure-Go loops.
func asmLevel() isa.Level {
	if isa.Active() == isa.NEON {
		return isa.NEON
	}
	return isa.Generic
}

// planeArgs is the argument block of the NEON plane kernels; its layout is
// fixed (the offsets in the comments are used by planes_neon_arm64.s) and
// the same as on amd64. Callers fill a zero value field by field.
type planeArgs struct {
	x, y, pre, dy  unsafe.Pointer // 0, 8, 16, 24
	n, hw, stride  int            // 32, 40, 48 (stride in bytes)
	sc, sh, lo, hi float32        // 56, 60, 64, 68
	mean, a, b, k  float32        // 72, 76, 80, 84
	masked         int            // 88: 0 or -1 (all bits)
	s, ss          float64        // 96, 104: results
}

//go:noescape
func planeStatsNEON(a *planeArgs)

//go:noescape
func affineClampNEON(a *planeArgs)

//go:noescape
func gradSumsNEON(a *planeArgs)

//go:noescape
func gradAffineNEON(a *planeArgs)

//go:noescape
func clampGradNEON(a *planeArgs)

func ptr(s []float32) unsafe.Pointer {
	if s == nil {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(s))
}

func maskBits(masked bool) int {
	if masked {
		return -1
	}
	return 0
}

func planeStatsAsm(l isa.Level, x []float32, n, hw, stride int, shift float32) (float64, float64) {
	var a planeArgs
	a.x = ptr(x)
	a.n = n
	a.hw = hw
	a.stride = 4 * stride
	a.mean = shift
	planeStatsNEON(&a)
	return a.s, a.ss
}

func affineClampAsm(l isa.Level, y, pre, x []float32, n, hw, stride int, sc, sh, lo, hi float32) {
	var a planeArgs
	a.x = ptr(x)
	a.y = ptr(y)
	a.pre = ptr(pre)
	a.n = n
	a.hw = hw
	a.stride = 4 * stride
	a.sc = sc
	a.sh = sh
	a.lo = lo
	a.hi = hi
	affineClampNEON(&a)
}

func gradSumsAsm(l isa.Level, dy, x []float32, n, hw, stride int, sc, sh, lo, hi float32, masked bool, mean float32) (float64, float64) {
	var a planeArgs
	a.x = ptr(x)
	a.dy = ptr(dy)
	a.n = n
	a.hw = hw
	a.stride = 4 * stride
	a.sc = sc
	a.sh = sh
	a.lo = lo
	a.hi = hi
	a.mean = mean
	a.masked = maskBits(masked)
	gradSumsNEON(&a)
	return a.s, a.ss
}

func gradAffineAsm(l isa.Level, dx, dy, x []float32, n, hw, stride int, sc, sh, lo, hi float32, masked bool, ca, cb, ck, mean float32) {
	var a planeArgs
	a.x = ptr(x)
	a.y = ptr(dx)
	a.dy = ptr(dy)
	a.n = n
	a.hw = hw
	a.stride = 4 * stride
	a.sc = sc
	a.sh = sh
	a.lo = lo
	a.hi = hi
	a.mean = mean
	a.a = ca
	a.b = cb
	a.k = ck
	a.masked = maskBits(masked)
	gradAffineNEON(&a)
}

// clampSlice sets dst = min(max(src, lo), hi) (NaN stays NaN).
func clampSlice(dst, src []float32, lo, hi float32) {
	if len(dst) == 0 {
		return
	}
	src = src[:len(dst)]
	l := asmLevel()
	if l == isa.Generic {
		for i, v := range src {
			dst[i] = clampNaN(v, lo, hi)
		}
		return
	}
	affineClampAsm(l, dst, nil, src, 1, len(dst), len(dst), 1, 0, lo, hi)
}

// clampGradSlice sets dx = dy where lo < x < hi, else 0.
func clampGradSlice(dx, dy, x []float32, lo, hi float32) {
	if len(dx) == 0 {
		return
	}
	dy, x = dy[:len(dx)], x[:len(dx)]
	if asmLevel() == isa.Generic {
		clampGradGo(dx, dy, x, lo, hi)
		return
	}
	var a planeArgs
	a.x = ptr(x)
	a.y = ptr(dx)
	a.dy = ptr(dy)
	a.n = 1
	a.hw = len(dx)
	a.stride = 4 * len(dx)
	a.lo = lo
	a.hi = hi
	clampGradNEON(&a)
}
