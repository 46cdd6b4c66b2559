package conv

import "github.com/dshrink/dshrink/kernels/isa"

// Direct depthwise convolution (Groups == C == K): each (image, channel)
// plane is independent. Forward computes one output row at a time; rows
// whose taps are all inside the input use a specialised interior kernel for
// 3x3 and 5x5 at stride 1 and 2 over the interior columns, and a bounds-checked
// path for the border columns and rows.

// dwSpecial reports whether p has a specialised depthwise interior kernel.
func dwSpecial(p *Params) bool {
	return p.KH == p.KW && (p.KH == 3 || p.KH == 5) && p.StrideH == p.StrideW &&
		(p.StrideH == 1 || p.StrideH == 2)
}

// dwForwardPlane computes output plane i (= n*C + c).
func (t *task) dwForwardPlane(i int, scratch *[]float32) {
	p := &t.p
	c := i % p.C
	oh, ow := p.OutH(), p.OutW()
	hw, ohw, khw := p.H*p.W, oh*ow, p.KH*p.KW
	xp := t.x[i*hw : (i+1)*hw]
	yp := t.y[i*ohw : (i+1)*ohw]
	wp := t.w[c*khw : (c+1)*khw]
	var b float32
	if t.bias != nil {
		b = t.bias[c]
	}
	var rp []float32
	if t.res != nil {
		rp = t.res[i*ohw : (i+1)*ohw]
	}
	wlo, _ := validRange(ow, p.W, p.StrideW, p.PadL, 0)
	_, whi := validRange(ow, p.W, p.StrideW, p.PadL, p.KW-1)
	if !t.generic && dwPlaneAsm(p, yp, xp, wp, rp, b, t.act, scratch) {
		return
	}
	special := !t.generic && dwSpecial(p)
	for y := 0; y < oh; y++ {
		yrow := yp[y*ow : (y+1)*ow]
		ih0 := y*p.StrideH - p.PadT
		if special && ih0 >= 0 && ih0+p.KH <= p.H && wlo < whi {
			for x := 0; x < wlo; x++ {
				yrow[x] = b + dwPoint(p, xp, wp, y, x)
			}
			for x := whi; x < ow; x++ {
				yrow[x] = b + dwPoint(p, xp, wp, y, x)
			}
			base := xp[ih0*p.W+wlo*p.StrideW-p.PadL:]
			in := yrow[wlo:whi]
			switch {
			case p.KH == 3 && p.StrideW == 1:
				dw3s1(in, base, p.W, wp, b)
			case p.KH == 3:
				dw3s2(in, base, p.W, wp, b)
			default:
				dw5(in, base, p.W, p.StrideW, wp, b)
			}
		} else {
			dwGenericRow(p, yrow, xp, wp, y, b)
		}
		var r []float32
		if rp != nil {
			r = rp[y*ow : (y+1)*ow]
		}
		epiRow(yrow, 0, r, t.act)
	}
}

// dwPoint returns the bias-free depthwise sum at output (y, x), with bounds checks.
func dwPoint(p *Params, xp, wp []float32, y, x int) float32 {
	var s float32
	for kh := 0; kh < p.KH; kh++ {
		ih := y*p.StrideH - p.PadT + kh
		if ih < 0 || ih >= p.H {
			continue
		}
		for kw := 0; kw < p.KW; kw++ {
			iw := x*p.StrideW - p.PadL + kw
			if iw < 0 || iw >= p.W {
				continue
			}
			s += wp[kh*p.KW+kw] * xp[ih*p.W+iw]
		}
	}
	return s
}

