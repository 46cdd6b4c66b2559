package runtime

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/kernels/nchwc"
	"github.com/dshrink/dshrink/kernels/parallel"
)

// blk is the channel block width of the NCHWc layout, a property of the
// kernel layer (kernels/nchwc); blkBytes its size in bytes.
const (
	blk      = nchwc.Block
	blkBytes = nchwc.BlockBytes
)

// step is one executable operation of a Program. Spatial steps run image by
// image with execImg: spatial values are read and written in storage slot
// slot, flat outputs at image index img, and par allows splitting the work
// across threads. Steps on flat values run once per batch with exec.
type step interface {
	execImg(slot, img int, par bool)
	exec(n int)
}

// ptr returns a pointer to arena element off.
func (p *Program) ptr(off int) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.arena)), 4*off)
}

// strides of a value in floats: per image, per channel block, per row.
func strides(v *value) (img, cb, row int) {
	_, hp, wp := v.geometry()
	row = wp * v.cbs
	cb = hp * row
	img = v.cb() * cb
	if v.imgStride > 0 {
		img = v.imgStride
	}
	return
}

// interior returns the offset (floats, from the value's base) of pixel (y, x)
// of channel block b of image i.
func interior(v *value, i, b, y, x int) int {
	is, cs, rs := strides(v)
	return v.off + i*is + b*cs + (y+v.pad)*rs + (x+v.pad)*v.cbs
}

// zeroHalo clears the halo of slot i of v.
func (p *Program) zeroHalo(v *value, i int) {
	if v.pad == 0 || v.flat {
		return
	}
	is, cs, rs := strides(v)
	pw := v.pad * v.cbs
	{
		for b := 0; b < v.cb(); b++ {
			base := v.off + i*is + b*cs
			clear(p.arena[base : base+v.pad*rs])
			clear(p.arena[base+(v.pad+v.h)*rs : base+cs])
			for y := v.pad; y < v.pad+v.h; y++ {
				r := base + y*rs
				clear(p.arena[r : r+pw])
				clear(p.arena[r+rs-pw : r+rs])
			}
		}
	}
}

// convStep is a fused dense or depthwise convolution (or Linear layer).
type convStep struct {
	p              *Program
	in, out, res   *value
	w, bias, bmap  []float32
	kh, kw, sh, sw int
	padT, padL     int
	dw             bool
	cnt, cntLast   int
	kbOut          int
	wPerKB         int // depthwise: weights per output block
	// dense: output block kb reads the input blocks [cb0[kb], cb0[kb]+cbn[kb])
	// (all of them, but for grouped convolutions, whose output blocks read
	// only the blocks of their groups) with weights from woff[kb]
	cb0, cbn, woff []int
	lo, hi         float32
	post           graph.ActKind
	pix            int
	oh, ow         int
	// staged: the whole image of a block is computed as one pixel run into
	// per-thread scratch, then copied row by row into the haloed output.
	staged bool
	// per-call state (one image or one flat batch in flight at a time)
	curSlot, curW int
}

