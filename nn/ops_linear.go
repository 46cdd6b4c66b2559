package nn

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/kernels/conv"
	"github.com/dshrink/dshrink/kernels/gemm"
	"github.com/dshrink/dshrink/kernels/parallel"
	"github.com/dshrink/dshrink/kernels/pool"
	"github.com/dshrink/dshrink/kernels/vec"
)

// bind returns the op executing node nd with input values in, output value
// out and parameters ps (in role order).
func (m *Model) bind(nd *graph.Node, in []int, out int, ps []*param) (op, error) {
	i := len(m.ops)
	inShape := m.vals[in[0]].shape
	switch nd.Op {
	case graph.OpConv:
		a := nd.Conv
		p := conv.Params{N: m.maxBatch, C: inShape[0], H: inShape[1], W: inShape[2], K: a.OutC, KH: a.KH, KW: a.KW,
			StrideH: a.StrideH, StrideW: a.StrideW, PadT: a.Pads[0], PadL: a.Pads[1], PadB: a.Pads[2], PadR: a.Pads[3], Groups: a.Groups}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if ws := conv.WorkspaceSize(p); ws > len(m.ws) {
			m.ws = make([]float32, ws)
		}
		o := &convOp{node: i, p: p, w: ps[0]}
		k := 1
		if a.Bias {
			o.bias = ps[k]
			k++
		}
		if a.BiasMap {
			o.biasMap = ps[k]
		}
		return o, nil
	case graph.OpBatchNorm:
		if nd.BN.Eps <= 0 {
			return nil, fmt.Errorf("BatchNorm eps %g, want > 0", nd.BN.Eps)
		}
		c := inShape[0]
		return &bnOp{node: i, c: c, hw: inShape[1] * inShape[2], eps: nd.BN.Eps, momentum: nd.BN.Momentum,
			gamma: ps[0], beta: ps[1], mean: ps[2], variance: ps[3],
			bmean: make([]float64, c), invstd: make([]float64, c),
			sc: make([]float32, c), sh: make([]float32, c)}, nil
	case graph.OpAct:
		return &actOp{node: i, kind: nd.Act.Kind}, nil
	case graph.OpAdd:
		return &addOp{node: i}, nil
	case graph.OpPad:
		return &padOp{node: i, c: inShape[0], h: inShape[1], w: inShape[2], pads: nd.Pad.Pads}, nil
	case graph.OpGlobalAvgPool:
		return &poolOp{node: i, c: inShape[0], hw: inShape[1] * inShape[2]}, nil
	case graph.OpFlatten:
		return &flattenOp{node: i}, nil
	case graph.OpLinear:
		o := &linearOp{node: i, in: nd.Linear.In, out: nd.Linear.Out, w: ps[0]}
		if nd.Linear.Bias {
			o.bias = ps[1]
		}
		return o, nil
	case graph.OpDropout:
		p := nd.Dropout.P
		if p < 0 || p >= 1 {
			return nil, fmt.Errorf("dropout probability %g out of range [0, 1)", p)
		}
		return &dropoutOp{node: i, p: p, mask: make([]float32, m.maxBatch*m.vals[in[0]].size)}, nil
	case graph.OpMaxPool, graph.OpAvgPool:
		a := nd.Pool
		p := pool.Params{N: m.maxBatch, C: inShape[0], H: inShape[1], W: inShape[2], KH: a.KH, KW: a.KW,
			StrideH: a.StrideH, StrideW: a.StrideW, PadT: a.Pads[0], PadL: a.Pads[1], PadB: a.Pads[2], PadR: a.Pads[3],
			CountIncludePad: a.CountIncludePad, CeilMode: a.CeilMode}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if os := m.vals[out].shape; p.OutH() != os[1] || p.OutW() != os[2] {
			return nil, fmt.Errorf("pool output %dx%d, the graph infers %dx%d", p.OutH(), p.OutW(), os[1], os[2])
		}
		return &windowPoolOp{node: i, isMax: nd.Op == graph.OpMaxPool, p: p}, nil
	case graph.OpMul:
		hw := inShape[1] * inShape[2]
		return &mulOp{node: i, hw: hw, bcast: m.vals[in[1]].size != m.vals[in[0]].size}, nil
	case graph.OpConcat:
		o := &concatOp{node: i, hw: inShape[1] * inShape[2], outC: m.vals[out].shape[0]}
		off := 0
		for _, v := range in {
			c := m.vals[v].shape[0]
			o.chans, o.off = append(o.chans, c), append(o.off, off)
			off += c
		}
		return o, nil
	case graph.OpSlice:
		return &sliceOp{node: i, hw: inShape[1] * inShape[2], c: inShape[0], start: nd.Slice.Start, outC: nd.Slice.End - nd.Slice.Start}, nil
	case graph.OpShuffle:
		return &shuffleOp{node: i, hw: inShape[1] * inShape[2], c: inShape[0], g: nd.Shuffle.Groups}, nil
	case graph.OpSoftmax:
		return &softmaxOp{node: i, f: inShape[0]}, nil
	}
	return nil, fmt.Errorf("unsupported op %q", nd.Op)
}

