// Package pool implements float32 NCHW pooling: global average pooling and
// k x k max and average pooling with strides and asymmetric padding, forward
// and backward. All functions write into caller-provided slices and allocate
// nothing; planes are split across the threads of package parallel.
package pool

import (
	"errors"
	"fmt"
	"math"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// Params describes a KH x KW pooling window over an N x C x H x W input with
// strides and zero padding (top, left, bottom, right).
type Params struct {
	N, C, H, W             int // input batch, channels, height, width
	KH, KW                 int // window height and width
	StrideH, StrideW       int // strides (>= 1)
	PadT, PadL, PadB, PadR int // padding on each side, smaller than the window
	// CountIncludePad makes average pooling divide by KH*KW everywhere
	// (PyTorch's default); otherwise it divides by the number of window
	// elements inside the input (ONNX's default).
	CountIncludePad bool
}

// OutH returns the output height.
func (p Params) OutH() int { return (p.H+p.PadT+p.PadB-p.KH)/p.StrideH + 1 }

// OutW returns the output width.
func (p Params) OutW() int { return (p.W+p.PadL+p.PadR-p.KW)/p.StrideW + 1 }

// Validate reports whether p describes a valid pooling.
func (p Params) Validate() error {
	switch {
	case p.N < 1 || p.C < 1 || p.H < 1 || p.W < 1:
		return fmt.Errorf("pool: sizes must be positive: N=%d C=%d H=%d W=%d", p.N, p.C, p.H, p.W)
	case p.KH < 1 || p.KW < 1 || p.StrideH < 1 || p.StrideW < 1:
		return fmt.Errorf("pool: window %dx%d and strides %dx%d must be positive", p.KH, p.KW, p.StrideH, p.StrideW)
	case p.PadT < 0 || p.PadL < 0 || p.PadB < 0 || p.PadR < 0:
		return fmt.Errorf("pool: negative padding")
	case p.PadT >= p.KH || p.PadB >= p.KH || p.PadL >= p.KW || p.PadR >= p.KW:
		return fmt.Errorf("pool: padding must be smaller than the window %dx%d", p.KH, p.KW)
	case p.H+p.PadT+p.PadB < p.KH || p.W+p.PadL+p.PadR < p.KW:
		return fmt.Errorf("pool: window larger than padded input")
	}
	return nil
}

var errShort = errors.New("pool: slice too short for the given sizes")

type kind uint8

const (
	kGAPFwd kind = iota
	kGAPBwd
	kMaxFwd
	kMaxBwd
	kAvgFwd
	kAvgBwd
)

// task is one parallel job over a range of planes.
type task struct {
	k    kind
	p    Params
	hw   int
	a, b []float32 // sources
	dst  []float32
}

// taskPool keeps task descriptions for reuse (a steady state allocates nothing).
var taskPool parallel.FreeList[task]

func launch(t task, planes, work int) {
	if parallel.Threads() <= 1 || work < 1<<14 || planes < 2 {
		t.Run(0, planes)
		return
	}
	pt := taskPool.Get()
	*pt = t
	grain := 1 + (1<<13)/(work/planes+1)
	th := parallel.Threads()
	parallel.Do(pt, planes, max(grain, (planes+4*th-1)/(4*th)))
	*pt = task{}
	taskPool.Put(pt)
}

// Run processes planes [lo, hi).
func (t *task) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		switch t.k {
		case kGAPFwd:
			x := t.a[i*t.hw : (i+1)*t.hw]
			var s float32
			for _, v := range x {
				s += v
			}
			t.dst[i] = s / float32(t.hw)
		case kGAPBwd:
			g := t.a[i] / float32(t.hw)
			dx := t.dst[i*t.hw : (i+1)*t.hw]
			for j := range dx {
				dx[j] = g
			}
		case kMaxFwd:
			t.maxFwd(i)
		case kMaxBwd:
			t.maxBwd(i)
		case kAvgFwd:
			t.avgFwd(i)
		case kAvgBwd:
			t.avgBwd(i)
		}
	}
}

// GlobalAvgForward sets y[n*c+ch] to the mean of plane (n, ch) of x
// ([n, c, hw]); y has n*c elements.
func GlobalAvgForward(x, y []float32, n, c, hw int) error {
	if n < 1 || c < 1 || hw < 1 {
		return fmt.Errorf("pool: sizes must be positive")
	}
	if len(x) < n*c*hw || len(y) < n*c {
		return errShort
	}
	launch(task{k: kGAPFwd, hw: hw, a: x, dst: y}, n*c, n*c*hw)
	return nil
}

// GlobalAvgBackward sets every element of plane (n, ch) of dx ([n, c, hw])
// to dy[n*c+ch] / hw.
func GlobalAvgBackward(dy, dx []float32, n, c, hw int) error {
	if n < 1 || c < 1 || hw < 1 {
		return fmt.Errorf("pool: sizes must be positive")
	}
	if len(dx) < n*c*hw || len(dy) < n*c {
		return errShort
	}
	launch(task{k: kGAPBwd, hw: hw, a: dy, dst: dx}, n*c, n*c*hw)
	return nil
}

func (p Params) check(in, out []float32) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if len(in) < p.N*p.C*p.H*p.W || len(out) < p.N*p.C*p.OutH()*p.OutW() {
		return errShort
	}
	return nil
}

