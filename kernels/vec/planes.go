package vec

import (
	"fmt"

	"github.com/dshrink/dshrink/kernels/isa"
)

// The plane kernels below work on a strided set of n planes of hw elements,
// plane p of a slice starting at element p*stride (one channel of an NCHW
// tensor: stride = C*H*W). Every slice argument uses that same layout. They
// run on the calling goroutine; callers parallelise over channels.

func checkPlanes(what string, n, hw, stride int, s ...[]float32) {
	if n < 0 || hw < 0 || (n > 1 && stride < hw) {
		panic(fmt.Sprintf("vec: %s: bad plane layout n=%d hw=%d stride=%d", what, n, hw, stride))
	}
	if n == 0 || hw == 0 {
		return
	}
	need := (n-1)*stride + hw
	for _, x := range s {
		if x != nil && len(x) < need {
			panic(fmt.Sprintf("vec: %s: slice of %d elements, want at least %d", what, len(x), need))
		}
	}
}

// PlaneStats returns sum(x-shift) and sum((x-shift)^2) over the planes,
// accumulated in float64. With shift close to the mean, the variance is
// ss/cnt - (s/cnt)^2 without cancellation.
func PlaneStats(x []float32, n, hw, stride int, shift float32) (s, ss float64) {
	checkPlanes("PlaneStats", n, hw, stride, x)
	if n == 0 || hw == 0 {
		return 0, 0
	}
	if l := asmLevel(); l != isa.Generic {
		return planeStatsAsm(l, x, n, hw, stride, shift)
	}
	for p := 0; p < n; p++ {
		a, b := planeStatsGo(x[p*stride:p*stride+hw], shift)
		s += a
		ss += b
	}
	return s, ss
}

// AffineClamp sets pre = x*sc + sh (when pre is not nil) and
// y = min(max(x*sc+sh, lo), hi) over the planes: a BatchNorm apply fused with
// a ReLU (hi = +Inf) or ReLU6 (lo = 0, hi = 6) activation; lo = -Inf,
// hi = +Inf applies no activation. A NaN stays NaN. y and pre may alias x.
func AffineClamp(y, pre, x []float32, n, hw, stride int, sc, sh, lo, hi float32) {
	checkPlanes("AffineClamp", n, hw, stride, y, pre, x)
	if n == 0 || hw == 0 {
		return
	}
	if l := asmLevel(); l != isa.Generic {
		affineClampAsm(l, y, pre, x, n, hw, stride, sc, sh, lo, hi)
		return
	}
	for p := 0; p < n; p++ {
		o := p * stride
		var pp []float32
		if pre != nil {
			pp = pre[o : o+hw]
		}
		affineClampGo(y[o:o+hw], pp, x[o:o+hw], sc, sh, lo, hi)
	}
}

// ClampGradSums returns sum g and sum g*(x-mean) over the planes, in
// float64, where g = dy masked by the activation derivative: when masked,
// g = dy where lo < x*sc+sh < hi and 0 elsewhere; otherwise g = dy.
func ClampGradSums(dy, x []float32, n, hw, stride int, sc, sh, lo, hi float32, masked bool, mean float32) (sg, sgx float64) {
	checkPlanes("ClampGradSums", n, hw, stride, dy, x)
	if n == 0 || hw == 0 {
		return 0, 0
	}
	if l := asmLevel(); l != isa.Generic {
		return gradSumsAsm(l, dy, x, n, hw, stride, sc, sh, lo, hi, masked, mean)
	}
	for p := 0; p < n; p++ {
		o := p * stride
		a, b := gradSumsGo(dy[o:o+hw], x[o:o+hw], sc, sh, lo, hi, masked, mean)
		sg += a
		sgx += b
	}
	return sg, sgx
}

// ClampGradAffine sets dx = a*g - b - k*(x-mean) over the planes, with g as
// in ClampGradSums: the input gradient of a train-mode BatchNorm (an
// eval-mode one with b = k = 0) fused with its activation's gradient. dx may
// alias dy.
func ClampGradAffine(dx, dy, x []float32, n, hw, stride int, sc, sh, lo, hi float32, masked bool, a, b, k, mean float32) {
	checkPlanes("ClampGradAffine", n, hw, stride, dx, dy, x)
	if n == 0 || hw == 0 {
		return
	}
	if l := asmLevel(); l != isa.Generic {
		gradAffineAsm(l, dx, dy, x, n, hw, stride, sc, sh, lo, hi, masked, a, b, k, mean)
		return
	}
	for p := 0; p < n; p++ {
		o := p * stride
		gradAffineGo(dx[o:o+hw], dy[o:o+hw], x[o:o+hw], sc, sh, lo, hi, masked, a, b, k, mean)
	}
}

func planeStatsGo(x []float32, shift float32) (s, ss float64) {
	for len(x) > 0 {
		blk := x[:min(len(x), 64)]
		x = x[len(blk):]
		var s0, s1 float32
		for _, v := range blk {
			d := v - shift
			s0 += d
			s1 += d * d
		}
		s += float64(s0)
		ss += float64(s1)
	}
	return s, ss
}

func affineClampGo(y, pre, x []float32, sc, sh, lo, hi float32) {
	x = x[:len(y)]
	if pre != nil {
		pre = pre[:len(y)]
		for j, v := range x {
			u := v*sc + sh
			pre[j] = u
			y[j] = clampNaN(u, lo, hi)
		}
		return
	}
	for j, v := range x {
		y[j] = clampNaN(v*sc+sh, lo, hi)
	}
}

// clampNaN returns min(max(u, lo), hi), u itself when u is NaN.
func clampNaN(u, lo, hi float32) float32 { return min(max(u, lo), hi) }

func gradSumsGo(dy, x []float32, sc, sh, lo, hi float32, masked bool, mean float32) (sg, sgx float64) {
	x = x[:len(dy)]
	for len(dy) > 0 {
		k := min(len(dy), 64)
		var s, d float32
		for j, g := range dy[:k] {
			v := x[j]
			if masked {
				if u := v*sc + sh; !(u > lo && u < hi) {
					g = 0
				}
			}
			s += g
			d += g * (v - mean)
		}
		sg += float64(s)
		sgx += float64(d)
		dy, x = dy[k:], x[k:]
	}
	return sg, sgx
}

func gradAffineGo(dx, dy, x []float32, sc, sh, lo, hi float32, masked bool, a, b, k, mean float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for j, v := range x {
		g := dy[j]
		if masked {
			if u := v*sc + sh; !(u > lo && u < hi) {
				g = 0
			}
		}
		dx[j] = a*g - b - k*(v-mean)
	}
}

// clampGradGo sets dx = dy where lo < x < hi, else 0.
func clampGradGo(dx, dy, x []float32, lo, hi float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for j, v := range x {
		g := dy[j]
		if !(v > lo && v < hi) {
			g = 0
		}
		dx[j] = g
	}
}
