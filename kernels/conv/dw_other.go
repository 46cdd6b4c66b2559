//go:build (!amd64 && !arm64) || purego

package conv

import "github.com/dshrink/dshrink/kernels/isa"

// asmLevel is always isa.Generic without the amd64 or arm64 assembly.
func asmLevel() isa.Level { return isa.Generic }

func dwPlaneAsm(p *Params, yp, xp, wp, rp []float32, b float32, act Activation, scratch *[]float32) bool {
	return false
}

func dotTaps(d, src []float32, offs []int, acc []float32)    { dotTapsGo(d, src, offs, acc) }
func gatherTaps(out, src []float32, offs []int, w []float32) { gatherTapsGo(out, src, offs, w) }

func copyRows(dst []float32, ds int, src []float32, ss, n, rows int) {
	copyRowsGo(dst, ds, src, ss, n, rows)
}

func deintRows(d0, d1 []float32, ds int, src []float32, ss, n, rows int) {
	deintRowsGo(d0, d1, ds, src, ss, n, rows)
}

func intlvRows(dst []float32, ds int, s0, s1 []float32, ss, n, rows int) {
	intlvRowsGo(dst, ds, s0, s1, ss, n, rows)
}

func prefetch(s []float32) {}

func setDW5(v bool) {}

func tinyMV(y []float32, ys int, x []float32, xs int, m *[dwTinyMax * dwTinyMax]float32, nin, nout, n int, b float32) {
	tinyMVGo(y, ys, x, xs, m, nin, nout, n, b)
}

func tinyOuter(g *[dwTinyMax * dwTinyMax]float32, bs *[dwTinyMax]float32, dy []float32, ds int, x []float32, xs, nd, nx, n int) {
	tinyOuterGo(g, bs, dy, ds, x, xs, nd, nx, n)
}