// MaxForward computes max pooling of x ([N, C, H, W]) into y ([N, C, OutH,
// OutW]); padding never wins.
func MaxForward(p Params, x, y []float32) error {
	if err := p.check(x, y); err != nil {
		return err
	}
	launch(task{k: kMaxFwd, p: p, a: x, dst: y}, p.N*p.C, p.N*p.C*p.OutH()*p.OutW()*p.KH*p.KW)
	return nil
}

// MaxBackward computes dx ([N, C, H, W], overwritten) from the forward
// input x and the output gradient dy: each output's gradient goes to the
// first maximal element of its window.
func MaxBackward(p Params, x, dy, dx []float32) error {
	if err := p.check(x, dy); err != nil {
		return err
	}
	if len(dx) < p.N*p.C*p.H*p.W {
		return errShort
	}
	launch(task{k: kMaxBwd, p: p, a: x, b: dy, dst: dx}, p.N*p.C, p.N*p.C*p.OutH()*p.OutW()*p.KH*p.KW)
	return nil
}

// AvgForward computes average pooling of x ([N, C, H, W]) into y ([N, C,
// OutH, OutW]); see Params.CountIncludePad for the divisor.
func AvgForward(p Params, x, y []float32) error {
	if err := p.check(x, y); err != nil {
		return err
	}
	launch(task{k: kAvgFwd, p: p, a: x, dst: y}, p.N*p.C, p.N*p.C*p.OutH()*p.OutW()*p.KH*p.KW)
	return nil
}

// AvgBackward computes dx ([N, C, H, W], overwritten) from the output
// gradient dy of AvgForward.
func AvgBackward(p Params, dy, dx []float32) error {
	if err := p.check(dx, dy); err != nil {
		return err
	}
	launch(task{k: kAvgBwd, p: p, a: dy, dst: dx}, p.N*p.C, p.N*p.C*p.OutH()*p.OutW()*p.KH*p.KW)
	return nil
}

// window returns the clipped input window [h0, h1) x [w0, w1) of output (y, x).
func (p *Params) window(y, x int) (h0, h1, w0, w1 int) {
	h0 = y*p.StrideH - p.PadT
	w0 = x*p.StrideW - p.PadL
	h1, w1 = min(h0+p.KH, p.H), min(w0+p.KW, p.W)
	return max(h0, 0), h1, max(w0, 0), w1
}

func (p *Params) divisor(h0, h1, w0, w1 int) float32 {
	if p.CountIncludePad {
		return float32(p.KH * p.KW)
	}
	return float32((h1 - h0) * (w1 - w0))
}

func (t *task) maxFwd(i int) {
	p := &t.p
	oh, ow, hw := p.OutH(), p.OutW(), p.H*p.W
	xp := t.a[i*hw : (i+1)*hw]
	yp := t.dst[i*oh*ow : (i+1)*oh*ow]
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			h0, h1, w0, w1 := p.window(y, x)
			m := float32(math.Inf(-1))
			for h := h0; h < h1; h++ {
				for _, v := range xp[h*p.W+w0 : h*p.W+w1] {
					if v > m || v != v {
						m = v
					}
				}
			}
			yp[y*ow+x] = m
		}
	}
}

func (t *task) maxBwd(i int) {
	p := &t.p
	oh, ow, hw := p.OutH(), p.OutW(), p.H*p.W
	xp := t.a[i*hw : (i+1)*hw]
	dyp := t.b[i*oh*ow : (i+1)*oh*ow]
	dxp := t.dst[i*hw : (i+1)*hw]
	clear(dxp)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			h0, h1, w0, w1 := p.window(y, x)
			best, m := -1, float32(math.Inf(-1))
			for h := h0; h < h1; h++ {
				for w := w0; w < w1; w++ {
					if v := xp[h*p.W+w]; best < 0 || v > m {
						best, m = h*p.W+w, v
					}
				}
			}
			dxp[best] += dyp[y*ow+x]
		}
	}
}

func (t *task) avgFwd(i int) {
	p := &t.p
	oh, ow, hw := p.OutH(), p.OutW(), p.H*p.W
	xp := t.a[i*hw : (i+1)*hw]
	yp := t.dst[i*oh*ow : (i+1)*oh*ow]
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			h0, h1, w0, w1 := p.window(y, x)
			var s float32
			for h := h0; h < h1; h++ {
				for _, v := range xp[h*p.W+w0 : h*p.W+w1] {
					s += v
				}
			}
			yp[y*ow+x] = s / p.divisor(h0, h1, w0, w1)
		}
	}
}

func (t *task) avgBwd(i int) {
	p := &t.p
	oh, ow, hw := p.OutH(), p.OutW(), p.H*p.W
	dyp := t.a[i*oh*ow : (i+1)*oh*ow]
	dxp := t.dst[i*hw : (i+1)*hw]
	clear(dxp)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			h0, h1, w0, w1 := p.window(y, x)
			g := dyp[y*ow+x] / p.divisor(h0, h1, w0, w1)
			for h := h0; h < h1; h++ {
				row := dxp[h*p.W+w0 : h*p.W+w1]
				for j := range row {
					row[j] += g
				}
			}
		}
	}
}
