package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// Gradient checks. The loss is L = sum_j r_j * out_j with a fixed random r,
// accumulated in float64 from the float32 forward, so dL/dout = r. Each
// analytic gradient is compared with the central difference
// (L(p+h) - L(p-h)) / 2h. With h around 1e-2 and O(1) values, float32
// rounding of L (about 1e-6 relative) contributes ~1e-4 absolute to the
// difference quotient and truncation ~h^2 relative, so the per-element
// tolerance is |fd - an| <= atol + rtol*max(|fd|, |an|) with the atol and
// rtol stated at each call.

// tgraph helps build small test graphs node by node.
type tgraph struct {
	g   *graph.Graph
	rng *rand.Rand
}

func newTGraph(c, h, w int, seed uint64) *tgraph {
	return &tgraph{g: graph.New("test", c, h, w), rng: rand.New(rand.NewPCG(seed, 7))}
}

// add appends node nd reading inputs, with random parameters of the given
// shapes (names nd.Name+"."+role), and returns its output name.
func (t *tgraph) add(nd *graph.Node, params ...any) string {
	nd.Output = nd.Name
	for i := 0; i < len(params); i += 2 {
		name := nd.Name + "." + params[i].(string)
		p := tensor.New(params[i+1].([]int)...)
		p.RandN(t.rng, 0.5)
		t.g.Params[name] = p
		nd.Params = append(nd.Params, name)
	}
	t.g.Nodes = append(t.g.Nodes, nd)
	t.g.Output = nd.Output
	return nd.Output
}

func (t *tgraph) conv(name, x string, a graph.ConvAttr, ho, wo int) string {
	ps := []any{"weight", []int{a.OutC, a.InC / a.Groups, a.KH, a.KW}}
	if a.Bias {
		ps = append(ps, "bias", []int{a.OutC})
	}
	if a.BiasMap {
		ps = append(ps, "bias_map", []int{a.OutC, ho, wo})
	}
	return t.add(&graph.Node{Name: name, Op: graph.OpConv, Inputs: []string{x}, Conv: &a}, ps...)
}

func (t *tgraph) bn(name, x string, c int) string {
	out := t.add(&graph.Node{Name: name, Op: graph.OpBatchNorm, Inputs: []string{x}, BN: &graph.BNAttr{C: c, Eps: 1e-5, Momentum: 0.1}},
		"weight", []int{c}, "bias", []int{c}, "running_mean", []int{c}, "running_var", []int{c})
	v := t.g.Params[name+".running_var"].Data
	for i := range v {
		v[i] = 0.5 + v[i]*v[i]
	}
	return out
}

func (t *tgraph) act(name, x string, kind graph.ActKind, unit string) string {
	return t.add(&graph.Node{Name: name, Op: graph.OpAct, Inputs: []string{x}, Act: &graph.ActAttr{Kind: kind, Unit: unit}})
}

// fdCase runs the gradient checks of one model.
type fdCase struct {
	m     *Model
	x     []float32
	n     int
	train bool
	r     []float32
	seed  uint64
}

func newFDCase(t *testing.T, g *graph.Graph, n int, train bool, seed uint64) *fdCase {
	t.Helper()
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(g, n)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	c := &fdCase{m: m, n: n, train: train, seed: seed}
	c.x = make([]float32, n*m.InputSize())
	for i := range c.x {
		c.x[i] = float32(rng.NormFloat64())
	}
	c.r = make([]float32, n*m.OutputSize())
	for i := range c.r {
		c.r[i] = float32(rng.NormFloat64())
	}
	return c
}

// loss runs a forward pass and returns L in float64.
func (c *fdCase) loss() float64 {
	c.m.SetSeed(c.seed)
	out := c.m.Forward(c.x, c.n, c.train)
	var l float64
	for i, v := range out {
		l += float64(v) * float64(c.r[i])
	}
	return l
}

// run does the analytic forward and backward.
func (c *fdCase) run() {
	c.loss()
	c.m.Backward(c.r)
}

// fd returns the central difference of L with respect to *p.
func (c *fdCase) fd(p *float32, h float32) float64 {
	old := *p
	*p = old + h
	lp := c.loss()
	*p = old - h
	lm := c.loss()
	*p = old
	return (lp - lm) / (float64(old+h) - float64(old-h))
}

