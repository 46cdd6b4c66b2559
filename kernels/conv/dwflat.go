package conv

import "github.com/dshrink/dshrink/kernels/isa"

// Depthwise backward passes in the "flat phase" formulation.
//
// The zero-padded input plane (ph x pw) of one channel is split into
// sh*sw phase planes xph[a][b][i][j] = xpad[sh*i+a][sw*j+b], each phs x pws.
// Tap (kh, kw) of the kernel then reads phase (kh%sh, kw%sw) at the constant
// offset (kh/sh)*pws + kw/sw from the output position, so a stride-s
// convolution becomes a set of stride-1 correlations. Laying dy out with the
// same row stride pws (zeros in columns >= OW and rows >= OH) turns each of
// them into a one-dimensional dot product or axpy over the flattened planes,
// and the planes of consecutive images of the same channel can be
// concatenated: zeros of dy make the reads that cross a row or image
// boundary harmless. The vector kernels thus run over long contiguous
// buffers with no per-row bookkeeping, whatever the spatial size.

// dwFlatMaxTaps bounds KH*KW for the flat paths (tap tables live on the stack).
const dwFlatMaxTaps = 49

// dwFlatMaxPlane is the output plane size up to which the flat backward
// data path is used at stride 1 too (rather than the per-plane forward
// kernel): small planes profit from being concatenated over the batch.
var dwFlatMaxPlane = 64

// dwFlatTarget is the preferred scratch size in floats of one chunk of
// images (it stays in the L2 cache).
var dwFlatTarget = 24 << 10

// dwFlat is the geometry of the flat formulation for a Params.
type dwFlat struct {
	sh, sw, pha, phb int // strides; phases used in each dimension
	phs, pws, plane  int // phase plane height, width and size
	maxOff           int // largest tap offset
	m                int // images per chunk
	lmax             int // chunk length rounded up to a multiple of 64
	ps               int // stride between phase buffers
	margin           int // leading zeros of the dy buffer (backward data)
}

// dwPrefetchAhead is how many images ahead the flat paths prefetch the
// planes of a channel (they are far apart in memory).
const dwPrefetchAhead = 3

func roundUp(v, m int) int { return (v + m - 1) / m * m }

func dwFlatOK(p *Params) bool { return p.KH*p.KW <= dwFlatMaxTaps }

func newDWFlat(p *Params) dwFlat {
	var f dwFlat
	f.sh, f.sw = p.StrideH, p.StrideW
	f.pha, f.phb = min(f.sh, p.KH), min(f.sw, p.KW)
	ph, pw := p.H+p.PadT+p.PadB, p.W+p.PadL+p.PadR
	f.phs, f.pws = (ph+f.sh-1)/f.sh, (pw+f.sw-1)/f.sw
	f.plane = f.phs * f.pws
	f.maxOff = (p.KH-1)/f.sh*f.pws + (p.KW-1)/f.sw
	f.margin = roundUp(f.maxOff, 16)
	nph := f.pha * f.phb
	f.m = max(1, min(p.N, dwFlatTarget/(f.plane*(1+nph))))
	f.lmax = roundUp(f.m*f.plane, 64)
	f.ps = roundUp(f.lmax+f.maxOff, 16)
	return f
}

// phase returns the phase buffer index and the offset of tap (kh, kw).
func (f *dwFlat) tap(kh, kw int) (ph, off int) {
	return kh%f.sh*f.phb + kw%f.sw, kh/f.sh*f.pws + kw/f.sw
}

// gatherRow sets dst[j] = src[start+step*j] where that index is inside src,
// and 0 elsewhere.
func gatherRow(dst, src []float32, start, step int) {
	lo := 0
	if start < 0 {
		lo = (-start + step - 1) / step
	}
	hi := 0
	if last := len(src) - 1 - start; last >= 0 {
		hi = last/step + 1
	}
	hi = min(hi, len(dst))
	if lo >= hi {
		// No column of this phase falls inside src (a pad wider than the
		// row, as a 1x1 kernel with stride 2 over a 1-wide row has).
		clear(dst)
		return
	}
	clear(dst[:lo])
	clear(dst[hi:])
	if step == 1 {
		copy(dst[lo:hi], src[start+lo:])
		return
	}
	d := dst[lo:hi]
	s := src[start+lo*step:]
	if step == 2 {
		s = s[:2*(len(d)-1)+1]
		for j := range d {
			d[j] = s[2*j]
		}
		return
	}
	for j := range d {
		d[j] = s[j*step]
	}
}

