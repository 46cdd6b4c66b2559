package nn

import (
	"github.com/dshrink/dshrink/kernels/pool"
	"github.com/dshrink/dshrink/kernels/vec"
)

// addOp is an Add node (residual connection): y = a + b.
type addOp struct{ node int }

func (o *addOp) forward(m *Model, n int, train bool) {
	in := m.ins[o.node]
	vec.Add(m.data(m.outs[o.node], n), m.data(in[0], n), m.data(in[1], n))
}

func (o *addOp) backward(m *Model, n int) {
	dy := m.grad(m.outs[o.node], n)
	m.putGrad(o.node, 0, n, dy)
	m.putGrad(o.node, 1, n, dy)
}

// padOp is a Pad node: zero padding of H and W (top, left, bottom, right).
type padOp struct {
	node    int
	c, h, w int
	pads    [4]int
}

func (o *padOp) forward(m *Model, n int, train bool) {
	x, y := m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n)
	oh, ow := o.h+o.pads[0]+o.pads[2], o.w+o.pads[1]+o.pads[3]
	for p := 0; p < n*o.c; p++ {
		src := x[p*o.h*o.w : (p+1)*o.h*o.w]
		dst := y[p*oh*ow : (p+1)*oh*ow]
		clear(dst[:o.pads[0]*ow])
		clear(dst[(o.pads[0]+o.h)*ow:])
		for r := 0; r < o.h; r++ {
			row := dst[(o.pads[0]+r)*ow : (o.pads[0]+r+1)*ow]
			clear(row[:o.pads[1]])
			copy(row[o.pads[1]:], src[r*o.w:(r+1)*o.w])
			clear(row[o.pads[1]+o.w:])
		}
	}
}

func (o *padOp) backward(m *Model, n int) {
	dy := m.grad(m.outs[o.node], n)
	dx := m.dxBegin(o.node, 0, n)
	if dx == nil {
		return
	}
	oh, ow := o.h+o.pads[0]+o.pads[2], o.w+o.pads[1]+o.pads[3]
	for p := 0; p < n*o.c; p++ {
		src := dy[p*oh*ow : (p+1)*oh*ow]
		dst := dx[p*o.h*o.w : (p+1)*o.h*o.w]
		for r := 0; r < o.h; r++ {
			copy(dst[r*o.w:(r+1)*o.w], src[(o.pads[0]+r)*ow+o.pads[1]:])
		}
	}
	m.dxEnd(o.node, 0, n)
}

// poolOp is a GlobalAvgPool node.
type poolOp struct {
	node  int
	c, hw int
}

func (o *poolOp) forward(m *Model, n int, train bool) {
	must(pool.GlobalAvgForward(m.data(m.ins[o.node][0], n), m.data(m.outs[o.node], n), n, o.c, o.hw))
}

func (o *poolOp) backward(m *Model, n int) {
	if dx := m.dxBegin(o.node, 0, n); dx != nil {
		must(pool.GlobalAvgBackward(m.grad(m.outs[o.node], n), dx, n, o.c, o.hw))
		m.dxEnd(o.node, 0, n)
	}
}

// flattenOp is a Flatten node; its output shares its input's buffer.
type flattenOp struct{ node int }

func (o *flattenOp) forward(m *Model, n int, train bool) {}

func (o *flattenOp) backward(m *Model, n int) {
	m.putGrad(o.node, 0, n, m.grad(m.outs[o.node], n))
}
