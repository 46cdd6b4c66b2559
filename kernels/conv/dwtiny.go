package conv

// Depthwise convolutions of tiny planes (input and output planes of at most
// 16 positions, e.g. 4x4 and 2x2 at the end of a network on small images).
//
// Per-plane kernels and even the flat formulation spend most of their time in
// per-plane bookkeeping there. Instead, the convolution of one channel is
// written as a small dense matrix M (output positions x input positions)
// built from its weights: y_n = M x_n + b for every image n. A 16-lane
// vector then holds a whole plane: the forward pass is one broadcast FMA per
// input position and image, the data gradient the same with M transposed,
// and the weight gradient accumulates the outer products dy_n x_n^T over the
// batch before folding them onto the taps.

// dwTinyMax is the largest plane (input or output positions) of the tiny path.
const dwTinyMax = 16

// useDWTiny enables the tiny-plane path (tests and benchmarks clear it).
var useDWTiny = true

// dwTinyOK reports whether p, a depthwise convolution, uses the tiny path.
func dwTinyOK(p *Params) bool {
	return useDWTiny && p.H*p.W <= dwTinyMax && p.OutH()*p.OutW() <= dwTinyMax
}

// dwTinyTap returns, for output position q of the output plane and input
// position r of the input plane, the tap index kh*KW+kw linking them, or -1.
func dwTinyTap(p *Params, q, r int) int {
	ow := p.OutW()
	oy, ox := q/ow, q%ow
	iy, ix := r/p.W, r%p.W
	kh := iy - oy*p.StrideH + p.PadT
	kw := ix - ox*p.StrideW + p.PadL
	if kh < 0 || kh >= p.KH || kw < 0 || kw >= p.KW {
		return -1
	}
	return kh*p.KW + kw
}

// dwTinyMatrix fills m for the weights wp of one channel: m[r*16+q] is the
// weight of input position r in output position q (the columns of M, one
// per input position), or, when transposed, m[q*16+r] (the columns of M^T,
// one per output position).
func dwTinyMatrix(p *Params, wp []float32, m *[dwTinyMax * dwTinyMax]float32, transposed bool) {
	clear(m[:])
	ohw, hw := p.OutH()*p.OutW(), p.H*p.W
	for q := 0; q < ohw; q++ {
		for r := 0; r < hw; r++ {
			t := dwTinyTap(p, q, r)
			if t < 0 {
				continue
			}
			if transposed {
				m[q*dwTinyMax+r] = wp[t]
			} else {
				m[r*dwTinyMax+q] = wp[t]
			}
		}
	}
}

// dwTinyForward computes the output planes of channel c for all images.
func (t *task) dwTinyForward(c int) {
	p := &t.p
	hw, ohw, khw := p.H*p.W, p.OutH()*p.OutW(), p.KH*p.KW
	var m [dwTinyMax * dwTinyMax]float32
	dwTinyMatrix(p, t.w[c*khw:(c+1)*khw], &m, false)
	var b float32
	if t.bias != nil {
		b = t.bias[c]
	}
	tinyMV(t.y[c*ohw:], p.C*ohw, t.x[c*hw:], p.C*hw, &m, hw, ohw, p.N, b)
	if t.res == nil && t.act == ActNone {
		return
	}
	for n := 0; n < p.N; n++ {
		i := n*p.C + c
		var r []float32
		if t.res != nil {
			r = t.res[i*ohw : (i+1)*ohw]
		}
		epiRow(t.y[i*ohw:(i+1)*ohw], 0, r, t.act)
	}
}

// dwTinyBackData computes the input-gradient planes of channel c for all
// images.
func (t *task) dwTinyBackData(c int) {
	p := &t.p
	hw, ohw, khw := p.H*p.W, p.OutH()*p.OutW(), p.KH*p.KW
	var m [dwTinyMax * dwTinyMax]float32
	dwTinyMatrix(p, t.w[c*khw:(c+1)*khw], &m, true)
	tinyMV(t.dx[c*hw:], p.C*hw, t.y[c*ohw:], p.C*ohw, &m, ohw, hw, p.N, 0)
}

