// Package nn trains and evaluates a graph.Graph on the CPU: every op of the
// IR with its forward and backward pass, a planned executor (Model) that runs
// a whole graph forward and backward without allocating in the steady state,
// the gated activations of the DepthShrinker search, and the losses used to
// train (softmax cross-entropy with label smoothing, knowledge distillation).
//
// # Ops
//
// Every op runs forward and backward with PyTorch's semantics; graph/reference
// is the float64 forward they are tested against, and every backward is
// checked against finite differences.
//
//   - Conv: any group count (dense, depthwise, and grouped convolutions with
//     several channels per group as in RegNet), asymmetric padding, optional
//     bias and bias map; through package conv.
//   - BatchNorm: batch statistics in training (running averages updated with
//     PyTorch's momentum and unbiased variance), running statistics in eval;
//     fused with a following ungated ReLU or ReLU6.
//   - Act: identity, relu, relu6, hardswish, hardsigmoid, sigmoid and silu
//     (x*sigmoid(x)); any of them may belong to a removable unit and be gated
//     (see Gate). Sigmoid and SiLU use a float32 exp of about 1 ulp.
//   - MaxPool, AvgPool: through package pool, with ceil mode (a last window
//     may hang over the end), asymmetric padding, and PyTorch's divisors
//     (in-bounds cells, or with CountIncludePad the window clipped to the
//     input plus its padding). The max-pool gradient goes to the first
//     maximum of each window in row-major order, found again from the saved
//     input rather than stored.
//   - Mul: x * gate with a gate of x's shape or [N, C, 1, 1]
//     (squeeze-and-excitation); the broadcast gate's gradient is summed over
//     each plane. Mul(x, x) is allowed.
//   - Concat, Slice (channels) and ChannelShuffle: plane copies forward and
//     back; two slices of one value (ShuffleNet's split) add their gradients
//     into its channels in place.
//   - Softmax over the features of [N, F] (max-shifted): dx = y*(dy -
//     sum(dy*y)). Train on the logits before it: the losses take logits.
//   - Add, GlobalAvgPool, Flatten (shares its input's buffer), Linear,
//     Dropout (seeded, see SetSeed), Pad.
//
// A Model is not safe for concurrent use; run one per goroutine.
package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// Gate is the learnable gate of one removable activation unit during the
// search (docs/method.md, stage 1): a gated activation computes
// act(x) + m*(x - act(x)), with m = Mask in the forward pass (1 runs the
// identity, 0 the activation), and the straight-through estimator carries
// the gradient to Value.
type Gate struct {
	// Value is the learnable scalar s (initialised to 0); the optimiser
	// updates it in place. It does not enter the forward pass.
	Value float32
	// Mask is the hard mask m used in the forward pass, set by the search
	// before each step: 0 keeps the activation, 1 runs the identity.
	Mask float32
	// Grad is written by Backward: d loss / d s through clamp(s, 0, 1),
	// that is the sum of dy*(x - act(x)) over every activation of the unit
	// when 0 <= Value <= 1 (PyTorch's clamp passes the gradient at the
	// bounds), and 0 otherwise.
	Grad float32
}

// value is one tensor of the graph: its per-image shape and buffers.
type value struct {
	name     string
	shape    []int     // per-image shape (batch dimension excluded)
	size     int       // elements per image
	data     []float32 // forward buffer, maxBatch*size (a view of another value's for Flatten)
	slot     int       // gradient slot
	needGrad bool      // whether Backward computes the gradient of this value
}

// param is a parameter read by an op; data is re-resolved from g.Params at
// every Forward so that the optimiser (or a checkpoint load) may update or
// replace the tensors.
type param struct {
	name  string
	numel int
	data  []float32
	grad  []float32 // nil for BatchNorm running statistics
}

// op is the executor's binding of one node.
type op interface {
	forward(m *Model, n int, train bool)
	backward(m *Model, n int)
}

