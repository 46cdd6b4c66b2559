package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
)

// distinct fills x with a random permutation of evenly spaced values (gaps
// of 0.1), so that no two values of a pooling window are within a finite
// difference step of each other and the max never switches under a probe.
func distinct(x []float32, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for i, j := range rng.Perm(len(x)) {
		x[i] = float32(j-len(x)/2) * 0.1
	}
}

func TestWindowPoolGrad(t *testing.T) {
	cases := []struct {
		name    string
		c, h, w int
		a       graph.PoolAttr
	}{
		{"3x3s2p1", 2, 7, 6, graph.PoolAttr{KH: 3, KW: 3, StrideH: 2, StrideW: 2, Pads: [4]int{1, 1, 1, 1}}},
		{"3x3s2p1_ceil", 2, 6, 6, graph.PoolAttr{KH: 3, KW: 3, StrideH: 2, StrideW: 2, Pads: [4]int{1, 1, 1, 1}, CeilMode: true}},
		{"2x3s2_asym_ceil", 3, 7, 8, graph.PoolAttr{KH: 2, KW: 3, StrideH: 2, StrideW: 2, Pads: [4]int{1, 0, 0, 2}, CeilMode: true}},
		{"3x3s1p1", 1, 5, 5, graph.PoolAttr{KH: 3, KW: 3, StrideH: 1, StrideW: 1, Pads: [4]int{1, 1, 1, 1}}},
	}
	for i, tc := range cases {
		for _, op := range []graph.Op{graph.OpMaxPool, graph.OpAvgPool} {
			for _, inc := range []bool{false, true} {
				if op == graph.OpMaxPool && inc {
					continue
				}
				t.Run(fmt.Sprintf("%s_%s_countpad=%v", op, tc.name, inc), func(t *testing.T) {
					tg := newTGraph(tc.c, tc.h, tc.w, uint64(i))
					a := tc.a
					a.CountIncludePad = inc
					tg.add(&graph.Node{Name: "pool", Op: op, Inputs: []string{"input"}, Pool: &a})
					c := newFDCase(t, tg.g, 2, true, 3)
					distinct(c.x, uint64(i))
					c.m.SetInputGrad(true)
					c.run()
					// Pooling is linear where the max does not switch (gaps
					// of 0.1 > h): h = 1e-2, atol 1e-3, rtol 1e-3.
					c.checkInput(t, 1e-2, 1e-3, 1e-3, 0)
					// The forward pass agrees with the reference.
					want, _, err := reference.Forward(tg.g, c.x, 2)
					if err != nil {
						t.Fatal(err)
					}
					if d, s := reference.MaxDiff(c.m.Forward(c.x, 2, false), want["pool"]); d > 1e-6*s {
						t.Errorf("forward differs from the reference by %g (scale %g)", d, s)
					}
				})
			}
		}
	}
}