// dwBackWeightFlat computes the weight gradient of channel c over the batch
// and, when t.dbias is not nil, its bias gradient (as one more tap that
// reads a buffer of ones).
func (t *task) dwBackWeightFlat(c int, scratch *[]float32) {
	p := &t.p
	f := newDWFlat(p)
	oh, ow := p.OutH(), p.OutW()
	hw, ohw, khw := p.H*p.W, oh*ow, p.KH*p.KW
	nph := f.pha * f.phb
	need := f.lmax + nph*f.ps + f.lmax
	buf := scratchOf(scratch, need)
	dyb, xb := buf[:f.lmax], buf[f.lmax:]
	var offs [dwFlatMaxTaps + 1]int
	nt := khw
	if t.dbias != nil {
		ones := xb[nph*f.ps : nph*f.ps+f.lmax]
		for i := range ones {
			ones[i] = 1
		}
		offs[nt] = nph * f.ps
		nt++
	}
	for kh := 0; kh < p.KH; kh++ {
		for kw := 0; kw < p.KW; kw++ {
			ph, off := f.tap(kh, kw)
			offs[kh*p.KW+kw] = ph*f.ps + off
		}
	}
	var acc [(dwFlatMaxTaps + 1) * 16]float32
	for n0 := 0; n0 < p.N; n0 += f.m {
		m := min(f.m, p.N-n0)
		l := roundUp(m*f.plane, 64)
		clear(dyb[:l])
		for ph := 0; ph < nph; ph++ {
			clear(xb[ph*f.ps : ph*f.ps+l+f.maxOff])
		}
		for img := 0; img < m; img++ {
			i := (n0+img)*p.C + c
			if n := n0 + img + dwPrefetchAhead; n < p.N {
				j := n*p.C + c
				prefetch(t.x[j*hw : (j+1)*hw])
				prefetch(t.y[j*ohw : (j+1)*ohw])
			}
			copyRows(dyb[img*f.plane:], f.pws, t.y[i*ohw:(i+1)*ohw], ow, ow, oh)
			f.fillX(p, xb[img*f.plane:], t.x[i*hw:(i+1)*hw])
		}
		dotTaps(dyb[:l], xb, offs[:nt], acc[:nt*16])
	}
	dwc := t.dw[c*khw : (c+1)*khw]
	for k := range dwc {
		dwc[k] = sum16(acc[k*16 : k*16+16])
	}
	if t.dbias != nil {
		t.dbias[c] = sum16(acc[khw*16 : khw*16+16])
	}
}

// dwBackDataFlat computes the input gradient of channel c for all images.
func (t *task) dwBackDataFlat(c int, scratch *[]float32) {
	p := &t.p
	f := newDWFlat(p)
	oh, ow := p.OutH(), p.OutW()
	hw, ohw, khw := p.H*p.W, oh*ow, p.KH*p.KW
	nph := f.pha * f.phb
	need := f.margin + f.lmax + nph*f.lmax
	buf := scratchOf(scratch, need)
	dyb, ob := buf[:f.margin+f.lmax], buf[f.margin+f.lmax:]
	wp := t.w[c*khw : (c+1)*khw]
	// Taps grouped by phase: offsets into dyb and weights.
	var offs [dwFlatMaxTaps]int
	var ws [dwFlatMaxTaps]float32
	var start [dwFlatMaxTaps + 1]int
	k := 0
	for a := 0; a < f.pha; a++ {
		for b := 0; b < f.phb; b++ {
			start[a*f.phb+b] = k
			for kh := a; kh < p.KH; kh += f.sh {
				for kw := b; kw < p.KW; kw += f.sw {
					_, off := f.tap(kh, kw)
					offs[k], ws[k] = f.margin-off, wp[kh*p.KW+kw]
					k++
				}
			}
		}
	}
	start[nph] = k
	clear(dyb[:f.margin])
	for n0 := 0; n0 < p.N; n0 += f.m {
		m := min(f.m, p.N-n0)
		l := roundUp(m*f.plane, 64)
		clear(dyb[f.margin : f.margin+l])
		for img := 0; img < m; img++ {
			i := (n0+img)*p.C + c
			if n := n0 + img + dwPrefetchAhead; n < p.N {
				j := n*p.C + c
				prefetch(t.y[j*ohw : (j+1)*ohw])
			}
			copyRows(dyb[f.margin+img*f.plane:], f.pws, t.y[i*ohw:(i+1)*ohw], ow, ow, oh)
		}
		for ph := 0; ph < nph; ph++ {
			gatherTaps(ob[ph*f.lmax:][:l], dyb, offs[start[ph]:start[ph+1]], ws[start[ph]:start[ph+1]])
		}
		for img := 0; img < m; img++ {
			i := (n0+img)*p.C + c
			f.extractDX(p, t.dx[i*hw:(i+1)*hw], ob[img*f.plane:])
		}
	}
}