// Model runs a graph forward and backward over buffers planned once by
// NewModel. Parameters are read from the graph's Params at every Forward, so
// an optimiser may update them in place between steps.
type Model struct {
	// Grads holds, after Backward, the gradient of the loss with respect to
	// every trainable parameter, keyed by parameter name with the parameter's
	// shape. BatchNorm running statistics have no entry. Each Backward
	// overwrites the values (no accumulation across steps).
	Grads map[string]*tensor.Tensor
	// Gates holds the gates of the units enabled by EnableGates, keyed by
	// unit name.
	Gates map[string]*Gate

	g        *graph.Graph
	maxBatch int
	vals     []value
	valIdx   map[string]int
	input    int // index of the graph input value
	output   int // index of the graph output value
	nodes    []*graph.Node
	ops      []op
	ins      [][]int  // value indices of each node's inputs
	outs     []int    // value index of each node's output
	accum    [][]bool // accum[i][k]: node i's input k gradient is added to, not written
	params   []*param
	gated    []bool // node has a gate bound (its output needs a gradient)
	reach    []bool // value has a path to the output (its gradient can be non-zero)
	slotSize []int
	slots    [][]float32
	scratch  []float32
	ws       []float32 // shared convolution workspace
	pcg      *rand.PCG
	rng      *rand.Rand

	inputGrad bool
	n         int // batch of the last Forward (0: none yet)
	train     bool
}

// NewModel plans the execution of g for batches of up to maxBatch images:
// it checks the graph and its parameters, binds every node to an op and
// allocates every activation buffer. Gradient buffers, shared between values
// whose gradients are never live at the same time, are allocated by the
// first Backward.
func NewModel(g *graph.Graph, maxBatch int) (*Model, error) {
	if g == nil {
		return nil, errors.New("nn: nil graph")
	}
	if maxBatch < 1 {
		return nil, fmt.Errorf("nn: graph %s: max batch %d, want at least 1", g.Name, maxBatch)
	}
	shapes, err := g.Shapes(maxBatch)
	if err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	m := &Model{
		Grads:    map[string]*tensor.Tensor{},
		Gates:    map[string]*Gate{},
		g:        g,
		maxBatch: maxBatch,
		valIdx:   map[string]int{},
		nodes:    g.Nodes,
	}
	m.pcg = rand.NewPCG(0, dropoutStream)
	m.rng = rand.New(m.pcg)
	m.input = m.addValue(g.Input.Name, shapes[g.Input.Name])
	owners := map[string]string{}
	for _, nd := range g.Nodes {
		in := make([]int, len(nd.Inputs))
		for k, v := range nd.Inputs {
			in[k] = m.valIdx[v]
		}
		out := m.addValue(nd.Output, shapes[nd.Output])
		m.ins = append(m.ins, in)
		m.outs = append(m.outs, out)
		ps := make([]*param, len(nd.Params))
		for k, name := range nd.Params {
			if prev, ok := owners[name]; ok {
				return nil, fmt.Errorf("nn: graph %s: parameter %q is used by nodes %s and %s; shared parameters are not supported", g.Name, name, prev, nd.Name)
			}
			owners[name] = nd.Name
			t := g.Params[name]
			p := &param{name: name, numel: len(t.Data), data: t.Data}
			if !(nd.Op == graph.OpBatchNorm && k >= 2) {
				gt := tensor.New(t.Shape...)
				m.Grads[name] = gt
				p.grad = gt.Data
			}
			m.params = append(m.params, p)
			ps[k] = p
		}
		o, err := m.bind(nd, in, out, ps)
		if err != nil {
			return nil, fmt.Errorf("nn: graph %s: node %s: %w", g.Name, nd.Name, err)
		}
		m.ops = append(m.ops, o)
	}
	m.gated = make([]bool, len(g.Nodes))
	m.output = m.valIdx[g.Output]
	m.fuseBNAct()
	// Forward buffers. Flatten shares its input's buffer.
	m.vals[m.input].data = make([]float32, maxBatch*m.vals[m.input].size)
	for i, nd := range g.Nodes {
		v := &m.vals[m.outs[i]]
		if nd.Op == graph.OpFlatten {
			v.data = m.vals[m.ins[i][0]].data
			continue
		}
		v.data = make([]float32, maxBatch*v.size)
	}
	m.reach = make([]bool, len(m.vals))
	m.reach[m.output] = true
	for i := len(m.nodes) - 1; i >= 0; i-- {
		if m.reach[m.outs[i]] {
			for _, v := range m.ins[i] {
				m.reach[v] = true
			}
		}
	}
	m.planGrads()
	m.updateNeedGrad()
	return m, nil
}

