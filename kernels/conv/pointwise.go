package conv

import (
	"fmt"

	"github.com/dshrink/dshrink/kernels/gemm"
	"github.com/dshrink/dshrink/kernels/parallel"
)

// Batched passes of 1x1 stride-1 unpadded convolutions. The weight
// gradient of a group is sum_n dy_n * x_n^T (kg x cg, contraction over the
// positions of every image), the data gradient W^T * dy_n. With small
// planes one GEMM per image is very thin, so the planes of several images
// are gathered side by side into [rows, images*HW] matrices first and one
// GEMM per chunk of images covers them all.

// pwBatch enables the batched 1x1 backward paths (benchmarks clear it).
var pwBatch = true

// pwBatchCols is the preferred number of columns (positions) per GEMM.
var pwBatchCols = 512

// pwChunk returns the images per GEMM for plane size hw (1: no gathering).
func pwChunk(p *Params, hw int) int {
	if !pwBatch || hw >= pwBatchCols {
		return 1
	}
	return max(1, min(p.N, pwBatchCols/hw))
}

// pwPartialMax bounds the weights of a group (kg*cg) for which the weight
// gradient runs image-parallel with one partial sum per chunk of images
// (pwBackWeightChunk); larger ones run each GEMM in parallel instead.
var pwPartialMax = 16384

// pwBackWeight computes dw for a 1x1 convolution (dbias is done by the caller).
func (t *task) pwBackWeight() {
	p := &t.p
	cg, kg := p.C/p.Groups, p.K/p.Groups
	hw := p.H * p.W
	if parallel.Threads() > 1 && kg*cg <= pwPartialMax {
		t.nb = pwSplit(p, hw)
		chunks := (p.N + t.nb - 1) / t.nb
		if chunks > 1 {
			part := scratchPool.Get()
			t.part = scratchOf(part, chunks*kg*cg)
			for g := 0; g < p.Groups; g++ {
				t.g, t.kind = g, kPWBackWeight
				run(t, chunks, 1)
				// Fixed-order sum of the partials: the same for every
				// schedule of the chunks.
				dwg := t.dw[g*kg*cg : (g+1)*kg*cg]
				copy(dwg, t.part[:kg*cg])
				for ci := 1; ci < chunks; ci++ {
					src := t.part[ci*kg*cg : (ci+1)*kg*cg]
					for i, v := range src {
						dwg[i] += v
					}
				}
			}
			t.part = nil
			scratchPool.Put(part)
			return
		}
	}
	nb := pwChunk(p, hw)
	var buf []float32
	var scratch *[]float32
	if nb > 1 {
		scratch = scratchPool.Get()
		buf = scratchOf(scratch, (kg+cg)*nb*hw)
	}
	for g := 0; g < p.Groups; g++ {
		dwg := t.dw[g*kg*cg:]
		var beta float32
		for n0 := 0; n0 < p.N; n0 += nb {
			m := min(nb, p.N-n0)
			xg := t.x[(n0*p.C+g*cg)*hw:]
			dyg := t.y[(n0*p.K+g*kg)*hw:]
			ld := hw
			if nb > 1 {
				ld = m * hw
				dyb, xb := buf[:kg*ld], buf[kg*ld:(kg+cg)*ld]
				for img := 0; img < m; img++ {
					copyRows(dyb[img*hw:], ld, t.y[((n0+img)*p.K+g*kg)*hw:], hw, hw, kg)
					copyRows(xb[img*hw:], ld, t.x[((n0+img)*p.C+g*cg)*hw:], hw, hw, cg)
				}
				xg, dyg = xb, dyb
			}
			gemm.Sgemm(false, true, kg, cg, ld, 1, dyg, ld, xg, ld, beta, dwg, cg)
			beta = 1
		}
	}
	if scratch != nil {
		scratchPool.Put(scratch)
	}
}

// pwSplit returns the images per chunk of the image-parallel passes: those
// of pwChunk, but few enough for about four chunks per thread.
func pwSplit(p *Params, hw int) int {
	nb := pwChunk(p, hw)
	if th := parallel.Threads(); th > 1 {
		nb = min(nb, max(1, (p.N+4*th-1)/(4*th)))
	}
	return nb
}

// pwForwardBatched reports whether the forward pass of a 1x1 convolution
// runs image-parallel (pwForwardChunk): a batch and no residual.
func pwForwardBatched(p *Params, ep Epilogue) bool {
	return pwBatch && p.N > 1 && ep.Residual == nil
}

