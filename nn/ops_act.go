package nn

import (
	"math"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/kernels/parallel"
	"github.com/dshrink/dshrink/kernels/vec"
)

// actOp is an Act node, optionally gated (see Gate): y = act(x) + m*(x-act(x)).
type actOp struct {
	node int
	kind graph.ActKind
	gate *Gate // nil: plain activation
	// fusedBN, when not nil, is the BatchNorm before this node that runs it
	// fused (see bnOp) whenever its last forward was fused.
	fusedBN *bnOp
	// per-call state of the gated tasks
	isBackward bool
	mask       float32
	x, y, dy   []float32
	dx         []float32
	partial    [actChunks]float64
	chunks     int
	// scratch holds, per chunk of a gated sigmoid or SiLU, smoothBlock
	// activations and smoothBlock gradients (grown once, then reused).
	scratch []float32
}

// smoothBlock is the number of values a gated sigmoid or SiLU chunk passes
// to vec's kernels at a time (short enough for vec to run them on the
// chunk's own thread).
const smoothBlock = 256

// isSmooth reports whether kind runs on vec's smooth (exp-based) kernels.
func isSmooth(kind graph.ActKind) bool { return kind == graph.ActSigmoid || kind == graph.ActSiLU }

// growScratch makes sure a gated sigmoid or SiLU has its per-chunk blocks.
func (o *actOp) growScratch() {
	if need := o.chunks * 2 * smoothBlock; isSmooth(o.kind) && len(o.scratch) < need {
		o.scratch = make([]float32, actChunks*2*smoothBlock)
	}
}

// actChunks bounds the number of chunks of a gated backward; the gate sum is
// reduced over fixed chunks so that it does not depend on the thread count.
const actChunks = 64

// actFwd applies kind to x (dst may alias x).
func actFwd(kind graph.ActKind, dst, x []float32) {
	switch kind {
	case graph.ActReLU:
		vec.ReLU(dst, x)
	case graph.ActReLU6:
		vec.ReLU6(dst, x)
	case graph.ActHardSwish:
		vec.HardSwish(dst, x)
	case graph.ActHardSigmoid:
		vec.HardSigmoid(dst, x)
	case graph.ActSigmoid:
		vec.Sigmoid(dst, x)
	case graph.ActSiLU:
		vec.SiLU(dst, x)
	default:
		copy(dst, x)
	}
}

// actBwd sets dx = dy * act'(x).
func actBwd(kind graph.ActKind, dx, dy, x []float32) {
	switch kind {
	case graph.ActReLU:
		vec.ReLUBackward(dx, dy, x)
	case graph.ActReLU6:
		vec.ReLU6Backward(dx, dy, x)
	case graph.ActHardSwish:
		vec.HardSwishBackward(dx, dy, x)
	case graph.ActHardSigmoid:
		vec.HardSigmoidBackward(dx, dy, x)
	case graph.ActSigmoid:
		vec.SigmoidBackward(dx, dy, x)
	case graph.ActSiLU:
		vec.SiLUBackward(dx, dy, x)
	default:
		copy(dx, dy)
	}
}

// expf returns e^x in float32 (Cephes' expf: range reduction by ln 2 and a
// degree-6 polynomial, about 1 ulp); outside [-87, 87] it falls back to
// math.Exp so that overflow, underflow and subnormals come out right.
func expf(x float32) float32 {
	if !(x > -87 && x < 87) { // NaN too
		return float32(math.Exp(float64(x)))
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	// Round x*log2(e) to the nearest integer k without a branch: adding
	// 1.5*2^23 leaves k in the low mantissa bits.
	const magic = 12582912 // 1.5 * 2^23
	t := x*log2e + magic
	k := int32(math.Float32bits(t)) - 0x4b400000
	kf := t - magic
	r := x - kf*ln2hi - kf*ln2lo
	z := r * r
	p := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r+5.0000001201e-1)*z + r + 1)
	return p * math.Float32frombits(uint32(k+127)<<23)
}

// act1 returns act(x) and act'(x) for one value of a piecewise-linear kind,
// with the same conventions at the kinks as package vec. Gated chunks use it;
// sigmoid and SiLU run on vec's vector kernels there (runSmooth).
func act1(kind graph.ActKind, x float32) (float32, float32) {
	switch kind {
	case graph.ActReLU:
		if x > 0 {
			return x, 1
		}
		return 0, 0
	case graph.ActReLU6:
		switch {
		case !(x > 0):
			return 0, 0
		case x < 6:
			return x, 1
		}
		return 6, 0
	case graph.ActHardSwish:
		switch {
		case x < -3:
			return 0, 0
		case x > 3:
			return x, 1
		}
		return x * (x + 3) * (1.0 / 6), (2*x + 3) * (1.0 / 6)
	case graph.ActHardSigmoid:
		switch {
		case x <= -3:
			return 0, 0
		case x >= 3:
			return 1, 0
		}
		return (x + 3) * (1.0 / 6), 1.0 / 6
	}
	return x, 1
}

func (o *actOp) forward(m *Model, n int, train bool) {
	if o.fusedBN != nil && o.fusedBN.fused {
		return
	}
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	if o.gate == nil || o.gate.Mask == 0 {
		actFwd(o.kind, y, x)
		return
	}
	if o.gate.Mask == 1 {
		copy(y, x)
		return
	}
	o.isBackward, o.mask, o.x, o.y = false, o.gate.Mask, x, y
	o.chunks = min(actChunks, len(x)/4096+1)
	o.growScratch()
	parallel.Do(o, o.chunks, 1)
	o.x, o.y = nil, nil
}

