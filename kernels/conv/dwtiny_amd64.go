//go:build amd64 && !purego

package conv

import (
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// tinyArgs are the arguments of tinyMVAVX512 and the tinyMV*AVX2 kernels
// (byte strides; offsets used by dwtiny_amd64.s and dwtiny_avx2_amd64.s).
type tinyArgs struct {
	y, x, m unsafe.Pointer // 0, 8, 16
	ys, xs  int            // 24, 32
	nin, n  int            // 40, 48
	mask    uint16         // 56: output lanes (AVX-512)
	_       uint16
	b       float32 // 60
	nout    int     // 64: output lanes (AVX2)
}

// outerArgs are the arguments of tinyOuterAVX512 and the tinyOuter*AVX2
// kernels (byte strides).
type outerArgs struct {
	g, bs, dy, x unsafe.Pointer // 0, 8, 16, 24
	ds, xs, n    int            // 32, 40, 48
	dmask, xmask uint16         // 56, 58
	nx           int            // 64: x values (AVX2)
}

//go:noescape
func tinyMVAVX512(a *tinyArgs)

//go:noescape
func tinyOuterAVX512(a *outerArgs)

//go:noescape
func tinyMV16AVX2(a *tinyArgs)

//go:noescape
func tinyMV8AVX2(a *tinyArgs)

//go:noescape
func tinyOuter16AVX2(a *outerArgs)

//go:noescape
func tinyOuter8AVX2(a *outerArgs)

// tinyMV sets, for each of n images, y[q] = b + sum_{r<nin} x[r]*m[r*16+q]
// for q < nout; the planes of image i start at i*ys in y and i*xs in x.
func tinyMV(y []float32, ys int, x []float32, xs int, m *[dwTinyMax * dwTinyMax]float32, nin, nout, n int, b float32) {
	l := asmLevel()
	if l == isa.Generic || n == 0 || nin == 0 || nout == 0 || nout > dwTinyMax {
		tinyMVGo(y, ys, x, xs, m, nin, nout, n, b)
		return
	}
	_ = y[(n-1)*ys+nout-1]
	_ = x[(n-1)*xs+nin-1]
	a := tinyArgs{y: unsafe.Pointer(&y[0]), x: unsafe.Pointer(&x[0]), m: unsafe.Pointer(&m[0]),
		ys: 4 * ys, xs: 4 * xs, nin: min(nin, dwTinyMax), n: n, mask: lowMask(nout), b: b, nout: nout}
	switch {
	case l == isa.AVX512:
		tinyMVAVX512(&a)
	case nout > 8:
		tinyMV16AVX2(&a)
	default:
		tinyMV8AVX2(&a)
	}
}

// tinyOuter adds, over n images, dy[q]*x[r] into g[q*16+r] (q < nd, r < nx)
// and dy[q] into bs[q]; the planes of image i start at i*ds in dy and i*xs
// in x. The rows q >= nd of g receive garbage.
func tinyOuter(g *[dwTinyMax * dwTinyMax]float32, bs *[dwTinyMax]float32, dy []float32, ds int, x []float32, xs, nd, nx, n int) {
	// The kernel reads 16 values of every dy plane: the images whose
	// plane has 16 values left in dy.
	safe := 0
	l := asmLevel()
	if l != isa.Generic && len(dy) >= dwTinyMax && ds > 0 && nd > 0 && nx > 0 && nd <= dwTinyMax && nx <= dwTinyMax {
		safe = min(n, (len(dy)-dwTinyMax)/ds+1)
	}
	if safe > 0 {
		_ = x[(safe-1)*xs+nx-1]
		a := outerArgs{g: unsafe.Pointer(&g[0]), bs: unsafe.Pointer(&bs[0]), dy: unsafe.Pointer(&dy[0]), x: unsafe.Pointer(&x[0]),
			ds: 4 * ds, xs: 4 * xs, n: safe, dmask: lowMask(nd), xmask: lowMask(nx), nx: nx}
		if l == isa.AVX512 {
			tinyOuterAVX512(&a)
		} else {
			// Row groups of g holding rows q < nd; bs in Go.
			rows := 8
			if nx > 8 {
				rows = 4
			}
			for q := 0; q < nd; q += rows {
				a.g = unsafe.Pointer(&g[q*dwTinyMax])
				a.dy = unsafe.Pointer(&dy[q])
				if nx > 8 {
					tinyOuter16AVX2(&a)
				} else {
					tinyOuter8AVX2(&a)
				}
			}
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
