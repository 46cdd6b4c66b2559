package runtime

import (
	"math"
	"unsafe"

	"github.com/dshrink/dshrink/kernels/nchwc"
	"github.com/dshrink/dshrink/kernels/parallel"
)

// poolStep is a max or average pooling window on the vector kernels of
// kernels/nchwc: max pooling on nchwc.Max, average pooling on the depthwise
// kernel with every weight 1/divisor. Windows are clipped to the input (so
// the input's halo is never read: padding never wins a max, and the
// divisor is PyTorch's), which splits every output row into runs of pixels
// with the same clipped window: the interior as one run, each border pixel
// alone.
type poolStep struct {
	p       *Program
	in, out *value
	max     bool
	sw      int
	rows    []poolSpan // per output row: first input row and window height
	cols    []poolRun  // runs of output columns with the same window width
	// average pooling: weight tables, one of kh*kw blocks per divisor;
	// rowDiv and cols' colDiv give the index of a pixel's table.
	w       []float32
	taps    int
	divIdx  map[int]int
	divs    [][]int // [row][col run] -> table index
	start   []float32
	curSlot int
}

// poolSpan is an output row's clipped window: input rows [y0, y0+n), and
// cnt rows counted by an average that includes padding.
type poolSpan struct{ y0, n, cnt int }

// poolRun is a run of n output columns from x0 whose clipped windows start
// at input column ix0 (advancing by the stride) and are kw wide (cnt counted
// with padding included).
type poolRun struct{ x0, n, ix0, kw, cnt int }

// poolSpans clips the windows of one axis: output size out, input size in,
// window k, stride s, padding lo and hi.
func poolSpans(out, in, k, s, lo, hi int) []poolSpan {
	sp := make([]poolSpan, out)
	for o := range sp {
		st := o*s - lo
		end := min(st+k, in+hi) // PyTorch: the window may pass the padding in ceil mode
		cnt := end - st
		a, b := max(st, 0), min(st+k, in)
		sp[o] = poolSpan{a, b - a, cnt}
	}
	return sp
}

func newPoolStep(p *Program, o *op, in, out *value) *poolStep {
	a := o.pool
	s := &poolStep{p: p, in: in, out: out, max: o.poolMax, sw: a.StrideW, taps: a.KH * a.KW}
	s.rows = poolSpans(out.h, in.h, a.KH, a.StrideH, a.Pads[0], a.Pads[2])
	for x, sp := range poolSpans(out.w, in.w, a.KW, a.StrideW, a.Pads[1], a.Pads[3]) {
		if n := len(s.cols); n > 0 {
			r := &s.cols[n-1]
			if r.kw == sp.n && r.cnt == sp.cnt && r.ix0+r.n*a.StrideW == sp.y0 {
				r.n++
				continue
			}
		}
		s.cols = append(s.cols, poolRun{x0: x, n: 1, ix0: sp.y0, kw: sp.n, cnt: sp.cnt})
	}
	s.start = make([]float32, blk)
	if s.max {
		for i := range s.start {
			s.start[i] = float32(math.Inf(-1))
		}
		return s
	}
	s.divIdx = map[int]int{}
	s.divs = make([][]int, len(s.rows))
	for y, r := range s.rows {
		s.divs[y] = make([]int, len(s.cols))
		for x, c := range s.cols {
			d := r.n * c.kw
			if a.CountIncludePad {
				d = r.cnt * c.cnt
			}
			i, ok := s.divIdx[d]
			if !ok {
				i = len(s.divIdx)
				s.divIdx[d] = i
				t := make([]float32, s.taps*blk)
				for j := range t {
					t[j] = float32(1 / float64(d))
				}
				s.w = append(s.w, t...)
			}
			s.divs[y][x] = i
		}
	}
	return s
}

func (s *poolStep) exec(int) {}

func (s *poolStep) execImg(slot, _ int, par bool) {
	total := s.out.cb() * s.out.h
	if th := parallel.Threads(); par && th > 1 && total > 1 {
		s.curSlot = slot
		parallel.Do(s, total, max(1, total/(4*th)))
	} else {
		s.rowsRange(slot, 0, total)
	}
	s.p.zeroHalo(s.out, slot)
}

// Run computes output rows [lo, hi) (index b*oh + oy) of the image in flight.
func (s *poolStep) Run(lo, hi int) { s.rowsRange(s.curSlot, lo, hi) }

