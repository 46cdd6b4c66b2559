package nn

import (
	"math"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/kernels/parallel"
	"github.com/dshrink/dshrink/kernels/vec"
)

// bnOp is a BatchNorm2d node. In training mode it normalises with the batch
// statistics (biased variance) and updates the running averages with
// PyTorch's momentum and the unbiased variance; in eval mode it uses the
// running statistics. Statistics are accumulated in float64.
//
// When the BatchNorm output feeds only an ungated ReLU or ReLU6 node right
// after it (act), the two run fused: the forward pass writes both outputs in
// one pass, and the backward pass applies the activation's derivative inside
// the BatchNorm gradient (the activation's mask is recomputed from x), so
// the activation's own passes and the gradient buffer between the two are
// skipped. Nothing but the activation reads the BatchNorm output then, so
// the fused forward does not write it; Model.Value computes it on demand
// (materialize).
type bnOp struct {
	node                        int
	c, hw                       int
	eps, momentum               float64
	gamma, beta, mean, variance *param
	bmean, invstd               []float64 // per channel: the mean and 1/sqrt(var+eps) of the last forward
	sc, sh                      []float32 // per channel: the scale and shift the last forward applied
	act                         *actOp    // the fusable activation after this node, or nil
	lo, hi                      float32   // act's clamp bounds
	fused                       bool      // the last forward ran fused with act
	stale                       bool      // the fused forward left the BatchNorm output unwritten (see materialize)
	phase                       int
	n                           int
	x, y, ya, dy, dx            []float32 // ya: act's output when fused
}

const (
	bnTrainFwd = iota
	bnEvalFwd
	bnTrainBwd
	bnEvalBwd
)

// fuseBNAct pairs every BatchNorm node with the ReLU or ReLU6 node right
// after it when that node is the only consumer of the BatchNorm output.
func (m *Model) fuseBNAct() {
	uses := make([]int, len(m.vals))
	for _, in := range m.ins {
		for _, v := range in {
			uses[v]++
		}
	}
	for i := 0; i+1 < len(m.ops); i++ {
		bn, ok := m.ops[i].(*bnOp)
		if !ok {
			continue
		}
		a, ok := m.ops[i+1].(*actOp)
		if !ok || m.ins[i+1][0] != m.outs[i] || uses[m.outs[i]] != 1 || m.outs[i] == m.output {
			continue
		}
		switch a.kind {
		case graph.ActReLU:
			bn.lo, bn.hi = 0, float32(math.Inf(1))
		case graph.ActReLU6:
			bn.lo, bn.hi = 0, 6
		default:
			continue
		}
		bn.act, a.fusedBN = a, bn
	}
}

func (o *bnOp) forward(m *Model, n int, train bool) {
	o.x, o.y, o.n = m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n), n
	o.fused = o.act != nil && o.act.gate == nil
	o.stale = o.fused
	o.ya = nil
	if o.fused {
		o.ya = m.data(m.outs[o.act.node], n)
	}
	o.phase = bnEvalFwd
	if train {
		o.phase = bnTrainFwd
	}
	parallel.Do(o, o.c, bnGrain(o.n*o.hw))
	o.x, o.y, o.ya = nil, nil, nil
}

func (o *bnOp) backward(m *Model, n int) {
	o.x, o.n = m.data(m.ins[o.node][0], n), n
	if o.fused {
		o.dy = m.grad(m.outs[o.act.node], n)
	} else {
		o.dy = m.grad(m.outs[o.node], n)
	}
	o.dx = m.dxBegin(o.node, 0, n)
	o.phase = bnEvalBwd
	if m.train {
		o.phase = bnTrainBwd
	}
	parallel.Do(o, o.c, bnGrain(o.n*o.hw))
	if o.dx != nil {
		m.dxEnd(o.node, 0, n)
	}
	o.x, o.dy, o.dx = nil, nil, nil
}

// bnGrain returns how many channels of per elements each make a chunk worth
// handing to another thread.
func bnGrain(per int) int { return max(1, 16384/max(per, 1)) }

// Run processes channels [lo, hi) in the current phase.
func (o *bnOp) Run(lo, hi int) {
	for c := lo; c < hi; c++ {
		switch o.phase {
		case bnTrainFwd:
			o.trainForward(c)
		case bnEvalFwd:
			o.evalForward(c)
		case bnTrainBwd, bnEvalBwd:
			o.backwardChannel(c)
		}
	}
}