// pwForwardChunk computes, for group t.g (weights packed in t.ppa, fused
// epilogue t.gep), the output of the images of chunk ci (t.nb images per
// chunk). Chunks run in parallel, each with one single-threaded GEMM.
func (t *task) pwForwardChunk(ci int) {
	p := &t.p
	cg, kg := p.C/p.Groups, p.K/p.Groups
	hw := p.H * p.W
	n0 := ci * t.nb
	m := min(t.nb, p.N-n0)
	if m == 1 {
		must(gemm.SgemmPacked(t.ppa, false, hw, t.x[(n0*p.C+t.g*cg)*hw:], hw, t.y[(n0*p.K+t.g*kg)*hw:], hw, &t.gep))
		return
	}
	ld := m * hw
	scratch := scratchPool.Get()
	buf := scratchOf(scratch, (kg+cg)*ld)
	xb, yb := buf[:cg*ld], buf[cg*ld:]
	for img := 0; img < m; img++ {
		copyRows(xb[img*hw:], ld, t.x[((n0+img)*p.C+t.g*cg)*hw:], hw, hw, cg)
	}
	must(gemm.SgemmPacked(t.ppa, false, ld, xb, ld, yb, ld, &t.gep))
	for img := 0; img < m; img++ {
		copyRows(t.y[((n0+img)*p.K+t.g*kg)*hw:], hw, yb[img*hw:], ld, hw, kg)
	}
	scratchPool.Put(scratch)
}

// pwBackWeightChunk computes the partial weight gradient of group t.g over
// the images of chunk ci into t.part.
func (t *task) pwBackWeightChunk(ci int) {
	p := &t.p
	cg, kg := p.C/p.Groups, p.K/p.Groups
	hw := p.H * p.W
	n0 := ci * t.nb
	m := min(t.nb, p.N-n0)
	dst := t.part[ci*kg*cg : (ci+1)*kg*cg]
	if m == 1 || hw >= pwBatchCols {
		var beta float32
		for img := n0; img < n0+m; img++ {
			gemm.Sgemm(false, true, kg, cg, hw, 1, t.y[(img*p.K+t.g*kg)*hw:], hw, t.x[(img*p.C+t.g*cg)*hw:], hw, beta, dst, cg)
			beta = 1
		}
		return
	}
	ld := m * hw
	scratch := scratchPool.Get()
	buf := scratchOf(scratch, (kg+cg)*ld)
	dyb, xb := buf[:kg*ld], buf[kg*ld:]
	for img := 0; img < m; img++ {
		copyRows(dyb[img*hw:], ld, t.y[((n0+img)*p.K+t.g*kg)*hw:], hw, hw, kg)
		copyRows(xb[img*hw:], ld, t.x[((n0+img)*p.C+t.g*cg)*hw:], hw, hw, cg)
	}
	gemm.Sgemm(false, true, kg, cg, ld, 1, dyb, ld, xb, ld, 0, dst, cg)
	scratchPool.Put(scratch)
}

// pwBackData computes dx for a 1x1 convolution: per group, W_g^T is packed
// once and chunks of images run in parallel (pwBackDataChunk).
func (t *task) pwBackData() error {
	p := &t.p
	cg, kg := p.C/p.Groups, p.K/p.Groups
	hw := p.H * p.W
	t.nb = pwSplit(p, hw)
	for g := 0; g < p.Groups; g++ {
		// W_g^T is cg x kg; pack it once for all images.
		if err := t.pa.Repack(true, cg, kg, t.w[g*kg*cg:], cg); err != nil {
			return err
		}
		t.g, t.ppa, t.kind = g, &t.pa, kPWBackData
		run(t, (p.N+t.nb-1)/t.nb, 1)
	}
	return nil
}

// pwBackDataChunk computes dx of group t.g for the images of chunk ci.
func (t *task) pwBackDataChunk(ci int) {
	p := &t.p
	cg, kg := p.C/p.Groups, p.K/p.Groups
	hw := p.H * p.W
	n0 := ci * t.nb
	m := min(t.nb, p.N-n0)
	if m == 1 {
		must(gemm.SgemmPacked(t.ppa, false, hw, t.y[(n0*p.K+t.g*kg)*hw:], hw, t.dx[(n0*p.C+t.g*cg)*hw:], hw, nil))
		return
	}
	ld := m * hw
	scratch := scratchPool.Get()
	buf := scratchOf(scratch, (kg+cg)*ld)
	dyb, dxb := buf[:kg*ld], buf[kg*ld:]
	for img := 0; img < m; img++ {
		copyRows(dyb[img*hw:], ld, t.y[((n0+img)*p.K+t.g*kg)*hw:], hw, hw, kg)
	}
	must(gemm.SgemmPacked(t.ppa, false, ld, dyb, ld, dxb, ld, nil))
	for img := 0; img < m; img++ {
		copyRows(t.dx[((n0+img)*p.C+t.g*cg)*hw:], hw, dxb[img*hw:], ld, hw, cg)
	}
	scratchPool.Put(scratch)
}

// must panics on an error of a GEMM whose sizes the caller checked.
func must(err error) {
	if err != nil {
		panic(fmt.Errorf("conv: internal error: %w", err))
	}
}