// firstRow returns the first input row ih >= 0 with (ih+pad)%s == a, the
// phase row it maps to, and the number of such rows below size.
func firstRow(a, pad, s, size int) (ih0, r0, rows int) {
	ih0 = ((a-pad)%s + s) % s
	if ih0 >= size {
		return ih0, 0, 0
	}
	return ih0, (ih0 + pad) / s, (size - ih0 + s - 1) / s
}

// fillX writes the phase planes of input plane xp into xb (phase buffers
// f.ps apart); the padding positions must already be zero.
func (f *dwFlat) fillX(p *Params, xb, xp []float32) {
	for a := 0; a < f.pha; a++ {
		ih0, r0, rows := firstRow(a, p.PadT, f.sh, p.H)
		if rows == 0 {
			continue
		}
		src := xp[ih0*p.W:]
		ss := f.sh * p.W
		d := r0*f.pws + p.PadL/f.sw
		switch {
		case f.sw == 1:
			copyRows(xb[a*f.ps+d:], f.pws, src, ss, p.W, rows)
		case f.sw == 2 && f.phb == 2 && p.PadL%2 == 0:
			deintRows(xb[(2*a)*f.ps+d:], xb[(2*a+1)*f.ps+d:], f.pws, src, ss, p.W, rows)
		case f.sw == 2 && f.phb == 2:
			deintRows(xb[(2*a+1)*f.ps+d:], xb[(2*a)*f.ps+d+1:], f.pws, src, ss, p.W, rows)
		default:
			for b := 0; b < f.phb; b++ {
				dst := xb[(a*f.phb+b)*f.ps:]
				for r := 0; r < rows; r++ {
					row := dst[(r0+r)*f.pws : (r0+r+1)*f.pws]
					ih := ih0 + r*f.sh
					gatherRow(row, xp[ih*p.W:(ih+1)*p.W], b-p.PadL, f.sw)
				}
			}
		}
	}
}

// extractDX writes input-gradient plane dxp from the phase outputs ob
// (f.lmax apart).
func (f *dwFlat) extractDX(p *Params, dxp, ob []float32) {
	for a := 0; a < f.sh; a++ {
		ih0, r0, rows := firstRow(a, p.PadT, f.sh, p.H)
		if rows == 0 {
			continue
		}
		dst := dxp[ih0*p.W:]
		ds := f.sh * p.W
		if a >= f.pha {
			for r := 0; r < rows; r++ {
				clear(dst[r*ds : r*ds+p.W])
			}
			continue
		}
		s := r0*f.pws + p.PadL/f.sw
		switch {
		case f.sw == 1:
			copyRows(dst, ds, ob[a*f.lmax+s:], f.pws, p.W, rows)
		case f.sw == 2 && f.phb == 2 && p.PadL%2 == 0:
			intlvRows(dst, ds, ob[(2*a)*f.lmax+s:], ob[(2*a+1)*f.lmax+s:], f.pws, p.W, rows)
		case f.sw == 2 && f.phb == 2:
			intlvRows(dst, ds, ob[(2*a+1)*f.lmax+s:], ob[(2*a)*f.lmax+s+1:], f.pws, p.W, rows)
		default:
			for r := 0; r < rows; r++ {
				scatterRow(dst[r*ds:r*ds+p.W], ob[a*f.phb*f.lmax+(r0+r)*f.pws:], f.lmax, p.PadL, f.sw, f.phb)
			}
		}
	}
}

// scatterRow sets row[iw] = src[b*ld + col/s] with col = iw+pad and b = col%s,
// or 0 when b >= nb (a phase with no taps).
func scatterRow(row, src []float32, ld, pad, s, nb int) {
	if s == 2 && nb == 2 {
		e, o := src, src[ld:]
		iw := 0
		if pad%2 == 1 && len(row) > 0 {
			row[0] = o[pad/2]
			iw = 1
		}
		// From here col = iw+pad is even.
		j := (iw + pad) / 2
		for ; iw+1 < len(row); iw += 2 {
			row[iw] = e[j]
			row[iw+1] = o[j]
			j++
		}
		if iw < len(row) {
			row[iw] = e[j]
		}
		return
	}
	for iw := range row {
		col := iw + pad
		b := col % s
		if b >= nb {
			row[iw] = 0
			continue
		}
		row[iw] = src[b*ld+col/s]
	}
}

// dotTapsGo adds sum_q d[q]*src[offs[t]+q] into acc[16*t].
func dotTapsGo(d, src []float32, offs []int, acc []float32) {
	for t, off := range offs {
		s := src[off : off+len(d)]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(d); i += 4 {
			s0 += d[i] * s[i]
			s1 += d[i+1] * s[i+1]
			s2 += d[i+2] * s[i+2]
			s3 += d[i+3] * s[i+3]
		}
		for ; i < len(d); i++ {
			s0 += d[i] * s[i]
		}
		acc[16*t] += (s0 + s1) + (s2 + s3)
	}
}