func (o *actOp) backward(m *Model, n int) {
	if o.fusedBN != nil && o.fusedBN.fused {
		return // the BatchNorm's backward applies the derivative
	}
	x, dy := m.data(m.ins[o.node][0], n), m.grad(m.outs[o.node], n)
	dx := m.dxBegin(o.node, 0, n)
	if o.gate == nil {
		if dx != nil {
			actBwd(o.kind, dx, dy, x)
			m.dxEnd(o.node, 0, n)
		}
		return
	}
	o.isBackward, o.mask, o.x, o.dy, o.dx = true, o.gate.Mask, x, dy, dx
	o.chunks = min(actChunks, len(x)/4096+1)
	o.growScratch()
	parallel.Do(o, o.chunks, 1)
	var s float64
	for _, p := range o.partial[:o.chunks] {
		s += p
	}
	o.gate.Grad += float32(s)
	o.x, o.dy, o.dx = nil, nil, nil
	if dx != nil {
		m.dxEnd(o.node, 0, n)
	}
}

// Run processes chunks [lo, hi) of a gated forward (general mask) or
// backward.
func (o *actOp) Run(lo, hi int) {
	total := len(o.x)
	mk := o.mask
	for c := lo; c < hi; c++ {
		a, b := c*total/o.chunks, (c+1)*total/o.chunks
		x := o.x[a:b]
		if isSmooth(o.kind) {
			o.runSmooth(c, a, b)
			continue
		}
		if !o.isBackward {
			y := o.y[a:b]
			for j, v := range x {
				f, _ := act1(o.kind, v)
				y[j] = f + mk*(v-f)
			}
			continue
		}
		dy := o.dy[a:b]
		var dx []float32
		if o.dx != nil {
			dx = o.dx[a:b]
		}
		var s float64
		for len(x) > 0 {
			k := min(len(x), 64)
			var s32 float32
			for j, v := range x[:k] {
				f, d := act1(o.kind, v)
				g := dy[j]
				s32 += g * (v - f)
				if dx != nil {
					dx[j] = g * ((1-mk)*d + mk)
				}
			}
			s += float64(s32)
			x, dy = x[k:], dy[k:]
			if dx != nil {
				dx = dx[k:]
			}
		}
		o.partial[c] = s
	}
}

// runSmooth is Run for chunk c (values [a, b)) of a gated sigmoid or SiLU:
// the activation and its gradient come from vec's vector kernels,
// smoothBlock values at a time, and the gate gradient is summed over 64
// values at a time as for the other kinds.
func (o *actOp) runSmooth(c, a, b int) {
	mk := o.mask
	sc := o.scratch[c*2*smoothBlock : (c+1)*2*smoothBlock]
	x := o.x[a:b]
	if !o.isBackward {
		y := o.y[a:b]
		for len(x) > 0 {
			k := min(len(x), smoothBlock)
			f := sc[:k]
			actFwd(o.kind, f, x[:k])
			for j, v := range x[:k] {
				y[j] = f[j] + mk*(v-f[j])
			}
			x, y = x[k:], y[k:]
		}
		return
	}
	dy := o.dy[a:b]
	var dx []float32
	if o.dx != nil {
		dx = o.dx[a:b]
	}
	var s float64
	for len(x) > 0 {
		k := min(len(x), smoothBlock)
		f, gd := sc[:k], sc[smoothBlock:smoothBlock+k]
		actFwd(o.kind, f, x[:k])
		if dx != nil {
			actBwd(o.kind, gd, dy[:k], x[:k]) // dy * act'(x)
		}
		for q := 0; q < k; q += 64 {
			e := min(k, q+64)
			var s32 float32
			for j := q; j < e; j++ {
				g := dy[j]
				s32 += g * (x[j] - f[j])
				if dx != nil {
					dx[j] = (1-mk)*gd[j] + mk*g
				}
			}
			s += float64(s32)
		}
		x, dy = x[k:], dy[k:]
		if dx != nil {
			dx = dx[k:]
		}
	}
	o.partial[c] = s
}

// dropoutOp is a Dropout node: in training, each value is zeroed with
// probability p and the others scaled by 1/(1-p); in eval, the identity.
type dropoutOp struct {
	node    int
	p       float64
	mask    []float32 // 0 or 1/(1-p) per value of the last training forward
	trained bool      // the last forward applied the mask
}

func (o *dropoutOp) forward(m *Model, n int, train bool) {
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	o.trained = train && o.p > 0
	if !o.trained {
		copy(y, x)
		return
	}
	mask := o.mask[:len(x)]
	keep := float32(1 / (1 - o.p))
	for j := range mask {
		if m.rng.Float64() < o.p {
			mask[j] = 0
		} else {
			mask[j] = keep
		}
	}
	for j, v := range x {
		y[j] = v * mask[j]
	}
}

func (o *dropoutOp) backward(m *Model, n int) {
	dy := m.grad(m.outs[o.node], n)
	if !o.trained {
		m.putGrad(o.node, 0, n, dy)
		return
	}
	dx := m.dxBegin(o.node, 0, n)
	if dx == nil {
		return
	}
	mask := o.mask[:len(dy)]
	for j, g := range dy {
		dx[j] = g * mask[j]
	}
	m.dxEnd(o.node, 0, n)
}
