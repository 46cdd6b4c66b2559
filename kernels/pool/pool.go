// Package pool implements float32 NCHW pooling: global average pooling and
// k x k max and average pooling with strides, asymmetric padding and
// PyTorch's ceil mode, forward and backward, with PyTorch's semantics (see
// Params). All functions write into caller-provided slices and allocate
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
	// CountIncludePad makes average pooling divide by the window clipped
	// to the input plus its padding, as PyTorch does (KH*KW except for a
	// ceil-mode window that hangs past the trailing padding); otherwise it
	// divides by the number of window elements inside the input.
	CountIncludePad bool
	// CeilMode rounds the output size up, as PyTorch's ceil_mode: the last
	// window may hang over the end, but must start inside the input or its
	// leading padding.
	CeilMode bool
}

// OutH returns the output height.
func (p Params) OutH() int { return outSize(p.H, p.KH, p.StrideH, p.PadT, p.PadB, p.CeilMode) }

// OutW returns the output width.
func (p Params) OutW() int { return outSize(p.W, p.KW, p.StrideW, p.PadL, p.PadR, p.CeilMode) }

// outSize is PyTorch's pooling_output_shape (dilation 1).
func outSize(in, k, stride, padLo, padHi int, ceil bool) int {
	span := in + padLo + padHi - k
	if span < 0 {
		return 0
	}
	if !ceil {
		return span/stride + 1
	}
	o := (span+stride-1)/stride + 1
	if (o-1)*stride >= in+padLo {
		o--
	}
	return o
}

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

// span returns the window of output o along one axis of length in: the
// input cells [lo, hi) it covers and, for CountIncludePad, its length
// clipped to the input plus the padding (PyTorch's pool_size).
func span(o, in, k, stride, padLo, padHi int) (lo, hi, n int) {
	start := o*stride - padLo
	end := min(start+k, in+padHi)
	return max(start, 0), min(end, in), end - start
}

// rows returns the input rows [h0, h1) of output row y and their count for
// the divisor.
func (p *Params) rows(y int) (h0, h1, n int) { return span(y, p.H, p.KH, p.StrideH, p.PadT, p.PadB) }

// cols returns the input columns [w0, w1) of output column x and their
// count for the divisor.
func (p *Params) cols(x int) (w0, w1, n int) { return span(x, p.W, p.KW, p.StrideW, p.PadL, p.PadR) }

// divisor returns the average's divisor for a window covering [h0, h1) x
// [w0, w1) of the input and nh x nw cells of the input plus padding.
func (p *Params) divisor(h0, h1, w0, w1, nh, nw int) float32 {
	if p.CountIncludePad {
		return float32(nh * nw)
	}
	return float32((h1 - h0) * (w1 - w0))
}

func (t *task) maxFwd(i int) {
	p := &t.p
	oh, ow, hw := p.OutH(), p.OutW(), p.H*p.W
	xp := t.a[i*hw : (i+1)*hw]
	yp := t.dst[i*oh*ow : (i+1)*oh*ow]
	for y := 0; y < oh; y++ {
		h0, h1, _ := p.rows(y)
		yr := yp[y*ow : (y+1)*ow]
		for x := range yr {
			w0, w1, _ := p.cols(x)
			m := float32(math.Inf(-1))
			for h := h0; h < h1; h++ {
				for _, v := range xp[h*p.W+w0 : h*p.W+w1] {
					m = max(m, v) // branch-free (3.6x faster than a compare and branch on random data); NaN propagates
				}
			}
			yr[x] = m
		}
	}
}

// maxBwd routes each output's gradient to the element the forward pass
// chose: the first maximum of its window in row-major order (the last NaN
// when there is one), as PyTorch's saved indices do.
func (t *task) maxBwd(i int) {
	p := &t.p
	oh, ow, hw := p.OutH(), p.OutW(), p.H*p.W
	xp := t.a[i*hw : (i+1)*hw]
	dyp := t.b[i*oh*ow : (i+1)*oh*ow]
	dxp := t.dst[i*hw : (i+1)*hw]
	clear(dxp)
	for y := 0; y < oh; y++ {
		h0, h1, _ := p.rows(y)
		for x := 0; x < ow; x++ {
			w0, w1, _ := p.cols(x)
			dxp[argmax(xp, p.W, h0, h1, w0, w1)] += dyp[y*ow+x]
		}
	}
}

// argmax returns the index in xp (rows of width w) of the first maximum of
// the window [h0, h1) x [w0, w1) in row-major order, or of its last NaN:
// the element PyTorch's max pooling saves. (Measured on ResNet-18's stem
// pool, this one-pass scan beats a branch-free max followed by a search for
// it, and an arithmetic select: its branch mispredicts less than they cost.)
func argmax(xp []float32, w, h0, h1, w0, w1 int) int {
	best, m := -1, float32(math.Inf(-1))
	for h := h0; h < h1; h++ {
		for c := w0; c < w1; c++ {
			if v := xp[h*w+c]; best < 0 || v > m || v != v {
				best, m = h*w+c, v
			}
		}
	}
	return best
}

func (t *task) avgFwd(i int) {
	p := &t.p
	oh, ow, hw := p.OutH(), p.OutW(), p.H*p.W
	xp := t.a[i*hw : (i+1)*hw]
	yp := t.dst[i*oh*ow : (i+1)*oh*ow]
	for y := 0; y < oh; y++ {
		h0, h1, nh := p.rows(y)
		for x := 0; x < ow; x++ {
			w0, w1, nw := p.cols(x)
			var s float32
			for h := h0; h < h1; h++ {
				for _, v := range xp[h*p.W+w0 : h*p.W+w1] {
					s += v
				}
			}
			yp[y*ow+x] = s / p.divisor(h0, h1, w0, w1, nh, nw)
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
		h0, h1, nh := p.rows(y)
		for x := 0; x < ow; x++ {
			w0, w1, nw := p.cols(x)
			g := dyp[y*ow+x] / p.divisor(h0, h1, w0, w1, nh, nw)
			for h := h0; h < h1; h++ {
				row := dxp[h*p.W+w0 : h*p.W+w1]
				for j := range row {
					row[j] += g
				}
			}
		}
	}
}
