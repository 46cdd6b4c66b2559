package conv

import "github.com/dshrink/dshrink/kernels/gemm"

// Backward passes of 1x1 stride-1 unpadded convolutions. The weight
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

// pwBackWeight computes dw for a 1x1 convolution (dbias is done by the caller).
func (t *task) pwBackWeight() {
	p := &t.p
	cg, kg := p.C/p.Groups, p.K/p.Groups
	hw := p.H * p.W
	nb := pwChunk(p, hw)
	var buf []float32
	var scratch *[]float32
	if nb > 1 {
		scratch = scratchPool.Get()
		if need := (kg + cg) * nb * hw; cap(*scratch) < need {
			*scratch = make([]float32, need)
		}
		buf = *scratch
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

// pwBackData computes dx for a 1x1 convolution.
func (t *task) pwBackData() error {
	p := &t.p
	cg, kg := p.C/p.Groups, p.K/p.Groups
	hw := p.H * p.W
	nb := pwChunk(p, hw)
	var buf []float32
	var scratch *[]float32
	if nb > 1 {
		scratch = scratchPool.Get()
		if need := (kg + cg) * nb * hw; cap(*scratch) < need {
			*scratch = make([]float32, need)
		}
		buf = *scratch
		defer scratchPool.Put(scratch)
	}
	for g := 0; g < p.Groups; g++ {
		// W_g^T is cg x kg; pack it once for all images.
		if err := t.pa.Repack(true, cg, kg, t.w[g*kg*cg:], cg); err != nil {
			return err
		}
		for n0 := 0; n0 < p.N; n0 += nb {
			m := min(nb, p.N-n0)
			if nb == 1 {
				off := n0 * hw
				if err := gemm.SgemmPacked(&t.pa, false, hw, t.y[off*p.K+g*kg*hw:], hw, t.dx[off*p.C+g*cg*hw:], hw, nil); err != nil {
					return err
				}
				continue
			}
			ld := m * hw
			dyb, dxb := buf[:kg*ld], buf[kg*ld:(kg+cg)*ld]
			for img := 0; img < m; img++ {
				copyRows(dyb[img*hw:], ld, t.y[((n0+img)*p.K+g*kg)*hw:], hw, hw, kg)
			}
			if err := gemm.SgemmPacked(&t.pa, false, ld, dyb, ld, dxb, ld, nil); err != nil {
				return err
			}
			for img := 0; img < m; img++ {
				copyRows(t.dx[((n0+img)*p.C+g*cg)*hw:], hw, dxb[img*hw:], ld, hw, cg)
			}
		}
	}
	return nil
}