func near(fd, an, atol, rtol float64) bool {
	return math.Abs(fd-an) <= atol+rtol*math.Max(math.Abs(fd), math.Abs(an))
}

// checkSlice compares the analytic gradient an of the values vals (which
// must be what the loss reads) at up to limit indices (all when limit <= 0).
func (c *fdCase) checkSlice(t *testing.T, what string, vals []float32, an []float32, h, atol, rtol float64, limit int) {
	t.Helper()
	an = append([]float32(nil), an...) // the probes overwrite the model's gradients
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	if limit > 0 && limit < len(idx) {
		rng := rand.New(rand.NewPCG(uint64(len(vals)), 3))
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:limit]
	}
	bad := 0
	for _, i := range idx {
		f := c.fd(&vals[i], float32(h))
		if !near(f, float64(an[i]), atol, rtol) {
			if bad < 5 {
				t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", what, i, an[i], f)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d gradients off", what, bad, len(idx))
	}
}

// checkParams checks every trainable parameter of the graph.
func (c *fdCase) checkParams(t *testing.T, h, atol, rtol float64, limit int) {
	t.Helper()
	for _, name := range c.m.g.ParamNames() {
		gr, ok := c.m.Grads[name]
		if !ok {
			continue
		}
		c.checkSlice(t, name, c.m.g.Params[name].Data, gr.Data, h, atol, rtol, limit)
	}
}

// checkInput checks the input gradient (SetInputGrad must be on).
func (c *fdCase) checkInput(t *testing.T, h, atol, rtol float64, limit int) {
	t.Helper()
	ig := c.m.InputGrad()
	if ig == nil {
		t.Fatal("no input gradient")
	}
	c.checkSlice(t, "input", c.x, ig, h, atol, rtol, limit)
}

func TestConvGrad(t *testing.T) {
	cases := []struct {
		name       string
		c, h, w    int
		a          graph.ConvAttr
		n          int
		trainGraph bool
	}{
		{"dense3x3", 3, 6, 5, graph.ConvAttr{InC: 3, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Pads: [4]int{1, 1, 1, 1}, Groups: 1, Bias: true}, 2, false},
		{"grouped_stride_asym_map", 4, 7, 6, graph.ConvAttr{InC: 4, OutC: 6, KH: 3, KW: 2, StrideH: 2, StrideW: 1, Pads: [4]int{0, 1, 2, 1}, Groups: 2, Bias: true, BiasMap: true}, 2, false},
		{"depthwise_s2", 4, 7, 7, graph.ConvAttr{InC: 4, OutC: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, Pads: [4]int{1, 1, 1, 1}, Groups: 4}, 3, false},
		{"depthwise5x5_asym_map", 3, 6, 6, graph.ConvAttr{InC: 3, OutC: 3, KH: 5, KW: 5, StrideH: 1, StrideW: 1, Pads: [4]int{2, 1, 2, 3}, Groups: 3, BiasMap: true}, 2, false},
		{"pointwise", 5, 4, 4, graph.ConvAttr{InC: 5, OutC: 3, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}, 2, false},
		{"pointwise_s2_pad", 2, 5, 5, graph.ConvAttr{InC: 2, OutC: 3, KH: 1, KW: 1, StrideH: 2, StrideW: 2, Pads: [4]int{1, 0, 0, 1}, Groups: 1, Bias: true}, 2, false},
		// RegNet's grouped convs: neither dense nor depthwise, several channels per group.
		{"grouped_8_per_group_s2", 16, 7, 6, graph.ConvAttr{InC: 16, OutC: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2, Pads: [4]int{1, 1, 1, 1}, Groups: 2, Bias: true}, 2, false},
		{"grouped_3x16_widen", 48, 4, 4, graph.ConvAttr{InC: 48, OutC: 96, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Pads: [4]int{1, 1, 1, 1}, Groups: 3}, 1, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTGraph(tc.c, tc.h, tc.w, uint64(i))
			ho := graph.ConvOut(tc.h, tc.a.KH, tc.a.StrideH, tc.a.Pads[0], tc.a.Pads[2])
			wo := graph.ConvOut(tc.w, tc.a.KW, tc.a.StrideW, tc.a.Pads[1], tc.a.Pads[3])
			tg.conv("conv", "input", tc.a, ho, wo)
			c := newFDCase(t, tg.g, tc.n, false, 1)
			c.m.SetInputGrad(true)
			c.run()
			// Conv is linear in each argument: the difference quotient is
			// exact up to float32 rounding of L (|L| ~ 10, ~1e-6), so
			// h = 1e-2 with atol 1e-3, rtol 1e-3.
			c.checkParams(t, 1e-2, 1e-3, 1e-3, 0)
			c.checkInput(t, 1e-2, 1e-3, 1e-3, 0)
		})
	}
}

