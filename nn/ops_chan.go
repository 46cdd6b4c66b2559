package nn

import (
	"math"

	"github.com/dshrink/dshrink/kernels/parallel"
	"github.com/dshrink/dshrink/kernels/pool"
	"github.com/dshrink/dshrink/kernels/vec"
)

// windowPoolOp is a MaxPool or AvgPool node, run by package pool with
// PyTorch's semantics (ceil mode, count_include_pad, first maximum).
type windowPoolOp struct {
	node  int
	isMax bool
	p     pool.Params
}

func (o *windowPoolOp) forward(m *Model, n int, train bool) {
	p := o.p
	p.N = n
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	if o.isMax {
		must(pool.MaxForward(p, x, y))
	} else {
		must(pool.AvgForward(p, x, y))
	}
}

func (o *windowPoolOp) backward(m *Model, n int) {
	dx := m.dxBegin(o.node, 0, n)
	if dx == nil {
		return
	}
	p := o.p
	p.N = n
	dy := m.grad(m.outs[o.node], n)
	if o.isMax {
		// The gradient goes to the element the forward pass chose, found
		// again from the saved input (no index buffer).
		must(pool.MaxBackward(p, m.data(m.ins[o.node][0], n), dy, dx))
	} else {
		must(pool.AvgBackward(p, dy, dx))
	}
	m.dxEnd(o.node, 0, n)
}

// mulOp is a Mul node: y = x * gate, the gate of x's shape or one value per
// image and channel ([N, C, 1, 1], squeeze-and-excitation), broadcast over
// the plane. Its backward gives dx = dy * gate and dgate = dy * x, summed
// over each plane for a broadcast gate.
type mulOp struct {
	node  int
	hw    int  // plane size of x
	bcast bool // gate is [N, C, 1, 1] and hw > 1
	// per-call state of the parallel tasks (planes, or chunks of 4096
	// values when not broadcast)
	phase       int
	total       int // values of x
	x, g, y, dy []float32
	dg          []float32
}

const (
	mulFwd = iota
	mulBwdX
	mulBwdGate
)

func (o *mulOp) forward(m *Model, n int, train bool) {
	in := m.ins[o.node]
	o.x, o.g, o.y = m.data(in[0], n), m.data(in[1], n), m.data(m.outs[o.node], n)
	o.phase = mulFwd
	o.run()
	o.x, o.g, o.y = nil, nil, nil
}

func (o *mulOp) backward(m *Model, n int) {
	in := m.ins[o.node]
	o.dy = m.grad(m.outs[o.node], n)
	// The two inputs may be the same value (x * x): each gradient is
	// finished (dxEnd) before the next one starts.
	if dx := m.dxBegin(o.node, 0, n); dx != nil {
		o.phase, o.g, o.y = mulBwdX, m.data(in[1], n), dx
		o.run()
		m.dxEnd(o.node, 0, n)
	}
	if dg := m.dxBegin(o.node, 1, n); dg != nil {
		o.phase, o.x, o.dg = mulBwdGate, m.data(in[0], n), dg
		o.run()
		m.dxEnd(o.node, 1, n)
	}
	o.x, o.g, o.y, o.dy, o.dg = nil, nil, nil, nil, nil
}

// run splits the current phase over planes (broadcast) or chunks.
func (o *mulOp) run() {
	o.total = len(o.dy)
	if o.phase == mulFwd {
		o.total = len(o.y)
	}
	if o.bcast {
		planes := o.total / o.hw
		parallel.Do(o, planes, max(1, 16384/o.hw))
		return
	}
	parallel.Do(o, (o.total+4095)/4096, 4)
}

// Run processes planes or chunks [lo, hi).
func (o *mulOp) Run(lo, hi int) {
	if o.bcast {
		hw := o.hw
		for p := lo; p < hi; p++ {
			a, b := p*hw, (p+1)*hw
			switch o.phase {
			case mulFwd:
				vec.Scale(o.y[a:b], o.g[p], o.x[a:b])
			case mulBwdX:
				vec.Scale(o.y[a:b], o.g[p], o.dy[a:b])
			case mulBwdGate:
				o.dg[p] = vec.Dot(o.dy[a:b], o.x[a:b])
			}
		}
		return
	}
	a, b := lo*4096, min(hi*4096, o.total)
	switch o.phase {
	case mulFwd:
		x, g, y := o.x[a:b], o.g[a:b], o.y[a:b]
		for j := range y {
			y[j] = x[j] * g[j]
		}
	case mulBwdX:
		dy, g, dx := o.dy[a:b], o.g[a:b], o.y[a:b]
		for j := range dx {
			dx[j] = dy[j] * g[j]
		}
	case mulBwdGate:
		dy, x, dg := o.dy[a:b], o.x[a:b], o.dg[a:b]
		for j := range dg {
			dg[j] = dy[j] * x[j]
		}
	}
}

// concatOp is a Concat node along the channels: input k's planes go to the
// output channels [off[k], off[k]+chans[k]).
type concatOp struct {
	node       int
	hw, outC   int
	chans, off []int
}

