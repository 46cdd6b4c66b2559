package nn

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
	"github.com/dshrink/dshrink/models"
)

// randomize gives every BatchNorm non-trivial affine parameters and running
// statistics and the classifier larger weights, so that gradients and
// outputs exercise every term.
func randomize(g *graph.Graph, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, nd := range g.Nodes {
		switch nd.Op {
		case graph.OpBatchNorm:
			w, b, mu, v := g.Params[nd.Params[0]].Data, g.Params[nd.Params[1]].Data, g.Params[nd.Params[2]].Data, g.Params[nd.Params[3]].Data
			for c := range w {
				w[c] = float32(1 + 0.3*rng.NormFloat64())
				b[c] = float32(0.2 * rng.NormFloat64())
				mu[c] = float32(0.2 * rng.NormFloat64())
				v[c] = float32(0.5 + rng.Float64())
			}
		case graph.OpLinear:
			g.Params[nd.Params[0]].RandN(rng, 0.3)
			if len(nd.Params) > 1 {
				g.Params[nd.Params[1]].RandN(rng, 0.1)
			}
		}
	}
}

func tinyMobileNet(t testing.TB) *graph.Graph {
	t.Helper()
	g, err := models.MobileNetV2(models.Options{Width: 0.35, InChannels: 1, Resolution: 12, Classes: 4, StemStride: 1, Dropout: 0.2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 3)
	return g
}

// TestMobileNetV2Grad checks the gradients of a whole tiny MobileNetV2
// (width 0.35, 1x16x16, 4 classes, batch 4) in training mode (batch
// statistics, dropout with a fixed seed) against finite differences along a
// random direction per parameter tensor (see checkDirection). A random
// network is very sensitive to its early weights (directional derivatives
// of 1e3-1e4 for L ~ 10), so BN eps is raised to 0.1 to avoid dead
// channels with 1/sqrt(1e-5) gains.
//
// Float32 rounding in early layers is amplified like the derivatives: the
// noise of L is ~1e-4, i.e. ~0.1 on a quotient with h = 1e-3 (seen on
// parameters whose exact gradient is 0, like a beta followed by a linear
// conv and BN), and truncation at h = 1e-3 reaches a few percent on the
// most sensitive tensors. Hence h = 1e-3, atol 0.3, rtol 5e-2: this catches
// wrong wiring, missing accumulation or a wrong factor, not last-digit
// errors (the per-op tests above do that).
//
//   - smooth: every unit gated with mask 1 (all activations run as the
//     identity), so L is smooth: every parameter tensor, the input and every
//     gate (by differences of its mask) are checked.
//   - relu6: half the units keep their ReLU6; kinks make the early layers'
//     quotients unreliable, so only features.17, features.18 and the
//     classifier are checked, with rtol 1e-1.
func TestMobileNetV2Grad(t *testing.T) {
	for _, tc := range []struct {
		name       string
		relu       bool
		h          float64
		atol, rtol float64
	}{{"smooth", false, 1e-3, 0.3, 5e-2}, {"relu6", true, 1e-3, 0.3, 1e-1}} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := models.MobileNetV2(models.Options{Width: 0.35, InChannels: 1, Resolution: 16, Classes: 4, StemStride: 1, Dropout: 0.2, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			randomize(g, 3)
			for _, nd := range g.Nodes {
				if nd.BN != nil {
					nd.BN.Eps = 0.1
				}
			}
			c := newFDCase(t, g, 4, true, 8)
			var units []string
			for _, u := range g.Units {
				units = append(units, u.Name)
			}
			if err := c.m.EnableGates(units); err != nil {
				t.Fatal(err)
			}
			for i, u := range units {
				c.m.Gates[u].Mask = 1
				if tc.relu && i%2 == 0 {
					c.m.Gates[u].Mask = 0
				}
			}
			c.m.SetInputGrad(true)
			c.run()
			an := map[string]float32{}
			for u, gt := range c.m.Gates {
				an[u] = gt.Grad
			}
			for i, name := range g.ParamNames() {
				if tc.relu && !strings.HasPrefix(name, "features.17") && !strings.HasPrefix(name, "features.18") && !strings.HasPrefix(name, "classifier") {
					continue
				}
				if gr, ok := c.m.Grads[name]; ok {
					c.checkDirection(t, name, g.Params[name].Data, gr.Data, tc.h, tc.atol, tc.rtol, uint64(i))
				}
			}
			if tc.relu {
				return // a unit's mask moves both of its ReLU6s: not smooth
			}
			c.run()
			c.checkDirection(t, "input", c.x, c.m.InputGrad(), tc.h, tc.atol, tc.rtol, 1)
			for _, u := range units {
				f := c.fd(&c.m.Gates[u].Mask, float32(tc.h))
				if !near(f, float64(an[u]), tc.atol, tc.rtol) {
					t.Errorf("gate %s: analytic %g, finite difference %g", u, an[u], f)
				}
			}
		})
	}
}

