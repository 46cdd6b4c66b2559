package conv

import (
	"github.com/dshrink/dshrink/kernels/gemm"
	"github.com/dshrink/dshrink/kernels/parallel"
)

// Forward computes y = conv(x, w) + bias, then applies ep (residual add and
// activation). x is [N, C, H, W], w is [K, C/Groups, KH, KW], bias is [K] or
// nil, y is [N, K, OutH, OutW] and is overwritten; ws must hold at least
// WorkspaceSize(p) elements. y must not alias x, w, ws or ep.Residual.
func Forward(p Params, x, w, bias, y, ws []float32, ep Epilogue) error {
	return forward(p, choose(p), x, w, bias, y, ws, ep)
}

// BackwardData computes dx, the gradient with respect to the input, from dy
// (the gradient with respect to the output, [N, K, OutH, OutW]) and the
// weights. dx is [N, C, H, W] and is overwritten. ws must hold at least
// WorkspaceSize(p) elements.
func BackwardData(p Params, dy, w, dx, ws []float32) error {
	return backwardData(p, choose(p), dy, w, dx, ws)
}

// BackwardWeight computes dw, the gradient with respect to the weights
// ([K, C/Groups, KH, KW]), summed over the batch, and, when dbias is not nil,
// dbias ([K]), the gradient with respect to the bias. Both are overwritten
// (not accumulated). ws must hold at least WorkspaceSize(p) elements.
func BackwardWeight(p Params, x, dy, dw, dbias, ws []float32) error {
	return backwardWeight(p, choose(p), x, dy, dw, dbias, ws)
}

func check(p Params, a algo, x, w, y, ws []float32) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if len(x) < p.InputLen() || len(w) < p.WeightLen() || len(y) < p.OutputLen() || len(ws) < workspaceFor(p, a) {
		return errShort
	}
	return nil
}

func forward(p Params, a algo, x, w, bias, y, ws []float32, ep Epilogue) error {
	return forwardWith(p, a, x, w, nil, bias, y, ws, ep)
}