func (s *poolStep) rowsRange(slot, lo, hi int) {
	p, in, out := s.p, s.in, s.out
	_, _, inRS := strides(in)
	var a nchwc.Args
	a.RowStride, a.KWStep = 4*inRS, blkBytes
	a.Bias = unsafe.Pointer(&s.start[0])
	a.Lo, a.Hi = float32(math.Inf(-1)), float32(math.Inf(1))
	pix := s.sw * blkBytes
	for t := lo; t < hi; t++ {
		b, oy := t/out.h, t%out.h
		r := s.rows[oy]
		a.KH = r.n
		for ci, c := range s.cols {
			a.KW = c.kw
			a.In = p.ptr(interior(in, slot, b, r.y0, c.ix0))
			a.Out = p.ptr(interior(out, slot, b, oy, c.x0))
			if s.max {
				nchwc.Max(&a, pix, c.n)
				continue
			}
			a.W = unsafe.Pointer(&s.w[s.divs[oy][ci]*s.taps*blk])
			nchwc.DW(&a, pix, c.n)
		}
	}
}

// mulStep multiplies a spatial value by a gate: of the same shape, element
// by element, or [C, 1, 1] (squeeze-and-excitation), as a 1x1 depthwise
// convolution whose weights are the gate's block, on the vector kernels.
type mulStep struct {
	p             *Program
	in, gate, out *value
	zero          []float32
	oh, ow        int // rows of pixels: h of w, or 1 of h*w when x and the output have no halo
	curSlot       int
}

func newMulStep(p *Program, in, gate, out *value) *mulStep {
	s := &mulStep{p: p, in: in, gate: gate, out: out, zero: make([]float32, blk), oh: out.h, ow: out.w}
	if in.pad == 0 && out.pad == 0 && gate.h == 1 && gate.w == 1 {
		s.oh, s.ow = 1, out.h*out.w
	}
	return s
}

func (s *mulStep) exec(int) {}

func (s *mulStep) execImg(slot, _ int, par bool) {
	total := s.out.cb() * s.oh
	if th := parallel.Threads(); par && th > 1 && total > 1 {
		s.curSlot = slot
		parallel.Do(s, total, max(1, total/(4*th)))
	} else {
		s.rowsRange(slot, 0, total)
	}
	s.p.zeroHalo(s.out, slot)
}

// Run computes output rows [lo, hi) (index b*h + y) of the image in flight.
func (s *mulStep) Run(lo, hi int) { s.rowsRange(s.curSlot, lo, hi) }

func (s *mulStep) rowsRange(slot, lo, hi int) {
	p, in, g, out := s.p, s.in, s.gate, s.out
	if g.h != 1 || g.w != 1 || out.h*out.w == 1 {
		for t := lo; t < hi; t++ {
			b, y := t/s.oh, t%s.oh
			n := s.ow * blk
			x := p.arena[interior(in, slot, b, y, 0):][:n]
			gg := p.arena[interior(g, slot, b, y, 0):][:n]
			if g.h == 1 && g.w == 1 {
				gg = p.arena[interior(g, slot, b, 0, 0):][:n]
			}
			dst := p.arena[interior(out, slot, b, y, 0):][:n]
			for i := range dst {
				dst[i] = x[i] * gg[i]
			}
		}
		return
	}
	var a nchwc.Args
	a.KH, a.KW = 1, 1
	a.Bias = unsafe.Pointer(&s.zero[0])
	a.Lo, a.Hi = float32(math.Inf(-1)), float32(math.Inf(1))
	for t := lo; t < hi; t++ {
		b, y := t/s.oh, t%s.oh
		a.W = p.ptr(interior(g, slot, b, 0, 0))
		a.In = p.ptr(interior(in, slot, b, y, 0))
		a.Out = p.ptr(interior(out, slot, b, y, 0))
		nchwc.DW(&a, blkBytes, s.ow)
	}
}

// gatherStep builds its output's channels from channels of its sources
// (Concat, Slice, ChannelShuffle and chains of them): output channel j is
// channel m[j].ch of srcs[m[j].src]. An output block that is a whole source
// block is copied row by row; any other is a lane permutation of the source
// blocks it draws from (nchwc.Perm, vector kernels).
type gatherStep struct {
	p     *Program
	srcs  []*value
	out   *value
	whole []gsrc        // per output block: the source block it equals, or src -1
	perms []*nchwc.Perm // per output block (whole ones aside)
	from  [][]gsrc      // per output block: the source blocks of its Perm
	// rows of pixels: out.h rows of out.w, or one run of h*w when no value
	// has a halo (fewer, longer kernel calls)
	oh, ow  int
	curSlot int
}