func newConvStep(p *Program, o *op, in, out, res *value) (*convStep, error) {
	a := o.a
	s := &convStep{p: p, in: in, out: out, res: res, kh: a.KH, kw: a.KW, sh: a.StrideH, sw: a.StrideW,
		padT: a.Pads[0], padL: a.Pads[1], dw: o.dw}
	lo, hi, post, err := actRange(o.act)
	if err != nil {
		return nil, err
	}
	s.lo, s.hi = lo, hi
	if post {
		s.post = o.act
	}
	if in.flat {
		s.padT, s.padL = 0, 0
	}
	if max(a.Pads[0], a.Pads[1], a.Pads[2], a.Pads[3]) > in.pad && !in.flat {
		return nil, fmt.Errorf("internal: padding %v exceeds halo %d", a.Pads, in.pad)
	}
	if out.cbs != blk || (res != nil && res.cbs != blk) {
		return nil, fmt.Errorf("internal: output blocks of %d", out.cbs)
	}
	kb := out.cb()
	s.kbOut = kb
	s.oh, s.ow = out.h, out.w
	if out.flat {
		s.oh, s.ow = 1, 0 // the width is the batch of each call
	}
	switch whole, staged := wholeImage(o, in, out, res); {
	case whole:
		// The image of each block is one contiguous run of pixels: one
		// kernel run per block, not one per row (fewer short calls, whose
		// few accumulator chains cannot hide the FMA latency).
		s.oh, s.ow = 1, out.h*out.w
	case staged:
		// Same, through scratch, for an output with a halo.
		s.staged = true
		s.oh, s.ow = 1, out.h*out.w
	}
	khw := a.KH * a.KW
	s.bias = make([]float32, kb*blk)
	for i, b := range o.bias {
		s.bias[i] = float32(b)
	}
	if o.dw {
		if in.cbs != blk {
			return nil, fmt.Errorf("internal: depthwise input blocks of %d", in.cbs)
		}
		s.w = make([]float32, kb*khw*blk)
		for ch := 0; ch < a.OutC; ch++ {
			for t := 0; t < khw; t++ {
				s.w[((ch/blk)*khw+t)*blk+ch%blk] = float32(o.weight[ch*khw+t])
			}
		}
		s.wPerKB = khw * blk
		s.pix = a.StrideW * blkBytes
	} else {
		cbIn := in.cb()
		s.cnt = in.cbs
		s.cntLast = in.c - (cbIn-1)*in.cbs
		if in.cbs < blk {
			s.cnt = in.c
		}
		s.cb0, s.cbn, s.woff = make([]int, kb), make([]int, kb), make([]int, kb)
		total := 0
		for k := 0; k < kb; k++ {
			lo, hi := blockRange(o, in, k)
			s.cb0[k], s.cbn[k], s.woff[k] = lo, hi-lo, total
			last := s.cnt
			if hi == cbIn {
				last = s.cntLast
			}
			total += ((hi-lo-1)*s.cnt + last) * khw * blk
		}
		s.w = make([]float32, total)
		for oc := 0; oc < a.OutC; oc++ {
			k := oc / blk
			for ic := s.cb0[k] * in.cbs; ic < min((s.cb0[k]+s.cbn[k])*in.cbs, a.InC); ic++ {
				b, c := ic/in.cbs, ic%in.cbs
				cnt := s.cnt
				if b == cbIn-1 {
					cnt = s.cntLast
				}
				b -= s.cb0[k]
				for t := 0; t < khw; t++ {
					idx := s.woff[k] + (b*khw*s.cnt+t*cnt+c)*blk + oc%blk
					s.w[idx] = float32(o.weight[(oc*a.InC+ic)*khw+t])
				}
			}
		}
		s.pix = a.StrideW * in.cbs * 4
	}
	if o.bmap != nil {
		hw := out.h * out.w
		s.bmap = make([]float32, kb*hw*blk)
		for ch := 0; ch < a.OutC; ch++ {
			for i := 0; i < hw; i++ {
				s.bmap[((ch/blk)*hw+i)*blk+ch%blk] = float32(o.bmap[ch*hw+i])
			}
		}
	}
	return s, nil
}

// blockRange returns the input blocks [lo, hi) that output block kb of the
// dense (or grouped, o.groups > 1) convolution o reads: all of them for a
// dense one, those holding the input channels of its output channels'
// groups for a grouped one.
func blockRange(o *op, in *value, kb int) (lo, hi int) {
	if o.groups <= 1 {
		return 0, in.cb()
	}
	a := o.a
	kg, cg := a.OutC/o.groups, a.InC/o.groups
	oc0, oc1 := kb*blk, min((kb+1)*blk, a.OutC)-1
	return (oc0 / kg) * cg / in.cbs, ((oc1/kg+1)*cg-1)/in.cbs + 1
}

// wholeImageMax is the largest image (pixels) a 1x1 convolution computes as
// one run per channel block; larger ones keep one run per row, which splits
// better across threads.
const wholeImageMax = 256