// forwardWith is forward with, when pre is not nil, the GEMM weights of each
// group already packed in pre (w is then pre's copy for the direct paths).
func forwardWith(p Params, a algo, x, w []float32, pre []gemm.PackedA, bias, y, ws []float32, ep Epilogue) error {
	if err := check(p, a, x, w, y, ws); err != nil {
		return err
	}
	if (bias != nil && len(bias) < p.K) || (ep.Residual != nil && len(ep.Residual) < p.OutputLen()) {
		return errShort
	}
	t := getTask(p, x, w, bias, y, ws)
	t.res, t.act = ep.Residual, ep.Act
	defer putTask(t)
	oh, ow := p.OutH(), p.OutW()
	switch a {
	case algoDepthwise, algoDWGeneric:
		t.kind, t.generic = kDWForward, a == algoDWGeneric
		if !t.generic && dwTinyOK(&p) {
			t.kind = kDWTiny
			run(t, p.C, 1)
			return nil
		}
		if !t.generic && dwForwardFlatOK(&p) {
			t.kind = kDWForwardFlat
			run(t, p.C, 1)
			return nil
		}
		run(t, p.N*p.C, 1)
		return nil
	}
	cg, kg := p.C/p.Groups, p.K/p.Groups
	ohw, hw := oh*ow, p.H*p.W
	kk := cg * p.KH * p.KW
	rows := chunkRows(p, a)
	ge := &t.gep
	if ep.Act != ActNone {
		ge.Clamp = true
		ge.Min, ge.Max = actBounds(ep.Act)
	}
	for g := 0; g < p.Groups; g++ {
		pa := &t.pa
		if pre != nil {
			pa = &pre[g]
		} else if err := t.pa.Repack(false, kg, kk, w[g*kg*kk:], kk); err != nil {
			return err
		}
		if bias != nil {
			ge.Bias = bias[g*kg:]
		}
		if a == algoGEMM1x1 && pwForwardBatched(&p, ep) {
			t.g, t.ppa, t.kind = g, pa, kPWForward
			t.nb = pwSplit(&p, hw)
			run(t, (p.N+t.nb-1)/t.nb, 1)
			continue
		}
		for n := 0; n < p.N; n++ {
			xg := x[(n*p.C+g*cg)*hw:]
			off := (n*p.K + g*kg) * ohw
			if a == algoGEMM1x1 {
				if ep.Residual != nil {
					ge.Residual, ge.LdRes = ep.Residual[off:], ohw
				}
				if err := gemm.SgemmPacked(pa, false, ohw, xg, hw, y[off:], ohw, ge); err != nil {
					return err
				}
				continue
			}
			t.n, t.g = n, g
			for y0 := 0; y0 < oh; y0 += rows {
				y1 := min(y0+rows, oh)
				nc := (y1 - y0) * ow
				t.kind, t.y0, t.y1 = kIm2col, y0, y1
				run(t, kk, 1)
				if ep.Residual != nil {
					ge.Residual, ge.LdRes = ep.Residual[off+y0*ow:], ohw
				}
				if err := gemm.SgemmPacked(pa, false, nc, ws, nc, y[off+y0*ow:], ohw, ge); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func backwardData(p Params, a algo, dy, w, dx, ws []float32) error {
	if err := check(p, a, dx, w, dy, ws); err != nil {
		return err
	}
	t := getTask(p, nil, w, nil, dy, ws)
	t.dx = dx
	defer putTask(t)
	switch a {
	case algoDepthwise, algoDWGeneric:
		t.generic = a == algoDWGeneric
		if !t.generic && dwTinyOK(&p) {
			t.kind = kDWTinyBackData
			run(t, p.C, 1)
			return nil
		}
		if !t.generic && dwFlatOK(&p) && (!dwBackDataS1Asm(&p) || p.OutH()*p.OutW() <= dwFlatMaxPlane) {
			t.kind = kDWBackDataFlat
			run(t, p.C, 1)
			return nil
		}
		t.kind = kDWBackData
		run(t, p.N*p.C, 1)
		return nil
	}
	cg, kg := p.C/p.Groups, p.K/p.Groups
	oh, ow := p.OutH(), p.OutW()
	ohw, hw := oh*ow, p.H*p.W
	kk := cg * p.KH * p.KW
	rows := chunkRows(p, a)
	if a == algoGEMM1x1 && pwBatch {
		return t.pwBackData()
	}
	for n := 0; n < p.N; n++ {
		for g := 0; g < p.Groups; g++ {
			dxg := dx[(n*p.C+g*cg)*hw:]
			dyg := dy[(n*p.K+g*kg)*ohw:]
			wg := w[g*kg*kk:]
			if a != algoIm2col {
				gemm.Sgemm(true, false, cg, hw, kg, 1, wg, cg, dyg, ohw, 0, dxg, hw)
				continue
			}
			clear(dxg[:cg*hw])
			t.n, t.g = n, g
			for y0 := 0; y0 < oh; y0 += rows {
				y1 := min(y0+rows, oh)
				nc := (y1 - y0) * ow
				gemm.Sgemm(true, false, kk, nc, kg, 1, wg, kk, dyg[y0*ow:], ohw, 0, ws, nc)
				t.kind, t.y0, t.y1 = kCol2im, y0, y1
				run(t, cg, 1)
			}
		}
	}
	return nil
}

func backwardWeight(p Params, a algo, x, dy, dw, dbias, ws []float32) error {
	if err := check(p, a, x, dw, dy, ws); err != nil {
		return err
	}
	if dbias != nil && len(dbias) < p.K {
		return errShort
	}
	t := getTask(p, x, nil, nil, dy, ws)
	t.dw, t.dbias = dw, dbias
	defer putTask(t)
	tiny := a == algoDepthwise && dwTinyOK(&p)
	flat := a == algoDepthwise && dwFlatOK(&p) // computes dbias itself, as does tiny
	if dbias != nil && !flat && !tiny {
		t.kind = kBiasGrad
		run(t, p.K, 1)
	}
	switch a {
	case algoDepthwise, algoDWGeneric:
		t.kind, t.generic = kDWBackWeight, a == algoDWGeneric
		if tiny {
			t.kind = kDWTinyBackWeight
		}
		run(t, p.C, 1)
		return nil
	}
	cg, kg := p.C/p.Groups, p.K/p.Groups
	oh, ow := p.OutH(), p.OutW()
	ohw, hw := oh*ow, p.H*p.W
	kk := cg * p.KH * p.KW
	rows := chunkRows(p, a)
	if a == algoGEMM1x1 && pwBatch {
		t.pwBackWeight()
		return nil
	}
	for g := 0; g < p.Groups; g++ {
		dwg := dw[g*kg*kk:]
		var beta float32
		for n := 0; n < p.N; n++ {
			xg := x[(n*p.C+g*cg)*hw:]
			dyg := dy[(n*p.K+g*kg)*ohw:]
			if a != algoIm2col {
				gemm.Sgemm(false, true, kg, cg, hw, 1, dyg, ohw, xg, hw, beta, dwg, cg)
				beta = 1
				continue
			}
			t.n, t.g = n, g
			for y0 := 0; y0 < oh; y0 += rows {
				y1 := min(y0+rows, oh)
				nc := (y1 - y0) * ow
				t.kind, t.y0, t.y1 = kIm2col, y0, y1
				run(t, kk, 1)
				gemm.Sgemm(false, true, kg, kk, nc, 1, dyg[y0*ow:], ohw, ws, nc, beta, dwg, kk)
				beta = 1
			}
		}
	}
	return nil
}

type taskKind uint8

const (
	kDWForward taskKind = iota
	kDWBackData
	kDWBackWeight
	kDWBackDataFlat
	kDWForwardFlat
	kIm2col
	kCol2im
	kBiasGrad
	kDWTiny
	kDWTinyBackData
	kDWTinyBackWeight
	kPWForward
	kPWBackData
	kPWBackWeight
)

// task is one parallel job over a range of planes, channels or rows; it has
// the Run(lo, hi) shape of package parallel's tasks. Tasks are pooled so that
// calls allocate nothing.
type task struct {
	kind                   taskKind
	generic                bool
	act                    Activation
	p                      Params
	n, g                   int
	y0, y1                 int // output rows covered by the column buffer
	x, w, bias, y, ws, res []float32
	dx, dw, dbias          []float32
	nb                     int           // images per chunk of the image-parallel 1x1 passes
	pa                     gemm.PackedA  // weights of the current group
	ppa                    *gemm.PackedA // the packed weights the 1x1 chunks read
	part                   []float32     // per-chunk partial weight gradients of the 1x1 chunks
	gep                    gemm.Epilogue // fused epilogue of the GEMM paths
}

var taskPool parallel.FreeList[task]

// scratchPool holds per-chunk scratch buffers (padded depthwise input
// planes); they are grown on first use and then reused.
var scratchPool parallel.FreeList[[]float32]

// scratchOf returns the first n floats of scratch buffer s, growing it first
// when it is shorter (a buffer grows once and is then reused).
func scratchOf(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

func getTask(p Params, x, w, bias, y, ws []float32) *task {
	t := taskPool.Get()
	pa := t.pa
	*t = task{p: p, x: x, w: w, bias: bias, y: y, ws: ws, pa: pa}
	return t
}

func putTask(t *task) {
	pa := t.pa // keep the packing memory for the next call
	*t = task{pa: pa}
	taskPool.Put(t)
}

// run executes t over [0, n) in chunks of at least grain items, about four
// chunks per thread so that dynamic claiming balances the load.
func run(t *task, n, grain int) {
	th := parallel.Threads()
	if n <= grain || th <= 1 {
		t.Run(0, n)
		return
	}
	chunk := max(grain, (n+4*th-1)/(4*th))
	parallel.Do(t, n, chunk)
}

// Run executes the task over the index range [lo, hi).
func (t *task) Run(lo, hi int) {
	switch t.kind {
	case kDWForward:
		scratch := scratchPool.Get()
		for i := lo; i < hi; i++ {
			t.dwForwardPlane(i, scratch)
		}
		scratchPool.Put(scratch)
	case kDWBackData:
		scratch := scratchPool.Get()
		for i := lo; i < hi; i++ {
			t.dwBackDataPlane(i, scratch)
		}
		scratchPool.Put(scratch)
	case kDWForwardFlat:
		scratch := scratchPool.Get()
		for c := lo; c < hi; c++ {
			t.dwForwardFlat(c, scratch)
		}
		scratchPool.Put(scratch)
	case kDWBackDataFlat:
		scratch := scratchPool.Get()
		for c := lo; c < hi; c++ {
			t.dwBackDataFlat(c, scratch)
		}
		scratchPool.Put(scratch)
	case kDWBackWeight:
		if t.generic || !dwFlatOK(&t.p) {
			for c := lo; c < hi; c++ {
				t.dwBackWeightChannel(c)
			}
			break
		}
		scratch := scratchPool.Get()
		for c := lo; c < hi; c++ {
			t.dwBackWeightFlat(c, scratch)
		}
		scratchPool.Put(scratch)
	case kIm2col:
		t.im2col(lo, hi)
	case kCol2im:
		t.col2im(lo, hi)
	case kBiasGrad:
		t.biasGrad(lo, hi)
	case kPWForward:
		for c := lo; c < hi; c++ {
			t.pwForwardChunk(c)
		}
	case kPWBackWeight:
		for c := lo; c < hi; c++ {
			t.pwBackWeightChunk(c)
		}
	case kPWBackData:
		for c := lo; c < hi; c++ {
			t.pwBackDataChunk(c)
		}
	case kDWTiny:
		for c := lo; c < hi; c++ {
			t.dwTinyForward(c)
		}
	case kDWTinyBackData:
		for c := lo; c < hi; c++ {
			t.dwTinyBackData(c)
		}
	case kDWTinyBackWeight:
		for c := lo; c < hi; c++ {
			t.dwTinyBackWeight(c)
		}
	}
}

// epiRow sets row[i] = act(row[i] + b + r[i]) (r may be nil).
func epiRow(row []float32, b float32, r []float32, act Activation) {
	if r != nil {
		r = r[:len(row)]
		for i, v := range r {
			row[i] += b + v
		}
	} else if b != 0 {
		for i := range row {
			row[i] += b
		}
	}
	switch act {
	case ActReLU:
		for i, v := range row {
			row[i] = max(v, 0)
		}
	case ActReLU6:
		for i, v := range row {
			row[i] = min(max(v, 0), 6)
		}
	}
}

// biasGrad sets dbias[k] = sum of dy over images and positions, k in [lo, hi).
func (t *task) biasGrad(lo, hi int) {
	p := &t.p
	ohw := p.OutH() * p.OutW()
	for k := lo; k < hi; k++ {
		var s float64
		for n := 0; n < p.N; n++ {
			off := (n*p.K + k) * ohw
			var s0, s1, s2, s3 float32
			row := t.y[off : off+ohw]
			j := 0
			for ; j+4 <= len(row); j += 4 {
				s0 += row[j]
				s1 += row[j+1]
				s2 += row[j+2]
				s3 += row[j+3]
			}
			for ; j < len(row); j++ {
				s0 += row[j]
			}
			s += float64((s0 + s1) + (s2 + s3))
		}
		t.dbias[k] = float32(s)
	}
}

// validRange returns the output index range [lo, hi) for which the input
// index o*s - pad + k lies in [0, size), clamped to [0, out).
func validRange(out, size, s, pad, k int) (lo, hi int) {
	d := pad - k // need o*s >= d and o*s <= size-1+d
	if d > 0 {
		lo = (d + s - 1) / s
	}
	if size-1+d < 0 {
		return 0, 0
	}
	hi = (size-1+d)/s + 1
	if hi > out {
		hi = out
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// im2col fills rows [lo, hi) of the column buffer ws ([Cg*KH*KW, (y1-y0)*OW])
// for output rows [t.y0, t.y1) of image t.n and group t.g from the input t.x.
func (t *task) im2col(lo, hi int) {
	p := &t.p
	oh, ow := p.OutH(), p.OutW()
	cg := p.C / p.Groups
	khw := p.KH * p.KW
	nc := (t.y1 - t.y0) * ow
	for r := lo; r < hi; r++ {
		c, kh, kw := r/khw, r%khw/p.KW, r%p.KW
		plane := t.x[((t.n*p.C)+t.g*cg+c)*p.H*p.W:][:p.H*p.W]
		row := t.ws[r*nc : (r+1)*nc]
		wlo, whi := validRange(ow, p.W, p.StrideW, p.PadL, kw)
		hlo, hhi := validRange(oh, p.H, p.StrideH, p.PadT, kh)
		hlo, hhi = min(max(hlo, t.y0), t.y1), max(min(hhi, t.y1), t.y0)
		hlo = min(hlo, hhi)
		if p.StrideW == 1 && fastIm2col {
			// Whole rows at once: zero the buffer row, then copy the
			// valid rectangle with one strided row copy.
			clear(row)
			if wlo < whi && hlo < hhi {
				ih := hlo*p.StrideH - p.PadT + kh
				iw := wlo - p.PadL + kw
				copyRows(row[(hlo-t.y0)*ow+wlo:], ow, plane[ih*p.W+iw:], p.StrideH*p.W, whi-wlo, hhi-hlo)
			}
			continue
		}
		clear(row[:(hlo-t.y0)*ow])
		clear(row[(hhi-t.y0)*ow:])
		for y := hlo; y < hhi; y++ {
			ih := y*p.StrideH - p.PadT + kh
			src := plane[ih*p.W : (ih+1)*p.W]
			dst := row[(y-t.y0)*ow : (y-t.y0+1)*ow]
			clear(dst[:wlo])
			clear(dst[whi:])
			if wlo >= whi {
				continue
			}
			iw := wlo*p.StrideW - p.PadL + kw
			if p.StrideW == 1 {
				copy(dst[wlo:whi], src[iw:])
			} else {
				s := p.StrideW
				d := dst[wlo:whi]
				src = src[iw:]
				for i := range d {
					d[i] = src[i*s]
				}
			}
		}
	}
}

// fastIm2col enables the strided row copy in im2col (benchmarks clear it).
var fastIm2col = true

// col2im accumulates the column buffer ws (output rows [t.y0, t.y1)) into
// channels [lo, hi) (within group t.g) of image t.n of dx.
func (t *task) col2im(lo, hi int) {
	p := &t.p
	oh, ow := p.OutH(), p.OutW()
	cg := p.C / p.Groups
	hw := p.H * p.W
	nc := (t.y1 - t.y0) * ow
	for c := lo; c < hi; c++ {
		plane := t.dx[((t.n*p.C)+t.g*cg+c)*hw:][:hw]
		for kh := 0; kh < p.KH; kh++ {
			hlo, hhi := validRange(oh, p.H, p.StrideH, p.PadT, kh)
			hlo, hhi = max(hlo, t.y0), min(hhi, t.y1)
			for kw := 0; kw < p.KW; kw++ {
				r := (c*p.KH+kh)*p.KW + kw
				row := t.ws[r*nc : (r+1)*nc]
				wlo, whi := validRange(ow, p.W, p.StrideW, p.PadL, kw)
				if wlo >= whi {
					continue
				}
				for y := hlo; y < hhi; y++ {
					ih := y*p.StrideH - p.PadT + kh
					dst := plane[ih*p.W : (ih+1)*p.W]
					src := row[(y-t.y0)*ow+wlo : (y-t.y0)*ow+whi]
					iw := wlo*p.StrideW - p.PadL + kw
					if p.StrideW == 1 {
						dst = dst[iw : iw+len(src)]
						for i, v := range src {
							dst[i] += v
						}
					} else {
						s := p.StrideW
						for i, v := range src {
							dst[iw+i*s] += v
						}
					}
				}
			}
		}
	}
}