// dropoutStream is the PCG stream of the dropout RNG.
const dropoutStream = 0xd509

func (m *Model) addValue(name string, shape []int) int {
	per := append([]int(nil), shape[1:]...)
	m.vals = append(m.vals, value{name: name, shape: per, size: tensor.Numel(per)})
	m.valIdx[name] = len(m.vals) - 1
	return len(m.vals) - 1
}

// planGrads assigns gradient slots by liveness. In backward order, the
// gradient of a value is live from the backward of its last consumer (which
// writes it first) to the backward of its producer (which reads it last);
// values whose intervals do not meet share a slot. It also decides, for every
// node input, whether its gradient is written or accumulated.
func (m *Model) planGrads() {
	L := len(m.nodes)
	type interval struct{ v, start, end int }
	start := make([]int, len(m.vals))
	end := make([]int, len(m.vals))
	for v := range m.vals {
		start[v], end[v] = -1, L // unread values (the output) are live from the start; the input to the end
	}
	m.accum = make([][]bool, L)
	written := make([]bool, len(m.vals))
	for i := L - 1; i >= 0; i-- {
		t := L - 1 - i
		m.accum[i] = make([]bool, len(m.ins[i]))
		if !m.reach[m.outs[i]] {
			continue // never run backward
		}
		for k, v := range m.ins[i] {
			if start[v] < 0 {
				start[v] = t
			}
			m.accum[i][k] = written[v]
			written[v] = true
		}
		end[m.outs[i]] = t
	}
	start[m.output] = -1
	ivs := make([]interval, 0, len(m.vals))
	for v := range m.vals {
		s := start[v]
		if v == m.output {
			s = -1
		} else if s < 0 {
			s = end[v] // never read: give it a one-step interval
		}
		ivs = append(ivs, interval{v, s, end[v]})
	}
	sort.SliceStable(ivs, func(a, b int) bool { return ivs[a].start < ivs[b].start })
	type active struct{ slot, end int }
	var act []active
	var free []int
	maxScratch := 0
	for _, iv := range ivs {
		keep := act[:0]
		for _, a := range act {
			if a.end < iv.start {
				free = append(free, a.slot)
			} else {
				keep = append(keep, a)
			}
		}
		act = keep
		size := m.vals[iv.v].size
		best := -1
		for j, s := range free { // best fit: the smallest slot that is big enough, else the biggest
			switch {
			case best < 0:
				best = j
			case m.slotSize[s] >= size && (m.slotSize[free[best]] < size || m.slotSize[s] < m.slotSize[free[best]]):
				best = j
			case m.slotSize[free[best]] < size && m.slotSize[s] > m.slotSize[free[best]]:
				best = j
			}
		}
		var slot int
		if best >= 0 {
			slot = free[best]
			free = append(free[:best], free[best+1:]...)
			m.slotSize[slot] = max(m.slotSize[slot], size)
		} else {
			slot = len(m.slotSize)
			m.slotSize = append(m.slotSize, size)
		}
		m.vals[iv.v].slot = slot
		act = append(act, active{slot, iv.end})
	}
	for i := range m.nodes {
		for k, v := range m.ins[i] {
			if m.accum[i][k] {
				maxScratch = max(maxScratch, m.vals[v].size)
			}
		}
	}
	m.scratch = make([]float32, maxScratch*m.maxBatch)
}