func TestLinearGrad(t *testing.T) {
	tg := newTGraph(3, 2, 2, 5)
	x := tg.add(&graph.Node{Name: "flatten", Op: graph.OpFlatten, Inputs: []string{"input"}})
	tg.add(&graph.Node{Name: "fc", Op: graph.OpLinear, Inputs: []string{x}, Linear: &graph.LinearAttr{In: 12, Out: 5, Bias: true}},
		"weight", []int{5, 12}, "bias", []int{5})
	c := newFDCase(t, tg.g, 3, true, 2)
	c.m.SetInputGrad(true)
	c.run()
	// Linear: exact up to rounding; h = 1e-2, atol 1e-3, rtol 1e-3.
	c.checkParams(t, 1e-2, 1e-3, 1e-3, 0)
	c.checkInput(t, 1e-2, 1e-3, 1e-3, 0)
}

func TestBatchNormGrad(t *testing.T) {
	for _, train := range []bool{true, false} {
		t.Run(fmt.Sprintf("train=%v", train), func(t *testing.T) {
			tg := newTGraph(3, 4, 3, 9)
			tg.bn("bn", "input", 3)
			c := newFDCase(t, tg.g, 4, train, 3)
			c.m.SetInputGrad(true)
			c.run()
			// Training-mode BN is smooth but non-linear in x (through the
			// batch statistics): h = 1e-2 gives truncation ~1e-4 relative;
			// atol 2e-3, rtol 1e-2.
			c.checkParams(t, 1e-2, 2e-3, 1e-2, 0)
			c.checkInput(t, 1e-2, 2e-3, 1e-2, 0)
		})
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	tg := newTGraph(2, 3, 3, 4)
	tg.bn("bn", "input", 2)
	g := tg.g
	m, err := NewModel(g, 5)
	if err != nil {
		t.Fatal(err)
	}
	rm := append([]float32(nil), g.Params["bn.running_mean"].Data...)
	rv := append([]float32(nil), g.Params["bn.running_var"].Data...)
	x := make([]float32, 4*2*9)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*1.3)*2 + float64(i%5))
	}
	y := m.Forward(x, 4, true)
	for c := 0; c < 2; c++ {
		var s, ss float64
		for i := 0; i < 4; i++ {
			for j := 0; j < 9; j++ {
				s += float64(x[(i*2+c)*9+j])
			}
		}
		mean := s / 36
		for i := 0; i < 4; i++ {
			for j := 0; j < 9; j++ {
				d := float64(x[(i*2+c)*9+j]) - mean
				ss += d * d
			}
		}
		wantM := 0.9*float64(rm[c]) + 0.1*mean
		wantV := 0.9*float64(rv[c]) + 0.1*ss/35 // unbiased, as PyTorch
		if got := float64(g.Params["bn.running_mean"].Data[c]); math.Abs(got-wantM) > 1e-5 {
			t.Errorf("running mean[%d] = %g, want %g", c, got, wantM)
		}
		if got := float64(g.Params["bn.running_var"].Data[c]); math.Abs(got-wantV) > 1e-5*wantV {
			t.Errorf("running var[%d] = %g, want %g", c, got, wantV)
		}
		// output: normalised with the biased batch variance
		gm, bt := float64(g.Params["bn.weight"].Data[c]), float64(g.Params["bn.bias"].Data[c])
		inv := 1 / math.Sqrt(ss/36+1e-5)
		for i := 0; i < 4; i++ {
			for j := 0; j < 9; j++ {
				k := (i*2+c)*9 + j
				want := (float64(x[k])-mean)*inv*gm + bt
				if math.Abs(float64(y[k])-want) > 1e-5 {
					t.Fatalf("y[%d] = %g, want %g", k, y[k], want)
				}
			}
		}
	}
}