// gatherTapsGo sets out[p] = sum_t w[t]*src[offs[t]+p], eight outputs at a
// time in registers over all taps, then the last len(out)%8 one by one.
func gatherTapsGo(out, src []float32, offs []int, w []float32) {
	w = w[:len(offs)]
	p := 0
	for ; p+8 <= len(out); p += 8 {
		var a0, a1, a2, a3, a4, a5, a6, a7 float32
		for t, off := range offs {
			s := src[off+p : off+p+8 : off+p+8]
			wv := w[t]
			a0 += wv * s[0]
			a1 += wv * s[1]
			a2 += wv * s[2]
			a3 += wv * s[3]
			a4 += wv * s[4]
			a5 += wv * s[5]
			a6 += wv * s[6]
			a7 += wv * s[7]
		}
		o := out[p : p+8 : p+8]
		o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7] = a0, a1, a2, a3, a4, a5, a6, a7
	}
	for ; p < len(out); p++ {
		var a float32
		for t, off := range offs {
			a += w[t] * src[off+p]
		}
		out[p] = a
	}
}

func copyRowsGo(dst []float32, ds int, src []float32, ss, n, rows int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*ds:r*ds+n], src[r*ss:r*ss+n])
	}
}

func deintRowsGo(d0, d1 []float32, ds int, src []float32, ss, n, rows int) {
	for r := 0; r < rows; r++ {
		s := src[r*ss : r*ss+n]
		for k := 0; 2*k < n; k++ {
			d0[r*ds+k] = s[2*k]
			if 2*k+1 < n {
				d1[r*ds+k] = s[2*k+1]
			}
		}
	}
}

func intlvRowsGo(dst []float32, ds int, s0, s1 []float32, ss, n, rows int) {
	for r := 0; r < rows; r++ {
		d := dst[r*ds : r*ds+n]
		for k := 0; 2*k < n; k++ {
			d[2*k] = s0[r*ss+k]
			if 2*k+1 < n {
				d[2*k+1] = s1[r*ss+k]
			}
		}
	}
}

// dwForwardFlatOK reports whether the forward pass uses the flat path: with
// the vector kernels, for strided shapes that have no dedicated kernel
// (5x5 and 7x7 at stride 2, ...).
func dwForwardFlatOK(p *Params) bool {
	k3 := p.KH == 3 && p.KW == 3
	return useDWFwdFlat && asmLevel() != isa.Generic && dwFlatOK(p) && p.StrideW != 1 && !(k3 && p.StrideW == 2)
}

// dwForwardFlat computes the output planes of channel c for all images.
func (t *task) dwForwardFlat(c int, scratch *[]float32) {
	p := &t.p
	f := newDWFlat(p)
	oh, ow := p.OutH(), p.OutW()
	hw, ohw, khw := p.H*p.W, oh*ow, p.KH*p.KW
	nph := f.pha * f.phb
	need := f.lmax + nph*f.ps
	buf := scratchOf(scratch, need)
	ob, xb := buf[:f.lmax], buf[f.lmax:]
	var offs [dwFlatMaxTaps]int
	for kh := 0; kh < p.KH; kh++ {
		for kw := 0; kw < p.KW; kw++ {
			ph, off := f.tap(kh, kw)
			offs[kh*p.KW+kw] = ph*f.ps + off
		}
	}
	wp := t.w[c*khw : (c+1)*khw]
	var b float32
	if t.bias != nil {
		b = t.bias[c]
	}
	for n0 := 0; n0 < p.N; n0 += f.m {
		m := min(f.m, p.N-n0)
		l := roundUp(m*f.plane, 64)
		for ph := 0; ph < nph; ph++ {
			clear(xb[ph*f.ps : ph*f.ps+l+f.maxOff])
		}
		for img := 0; img < m; img++ {
			i := (n0+img)*p.C + c
			f.fillX(p, xb[img*f.plane:], t.x[i*hw:(i+1)*hw])
		}
		gatherTaps(ob[:l], xb, offs[:khw], wp)
		for img := 0; img < m; img++ {
			i := (n0+img)*p.C + c
			yp := t.y[i*ohw : (i+1)*ohw]
			for y := 0; y < oh; y++ {
				row := yp[y*ow : (y+1)*ow]
				copy(row, ob[img*f.plane+y*f.pws:])
				var r []float32
				if t.res != nil {
					r = t.res[i*ohw+y*ow : i*ohw+(y+1)*ow]
				}
				epiRow(row, b, r, t.act)
			}
		}
	}
}

// useDWFwdFlat enables the flat forward path (benchmarks clear it).
var useDWFwdFlat = true

// sum16 returns the sum of 16 lanes.
func sum16(v []float32) float32 {
	v = v[:16]
	var s float32
	for _, x := range v {
		s += x
	}
	return s
}