func newGatherStep(p *Program, srcs []*value, out *value, m []gsrc) *gatherStep {
	s := &gatherStep{p: p, srcs: srcs, out: out, oh: out.h, ow: out.w}
	flat := out.pad == 0
	for _, v := range srcs {
		flat = flat && v.pad == 0
	}
	if flat {
		s.oh, s.ow = 1, out.h*out.w
	}
	lanes := make([]gsrc, out.cb()*blk)
	for j := range lanes {
		lanes[j] = gsrc{-1, 0}
		if j < len(m) {
			lanes[j] = m[j]
		}
	}
	s.whole = make([]gsrc, out.cb())
	s.perms = make([]*nchwc.Perm, out.cb())
	s.from = make([][]gsrc, out.cb())
	for b := range s.whole {
		s.whole[b] = gsrc{-1, 0}
		l := lanes[b*blk : (b+1)*blk]
		ok := l[0].src >= 0 && l[0].ch%blk == 0
		for i, g := range l {
			ok = ok && g.src == l[0].src && g.ch == l[0].ch+i
		}
		if ok {
			s.whole[b] = gsrc{l[0].src, l[0].ch / blk}
			continue
		}
		var ps [blk]nchwc.PermSrc
		idx := map[gsrc]int{}
		for i, g := range l {
			ps[i] = nchwc.PermSrc{Src: -1}
			if g.src < 0 {
				continue
			}
			k := gsrc{g.src, g.ch / blk}
			j, seen := idx[k]
			if !seen {
				j = len(s.from[b])
				idx[k] = j
				s.from[b] = append(s.from[b], k)
			}
			ps[i] = nchwc.PermSrc{Src: j, Lane: g.ch % blk}
		}
		s.perms[b] = nchwc.NewPerm(ps)
	}
	return s
}

func (s *gatherStep) exec(int) {}

func (s *gatherStep) execImg(slot, _ int, par bool) {
	total := s.out.cb() * s.oh
	if th := parallel.Threads(); par && th > 1 && total > 1 {
		s.curSlot = slot
		parallel.Do(s, total, max(1, total/(4*th)))
	} else {
		s.rowsRange(slot, 0, total)
	}
	s.p.zeroHalo(s.out, slot)
}

// Run computes output rows [lo, hi) (index b*oh + y) of the image in flight.
func (s *gatherStep) Run(lo, hi int) { s.rowsRange(s.curSlot, lo, hi) }

func (s *gatherStep) rowsRange(slot, lo, hi int) {
	p, out := s.p, s.out
	w := s.ow
	var src [nchwc.MaxPermSrcs]unsafe.Pointer
	for t := lo; t < hi; t++ {
		b, y := t/s.oh, t%s.oh
		o := interior(out, slot, b, y, 0)
		if wb := s.whole[b]; wb.src >= 0 {
			copy(p.arena[o:][:w*blk], p.arena[interior(s.srcs[wb.src], slot, wb.ch, y, 0):][:w*blk])
			continue
		}
		for i, f := range s.from[b] {
			src[i] = p.ptr(interior(s.srcs[f.src], slot, f.ch, y, 0))
		}
		s.perms[b].Apply(p.ptr(o), &src, w)
	}
}

// softmaxStep is a softmax over the features of a flat value.
type softmaxStep struct {
	p       *Program
	in, out *value
}

func (s *softmaxStep) execImg(int, int, bool) {}

func (s *softmaxStep) exec(n int) {
	p, in, out := s.p, s.in, s.out
	_, ics, _ := strides(in)
	_, ocs, _ := strides(out)
	for i := 0; i < n; i++ {
		m := float32(math.Inf(-1))
		for f := 0; f < in.c; f++ {
			m = max(m, p.arena[in.off+(f/blk)*ics+i*blk+f%blk])
		}
		var sum float64
		for f := 0; f < in.c; f++ {
			e := nchwc.ExpNeg(m - p.arena[in.off+(f/blk)*ics+i*blk+f%blk])
			p.arena[out.off+(f/blk)*ocs+i*blk+f%blk] = e
			sum += float64(e)
		}
		inv := float32(1 / sum)
		for f := 0; f < in.c; f++ {
			p.arena[out.off+(f/blk)*ocs+i*blk+f%blk] *= inv
		}
	}
}