// awayFromKinks moves values within d of a kink of the activations (0, 6,
// +-3) so that finite differences of step < d do not cross one.
func awayFromKinks(x []float32, d float32) {
	for i, v := range x {
		for _, k := range []float32{0, 6, 3, -3} {
			if v > k-d && v < k+d {
				if v < k {
					v = k - 2*d
				} else {
					v = k + 2*d
				}
			}
		}
		x[i] = v
	}
}

func TestActGrad(t *testing.T) {
	for _, kind := range []graph.ActKind{graph.ActIdentity, graph.ActReLU, graph.ActReLU6, graph.ActHardSwish, graph.ActHardSigmoid} {
		t.Run(string(kind), func(t *testing.T) {
			tg := newTGraph(2, 5, 5, 1)
			tg.act("act", "input", kind, "")
			c := newFDCase(t, tg.g, 2, true, 4)
			for i := range c.x {
				c.x[i] *= 4 // cover every piece, including above 6 and below -3
			}
			awayFromKinks(c.x, 0.05)
			c.m.SetInputGrad(true)
			c.run()
			// Piecewise smooth (quadratic at most) and no kink within h:
			// h = 1e-2, atol 1e-3, rtol 1e-3.
			c.checkInput(t, 1e-2, 1e-3, 1e-3, 0)
		})
	}
}

func TestGatedActGrad(t *testing.T) {
	for _, mask := range []float32{0, 1, 0.3} {
		t.Run(fmt.Sprintf("mask=%g", mask), func(t *testing.T) {
			// Two activations of unit u and one of unit v (never gated),
			// all reading the input (kept away from kinks), summed and
			// followed by a conv: L is then exactly linear in the mask.
			tg := newTGraph(2, 4, 4, 2)
			a1 := tg.act("a1", "input", graph.ActReLU6, "u")
			a2 := tg.act("a2", "input", graph.ActHardSwish, "u")
			a3 := tg.act("a3", "input", graph.ActReLU, "v")
			x := tg.add(&graph.Node{Name: "s1", Op: graph.OpAdd, Inputs: []string{a1, a2}})
			x = tg.add(&graph.Node{Name: "s2", Op: graph.OpAdd, Inputs: []string{x, a3}})
			tg.conv("conv", x, graph.ConvAttr{InC: 2, OutC: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Pads: [4]int{1, 1, 1, 1}, Groups: 1, Bias: true}, 4, 4)
			tg.g.Units = []graph.Unit{{Name: "u"}, {Name: "v"}}
			c := newFDCase(t, tg.g, 2, true, 5)
			for i := range c.x {
				c.x[i] *= 4
			}
			awayFromKinks(c.x, 0.05)
			if err := c.m.EnableGates([]string{"u", "missing"}); err == nil {
				t.Fatal("EnableGates accepted an unknown unit")
			}
			if err := c.m.EnableGates([]string{"u"}); err != nil {
				t.Fatal(err)
			}
			gate := c.m.Gates["u"]
			gate.Mask, gate.Value = mask, 0.5
			c.m.SetInputGrad(true)
			c.run()
			an := gate.Grad
			// The gate gradient is the derivative of L with respect to a
			// continuous mask m at its current value (the forward pass
			// computes act(x) + m*(x-act(x)) exactly).
			f := c.fd(&gate.Mask, 1e-2)
			// L is linear in m: h = 1e-2, atol 1e-3, rtol 1e-3.
			if !near(f, float64(an), 1e-3, 1e-3) {
				t.Errorf("gate grad %g, finite difference %g", an, f)
			}
			c.run()
			c.checkInput(t, 1e-2, 1e-3, 1e-3, 0)
			c.checkParams(t, 1e-2, 1e-3, 1e-3, 0)
			// Out of [0, 1], clamp stops the gradient.
			gate.Value = 1.5
			c.run()
			if gate.Grad != 0 {
				t.Errorf("gate grad %g at Value 1.5, want 0", gate.Grad)
			}
			gate.Value = 1
			c.run()
			if gate.Grad != an {
				t.Errorf("gate grad %g at Value 1, want %g", gate.Grad, an)
			}
		})
	}
}