func (o *concatOp) forward(m *Model, n int, train bool) {
	y := m.data(m.outs[o.node], n)
	for k, v := range m.ins[o.node] {
		x := m.data(v, n)
		blk := o.chans[k] * o.hw
		for i := 0; i < n; i++ {
			copy(y[(i*o.outC+o.off[k])*o.hw:][:blk], x[i*blk:(i+1)*blk])
		}
	}
}

func (o *concatOp) backward(m *Model, n int) {
	dy := m.grad(m.outs[o.node], n)
	for k := range m.ins[o.node] {
		dx := m.dxBegin(o.node, k, n)
		if dx == nil {
			continue
		}
		blk := o.chans[k] * o.hw
		for i := 0; i < n; i++ {
			copy(dx[i*blk:(i+1)*blk], dy[(i*o.outC+o.off[k])*o.hw:][:blk])
		}
		m.dxEnd(o.node, k, n)
	}
}

// sliceOp is a Slice node: channels [start, start+outC) of a C-channel input.
type sliceOp struct {
	node        int
	hw, c       int
	start, outC int
}

func (o *sliceOp) forward(m *Model, n int, train bool) {
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	blk := o.outC * o.hw
	for i := 0; i < n; i++ {
		copy(y[i*blk:(i+1)*blk], x[(i*o.c+o.start)*o.hw:][:blk])
	}
}

// backward writes the gradient of the selected channels and zeros elsewhere,
// or, when another consumer already wrote the input's gradient (ShuffleNet's
// split reads one value twice), adds into the selected channels in place.
func (o *sliceOp) backward(m *Model, n int) {
	v := m.ins[o.node][0]
	if !m.vals[v].needGrad {
		return
	}
	dy, dx := m.grad(m.outs[o.node], n), m.grad(v, n)
	blk, img := o.outC*o.hw, o.c*o.hw
	acc := m.accum[o.node][0]
	for i := 0; i < n; i++ {
		lo, hi := i*img+o.start*o.hw, i*img+o.start*o.hw+blk
		src := dy[i*blk : (i+1)*blk]
		if acc {
			axpy1(src, dx[lo:hi])
			continue
		}
		clear(dx[i*img : lo])
		copy(dx[lo:hi], src)
		clear(dx[hi : (i+1)*img])
	}
}

// shuffleOp is a ChannelShuffle node: output channel j*g+i is input channel
// i*(C/g)+j.
type shuffleOp struct {
	node     int
	hw, c, g int
}

// permute copies planes of src to dst: dst channel j*g+i from src channel
// i*(c/g)+j (forward), or the inverse (back).
func (o *shuffleOp) permute(dst, src []float32, n int, back bool) {
	per, hw := o.c/o.g, o.hw
	for b := 0; b < n; b++ {
		base := b * o.c
		for i := 0; i < o.g; i++ {
			for j := 0; j < per; j++ {
				out, in := base+j*o.g+i, base+i*per+j
				if back {
					out, in = in, out
				}
				copy(dst[out*hw:(out+1)*hw], src[in*hw:(in+1)*hw])
			}
		}
	}
}

func (o *shuffleOp) forward(m *Model, n int, train bool) {
	o.permute(m.data(m.outs[o.node], n), m.data(m.ins[o.node][0], n), n, false)
}

func (o *shuffleOp) backward(m *Model, n int) {
	if dx := m.dxBegin(o.node, 0, n); dx != nil {
		o.permute(dx, m.grad(m.outs[o.node], n), n, true)
		m.dxEnd(o.node, 0, n)
	}
}

// softmaxOp is a Softmax node over the f features of each row.
type softmaxOp struct {
	node int
	f    int
}

func (o *softmaxOp) forward(m *Model, n int, train bool) {
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	for i := 0; i < n; i++ {
		row, out := x[i*o.f:(i+1)*o.f], y[i*o.f:(i+1)*o.f]
		mx := float32(math.Inf(-1))
		for _, v := range row {
			mx = max(mx, v)
		}
		var s float64
		for j, v := range row {
			e := float32(math.Exp(float64(v - mx)))
			out[j] = e
			s += float64(e)
		}
		vec.Scale(out, float32(1/s), out)
	}
}

// backward: dx = y * (dy - sum_j dy_j y_j) per row.
func (o *softmaxOp) backward(m *Model, n int) {
	dx := m.dxBegin(o.node, 0, n)
	if dx == nil {
		return
	}
	y, dy := m.data(m.outs[o.node], n), m.grad(m.outs[o.node], n)
	for i := 0; i < n; i++ {
		yr, gr, dr := y[i*o.f:(i+1)*o.f], dy[i*o.f:(i+1)*o.f], dx[i*o.f:(i+1)*o.f]
		var s float64
		for j, v := range yr {
			s += float64(v) * float64(gr[j])
		}
		for j, v := range yr {
			dr[j] = v * (gr[j] - float32(s))
		}
	}
	m.dxEnd(o.node, 0, n)
}