// TestMaxPoolTies checks that a tied window sends its gradient to the first
// maximum in row-major order, as PyTorch's saved indices do.
func TestMaxPoolTies(t *testing.T) {
	tg := newTGraph(1, 2, 2, 1)
	tg.add(&graph.Node{Name: "pool", Op: graph.OpMaxPool, Inputs: []string{"input"}, Pool: &graph.PoolAttr{KH: 2, KW: 2, StrideH: 1, StrideW: 1}})
	m, err := NewModel(tg.g, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.SetInputGrad(true)
	m.Forward([]float32{1, 3, 3, 3}, 1, true)
	m.Backward([]float32{5})
	if got := m.InputGrad(); fmt.Sprint(got) != "[0 5 0 0]" {
		t.Errorf("input gradient %v, want [0 5 0 0]", got)
	}
}

func TestChannelOpsGrad(t *testing.T) {
	// x -> slice [0,2) and [2,6) -> conv on the right -> concat(right, left)
	// -> shuffle(3) -> mul by itself -> mul by a [N,C,1,1] gate (GAP of x's
	// slice) -> GAP -> flatten -> linear -> softmax.
	tg := newTGraph(6, 4, 3, 4)
	l := tg.add(&graph.Node{Name: "l", Op: graph.OpSlice, Inputs: []string{"input"}, Slice: &graph.SliceAttr{Start: 0, End: 2}})
	r := tg.add(&graph.Node{Name: "r", Op: graph.OpSlice, Inputs: []string{"input"}, Slice: &graph.SliceAttr{Start: 2, End: 6}})
	r = tg.conv("conv", r, graph.ConvAttr{InC: 4, OutC: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Pads: [4]int{1, 1, 1, 1}, Groups: 2, Bias: true}, 4, 3)
	x := tg.add(&graph.Node{Name: "cat", Op: graph.OpConcat, Inputs: []string{r, l}})
	x = tg.add(&graph.Node{Name: "shuffle", Op: graph.OpShuffle, Inputs: []string{x}, Shuffle: &graph.ShuffleAttr{Groups: 3}})
	x = tg.add(&graph.Node{Name: "sq", Op: graph.OpMul, Inputs: []string{x, x}})
	gate := tg.add(&graph.Node{Name: "gap", Op: graph.OpGlobalAvgPool, Inputs: []string{"input"}})
	x = tg.add(&graph.Node{Name: "gated", Op: graph.OpMul, Inputs: []string{x, gate}})
	x = tg.add(&graph.Node{Name: "pool", Op: graph.OpGlobalAvgPool, Inputs: []string{x}})
	x = tg.add(&graph.Node{Name: "flatten", Op: graph.OpFlatten, Inputs: []string{x}})
	x = tg.add(&graph.Node{Name: "fc", Op: graph.OpLinear, Inputs: []string{x}, Linear: &graph.LinearAttr{In: 6, Out: 5, Bias: true}},
		"weight", []int{5, 6}, "bias", []int{5})
	tg.add(&graph.Node{Name: "prob", Op: graph.OpSoftmax, Inputs: []string{x}})
	c := newFDCase(t, tg.g, 3, true, 7)
	c.m.SetInputGrad(true)
	c.run()
	// Smooth (products, softmax) with O(1) curvature: h = 1e-2 gives
	// truncation ~1e-4 relative; atol 1e-3, rtol 1e-2.
	c.checkParams(t, 1e-2, 1e-3, 1e-2, 0)
	c.checkInput(t, 1e-2, 1e-3, 1e-2, 0)
}

func TestSmoothActGrad(t *testing.T) {
	for _, kind := range []graph.ActKind{graph.ActSigmoid, graph.ActSiLU} {
		t.Run(string(kind), func(t *testing.T) {
			tg := newTGraph(2, 5, 5, 1)
			tg.act("act", "input", kind, "")
			c := newFDCase(t, tg.g, 2, true, 4)
			for i := range c.x {
				c.x[i] *= 4
			}
			c.m.SetInputGrad(true)
			c.run()
			// Smooth, bounded curvature: h = 1e-2, atol 1e-3, rtol 1e-3.
			c.checkInput(t, 1e-2, 1e-3, 1e-3, 0)
			// Values against float64.
			y := c.m.Forward(c.x, 2, false)
			for i, v := range c.x {
				if want := reference.Act(kind, float64(v)); math.Abs(float64(y[i])-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("%s(%g) = %g, want %g", kind, v, y[i], want)
				}
			}
		})
	}
}

// TestExpf compares expf with math.Exp over its whole range, the fallbacks
// included.
func TestExpf(t *testing.T) {
	worst := 0.0
	for _, x := range []float32{-200, -104, -103, -88, -87.5, -87, -86.9, -20, -1, -0.3466, 0, 1e-8, 0.3466, 0.5, 1, 10, 50, 86.9, 87, 88.7, 89, 200} {
		got, want := float64(expf(x)), math.Exp(float64(x))
		if want > math.MaxFloat32 {
			if !math.IsInf(got, 1) {
				t.Errorf("expf(%g) = %g, want +Inf", x, got)
			}
			continue
		}
		if d := math.Abs(got - want); d > 2.5e-7*want && d > 1e-45 {
			t.Errorf("expf(%g) = %g, want %g", x, got, want)
		}
	}
	for x := float32(-86); x < 86; x += 0.0137 {
		got, want := float64(expf(x)), math.Exp(float64(x))
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 2.5e-7 {
		t.Errorf("expf: relative error up to %.3g, want at most 2.5e-7 (2 ulp)", worst)
	}
	if !math.IsNaN(float64(expf(float32(math.NaN())))) {
		t.Error("expf(NaN) is not NaN")
	}
}

// TestGatedSmoothActGrad runs the gate checks of TestGatedActGrad on the
// activations of imported models: SiLU (EfficientNet) and hard-sigmoid
// units.
func TestGatedSmoothActGrad(t *testing.T) {
	for _, mask := range []float32{0, 1, 0.3} {
		t.Run(fmt.Sprintf("mask=%g", mask), func(t *testing.T) {
			tg := newTGraph(2, 4, 4, 2)
			a1 := tg.act("a1", "input", graph.ActSiLU, "u")
			a2 := tg.act("a2", "input", graph.ActHardSigmoid, "u")
			x := tg.add(&graph.Node{Name: "s1", Op: graph.OpAdd, Inputs: []string{a1, a2}})
			tg.conv("conv", x, graph.ConvAttr{InC: 2, OutC: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Pads: [4]int{1, 1, 1, 1}, Groups: 1, Bias: true}, 4, 4)
			tg.g.Units = []graph.Unit{{Name: "u"}}
			c := newFDCase(t, tg.g, 2, true, 5)
			for i := range c.x {
				c.x[i] *= 4
			}
			awayFromKinks(c.x, 0.05)
			if err := c.m.EnableGates([]string{"u"}); err != nil {
				t.Fatal(err)
			}
			gate := c.m.Gates["u"]
			gate.Mask, gate.Value = mask, 0.5
			c.m.SetInputGrad(true)
			c.run()
			an := gate.Grad
			// L is linear in the mask: h = 1e-2, atol 1e-3, rtol 1e-3.
			if f := c.fd(&gate.Mask, 1e-2); !near(f, float64(an), 1e-3, 1e-3) {
				t.Errorf("gate grad %g, finite difference %g", an, f)
			}
			c.run()
			c.checkInput(t, 1e-2, 1e-3, 1e-3, 0)
			c.checkParams(t, 1e-2, 1e-3, 1e-3, 0)
		})
	}
}

// importedOps builds a small network with every op of the imported model
// families: a ResNet stem (conv, BN, ReLU, max pool), a MobileNetV3 block
// with a hard-sigmoid SE gate, an EfficientNet SE with SiLU and sigmoid, a
// ShuffleNetV2 unit (split by slices, branch, concat, shuffle), a RegNet
// grouped conv (16 channels, 2 groups of 8), ceil-mode average pools both
// ways, and a softmax head. Activations of the blocks belong to units.
func importedOps(t testing.TB) *graph.Graph {
	t.Helper()
	b := graph.NewBuilder("imported", 3, 20, 19)
	x := b.Conv("stem.conv", "input", 3, 16, 3, 2, 1, 1, false) // 10x10
	x = b.BatchNorm("stem.bn", x, 16)
	x = b.Act("stem.relu", x, graph.ActReLU, "stem")
	x = b.MaxPool("stem.pool", x, 3, 2, 1) // 5x5
	// MobileNetV3-style block: 1x1 expand, hardswish, dw, SE (hardsigmoid), project.
	b.Block = "mbv3"
	y := b.Conv("mbv3.expand", x, 16, 32, 1, 1, 0, 1, false)
	y = b.BatchNorm("mbv3.bn1", y, 32)
	y = b.Act("mbv3.act1", y, graph.ActHardSwish, "mbv3")
	y = b.Conv("mbv3.dw", y, 32, 32, 3, 1, 1, 32, false)
	y = b.BatchNorm("mbv3.bn2", y, 32)
	y = b.Act("mbv3.act2", y, graph.ActHardSwish, "mbv3")
	s := b.GlobalAvgPool("mbv3.se.pool", y)
	s = b.Conv("mbv3.se.fc1", s, 32, 8, 1, 1, 0, 1, true)
	s = b.Act("mbv3.se.relu", s, graph.ActReLU, "")
	s = b.Conv("mbv3.se.fc2", s, 8, 32, 1, 1, 0, 1, true)
	s = b.Act("mbv3.se.gate", s, graph.ActHardSigmoid, "")
	y = b.Mul("mbv3.se.mul", y, s)
	y = b.Conv("mbv3.project", y, 32, 16, 1, 1, 0, 1, false)
	y = b.BatchNorm("mbv3.bn3", y, 16)
	x = b.Add("mbv3.add", x, y)
	// EfficientNet-style SiLU with a sigmoid SE gate.
	b.Block = "effnet"
	y = b.Conv("effnet.dw", x, 16, 16, 3, 1, 1, 16, false)
	y = b.BatchNorm("effnet.bn", y, 16)
	y = b.Act("effnet.silu", y, graph.ActSiLU, "effnet")
	s = b.GlobalAvgPool("effnet.se.pool", y)
	s = b.Conv("effnet.se.fc1", s, 16, 4, 1, 1, 0, 1, true)
	s = b.Act("effnet.se.silu", s, graph.ActSiLU, "")
	s = b.Conv("effnet.se.fc2", s, 4, 16, 1, 1, 0, 1, true)
	s = b.Act("effnet.se.gate", s, graph.ActSigmoid, "")
	x = b.Mul("effnet.se.mul", y, s)
	// ShuffleNetV2 unit (stride 1): split, branch on the right half, concat, shuffle.
	b.Block = "shuffle"
	l := b.Slice("shuffle.split.0", x, 0, 8)
	r := b.Slice("shuffle.split.1", x, 8, 16)
	r = b.Conv("shuffle.pw1", r, 8, 8, 1, 1, 0, 1, false)
	r = b.BatchNorm("shuffle.bn1", r, 8)
	r = b.Act("shuffle.relu1", r, graph.ActReLU, "shuffle")
	r = b.Conv("shuffle.dw", r, 8, 8, 3, 1, 1, 8, false)
	r = b.BatchNorm("shuffle.bn2", r, 8)
	r = b.Conv("shuffle.pw2", r, 8, 8, 1, 1, 0, 1, false)
	r = b.BatchNorm("shuffle.bn3", r, 8)
	r = b.Act("shuffle.relu2", r, graph.ActReLU, "shuffle")
	x = b.Concat("shuffle.cat", l, r)
	x = b.Shuffle("shuffle.shuffle", x, 2)
	// RegNet-style grouped conv: 16 channels in 2 groups of 8.
	b.Block = "regnet"
	x = b.Conv("regnet.conv", x, 16, 16, 3, 1, 1, 2, false)
	x = b.BatchNorm("regnet.bn", x, 16)
	x = b.Act("regnet.relu", x, graph.ActReLU, "regnet")
	b.Block = ""
	// Ceil-mode average pools, without and with the padding in the divisor.
	x = b.AvgPool("pool.a", x, 2, 2, 0, false) // 5x5 -> 3x3 in ceil mode
	b.G.Node("pool.a").Pool.CeilMode = true
	x = b.AvgPool("pool.b", x, 2, 2, 1, true) // 3x3 -> 2x2 (ceil: the last window hangs over the padding)
	b.G.Node("pool.b").Pool.CeilMode = true
	x = b.GlobalAvgPool("head.pool", x)
	x = b.Flatten("head.flatten", x)
	x = b.Linear("head.fc", x, 16, 5, true)
	x = b.Softmax("head.prob", x)
	b.G.Blocks = []graph.Block{{Name: "mbv3", Kind: graph.BlockInvertedResidualSE, SE: true}, {Name: "effnet", Kind: graph.BlockInvertedResidualSE, SE: true},
		{Name: "shuffle", Kind: graph.BlockShuffleBranch}, {Name: "regnet", Kind: graph.BlockBottleneck, Groups: 2}}
	b.G.Units = []graph.Unit{{Name: "stem"}, {Name: "mbv3", Block: "mbv3"}, {Name: "effnet", Block: "effnet"}, {Name: "shuffle", Block: "shuffle"}, {Name: "regnet", Block: "regnet"}}
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	g.InitParams(4)
	randomize(g, 4)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, nd := range g.Nodes { // conv biases (SE), so that they matter
		if nd.Op == graph.OpConv && nd.Conv.Bias {
			g.Params[nd.Params[1]].RandN(rng, 0.3)
		}
	}
	return g
}

// TestImportedOpsMatchReference runs importedOps in eval mode and compares
// every value with graph/reference's float64 forward (within 1e-4 of its
// scale, as TestEvalMatchesReference), at batch 3 and then batch 1.
func TestImportedOpsMatchReference(t *testing.T) {
	g := importedOps(t)
	m, err := NewModel(g, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	x := make([]float32, 3*m.InputSize())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, n := range []int{3, 1} {
		m.Forward(x[:n*m.InputSize()], n, false)
		want, _, err := reference.Forward(g, x[:n*m.InputSize()], n)
		if err != nil {
			t.Fatal(err)
		}
		for _, nd := range g.Nodes {
			d, scale := reference.MaxDiff(m.Value(nd.Output), want[nd.Output])
			if d > 1e-4*math.Max(scale, 1e-3) || math.IsNaN(d) {
				t.Errorf("batch %d: value %s: max difference %g (scale %g)", n, nd.Output, d, scale)
			}
		}
	}
}

// TestImportedOpsGrad checks the gradients of importedOps in training mode
// along a random direction per parameter tensor, the input and every gate,
// as TestMobileNetV2Grad does. Every unit is gated with mask 1 (its
// activations run as the identity) so that the only kinks left are the SE's
// ReLU, the max pool and the hard-sigmoid gate; the inputs avoid ties.
// h = 1e-3, atol 2e-2, rtol 2e-2: small network, derivatives O(1-10).
func TestImportedOpsGrad(t *testing.T) {
	g := importedOps(t)
	for _, nd := range g.Nodes {
		if nd.BN != nil {
			nd.BN.Eps = 0.1
		}
	}
	c := newFDCase(t, g, 3, true, 9)
	var units []string
	for _, u := range g.Units {
		units = append(units, u.Name)
	}
	if err := c.m.EnableGates(units); err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		c.m.Gates[u].Mask = 1
	}
	c.m.SetInputGrad(true)
	c.run()
	an := map[string]float32{}
	for u, gt := range c.m.Gates {
		an[u] = gt.Grad
	}
	checked := 0
	for i, name := range g.ParamNames() {
		if gr, ok := c.m.Grads[name]; ok {
			c.checkDirection(t, name, g.Params[name].Data, gr.Data, 1e-3, 2e-2, 2e-2, uint64(i))
			checked++
		}
	}
	c.run()
	c.checkDirection(t, "input", c.x, c.m.InputGrad(), 1e-3, 2e-2, 2e-2, 1)
	for _, u := range units {
		f := c.fd(&c.m.Gates[u].Mask, 1e-3)
		if !near(f, float64(an[u]), 2e-2, 2e-2) {
			t.Errorf("gate %s: analytic %g, finite difference %g", u, an[u], f)
		}
	}
	if checked < 30 {
		t.Errorf("only %d parameter tensors checked", checked)
	}
}

// TestImportedOpsZeroAllocs checks that a training step of importedOps
// allocates nothing after the first, with gates enabled.
func TestImportedOpsZeroAllocs(t *testing.T) {
	g := importedOps(t)
	const n = 4
	m, err := NewModel(g, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnableGates([]string{"mbv3", "effnet"}); err != nil {
		t.Fatal(err)
	}
	m.Gates["effnet"].Mask = 0.5
	x := make([]float32, n*m.InputSize())
	for i := range x {
		x[i] = float32(i%13) / 13
	}
	dout := make([]float32, n*m.OutputSize())
	for i := range dout {
		dout[i] = float32(i%3) - 1
	}
	for _, train := range []bool{true, false} {
		step := func() {
			m.Forward(x, n, train)
			m.Backward(dout)
		}
		step()
		if a := testing.AllocsPerRun(3, step); a != 0 {
			t.Errorf("train=%v: %g allocations per step", train, a)
		}
	}
}

// TestPoolSweep runs max and average pooling over every small window, stride,
// padding (each side smaller than the window), ceil mode and divisor rule on
// 7 input sizes (4,680 configurations): the forward pass must equal graph/reference, and the
// backward pass must be the adjoint of the forward pass: pooling is linear
// (max pooling piecewise, and here y = x[argmax]), so sum(dy*y) = sum(dx*x).
func TestPoolSweep(t *testing.T) {
	configs := 0
	for h := 1; h <= 7; h++ {
		for k := 1; k <= 4; k++ {
			for s := 1; s <= 3; s++ {
				for lo := 0; lo < k; lo++ {
					for hi := 0; hi < k; hi++ {
						for _, ceil := range []bool{false, true} {
							for _, inc := range []bool{false, true} {
								for _, op := range []graph.Op{graph.OpMaxPool, graph.OpAvgPool} {
									a := &graph.PoolAttr{KH: k, KW: k, StrideH: s, StrideW: s, Pads: [4]int{lo, hi, hi, lo}, CeilMode: ceil, CountIncludePad: inc}
									tg := newTGraph(2, h, h+1, 1)
									tg.add(&graph.Node{Name: "p", Op: op, Inputs: []string{"input"}, Pool: a})
									if tg.g.Validate() != nil {
										continue // window larger than the padded input
									}
									poolAdjoint(t, tg.g, uint64(h))
									configs++
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d configurations", configs)
	if configs < 1000 {
		t.Errorf("only %d configurations ran", configs)
	}
}

func poolAdjoint(t *testing.T, g *graph.Graph, seed uint64) {
	t.Helper()
	m, err := NewModel(g, 2)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*m.InputSize())
	distinct(x, seed)
	m.SetInputGrad(true)
	y := m.Forward(x, 2, true)
	want, _, err := reference.Forward(g, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	a := g.Nodes[0].Pool
	if d, sc := reference.MaxDiff(y, want["p"]); d > 1e-6*sc {
		t.Fatalf("%s %+v: forward differs from the reference by %g", g.Nodes[0].Op, *a, d)
	}
	dy := make([]float32, len(y))
	var lhs, rhs float64
	for i := range dy {
		dy[i] = float32(i%7) - 3
		lhs += float64(dy[i]) * float64(y[i])
	}
	m.Backward(dy)
	for i, v := range m.InputGrad() {
		rhs += float64(v) * float64(x[i])
	}
	if math.Abs(lhs-rhs) > 1e-5*(1+math.Abs(lhs)) {
		t.Fatalf("%s %+v: <dy, y> = %g but <dx, x> = %g", g.Nodes[0].Op, *a, lhs, rhs)
	}
}

// TestPoolTorch runs the PyTorch 1.13 pooling cases of
// graph/reference/testdata/pool_torch.json (see gen_pool_torch.py there):
// forward outputs and input gradients must equal PyTorch's, tied windows
// (small integers) included.
func TestPoolTorch(t *testing.T) {
	raw, err := os.ReadFile("../graph/reference/testdata/pool_torch.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Op              string    `json:"op"`
			K               int       `json:"k"`
			Stride          int       `json:"stride"`
			Pad             int       `json:"pad"`
			Ceil            bool      `json:"ceil"`
			CountIncludePad bool      `json:"count_include_pad"`
			Shape           []int     `json:"shape"`
			RX              []float32 `json:"x"`
			RY              []float32 `json:"y"`
			RDY             []float32 `json:"dy"`
			RDX             []float32 `json:"dx"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for i, c := range f.Cases {
		op := graph.OpMaxPool
		if c.Op == "avg" {
			op = graph.OpAvgPool
		}
		a := &graph.PoolAttr{KH: c.K, KW: c.K, StrideH: c.Stride, StrideW: c.Stride, Pads: [4]int{c.Pad, c.Pad, c.Pad, c.Pad}, CeilMode: c.Ceil, CountIncludePad: c.CountIncludePad}
		tg := newTGraph(c.Shape[1], c.Shape[2], c.Shape[3], 1)
		tg.add(&graph.Node{Name: "p", Op: op, Inputs: []string{"input"}, Pool: a})
		m, err := NewModel(tg.g, c.Shape[0])
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		m.SetInputGrad(true)
		y := m.Forward(c.RX, c.Shape[0], true)
		if len(y) != len(c.RY) {
			t.Fatalf("case %d (%s %+v): %d outputs, PyTorch has %d", i, op, *a, len(y), len(c.RY))
		}
		m.Backward(c.RDY)
		for _, cmp := range []struct {
			what      string
			got, want []float32
		}{{"y", y, c.RY}, {"dx", m.InputGrad(), c.RDX}} {
			for j, w := range cmp.want {
				if math.Abs(float64(cmp.got[j]-w)) > 1e-5*(1+math.Abs(float64(w))) {
					t.Errorf("case %d (%s %+v): %s[%d] = %g, PyTorch %g", i, op, *a, cmp.what, j, cmp.got[j], w)
					break
				}
			}
		}
	}
}
