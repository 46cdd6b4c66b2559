package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
	"github.com/dshrink/dshrink/kernels/isa/isatest"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/runtime/testmodels"
)

// tolerance: max |runtime - reference| <= tol * max |reference output|.
const tol = 1e-4

func randInput(n int, shape []int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, n*shape[0]*shape[1]*shape[2])
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// check compiles g and compares Run with the reference forward pass for
// batch sizes up to batch (all smaller ones too) and the given threads,
// under every kernel level the machine can run.
func check(t *testing.T, g *graph.Graph, batch, threads int) {
	t.Helper()
	isatest.ForEach(t, func(t *testing.T) { checkLevel(t, g, batch, threads) })
}

func checkLevel(t *testing.T, g *graph.Graph, batch, threads int) {
	t.Helper()
	p, err := Compile(g, Options{Batch: batch, Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{batch, 1} {
		x := randInput(n, g.Input.Shape, uint64(n))
		vals, _, err := reference.Forward(g, x, n)
		if err != nil {
			t.Fatal(err)
		}
		want := vals[g.Output]
		out := make([]float32, n*p.OutputLen())
		if len(out) != len(want) {
			t.Fatalf("output length %d, reference %d", len(out), len(want))
		}
		for rep := 0; rep < 2; rep++ { // the second run checks that no state leaks
			if err := p.Run(x, out); err != nil {
				t.Fatal(err)
			}
			e, s := reference.MaxDiff(out, want)
			if e > tol*s || math.IsNaN(e) {
				t.Fatalf("%s batch %d threads %d: max |diff| %.3g, max |ref| %.3g (rel %.3g > %g)", g.Name, n, threads, e, s, e/s, tol)
			}
			if rep == 1 {
				t.Logf("%s batch %d threads %d: rel err %.2g", g.Name, n, threads, e/s)
			}
		}
	}
}

func mnv2(t *testing.T, width float64, res int) *graph.Graph {
	o := models.Default()
	o.Width, o.Resolution, o.Classes = width, res, 37
	g, err := models.MobileNetV2(o)
	if err != nil {
		t.Fatal(err)
	}
	testmodels.RandomizeBN(g, 5)
	return g
}

func TestMobileNetV2(t *testing.T) {
	for _, w := range []float64{0.35, 0.5, 1.0} {
		g := mnv2(t, w, 40)
		check(t, g, 3, 1)
		check(t, g, 2, 2)
	}
}

func TestFashionMNIST(t *testing.T) {
	g, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	testmodels.RandomizeBN(g, 7)
	check(t, g, 4, 2)
}

func TestEfficientNetLite0(t *testing.T) {
	o := models.Default()
	o.Resolution, o.Classes = 48, 11
	g, err := models.EfficientNetLite0(o)
	if err != nil {
		t.Fatal(err)
	}
	testmodels.RandomizeBN(g, 9)
	check(t, g, 2, 1)
}

func TestMerged(t *testing.T) {
	o := models.Default()
	o.Resolution, o.Classes = 64, 10
	for _, m := range []testmodels.MergedOptions{{}, {BiasMap: true}, {PadFirst: true, FinalAct: true}, {BiasMap: true, PadFirst: true}} {
		g, err := testmodels.MergedMobileNetV2(o, m)
		if err != nil {
			t.Fatal(err)
		}
		testmodels.RandomizeBN(g, 11)
		check(t, g, 2, 1)
		check(t, g, 3, 2)
	}
}

// TestOddGraph covers the standalone steps: BatchNorm not after a conv, an
// activation and an add that cannot fuse, hardswish, a Pad read by a
// non-conv, grouped convolution and a flatten of a spatial value.
func TestOddGraph(t *testing.T) {
	b := graph.NewBuilder("odd", 5, 9, 11)
	x := b.BatchNorm("bn0", "input", 5)
	x = b.Act("hs", x, graph.ActHardSwish, "")
	c1 := b.Conv("c1", x, 5, 20, 3, 1, 1, 1, true)
	c2 := b.Conv("c2", c1, 20, 20, 3, 2, 2, 4, false)
	c2 = b.Act("hsig", c2, graph.ActHardSigmoid, "")
	b.G.Nodes = append(b.G.Nodes, &graph.Node{Name: "pad", Op: graph.OpPad, Inputs: []string{c2}, Output: "pad", Pad: &graph.PadAttr{Pads: [4]int{1, 0, 2, 1}}})
	r := b.Act("relu", "pad", graph.ActReLU, "")
	c3 := b.Conv("c3", "pad", 20, 20, 5, 1, 2, 20, true)
	s := b.Add("add", r, c3)
	s = b.Add("add2", s, s)
	f := b.Flatten("flat", s)
	l := b.Linear("fc", f, 20*9*8, 7, true)
	g, err := b.Finish(l)
	if err != nil {
		t.Fatal(err)
	}
	g.InitParams(3)
	testmodels.RandomizeBN(g, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"c1.bias", "c3.bias", "fc.bias"} {
		g.Params[name].RandN(rng, 0.3)
	}
	check(t, g, 3, 2)
}

func TestRunErrors(t *testing.T) {
	g := mnv2(t, 0.35, 32)
	p, err := Compile(g, Options{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 3*p.OutputLen())
	if err := p.Run(make([]float32, 3*p.InputLen()), out); err == nil {
		t.Error("batch 3 on a batch-2 program: no error")
	}
	if err := p.Run(make([]float32, p.InputLen()+1), out); err == nil {
		t.Error("ragged input: no error")
	}
	if err := p.Run(make([]float32, p.InputLen()), out[:1]); err == nil {
		t.Error("short output: no error")
	}
	if _, err := Compile(g, Options{Batch: -1}); err == nil {
		t.Error("negative batch: no error")
	}
}

func TestZeroAllocs(t *testing.T) {
	g := mnv2(t, 0.5, 64)
	for _, th := range []int{1, 2} {
		p, err := Compile(g, Options{Batch: 2, Threads: th})
		if err != nil {
			t.Fatal(err)
		}
		x := randInput(2, g.Input.Shape, 1)
		out := make([]float32, 2*p.OutputLen())
		if err := p.Run(x, out); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(20, func() { _ = p.Run(x, out) }); a != 0 {
			t.Errorf("threads %d: %v allocations per Run, want 0", th, a)
		}
	}
}