// wholeImage reports whether o, a dense 1x1 stride-1 convolution from in to
// out (with residual res), can compute every channel block's image as one
// run of pixels: whole when the input, the output and the residual have no
// halo (the run is contiguous in all of them), staged when only the output
// has one (the run goes to scratch and is copied row by row).
func wholeImage(o *op, in, out, res *value) (whole, staged bool) {
	a := o.a
	ok := !o.dw && !in.flat && !out.flat && a.KH == 1 && a.KW == 1 && a.StrideH == 1 && a.StrideW == 1 &&
		a.Pads == [4]int{} && in.pad == 0 && (res == nil || res.pad == 0) &&
		in.cbs == blk && in.h == out.h && in.w == out.w && out.h*out.w <= wholeImageMax
	return ok && out.pad == 0, ok && out.pad > 0
}

// scratchFloats returns the per-thread scratch the step needs.
func (s *convStep) scratchFloats() int {
	if !s.staged {
		return 0
	}
	return s.out.h * s.out.w * blk
}

func (s *convStep) execImg(slot, img int, par bool) {
	total := s.kbOut * s.oh
	if th := parallel.Threads(); par && th > 1 && total > 1 {
		s.curSlot, s.curW = slot, s.ow
		parallel.Do(s, total, max(1, total/(4*th)))
	} else {
		s.rows(slot, s.ow, 0, total)
	}
	s.p.zeroHalo(s.out, slot)
}

// exec runs a convolution on flat values: one 1 x n image.
func (s *convStep) exec(n int) {
	s.curSlot, s.curW = 0, n
	if th := parallel.Threads(); th > 1 && s.kbOut > 1 {
		parallel.Do(s, s.kbOut, max(1, s.kbOut/(4*th)))
	} else {
		s.Run(0, s.kbOut)
	}
}

// Run computes output rows [lo, hi) (index kb*oh + oy) of the image in flight.
func (s *convStep) Run(lo, hi int) { s.rows(s.curSlot, s.curW, lo, hi) }

// rows computes output rows [lo, hi) (index kb*oh + oy), w pixels wide, of
// storage slot img.
func (s *convStep) rows(img, w, lo, hi int) {
	p := s.p
	in, out := s.in, s.out
	inIS, inCS, inRS := strides(in)
	var a nchwc.Args
	a.KH, a.KW = s.kh, s.kw
	a.RowStride = 4 * inRS
	a.KWStep = 4 * in.cbs
	a.CBStride = 4 * inCS
	a.CB = in.cb()
	a.Cnt, a.CntLast = s.cnt, s.cntLast
	a.Lo, a.Hi = s.lo, s.hi
	for t := lo; t < hi; t++ {
		oy := t % s.oh
		kb := t / s.oh
		iy := oy*s.sh - s.padT
		inOff := in.off + img*inIS + (iy+in.pad)*inRS + (in.pad-s.padL)*in.cbs
		if s.dw {
			inOff += kb * inCS
			a.W = unsafe.Pointer(&s.w[kb*s.wPerKB])
		} else {
			inOff += s.cb0[kb] * inCS
			a.CB = s.cbn[kb]
			a.CntLast = s.cnt
			if s.cb0[kb]+s.cbn[kb] == in.cb() {
				a.CntLast = s.cntLast
			}
			a.W = unsafe.Pointer(&s.w[s.woff[kb]])
		}
		outOff := interior(out, img, kb, oy, 0)
		a.In = p.ptr(inOff)
		a.Out = p.ptr(outOff)
		a.Bias = unsafe.Pointer(&s.bias[kb*blk])
		a.Res, a.Bmap = nil, nil
		if s.res != nil {
			a.Res = p.ptr(interior(s.res, img, kb, oy, 0))
		}
		if s.bmap != nil {
			a.Bmap = unsafe.Pointer(&s.bmap[(kb*s.oh+oy)*s.ow*blk])
		}
		if s.staged {
			s.stagedBlock(&a, img, kb)
			continue
		}
		if s.dw {
			nchwc.DW(&a, s.pix, w)
		} else {
			nchwc.Conv(&a, s.pix, w)
		}
		if s.post != "" {
			applyAct(p.arena[outOff:outOff+w*blk], s.post)
		}
	}
}