// updateNeedGrad marks the values whose gradient Backward must compute: those
// downstream of a trainable parameter, a gate, or the input when InputGrad is
// on.
func (m *Model) updateNeedGrad() {
	m.vals[m.input].needGrad = m.inputGrad && m.reach[m.input]
	for i, nd := range m.nodes {
		need := m.gated[i] || len(nd.Params) > 0
		for _, v := range m.ins[i] {
			need = need || m.vals[v].needGrad
		}
		m.vals[m.outs[i]].needGrad = need && m.reach[m.outs[i]]
	}
}

// MaxBatch returns the largest batch Forward accepts.
func (m *Model) MaxBatch() int { return m.maxBatch }

// Graph returns the model's graph.
func (m *Model) Graph() *graph.Graph { return m.g }

// InputSize returns the number of values of one input image (C*H*W).
func (m *Model) InputSize() int { return m.vals[m.input].size }

// OutputSize returns the number of output values per image (the classes for
// a classifier).
func (m *Model) OutputSize() int { return m.vals[m.output].size }

// SetSeed reseeds the dropout random number generator; two runs with the
// same seed and inputs draw the same dropout masks.
func (m *Model) SetSeed(seed uint64) { m.pcg.Seed(seed, dropoutStream) }

// SetInputGrad turns on or off the computation of the gradient with respect
// to the model input by Backward (off by default; it costs one extra
// backward-data pass of the first layer).
func (m *Model) SetInputGrad(on bool) {
	m.inputGrad = on
	m.updateNeedGrad()
}

// InputGrad returns the gradient of the loss with respect to the input of the
// last Forward, [n, C, H, W], as computed by the last Backward, or nil when
// SetInputGrad is off or Backward has not run. The slice is reused by the
// next Backward.
func (m *Model) InputGrad() []float32 {
	if !m.inputGrad || m.slots == nil || m.n == 0 {
		return nil
	}
	return m.grad(m.input, m.n)
}

// Value returns the forward buffer of the named value after Forward, laid out
// [n, ...] for the batch n of the last Forward, or nil when there is no such
// value. The slice is reused by the next Forward.
func (m *Model) Value(name string) []float32 {
	v, ok := m.valIdx[name]
	if !ok {
		return nil
	}
	for i, o := range m.ops {
		if bn, ok := o.(*bnOp); ok && m.outs[i] == v && m.n > 0 {
			bn.materialize(m, m.n)
		}
	}
	return m.data(v, max(m.n, 1))
}

// EnableGates gives each listed unit a gate (see Gate) and removes the gates
// of every other unit. A unit that already had a gate keeps it (and its
// Value); a new gate starts at Value 0, Mask 0. Every name must be the Unit
// of at least one activation node of the graph.
func (m *Model) EnableGates(units []string) error {
	known := map[string]bool{}
	for _, nd := range m.nodes {
		if nd.Op == graph.OpAct && nd.Act.Unit != "" {
			known[nd.Act.Unit] = true
		}
	}
	gates := make(map[string]*Gate, len(units))
	for _, u := range units {
		if !known[u] {
			return fmt.Errorf("nn: graph %s: no activation belongs to unit %q", m.g.Name, u)
		}
		if gt, ok := m.Gates[u]; ok {
			gates[u] = gt
		} else {
			gates[u] = &Gate{}
		}
	}
	m.Gates = gates
	for i, nd := range m.nodes {
		if nd.Op != graph.OpAct {
			continue
		}
		a := m.ops[i].(*actOp)
		a.gate = nil
		if nd.Act.Unit != "" {
			a.gate = gates[nd.Act.Unit]
		}
		m.gated[i] = a.gate != nil
	}
	m.updateNeedGrad()
	return nil
}

// data returns the forward buffer of value v for batch n.
func (m *Model) data(v, n int) []float32 { return m.vals[v].data[:n*m.vals[v].size] }