// dwTinyBackWeight computes the weight gradient of channel c and, when
// t.dbias is not nil, its bias gradient.
func (t *task) dwTinyBackWeight(c int) {
	p := &t.p
	hw, ohw, khw := p.H*p.W, p.OutH()*p.OutW(), p.KH*p.KW
	var g [dwTinyMax * dwTinyMax]float32 // g[q*16+r] = sum_n dy_n[q] * x_n[r]
	var bs [dwTinyMax]float32            // bs[q] = sum_n dy_n[q]
	tinyOuter(&g, &bs, t.y[c*ohw:], p.C*ohw, t.x[c*hw:], p.C*hw, ohw, hw, p.N)
	dwc := t.dw[c*khw : (c+1)*khw]
	clear(dwc)
	for q := 0; q < ohw; q++ {
		for r := 0; r < hw; r++ {
			if k := dwTinyTap(p, q, r); k >= 0 {
				dwc[k] += g[q*dwTinyMax+r]
			}
		}
	}
	if t.dbias != nil {
		var s float32
		for _, v := range bs[:ohw] {
			s += v
		}
		t.dbias[c] = s
	}
}

// tinyMVGo sets, for each of n images, y[q] = b + sum_{r<nin} x[r]*m[r*16+q]
// for q < nout; the planes of image i start at i*ys in y and i*xs in x.
// Eight outputs at a time stay in registers (m's rows are 16 wide, so the
// eight columns read always exist).
func tinyMVGo(y []float32, ys int, x []float32, xs int, m *[dwTinyMax * dwTinyMax]float32, nin, nout, n int, b float32) {
	for i := 0; i < n; i++ {
		xp := x[i*xs : i*xs+nin]
		yp := y[i*ys : i*ys+nout]
		for q0 := 0; q0 < nout; q0 += 8 {
			a0, a1, a2, a3, a4, a5, a6, a7 := b, b, b, b, b, b, b, b
			for r, v := range xp {
				c := m[r*dwTinyMax+q0 : r*dwTinyMax+q0+8 : r*dwTinyMax+q0+8]
				a0 += v * c[0]
				a1 += v * c[1]
				a2 += v * c[2]
				a3 += v * c[3]
				a4 += v * c[4]
				a5 += v * c[5]
				a6 += v * c[6]
				a7 += v * c[7]
			}
			if out := yp[q0:]; len(out) >= 8 {
				out = out[:8]
				out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7] = a0, a1, a2, a3, a4, a5, a6, a7
			} else {
				acc := [8]float32{a0, a1, a2, a3, a4, a5, a6, a7}
				copy(out, acc[:])
			}
		}
	}
}

// tinyOuterGo adds, over n images, dy[q]*x[r] into g[q*16+r] (q < nd,
// r < nx) and dy[q] into bs[q]; the planes of image i start at i*ds in dy
// and i*xs in x. The x plane of an image is held in registers (zero past
// nx) and every row of g updated with fixed-length, check-free code.
func tinyOuterGo(g *[dwTinyMax * dwTinyMax]float32, bs *[dwTinyMax]float32, dy []float32, ds int, x []float32, xs, nd, nx, n int) {
	for i := 0; i < n; i++ {
		d := dy[i*ds : i*ds+nd]
		var xv [dwTinyMax]float32
		copy(xv[:], x[i*xs:i*xs+nx])
		x0, x1, x2, x3, x4, x5, x6, x7 := xv[0], xv[1], xv[2], xv[3], xv[4], xv[5], xv[6], xv[7]
		for q, dv := range d {
			bs[q&(dwTinyMax-1)] += dv
			row := g[(q&(dwTinyMax-1))*dwTinyMax:][:dwTinyMax]
			row[0] += dv * x0
			row[1] += dv * x1
			row[2] += dv * x2
			row[3] += dv * x3
			row[4] += dv * x4
			row[5] += dv * x5
			row[6] += dv * x6
			row[7] += dv * x7
			if nx > 8 {
				hi := row[8:16]
				for r, v := range xv[8:] {
					hi[r] += dv * v
				}
			}
		}
	}
}
