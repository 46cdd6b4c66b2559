//go:build !amd64 || purego

package vec

// useAVX512 is always false without the amd64 assembly.
var useAVX512 = false

func planeStatsAsm(x []float32, n, hw, stride int, shift float32) (float64, float64) {
	panic("vec: no assembly")
}

func affineClampAsm(y, pre, x []float32, n, hw, stride int, sc, sh, lo, hi float32) {
	panic("vec: no assembly")
}

func gradSumsAsm(dy, x []float32, n, hw, stride int, sc, sh, lo, hi float32, masked bool, mean float32) (float64, float64) {
	panic("vec: no assembly")
}

func gradAffineAsm(dx, dy, x []float32, n, hw, stride int, sc, sh, lo, hi float32, masked bool, ca, cb, ck, mean float32) {
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