// stagedBlock computes channel block kb of image slot img into scratch as
// one run of pixels (a set up for it but for Out) and copies it row by row
// into the output's interior.
func (s *convStep) stagedBlock(a *nchwc.Args, img, kb int) {
	p := s.p
	k := p.claimScratch()
	scr := p.scratch[k*p.scratchPer:][:s.scratchFloats()]
	a.Out = unsafe.Pointer(&scr[0])
	nchwc.Conv(a, s.pix, len(scr)/blk)
	if s.post != "" {
		applyAct(scr, s.post)
	}
	row := s.out.w * blk
	for y := 0; y < s.out.h; y++ {
		copy(p.arena[interior(s.out, img, kb, y, 0):][:row], scr[y*row:])
	}
	p.releaseScratch(k)
}

// vecActs maps the activations with vector kernels (nchwc.Act) to their
// kinds.
var vecActs = map[graph.ActKind]int{graph.ActSigmoid: nchwc.ActSigmoid, graph.ActSiLU: nchwc.ActSiLU,
	graph.ActHardSigmoid: nchwc.ActHardSigmoid, graph.ActHardSwish: nchwc.ActHardSwish}

// applyAct applies an activation in place; x is whole blocks.
func applyAct(x []float32, k graph.ActKind) {
	if kind, ok := vecActs[k]; ok && len(x) > 0 {
		p := unsafe.Pointer(&x[0])
		nchwc.Act(kind, p, p, len(x)/blk)
		return
	}
	switch k {
	case graph.ActReLU:
		for i, v := range x {
			x[i] = max(v, 0)
		}
	case graph.ActReLU6:
		for i, v := range x {
			x[i] = min(max(v, 0), 6)
		}
	}
}

// gapStep is global average pooling into a flat value (or a spatial 1x1
// one, for a squeeze-and-excitation gate). It runs as a
// depthwise convolution whose kernel covers the image, with every weight
// 1/(h*w), on the vector kernels of kernels/nchwc.
type gapStep struct {
	p       *Program
	in, out *value
	w, zero []float32 // [h*w][blk] weights 1/(h*w); [blk] zero bias
	// the image in flight of a parallel run
	curSlot, curImg int
}

func newGapStep(p *Program, in, out *value) *gapStep {
	s := &gapStep{p: p, in: in, out: out, w: make([]float32, in.h*in.w*blk), zero: make([]float32, blk)}
	inv := 1 / float32(in.h*in.w)
	for i := range s.w {
		s.w[i] = inv
	}
	return s
}

func (s *gapStep) exec(int) {}

func (s *gapStep) execImg(i, img int, par bool) {
	if cb := s.in.cb(); par && parallel.Threads() > 1 && cb > 1 && s.in.h*s.in.w >= gapParMin {
		s.curSlot, s.curImg = i, img
		parallel.Do(s, cb, 1)
	} else {
		s.blocks(i, img, 0, s.in.cb())
	}
	s.p.zeroHalo(s.out, i)
}

// gapParMin is the smallest image (pixels) whose pooling is split across
// threads by channel blocks.
const gapParMin = 196

// Run pools channel blocks [lo, hi) of the image in flight.
func (s *gapStep) Run(lo, hi int) { s.blocks(s.curSlot, s.curImg, lo, hi) }

