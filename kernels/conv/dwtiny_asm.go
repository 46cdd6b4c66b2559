//go:build (amd64 || arm64) && !purego

package conv

// The argument filling of the assembly tiny-plane kernels, shared by every
// architecture; dwtiny_<arch>.go provides the kernels and the call
// switches to the kernels of each level.

import (
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// tinyArgs are the arguments of the matrix-vector kernels (byte strides;
// offsets used by dwtiny_amd64.s, dwtiny_avx2_amd64.s and
// dwtiny_neon_arm64.s).
type tinyArgs struct {
	y, x, m unsafe.Pointer // 0, 8, 16
	ys, xs  int            // 24, 32
	nin, n  int            // 40, 48
	mask    uint16         // 56: output lanes (AVX-512, set by its call switch)
	_       uint16
	b       float32 // 60
	nout    int     // 64: output lanes (AVX2, NEON)
}

// outerArgs are the arguments of the outer-product kernels (byte strides).
type outerArgs struct {
	g, bs, dy, x unsafe.Pointer // 0, 8, 16, 24
	ds, xs, n    int            // 32, 40, 48
	dmask, xmask uint16         // 56, 58 (AVX-512, set by its call switch)
	nx           int            // 64: x values (AVX2)
}

// tinyMV sets, for each of n images, y[q] = b + sum_{r<nin} x[r]*m[r*16+q]
// for q < nout; the planes of image i start at i*ys in y and i*xs in x.
func tinyMV(y []float32, ys int, x []float32, xs int, m *[dwTinyMax * dwTinyMax]float32, nin, nout, n int, b float32) {
	l := asmLevel()
	if l == isa.Generic || n == 0 || nin == 0 || nout == 0 || nout > dwTinyMax || nin > dwTinyMax {
		tinyMVGo(y, ys, x, xs, m, nin, nout, n, b)
		return
	}
	_ = y[(n-1)*ys+nout-1]
	_ = x[(n-1)*xs+nin-1]
	var a tinyArgs
	a.y = unsafe.Pointer(&y[0])
	a.x = unsafe.Pointer(&x[0])
	a.m = unsafe.Pointer(&m[0])
	a.ys = 4 * ys
	a.xs = 4 * xs
	a.nin = nin
	a.n = n
	a.b = b
	a.nout = nout
	callTinyMV(l, &a)
}

// tinyOuter adds, over n images, dy[q]*x[r] into g[q*16+r] (q < nd, r < nx)
// and dy[q] into bs[q]; the planes of image i start at i*ds in dy and i*xs
// in x. The rows q >= nd and the columns r >= nx of g receive garbage.
func tinyOuter(g *[dwTinyMax * dwTinyMax]float32, bs *[dwTinyMax]float32, dy []float32, ds int, x []float32, xs, nd, nx, n int) {
	// The kernels read 16 values of every dy plane and tinyOuterX(nx) of
	// every x plane: the images whose planes have that many values left.
	safe := 0
	l := asmLevel()
	if l != isa.Generic && len(dy) >= dwTinyMax && len(x) >= tinyOuterX(nx) && ds > 0 && xs > 0 &&
		nd > 0 && nx > 0 && nd <= dwTinyMax && nx <= dwTinyMax {
		safe = min(n, (len(dy)-dwTinyMax)/ds+1, (len(x)-tinyOuterX(nx))/xs+1)
	}
	if safe > 0 {
		var a outerArgs
		a.bs = unsafe.Pointer(&bs[0])
		a.x = unsafe.Pointer(&x[0])
		a.ds = 4 * ds
		a.xs = 4 * xs
		a.n = safe
		a.nx = nx
		rows, bias := tinyOuterRows(l, nx)
		for q := 0; q < nd; q += rows {
			a.g = unsafe.Pointer(&g[q*dwTinyMax])
			a.dy = unsafe.Pointer(&dy[q])
			callTinyOuter(l, &a, nd)
		}
		if !bias {
			for i := 0; i < safe; i++ {
				for q, v := range dy[i*ds : i*ds+nd] {
					bs[q] += v
				}
			}
		}
	}
	if safe < n {
		tinyOuterGo(g, bs, dy[safe*ds:], ds, x[safe*xs:], xs, nd, nx, n-safe)
	}
}