func TestMiscOpsGrad(t *testing.T) {
	// pad -> conv -> add(pad, conv) -> pool -> flatten -> dropout -> linear
	tg := newTGraph(2, 4, 5, 3)
	p := tg.add(&graph.Node{Name: "pad", Op: graph.OpPad, Inputs: []string{"input"}, Pad: &graph.PadAttr{Pads: [4]int{1, 0, 2, 1}}})
	cv := tg.conv("conv", p, graph.ConvAttr{InC: 2, OutC: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Pads: [4]int{1, 1, 1, 1}, Groups: 1, Bias: true}, 7, 6)
	a := tg.add(&graph.Node{Name: "add", Op: graph.OpAdd, Inputs: []string{p, cv}})
	x := tg.add(&graph.Node{Name: "pool", Op: graph.OpGlobalAvgPool, Inputs: []string{a}})
	x = tg.add(&graph.Node{Name: "flatten", Op: graph.OpFlatten, Inputs: []string{x}})
	x = tg.add(&graph.Node{Name: "drop", Op: graph.OpDropout, Inputs: []string{x}, Dropout: &graph.DropoutAttr{P: 0.5}})
	tg.add(&graph.Node{Name: "fc", Op: graph.OpLinear, Inputs: []string{x}, Linear: &graph.LinearAttr{In: 2, Out: 3, Bias: true}},
		"weight", []int{3, 2}, "bias", []int{3})
	for _, train := range []bool{true, false} {
		t.Run(fmt.Sprintf("train=%v", train), func(t *testing.T) {
			c := newFDCase(t, tg.g, 3, train, 6)
			c.m.SetInputGrad(true)
			c.run()
			// All linear: h = 1e-2, atol 1e-3, rtol 1e-3.
			c.checkParams(t, 1e-2, 1e-3, 1e-3, 0)
			c.checkInput(t, 1e-2, 1e-3, 1e-3, 0)
		})
	}
}

func TestDropoutSeeded(t *testing.T) {
	tg := newTGraph(1, 1, 1000, 1)
	tg.add(&graph.Node{Name: "drop", Op: graph.OpDropout, Inputs: []string{"input"}, Dropout: &graph.DropoutAttr{P: 0.25}})
	m, err := NewModel(tg.g, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 1000)
	for i := range x {
		x[i] = 1
	}
	m.SetSeed(42)
	a := append([]float32(nil), m.Forward(x, 1, true)...)
	m.SetSeed(42)
	b := m.Forward(x, 1, true)
	zeros := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different masks")
		}
		switch a[i] {
		case 0:
			zeros++
		case 1 / 0.75:
		default:
			t.Fatalf("dropout value %g", a[i])
		}
	}
	if zeros < 200 || zeros > 300 {
		t.Errorf("%d of 1000 dropped at p = 0.25", zeros)
	}
	for _, v := range m.Forward(x, 1, false) {
		if v != 1 {
			t.Fatal("dropout active in eval mode")
		}
	}
}

// checkDirection compares the change of L when vals moves by +-h along a
// random direction d (normal entries) with the analytic directional
// derivative sum_i an_i * (applied change)_i. Moving every element at once
// gives a difference far above the float32 rounding noise of L.
func (c *fdCase) checkDirection(t *testing.T, what string, vals []float32, an []float32, h, atol, rtol float64, seed uint64) {
	t.Helper()
	an = append([]float32(nil), an...)
	rng := rand.New(rand.NewPCG(seed, 5))
	old := append([]float32(nil), vals...)
	plus := make([]float32, len(vals))
	minus := make([]float32, len(vals))
	var want float64
	for i, v := range old {
		d := h * rng.NormFloat64()
		plus[i], minus[i] = float32(float64(v)+d), float32(float64(v)-d)
		want += float64(an[i]) * (float64(plus[i]) - float64(minus[i]))
	}
	copy(vals, plus)
	lp := c.loss()
	copy(vals, minus)
	lm := c.loss()
	copy(vals, old)
	// in units of the derivative: divide by 2h
	got := (lp - lm) / (2 * h)
	want /= 2 * h
	if !near(got, want, atol, rtol) {
		t.Errorf("%s: directional change %.6g, analytic %.6g", what, got, want)
	}
}