// TestEvalMatchesReference compares the eval-mode forward pass of
// MobileNetV2-0.5 (Fashion-MNIST layout) with graph/reference's float64
// forward, value by value: every value must agree within 1e-4 of its scale
// (float32 accumulation over at most a few thousand terms per output).
func TestEvalMatchesReference(t *testing.T) {
	g, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 5)
	const n = 2
	m, err := NewModel(g, 4)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*m.InputSize())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	out := m.Forward(x, n, false)
	want, _, err := reference.Forward(g, x, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range g.Nodes {
		got := m.Value(nd.Output)
		d, scale := reference.MaxDiff(got, want[nd.Output])
		if d > 1e-4*math.Max(scale, 1e-3) {
			t.Errorf("value %s: max difference %g (scale %g)", nd.Output, d, scale)
		}
	}
	d, scale := reference.MaxDiff(out, want[g.Output])
	t.Logf("logits: max difference %.3g, scale %.3g", d, scale)
	// A second, smaller batch reuses the buffers.
	out = m.Forward(x[:m.InputSize()], 1, false)
	want, _, _ = reference.Forward(g, x[:m.InputSize()], 1)
	if d, scale := reference.MaxDiff(out, want[g.Output]); d > 1e-4*scale {
		t.Errorf("batch 1: logits differ by %g (scale %g)", d, scale)
	}
}

// TestGatesForward checks that mask 1 runs a unit as the identity: the
// model's output equals that of a copy of the graph whose activations of
// that unit are identities.
func TestGatesForward(t *testing.T) {
	g := tinyMobileNet(t)
	m, err := NewModel(g, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnableGates([]string{"features.2", "features.0"}); err != nil {
		t.Fatal(err)
	}
	m.Gates["features.2"].Mask = 1
	x := make([]float32, 2*m.InputSize())
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	got := append([]float32(nil), m.Forward(x, 2, false)...)
	h := g.Clone()
	for _, nd := range h.Nodes {
		if nd.Op == graph.OpAct && nd.Act.Unit == "features.2" {
			nd.Act.Kind = graph.ActIdentity
		}
	}
	want, _, err := reference.Forward(h, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d, scale := reference.MaxDiff(got, want[h.Output]); d > 1e-4*scale {
		t.Errorf("gated forward differs from the identity graph by %g (scale %g)", d, scale)
	}
}

func TestNewModelErrors(t *testing.T) {
	g := tinyMobileNet(t)
	if _, err := NewModel(nil, 1); err == nil {
		t.Error("nil graph accepted")
	}
	if _, err := NewModel(g, 0); err == nil {
		t.Error("batch 0 accepted")
	}
	h := g.Clone()
	h.Params["features.0.0.weight"] = h.Params["features.0.0.weight"].Clone()
	h.Params["features.0.0.weight"].Shape[0]++
	if _, err := NewModel(h, 1); err == nil || !strings.Contains(err.Error(), "features.0.0.weight") {
		t.Errorf("bad parameter shape: error %v", err)
	}
	h = g.Clone()
	for _, nd := range h.Nodes {
		if nd.Op == graph.OpDropout {
			nd.Dropout.P = 1
		}
	}
	if _, err := NewModel(h, 1); err == nil {
		t.Error("dropout p = 1 accepted")
	}
	h = g.Clone()
	h.Nodes[0].Op = "Mystery"
	if _, err := NewModel(h, 1); err == nil {
		t.Error("unknown op accepted")
	}
}

// TestGradSlots checks the liveness plan: gradient buffers are shared (far
// fewer slots than values) and never shared by two gradients live at once.
func TestGradSlots(t *testing.T) {
	g, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(g, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.slotSize) > 8 {
		t.Errorf("%d gradient slots for %d values", len(m.slotSize), len(m.vals))
	}
	// Simulate the backward pass: a slot may only be written while the
	// value that holds it is not live.
	L := len(m.nodes)
	owner := make([]int, len(m.slotSize))
	for i := range owner {
		owner[i] = -1
	}
	live := map[int]bool{m.output: true}
	owner[m.vals[m.output].slot] = m.output
	for i := L - 1; i >= 0; i-- {
		for _, v := range m.ins[i] {
			if live[v] {
				continue
			}
			s := m.vals[v].slot
			if o := owner[s]; o >= 0 && live[o] && o != v {
				t.Fatalf("node %s: gradient of %s overwrites live gradient of %s", m.nodes[i].Name, m.vals[v].name, m.vals[o].name)
			}
			owner[s] = v
			live[v] = true
		}
		delete(live, m.outs[i])
	}
	var sizes []int
	total := 0
	for _, s := range m.slotSize {
		sizes = append(sizes, s)
		total += s
	}
	sort.Ints(sizes)
	t.Logf("%d slots, %d floats per image (sizes %v)", len(sizes), total, sizes)
}

// TestZeroAllocs checks that Forward, the loss and Backward allocate nothing
// after the first call, in train and eval mode, with gates enabled.
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow with the placeholder GEMM")
	}
	g, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	m, err := NewModel(g, n)
	if err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, u := range g.Units {
		units = append(units, u.Name)
	}
	if err := m.EnableGates(units); err != nil {
		t.Fatal(err)
	}
	for i, u := range units {
		m.Gates[u].Mask = float32(i % 2)
	}
	x := make([]float32, n*m.InputSize())
	for i := range x {
		x[i] = float32(i%17) / 17
	}
	labels := make([]int32, n)
	dout := make([]float32, n*m.OutputSize())
	for _, train := range []bool{true, false} {
		step := func() {
			out := m.Forward(x, n, train)
			if _, _, err := CrossEntropy(out, labels, n, m.OutputSize(), 0.1, dout); err != nil {
				t.Fatal(err)
			}
			m.Backward(dout)
		}
		step()
		if a := testing.AllocsPerRun(3, step); a != 0 {
			t.Errorf("train=%v: %g allocations per step", train, a)
		}
	}
}