// must panics on an error from a kernel: the executor planned every size, so
// an error here is a bug in nn, not bad input.
func must(err error) {
	if err != nil {
		panic(fmt.Errorf("nn: internal error: %w", err))
	}
}

// axpy1 sets dst += src.
func axpy1(src, dst []float32) { vec.Axpy(1, src, dst) }

// convOp is a Conv node: y = conv(x, w) + bias + biasMap.
type convOp struct {
	node          int
	p             conv.Params
	w             *param
	bias, biasMap *param // optional
}

func (o *convOp) forward(m *Model, n int, train bool) {
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	p := o.p
	p.N = n
	var b []float32
	if o.bias != nil {
		b = o.bias.data
	}
	must(conv.Forward(p, x, o.w.data, b, y, m.ws, conv.Epilogue{}))
	if o.biasMap != nil {
		per := len(o.biasMap.data)
		for i := 0; i < n; i++ {
			axpy1(o.biasMap.data, y[i*per:(i+1)*per])
		}
	}
}

func (o *convOp) backward(m *Model, n int) {
	x, dy := m.data(m.ins[o.node][0], n), m.grad(m.outs[o.node], n)
	p := o.p
	p.N = n
	if o.biasMap != nil {
		per := len(o.biasMap.data)
		copy(o.biasMap.grad, dy[:per])
		for i := 1; i < n; i++ {
			axpy1(dy[i*per:(i+1)*per], o.biasMap.grad)
		}
	}
	var db []float32
	if o.bias != nil {
		db = o.bias.grad
	}
	must(conv.BackwardWeight(p, x, dy, o.w.grad, db, m.ws))
	if dx := m.dxBegin(o.node, 0, n); dx != nil {
		must(conv.BackwardData(p, dy, o.w.data, dx, m.ws))
		m.dxEnd(o.node, 0, n)
	}
}

// linearOp is a Linear node: y = x w^T + bias.
type linearOp struct {
	node    int
	in, out int
	w, bias *param
	// per-call state of the bias-gradient task
	dy []float32
	n  int
}

func (o *linearOp) forward(m *Model, n int, train bool) {
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	gemm.Sgemm(false, true, n, o.out, o.in, 1, x, o.in, o.w.data, o.in, 0, y, o.out)
	if o.bias != nil {
		for i := 0; i < n; i++ {
			axpy1(o.bias.data, y[i*o.out:(i+1)*o.out])
		}
	}
}

func (o *linearOp) backward(m *Model, n int) {
	x, dy := m.data(m.ins[o.node][0], n), m.grad(m.outs[o.node], n)
	gemm.Sgemm(true, false, o.out, o.in, n, 1, dy, o.out, x, o.in, 0, o.w.grad, o.in)
	if o.bias != nil {
		o.dy, o.n = dy, n
		parallel.Do(o, o.out, 64)
		o.dy = nil
	}
	if dx := m.dxBegin(o.node, 0, n); dx != nil {
		gemm.Sgemm(false, false, n, o.in, o.out, 1, dy, o.out, o.w.data, o.in, 0, dx, o.in)
		m.dxEnd(o.node, 0, n)
	}
}

// Run computes the bias gradient of outputs [lo, hi): the column sums of dy.
func (o *linearOp) Run(lo, hi int) {
	for j := lo; j < hi; j++ {
		var s float64
		for i := 0; i < o.n; i++ {
			s += float64(o.dy[i*o.out+j])
		}
		o.bias.grad[j] = float32(s)
	}
}