// blocks pools channel blocks [lo, hi) of storage slot i (image img).
func (s *gapStep) blocks(i, img, lo, hi int) {
	p, in, out := s.p, s.in, s.out
	_, outCS, _ := strides(out)
	_, _, inRS := strides(in)
	var a nchwc.Args
	a.KH, a.KW = in.h, in.w
	a.RowStride, a.KWStep = 4*inRS, blkBytes
	a.W, a.Bias = unsafe.Pointer(&s.w[0]), unsafe.Pointer(&s.zero[0])
	a.Lo, a.Hi = float32(math.Inf(-1)), float32(math.Inf(1))
	for b := lo; b < hi; b++ {
		a.In = p.ptr(interior(in, i, b, 0, 0))
		if out.flat {
			a.Out = p.ptr(out.off + b*outCS + img*blk)
		} else {
			a.Out = p.ptr(interior(out, i, b, 0, 0))
		}
		nchwc.DW(&a, blkBytes, 1)
	}
}

// flattenStep reorders a spatial value into a flat one ([N, C*H*W]).
type flattenStep struct {
	p       *Program
	in, out *value
}

func (s *flattenStep) exec(int) {}

func (s *flattenStep) execImg(i, img int, _ bool) {
	p, in, out := s.p, s.in, s.out
	_, outCS, _ := strides(out)
	{
		for b := 0; b < out.cb(); b++ {
			clear(p.arena[out.off+b*outCS+img*blk:][:blk])
		}
		for c := 0; c < in.c; c++ {
			for y := 0; y < in.h; y++ {
				for x := 0; x < in.w; x++ {
					f := (c*in.h+y)*in.w + x
					p.arena[out.off+(f/blk)*outCS+img*blk+f%blk] = p.arena[interior(in, i, c/in.cbs, y, x)+c%in.cbs]
				}
			}
		}
	}
}

type ewKind uint8

const (
	ewAdd ewKind = iota
	ewAct
	ewBN
)

// ewStep is an element-wise step (add, activation, batch norm) on values of
// the same geometry.
type ewStep struct {
	p            *Program
	kind         ewKind
	act          graph.ActKind
	in, in2, out *value
	scale, shift []float32
}

func (s *ewStep) exec(n int) { s.body(0, 1, n) }

func (s *ewStep) execImg(slot, _ int, _ bool) {
	s.body(slot, s.out.h, s.out.w)
	s.p.zeroHalo(s.out, slot)
}

// body processes storage slot i, h rows of w pixels.
func (s *ewStep) body(i, h, w int) {
	p, in, out := s.p, s.in, s.out
	{
		for b := 0; b < out.cb(); b++ {
			for y := 0; y < h; y++ {
				src := p.arena[interior(in, i, b, y, 0):][:w*blk]
				dst := p.arena[interior(out, i, b, y, 0):][:w*blk]
				switch s.kind {
				case ewAdd:
					src2 := p.arena[interior(s.in2, i, b, y, 0):][:w*blk]
					for j := range dst {
						dst[j] = src[j] + src2[j]
					}
				case ewAct:
					copy(dst, src)
					applyAct(dst, s.act)
				case ewBN:
					sc, sh := s.scale[b*blk:b*blk+blk], s.shift[b*blk:b*blk+blk]
					for j := range dst {
						dst[j] = src[j]*sc[j%blk] + sh[j%blk]
					}
				}
			}
		}
	}
}

// padStep is a standalone zero padding.
type padStep struct {
	p       *Program
	in, out *value
	pads    [4]int
}

func (s *padStep) exec(int) {}

func (s *padStep) execImg(i, _ int, _ bool) {
	p, in, out := s.p, s.in, s.out
	{
		for b := 0; b < out.cb(); b++ {
			for y := 0; y < out.h; y++ {
				dst := p.arena[interior(out, i, b, y, 0):][:out.w*blk]
				iy := y - s.pads[0]
				if iy < 0 || iy >= in.h {
					clear(dst)
					continue
				}
				clear(dst[:s.pads[1]*blk])
				copy(dst[s.pads[1]*blk:], p.arena[interior(in, i, b, iy, 0):][:in.w*blk])
				clear(dst[(s.pads[1]+in.w)*blk:])
			}
		}
	}
	p.zeroHalo(out, i)
}
