package nn

import (
	"math"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// bnOp is a BatchNorm2d node. In training mode it normalises with the batch
// statistics (biased variance) and updates the running averages with
// PyTorch's momentum and the unbiased variance; in eval mode it uses the
// running statistics. Statistics are accumulated in float64.
type bnOp struct {
	node                        int
	c, hw                       int
	eps, momentum               float64
	gamma, beta, mean, variance *param
	bmean, invstd               []float64 // per channel: the mean and 1/sqrt(var+eps) of the last forward
	phase                       int
	n                           int
	x, y, dy, dx                []float32
}

const (
	bnTrainFwd = iota
	bnEvalFwd
	bnTrainBwd
	bnEvalBwd
)

func (o *bnOp) forward(m *Model, n int, train bool) {
	o.x, o.y, o.n = m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n), n
	o.phase = bnEvalFwd
	if train {
		o.phase = bnTrainFwd
	}
	parallel.Do(o, o.c, bnGrain(o.n*o.hw))
	o.x, o.y = nil, nil
}

func (o *bnOp) backward(m *Model, n int) {
	o.x, o.dy, o.n = m.data(m.ins[o.node][0], n), m.grad(m.outs[o.node], n), n
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

// plane returns channel c of image i of t.
func (o *bnOp) plane(t []float32, i, c int) []float32 {
	off := (i*o.c + c) * o.hw
	return t[off : off+o.hw]
}

func (o *bnOp) trainForward(c int) {
	cnt := float64(o.n * o.hw)
	var s float64
	for i := 0; i < o.n; i++ {
		s += sum32(o.plane(o.x, i, c))
	}
	mean := s / cnt
	var ss float64
	for i := 0; i < o.n; i++ {
		ss += sumSqDev(o.plane(o.x, i, c), float32(mean))
	}
	variance := ss / cnt
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

// apply sets y = (x-mean)*inv*gamma + beta on channel c.
func (o *bnOp) apply(c int, mean, inv float64) {
	scale := float64(o.gamma.data[c]) * inv
	sc := float32(scale)
	sh := float32(float64(o.beta.data[c]) - mean*scale)
	for i := 0; i < o.n; i++ {
		x, y := o.plane(o.x, i, c), o.plane(o.y, i, c)
		y = y[:len(x)]
		for j, v := range x {
			y[j] = v*sc + sh
		}
	}
}

func (o *bnOp) backwardChannel(c int) {
	mean, inv := o.bmean[c], o.invstd[c]
	// sdy = sum dy, sdyx = sum dy*(x-mean)
	var sdy, sdyx float64
	mf := float32(mean)
	for i := 0; i < o.n; i++ {
		x, dy := o.plane(o.x, i, c), o.plane(o.dy, i, c)
		a, b := sumAndDotDev(dy, x, mf)
		sdy += a
		sdyx += b
	}
	gamma := float64(o.gamma.data[c])
	o.gamma.grad[c] = float32(sdyx * inv)
	o.beta.grad[c] = float32(sdy)
	if o.dx == nil {
		return
	}
	scale := gamma * inv
	if o.phase == bnEvalBwd {
		sc := float32(scale)
		for i := 0; i < o.n; i++ {
			dy, dx := o.plane(o.dy, i, c), o.plane(o.dx, i, c)
			dx = dx[:len(dy)]
			for j, g := range dy {
				dx[j] = g * sc
			}
		}
		return
	}
	// dx = gamma*inv * (dy - sdy/M - (x-mean)*inv^2*sdyx/M)
	cnt := float64(o.n * o.hw)
	a := float32(scale)
	b := float32(scale * sdy / cnt)
	k := float32(scale * inv * inv * sdyx / cnt)
	for i := 0; i < o.n; i++ {
		x, dy, dx := o.plane(o.x, i, c), o.plane(o.dy, i, c), o.plane(o.dx, i, c)
		dy, dx = dy[:len(x)], dx[:len(x)]
		for j, v := range x {
			dx[j] = a*dy[j] - b - k*(v-mf)
		}
	}
}

// sum32 returns the sum of x in float64 (float32 partial sums over short
// runs).
func sum32(x []float32) float64 {
	var t float64
	for len(x) > 0 {
		blk := x[:min(len(x), 64)]
		x = x[len(blk):]
		var s0, s1 float32
		for len(blk) >= 2 {
			s0 += blk[0]
			s1 += blk[1]
			blk = blk[2:]
		}
		if len(blk) == 1 {
			s0 += blk[0]
		}
		t += float64(s0) + float64(s1)
	}
	return t
}

// sumSqDev returns sum (x-mean)^2 in float64.
func sumSqDev(x []float32, mean float32) float64 {
	var t float64
	for len(x) > 0 {
		blk := x[:min(len(x), 64)]
		x = x[len(blk):]
		var s float32
		for _, v := range blk {
			d := v - mean
			s += d * d
		}
		t += float64(s)
	}
	return t
}

// sumAndDotDev returns sum dy and sum dy*(x-mean) in float64.
func sumAndDotDev(dy, x []float32, mean float32) (float64, float64) {
	var a, b float64
	x = x[:len(dy)]
	for len(dy) > 0 {
		k := min(len(dy), 64)
		var s, d float32
		for j, g := range dy[:k] {
			s += g
			d += g * (x[j] - mean)
		}
		a += float64(s)
		b += float64(d)
		dy, x = dy[k:], x[k:]
	}
	return a, b
}
