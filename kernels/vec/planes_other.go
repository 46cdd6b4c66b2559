//go:build (!amd64 && !arm64) || purego

package vec

import "github.com/dshrink/dshrink/kernels/isa"

// asmLevel is always isa.Generic without the amd64 or arm64 assembly.
func asmLevel() isa.Level { return isa.Generic }

func planeStatsAsm(l isa.Level, x []float32, n, hw, stride int, shift float32) (float64, float64) {
	panic("vec: no assembly")
}

func affineClampAsm(l isa.Level, y, pre, x []float32, n, hw, stride int, sc, sh, lo, hi float32) {
	panic("vec: no assembly")
}

func gradSumsAsm(l isa.Level, dy, x []float32, n, hw, stride int, sc, sh, lo, hi float32, masked bool, mean float32) (float64, float64) {
	panic("vec: no assembly")
}

func gradAffineAsm(l isa.Level, dx, dy, x []float32, n, hw, stride int, sc, sh, lo, hi float32, masked bool, ca, cb, ck, mean float32) {
	panic("vec: no assembly")
}

// clampSlice sets dst = min(max(src, lo), hi) (NaN stays NaN).
func clampSlice(dst, src []float32, lo, hi float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = clampNaN(v, lo, hi)
	}
}

// clampGradSlice sets dx = dy where lo < x < hi, else 0.
func clampGradSlice(dx, dy, x []float32, lo, hi float32) { clampGradGo(dx, dy, x, lo, hi) }