// grad returns the gradient buffer of value v for batch n.
func (m *Model) grad(v, n int) []float32 { return m.slots[m.vals[v].slot][:n*m.vals[v].size] }

// dxBegin returns where node i writes the gradient of its input k, or nil
// when that gradient is not needed. After writing, the op calls dxEnd.
func (m *Model) dxBegin(i, k, n int) []float32 {
	v := m.ins[i][k]
	if !m.vals[v].needGrad {
		return nil
	}
	if m.accum[i][k] {
		return m.scratch[:n*m.vals[v].size]
	}
	return m.grad(v, n)
}

// dxEnd adds the scratch gradient into the value's gradient when node i's
// input k accumulates.
func (m *Model) dxEnd(i, k, n int) {
	v := m.ins[i][k]
	if m.vals[v].needGrad && m.accum[i][k] {
		axpy1(m.scratch[:n*m.vals[v].size], m.grad(v, n))
	}
}

// putGrad sets (or adds to) the gradient of node i's input k from src.
func (m *Model) putGrad(i, k, n int, src []float32) {
	v := m.ins[i][k]
	if !m.vals[v].needGrad {
		return
	}
	if m.accum[i][k] {
		axpy1(src, m.grad(v, n))
	} else {
		copy(m.grad(v, n), src)
	}
}

// Forward runs the model on x, n images laid out [n, C, H, W] (x is copied),
// and returns the output, [n, OutputSize()], a view reused by the next call.
// In training mode BatchNorm normalises with the batch statistics and
// updates its running averages, and Dropout is active; in eval mode
// BatchNorm uses the running statistics and Dropout is the identity.
// Forward panics when n is not in [1, MaxBatch()], when x is shorter than n
// images, or when a parameter of the graph was removed or resized after
// NewModel.
func (m *Model) Forward(x []float32, n int, train bool) []float32 {
	if n < 1 || n > m.maxBatch {
		panic(fmt.Sprintf("nn: Forward of %d images, want 1 to %d", n, m.maxBatch))
	}
	in := m.data(m.input, n)
	if len(x) < len(in) {
		panic(fmt.Sprintf("nn: Forward of %d images needs %d input values, got %d", n, len(in), len(x)))
	}
	for _, p := range m.params {
		t := m.g.Params[p.name]
		if t == nil || len(t.Data) != p.numel {
			panic(fmt.Sprintf("nn: parameter %q was removed or resized after NewModel", p.name))
		}
		p.data = t.Data
	}
	copy(in, x)
	for _, o := range m.ops {
		o.forward(m, n, train)
	}
	m.n, m.train = n, train
	return m.data(m.output, n)
}

// Backward computes, from dout (the gradient of the loss with respect to the
// output of the last Forward, [n, OutputSize()]), the gradient of every
// trainable parameter into Grads, of every enabled gate into Gate.Grad and,
// when SetInputGrad is on, of the input (see InputGrad). It uses the mode
// (train or eval) of the last Forward and the parameter values it read.
// Backward panics when no Forward has run or dout is too short.
func (m *Model) Backward(dout []float32) {
	n := m.n
	if n == 0 {
		panic("nn: Backward before Forward")
	}
	if m.slots == nil {
		m.slots = make([][]float32, len(m.slotSize))
		for s, size := range m.slotSize {
			m.slots[s] = make([]float32, size*m.maxBatch)
		}
	}
	g := m.grad(m.output, n)
	if len(dout) < len(g) {
		panic(fmt.Sprintf("nn: Backward needs %d output gradients, got %d", len(g), len(dout)))
	}
	copy(g, dout)
	for _, gt := range m.Gates {
		gt.Grad = 0
	}
	for i := len(m.ops) - 1; i >= 0; i-- {
		if m.vals[m.outs[i]].needGrad {
			m.ops[i].backward(m, n)
		}
	}
	for _, gt := range m.Gates {
		if gt.Value < 0 || gt.Value > 1 {
			gt.Grad = 0
		}
	}
}
