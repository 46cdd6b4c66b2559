//go:build (amd64 || arm64) && !purego

package vec

// The argument filling of the assembly plane kernels, shared by every
// architecture; planes_<arch>.go provides asmLevel and the call* switches
// to the kernels of each level.

import (
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// planeArgs is the argument block of the assembly plane kernels, the same on
// amd64 and arm64; its layout is fixed (the offsets in the comments are used
// by planes_amd64.s, planes_avx2_amd64.s and planes_neon_arm64.s). Callers
// fill a zero value field by field: a composite literal is built in a
// temporary and copied with 16-byte moves over 8-byte stores, a
// store-forwarding stall on every call.
type planeArgs struct {
	x, y, pre, dy  unsafe.Pointer // 0, 8, 16, 24
	n, hw, stride  int            // 32, 40, 48 (stride in bytes)
	sc, sh, lo, hi float32        // 56, 60, 64, 68
	mean, a, b, k  float32        // 72, 76, 80, 84
	masked         int            // 88: 0 or -1 (all bits)
	s, ss          float64        // 96, 104: results
}

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
	callPlaneStats(l, &a)
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
	callAffineClamp(l, &a)
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
	callGradSums(l, &a)
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
	callGradAffine(l, &a)
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
	l := asmLevel()
	if l == isa.Generic {
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
	callClampGrad(l, &a)
}