// channel returns t from the start of channel c of image 0; channel c of
// image i starts at i*o.c*o.hw of it.
func (o *bnOp) channel(t []float32, c int) []float32 {
	if t == nil {
		return nil
	}
	return t[c*o.hw:]
}

func (o *bnOp) trainForward(c int) {
	cnt := float64(o.n * o.hw)
	x := o.channel(o.x, c)
	// Shifted one-pass statistics: with the shift a sample of the channel,
	// the float64 sums do not cancel.
	shift := x[0]
	s, ss := vec.PlaneStats(x, o.n, o.hw, o.c*o.hw, shift)
	d := s / cnt
	mean := float64(shift) + d
	variance := max(ss/cnt-d*d, 0)
	inv := 1 / math.Sqrt(variance+o.eps)
	o.bmean[c], o.invstd[c] = mean, inv
	o.apply(c, mean, inv)
	mom := o.momentum
	unbiased := variance
	if cnt > 1 {
		unbiased = variance * cnt / (cnt - 1)
	}
	o.mean.data[c] = float32((1-mom)*float64(o.mean.data[c]) + mom*mean)
	o.variance.data[c] = float32((1-mom)*float64(o.variance.data[c]) + mom*unbiased)
}

func (o *bnOp) evalForward(c int) {
	mean := float64(o.mean.data[c])
	inv := 1 / math.Sqrt(float64(o.variance.data[c])+o.eps)
	o.bmean[c], o.invstd[c] = mean, inv
	o.apply(c, mean, inv)
}

// apply sets y = (x-mean)*inv*gamma + beta on channel c, and the fused
// activation's output when fused.
func (o *bnOp) apply(c int, mean, inv float64) {
	scale := float64(o.gamma.data[c]) * inv
	sc := float32(scale)
	sh := float32(float64(o.beta.data[c]) - mean*scale)
	o.sc[c], o.sh[c] = sc, sh
	x, y := o.channel(o.x, c), o.channel(o.y, c)
	if o.fused {
		vec.AffineClamp(o.channel(o.ya, c), nil, x, o.n, o.hw, o.c*o.hw, sc, sh, o.lo, o.hi)
		return
	}
	inf := float32(math.Inf(1))
	vec.AffineClamp(y, nil, x, o.n, o.hw, o.c*o.hw, sc, sh, -inf, inf)
}

// materialize writes the BatchNorm output of the last forward (batch n)
// when the fused forward skipped it.
func (o *bnOp) materialize(m *Model, n int) {
	if !o.stale {
		return
	}
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	inf := float32(math.Inf(1))
	for c := 0; c < o.c; c++ {
		vec.AffineClamp(o.channel(y, c), nil, o.channel(x, c), n, o.hw, o.c*o.hw, o.sc[c], o.sh[c], -inf, inf)
	}
	o.stale = false
}

func (o *bnOp) backwardChannel(c int) {
	mean, inv := o.bmean[c], o.invstd[c]
	mf := float32(mean)
	x, dy, dx := o.channel(o.x, c), o.channel(o.dy, c), o.channel(o.dx, c)
	stride := o.c * o.hw
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if o.fused {
		lo, hi = o.lo, o.hi
	}
	sc, sh := o.sc[c], o.sh[c]
	// sdy = sum g, sdyx = sum g*(x-mean), g = dy times the activation's derivative
	sdy, sdyx := vec.ClampGradSums(dy, x, o.n, o.hw, stride, sc, sh, lo, hi, o.fused, mf)
	gamma := float64(o.gamma.data[c])
	o.gamma.grad[c] = float32(sdyx * inv)
	o.beta.grad[c] = float32(sdy)
	if o.dx == nil {
		return
	}
	scale := gamma * inv
	if o.phase == bnEvalBwd {
		vec.ClampGradAffine(dx, dy, x, o.n, o.hw, stride, sc, sh, lo, hi, o.fused, float32(scale), 0, 0, mf)
		return
	}
	// dx = gamma*inv * (g - sdy/M - (x-mean)*inv^2*sdyx/M)
	cnt := float64(o.n * o.hw)
	a := float32(scale)
	b := float32(scale * sdy / cnt)
	k := float32(scale * inv * inv * sdyx / cnt)
	vec.ClampGradAffine(dx, dy, x, o.n, o.hw, stride, sc, sh, lo, hi, o.fused, a, b, k, mf)
}