// dwGenericRow computes output row y of one plane for any kernel and stride.
func dwGenericRow(p *Params, yrow, xp, wp []float32, y int, b float32) {
	ow := len(yrow)
	for i := range yrow {
		yrow[i] = b
	}
	for kh := 0; kh < p.KH; kh++ {
		ih := y*p.StrideH - p.PadT + kh
		if ih < 0 || ih >= p.H {
			continue
		}
		xrow := xp[ih*p.W : (ih+1)*p.W]
		for kw := 0; kw < p.KW; kw++ {
			wv := wp[kh*p.KW+kw]
			lo, hi := validRange(ow, p.W, p.StrideW, p.PadL, kw)
			if lo >= hi {
				continue
			}
			iw := lo*p.StrideW - p.PadL + kw
			if p.StrideW == 1 {
				src := xrow[iw : iw+hi-lo]
				dst := yrow[lo:hi]
				dst = dst[:len(src)]
				for j, v := range src {
					dst[j] += wv * v
				}
			} else {
				for o := lo; o < hi; o++ {
					yrow[o] += wv * xrow[iw]
					iw += p.StrideW
				}
			}
		}
	}
}

// dw3s1 computes y[j] = b + sum_{r,s<3} w[3r+s] * x[r*ld + j + s].
func dw3s1(y, x []float32, ld int, w []float32, b float32) {
	w = w[:9]
	n := len(y)
	r0 := x[: n+2 : n+2]
	r1 := x[ld : ld+n+2 : ld+n+2]
	r2 := x[2*ld : 2*ld+n+2 : 2*ld+n+2]
	w0, w1, w2, w3, w4, w5, w6, w7, w8 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
	for j := range y {
		a := r0[j : j+3 : j+3]
		c := r1[j : j+3 : j+3]
		d := r2[j : j+3 : j+3]
		y[j] = b + w0*a[0] + w1*a[1] + w2*a[2] + w3*c[0] + w4*c[1] + w5*c[2] + w6*d[0] + w7*d[1] + w8*d[2]
	}
}

// dw3s2 computes y[j] = b + sum_{r,s<3} w[3r+s] * x[r*ld + 2j + s].
func dw3s2(y, x []float32, ld int, w []float32, b float32) {
	w = w[:9]
	n := 2*len(y) + 1
	r0 := x[:n:n]
	r1 := x[ld : ld+n : ld+n]
	r2 := x[2*ld : 2*ld+n : 2*ld+n]
	w0, w1, w2, w3, w4, w5, w6, w7, w8 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
	for j := range y {
		k := 2 * j
		a := r0[k : k+3 : k+3]
		c := r1[k : k+3 : k+3]
		d := r2[k : k+3 : k+3]
		y[j] = b + w0*a[0] + w1*a[1] + w2*a[2] + w3*c[0] + w4*c[1] + w5*c[2] + w6*d[0] + w7*d[1] + w8*d[2]
	}
}

// dw5 computes y[j] = b + sum_{r,s<5} w[5r+s] * x[r*ld + s*j + s] for
// stride s (one pass per kernel row).
func dw5(y, x []float32, ld, s int, w []float32, b float32) {
	w = w[:25]
	n := s*(len(y)-1) + 5
	for r := 0; r < 5; r++ {
		row := x[r*ld : r*ld+n : r*ld+n]
		w0, w1, w2, w3, w4 := w[5*r], w[5*r+1], w[5*r+2], w[5*r+3], w[5*r+4]
		if r == 0 {
			for j := range y {
				a := row[s*j : s*j+5 : s*j+5]
				y[j] = b + w0*a[0] + w1*a[1] + w2*a[2] + w3*a[3] + w4*a[4]
			}
		} else {
			for j := range y {
				a := row[s*j : s*j+5 : s*j+5]
				y[j] += w0*a[0] + w1*a[1] + w2*a[2] + w3*a[3] + w4*a[4]
			}
		}
	}
}

// dwBackDataS1Asm reports whether the stride-1 backward data pass runs as
// an assembly forward pass over dy with the rotated kernel.
func dwBackDataS1Asm(p *Params) bool {
	return asmLevel() != isa.Generic && p.StrideH == 1 && p.StrideW == 1 && p.KH*p.KW <= 49 &&
		p.PadT < p.KH && p.PadB < p.KH && p.PadL < p.KW && p.PadR < p.KW
}

