//go:build amd64 && !purego

package conv

import "unsafe"

// tinyArgs are the arguments of tinyMVAVX512 (byte strides).
type tinyArgs struct {
	y, x, m unsafe.Pointer // 0, 8, 16
	ys, xs  int            // 24, 32
	nin, n  int            // 40, 48
	mask    uint16         // 56: output lanes
	_       uint16
	b       float32 // 60
}

// outerArgs are the arguments of tinyOuterAVX512 (byte strides).
type outerArgs struct {
	g, bs, dy, x unsafe.Pointer // 0, 8, 16, 24
	ds, xs, n    int            // 32, 40, 48
	dmask, xmask uint16         // 56, 58
}

//go:noescape
func tinyMVAVX512(a *tinyArgs)

//go:noescape
func tinyOuterAVX512(a *outerArgs)

// tinyMV sets, for each of n images, y[q] = b + sum_{r<nin} x[r]*m[r*16+q]
// for q < nout; the planes of image i start at i*ys in y and i*xs in x.
func tinyMV(y []float32, ys int, x []float32, xs int, m *[dwTinyMax * dwTinyMax]float32, nin, nout, n int, b float32) {
	if !useAVX512 || n == 0 || nin == 0 {
		tinyMVGo(y, ys, x, xs, m, nin, nout, n, b)
		return
	}
	_ = y[(n-1)*ys+nout-1]
	_ = x[(n-1)*xs+nin-1]
	a := tinyArgs{y: unsafe.Pointer(&y[0]), x: unsafe.Pointer(&x[0]), m: unsafe.Pointer(&m[0]),
		ys: 4 * ys, xs: 4 * xs, nin: nin, n: n, mask: lowMask(nout), b: b}
	tinyMVAVX512(&a)
}

// tinyOuter adds, over n images, dy[q]*x[r] into g[q*16+r] (q < nd, r < nx)
// and dy[q] into bs[q]; the planes of image i start at i*ds in dy and i*xs
// in x. The rows q >= nd of g receive garbage.
func tinyOuter(g *[dwTinyMax * dwTinyMax]float32, bs *[dwTinyMax]float32, dy []float32, ds int, x []float32, xs, nd, nx, n int) {
	// The kernel reads 16 values of every dy plane: the images whose
	// plane has 16 values left in dy.
	safe := 0
	if useAVX512 && len(dy) >= dwTinyMax && ds > 0 {
		safe = min(n, (len(dy)-dwTinyMax)/ds+1)
	}
	if safe > 0 {
		_ = x[(safe-1)*xs+nx-1]
		a := outerArgs{g: unsafe.Pointer(&g[0]), bs: unsafe.Pointer(&bs[0]), dy: unsafe.Pointer(&dy[0]), x: unsafe.Pointer(&x[0]),
			ds: 4 * ds, xs: 4 * xs, n: safe, dmask: lowMask(nd), xmask: lowMask(nx)}
		tinyOuterAVX512(&a)
	}
	if safe < n {
		tinyOuterGo(g, bs, dy[safe*ds:], ds, x[safe*xs:], xs, nd, nx, n-safe)
	}
}
