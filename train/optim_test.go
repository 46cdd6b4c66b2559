package train

import (
	"math"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.9g, want %.9g", what, got, want)
	}
}

// oneParam returns a single-value parameter p with gradient g.
func oneParam(p, g float32, decay bool) Param {
	return Param{Name: "p", Value: []float32{p}, Grad: []float32{g}, Decay: decay}
}

func TestSGDMomentumWeightDecay(t *testing.T) {
	// Hand-computed (torch.optim.SGD): lr 0.5, momentum 0.9, wd 0.1, p=1, grad 2.
	// step 1: g=2+0.1*1=2.1, buf=2.1, p=1-0.5*2.1=-0.05
	// step 2: g=2+0.1*(-0.05)=1.995, buf=0.9*2.1+1.995=3.885, p=-0.05-0.5*3.885=-1.9925
	p := oneParam(1, 2, true)
	o, err := NewOptimizer(OptimizerConfig{Name: "sgd", Momentum: 0.9, WeightDecay: 0.1}, []Param{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Step(0.5)
	near(t, "p after step 1", float64(p.Value[0]), -0.05, 1e-6)
	o.Step(0.5)
	near(t, "p after step 2", float64(p.Value[0]), -1.9925, 1e-6)
	if o.Steps() != 2 {
		t.Errorf("Steps = %d, want 2", o.Steps())
	}
}

func TestSGDNesterov(t *testing.T) {
	// step 1: g=2.1, buf=2.1, upd=2.1+0.9*2.1=3.99, p=1-0.5*3.99=-0.995
	// step 2: g=2+0.1*(-0.995)=1.9005, buf=0.9*2.1+1.9005=3.7905,
	//         upd=1.9005+0.9*3.7905=5.31195, p=-0.995-0.5*5.31195=-3.650975
	p := oneParam(1, 2, true)
	o, err := NewOptimizer(OptimizerConfig{Name: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 0.1}, []Param{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Step(0.5)
	near(t, "p after step 1", float64(p.Value[0]), -0.995, 1e-6)
	o.Step(0.5)
	near(t, "p after step 2", float64(p.Value[0]), -3.650975, 1e-6)
}

func TestSGDNoDecayParam(t *testing.T) {
	// Without decay: plain SGD, p = 1 - 0.5*2 = 0.
	p := oneParam(1, 2, false)
	o, err := NewOptimizer(OptimizerConfig{Name: "sgd", WeightDecay: 0.1}, []Param{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Step(0.5)
	near(t, "p", float64(p.Value[0]), 0, 1e-7)
}

func TestAdamW(t *testing.T) {
	// torch.optim.AdamW, lr 0.1, wd 0.01, betas (0.9, 0.999), eps 1e-8, p=1.
	// step 1 (g=2): p=0.999, m=0.2, v=0.004, mhat=2, vhat=4, p=0.999-0.1*2/(2+1e-8)=0.899
	// step 2 (g=-1): p=0.899*0.999=0.898101, m=0.08, v=0.004996,
	//   mhat=0.08/0.19, vhat=0.004996/0.001999, p=0.898101-0.1*mhat/(sqrt(vhat)+1e-8)
	p := oneParam(1, 2, true)
	o, err := NewOptimizer(OptimizerConfig{Name: "adamw", WeightDecay: 0.01}, []Param{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Step(0.1)
	near(t, "p after step 1", float64(p.Value[0]), 0.899, 1e-6)
	p.Grad[0] = -1
	o.Step(0.1)
	want := 0.898101 - 0.1*(0.08/0.19)/(math.Sqrt(0.004996/0.001999)+1e-8)
	near(t, "p after step 2", float64(p.Value[0]), want, 1e-6)
	near(t, "hand value", want, 0.87146731, 1e-7)
}

func TestClipGradNorm(t *testing.T) {
	// Grad (3, 4) has norm 5; clipped to 1: (0.6, 0.8). Plain SGD, lr 1.
	p := Param{Name: "p", Value: []float32{0, 0}, Grad: []float32{3, 4}}
	o, err := NewOptimizer(OptimizerConfig{Name: "sgd", ClipGradNorm: 1}, []Param{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	norm := o.Step(1)
	near(t, "norm", norm, 5, 1e-9)
	near(t, "p0", float64(p.Value[0]), -0.6, 1e-6)
	near(t, "p1", float64(p.Value[1]), -0.8, 1e-6)
	// Below the threshold nothing is scaled.
	p.Value[0], p.Value[1] = 0, 0
	p.Grad[0], p.Grad[1] = 0.3, 0.4
	o.Step(1)
	near(t, "unclipped p0", float64(p.Value[0]), -0.3, 1e-7)
}

func TestScalarParams(t *testing.T) {
	// A gate (scalar) with LR scale 0.1 and no decay: v = 0.5 - 1*0.1*2 = 0.3.
	// Its gradient counts in the global norm: sqrt(2^2 + 0) = 2.
	v, g := float32(0.5), float32(2)
	p := oneParam(1, 0, true)
	o, err := NewOptimizer(OptimizerConfig{Name: "sgd", WeightDecay: 0.5, ScalarLRScale: 0.1, ScalarNoDecay: true},
		[]Param{p}, []ScalarParam{{Name: "gate", Value: &v, Grad: &g}})
	if err != nil {
		t.Fatal(err)
	}
	norm := o.Step(1)
	near(t, "norm", norm, 2, 1e-9)
	near(t, "gate", float64(v), 0.3, 1e-7)
	near(t, "param (decay only)", float64(p.Value[0]), 0.5, 1e-7)
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, name := range []string{"sgd", "adamw"} {
		cfg := OptimizerConfig{Name: name, Momentum: 0.9, Nesterov: name == "sgd", WeightDecay: 0.01}
		mk := func() (Param, *float32, *float32) {
			v, g := float32(0.2), float32(-0.5)
			return Param{Name: "w", Value: []float32{1, -2, 3}, Grad: []float32{0.1, 0.2, -0.3}, Decay: true}, &v, &g
		}
		pa, va, ga := mk()
		a, err := NewOptimizer(cfg, []Param{pa}, []ScalarParam{{Name: "u", Value: va, Grad: ga}})
		if err != nil {
			t.Fatal(err)
		}
		a.Step(0.1)
		a.Step(0.1)
		ts, meta := a.State()
		pb, vb, gb := mk()
		copy(pb.Value, pa.Value)
		*vb = *va
		b, err := NewOptimizer(cfg, []Param{pb}, []ScalarParam{{Name: "u", Value: vb, Grad: gb}})
		if err != nil {
			t.Fatal(err)
		}
		// Round trip through clones, as a checkpoint would.
		cl := map[string]*tensor.Tensor{}
		for k, v := range ts {
			cl[k] = v.Clone()
		}
		if err := b.SetState(cl, meta); err != nil {
			t.Fatal(err)
		}
		a.Step(0.05)
		b.Step(0.05)
		for i := range pa.Value {
			if pa.Value[i] != pb.Value[i] {
				t.Errorf("%s: param %d: %v vs %v after restore", name, i, pa.Value[i], pb.Value[i])
			}
		}
		if *va != *vb {
			t.Errorf("%s: scalar %v vs %v after restore", name, *va, *vb)
		}
		delete(cl, "optim.m1.w")
		if err := b.SetState(cl, meta); err == nil {
			t.Errorf("%s: SetState accepted a state with a missing buffer", name)
		}
	}
}

func TestOptimizerStepAllocatesNothing(t *testing.T) {
	v, g := float32(0.5), float32(2)
	params := []Param{{Name: "a", Value: make([]float32, 1000), Grad: make([]float32, 1000), Decay: true}}
	for _, name := range []string{"sgd", "adamw"} {
		o, err := NewOptimizer(OptimizerConfig{Name: name, Momentum: 0.9, Nesterov: name == "sgd", WeightDecay: 1e-4, ClipGradNorm: 5},
			params, []ScalarParam{{Name: "g", Value: &v, Grad: &g}})
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(20, func() { o.Step(0.1) }); n != 0 {
			t.Errorf("%s: Step allocates %v times", name, n)
		}
	}
}

func TestOptimizerConfigErrors(t *testing.T) {
	for _, c := range []OptimizerConfig{
		{Name: "lamb"},
		{Name: "sgd", Momentum: 1.5},
		{Name: "sgd", Nesterov: true},
		{Name: "sgd", WeightDecay: -1},
		{Name: "adamw", Beta1: 1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestGraphParamsRoles(t *testing.T) {
	b := graph.NewBuilder("t", 1, 8, 8)
	h := b.Conv("c", "input", 1, 4, 3, 1, 1, 1, true)
	h = b.BatchNorm("bn", h, 4)
	h = b.GlobalAvgPool("pool", h)
	h = b.Flatten("flat", h)
	h = b.Linear("fc", h, 4, 3, true)
	g, err := b.Finish(h)
	if err != nil {
		t.Fatal(err)
	}
	grads := map[string]*tensor.Tensor{}
	for n, p := range g.Params {
		grads[n] = tensor.New(p.Shape...)
	}
	ps, err := GraphParams(g, grads, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"c.weight": true, "c.bias": false, "bn.weight": false, "bn.bias": false, "fc.weight": true, "fc.bias": false}
	if len(ps) != len(want) {
		t.Fatalf("got %d trainable params, want %d (running stats excluded)", len(ps), len(want))
	}
	for _, p := range ps {
		d, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected trainable %q", p.Name)
		} else if p.Decay != d {
			t.Errorf("%s: decay %v, want %v", p.Name, p.Decay, d)
		}
	}
	delete(grads, "fc.weight")
	if _, err := GraphParams(g, grads, true); err == nil {
		t.Error("missing gradient accepted")
	}
}