// dwBackDataPlane computes input-gradient plane i (= n*C + c).
func (t *task) dwBackDataPlane(i int, scratch *[]float32) {
	p := &t.p
	c := i % p.C
	oh, ow := p.OutH(), p.OutW()
	hw, ohw, khw := p.H*p.W, oh*ow, p.KH*p.KW
	dxp := t.dx[i*hw : (i+1)*hw]
	dyp := t.y[i*ohw : (i+1)*ohw]
	wp := t.w[c*khw : (c+1)*khw]
	// At stride 1 the input gradient is a forward depthwise convolution of
	// dy with the kernel rotated by 180 degrees and complementary padding.
	if !t.generic && dwBackDataS1Asm(p) {
		var rw [49]float32
		for k := range khw {
			rw[k] = wp[khw-1-k]
		}
		q := Params{N: 1, C: 1, H: oh, W: ow, K: 1, KH: p.KH, KW: p.KW, StrideH: 1, StrideW: 1,
			PadT: p.KH - 1 - p.PadT, PadL: p.KW - 1 - p.PadL, PadB: p.KH - 1 - p.PadB, PadR: p.KW - 1 - p.PadR, Groups: 1}
		if dwPlaneAsm(&q, dxp, dyp, rw[:khw], nil, 0, ActNone, scratch) {
			return
		}
	}
	clear(dxp)
	for y := 0; y < oh; y++ {
		dyrow := dyp[y*ow : (y+1)*ow]
		for kh := 0; kh < p.KH; kh++ {
			ih := y*p.StrideH - p.PadT + kh
			if ih < 0 || ih >= p.H {
				continue
			}
			dxrow := dxp[ih*p.W : (ih+1)*p.W]
			for kw := 0; kw < p.KW; kw++ {
				wv := wp[kh*p.KW+kw]
				lo, hi := validRange(ow, p.W, p.StrideW, p.PadL, kw)
				if lo >= hi {
					continue
				}
				iw := lo*p.StrideW - p.PadL + kw
				src := dyrow[lo:hi]
				if p.StrideW == 1 {
					dst := dxrow[iw : iw+len(src)]
					for j, v := range src {
						dst[j] += wv * v
					}
				} else {
					s := p.StrideW
					for _, v := range src {
						dxrow[iw] += wv * v
						iw += s
					}
				}
			}
		}
	}
}

// dwBackWeightChannel computes the weight gradient of channel c over the batch.
func (t *task) dwBackWeightChannel(c int) {
	p := &t.p
	oh, ow := p.OutH(), p.OutW()
	hw, ohw, khw := p.H*p.W, oh*ow, p.KH*p.KW
	dwc := t.dw[c*khw : (c+1)*khw]
	clear(dwc)
	for n := 0; n < p.N; n++ {
		i := n*p.C + c
		xp := t.x[i*hw : (i+1)*hw]
		dyp := t.y[i*ohw : (i+1)*ohw]
		for y := 0; y < oh; y++ {
			dyrow := dyp[y*ow : (y+1)*ow]
			for kh := 0; kh < p.KH; kh++ {
				ih := y*p.StrideH - p.PadT + kh
				if ih < 0 || ih >= p.H {
					continue
				}
				xrow := xp[ih*p.W : (ih+1)*p.W]
				for kw := 0; kw < p.KW; kw++ {
					lo, hi := validRange(ow, p.W, p.StrideW, p.PadL, kw)
					if lo >= hi {
						continue
					}
					iw := lo*p.StrideW - p.PadL + kw
					src := dyrow[lo:hi]
					var s float32
					if p.StrideW == 1 {
						xs := xrow[iw : iw+len(src)]
						for j, v := range src {
							s += v * xs[j]
						}
					} else {
						st := p.StrideW
						for _, v := range src {
							s += v * xrow[iw]
							iw += st
						}
					}
					dwc[kh*p.KW+kw] += s
				}
			}
		}
	}
}
