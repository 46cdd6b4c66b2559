package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
	"github.com/dshrink/dshrink/kernels/isa/isatest"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/runtime/testmodels"
	"github.com/dshrink/dshrink/tensor"
)

// winoTol bounds max |runtime - reference| / max |reference| of a Winograd
// convolution (F(2x2, 3x3) loses a few bits to the transforms).
const winoTol = 1e-5

type winoCase struct {
	cin, cout, h, w, pad int
	bmap, res, relu6     bool
}

func (c winoCase) String() string {
	return fmt.Sprintf("%d->%d_%dx%d_p%d_bmap%v_res%v_relu6%v", c.cin, c.cout, c.h, c.w, c.pad, c.bmap, c.res, c.relu6)
}

// winoGraph builds a 3x3 stride-1 conv (with a 1x1 conv before it giving
// the residual, if any).
func winoGraph(c winoCase, seed uint64) (*graph.Graph, error) {
	rng := rand.New(rand.NewPCG(seed, 8))
	b := graph.NewBuilder("wino_"+c.String(), c.cin, c.h, c.w)
	var r string
	if c.res {
		k, p := 1, c.pad-1 // same output size as the 3x3 conv
		if c.pad == 0 {
			k, p = 3, 0
		}
		r = b.Conv("pre", "input", c.cin, c.cout, k, 1, p, 1, true)
	}
	y := b.Conv("w", "input", c.cin, c.cout, 3, 1, c.pad, 1, true)
	nd := b.G.Nodes[len(b.G.Nodes)-1]
	oh, ow := c.h+2*c.pad-2, c.w+2*c.pad-2
	if c.bmap {
		bm := tensor.New(c.cout, oh, ow)
		bm.RandN(rng, 0.5)
		b.G.Params["w.bias_map"] = bm
		nd.Params = append(nd.Params, "w.bias_map")
		nd.Conv.BiasMap = true
	}
	if c.res {
		y = b.Add("add", y, r)
	}
	if c.relu6 {
		y = b.Act("act", y, graph.ActReLU6, "")
	}
	g, err := b.Finish(y)
	if err != nil {
		return nil, err
	}
	g.InitParams(seed)
	for _, n := range g.Nodes {
		if n.Op == graph.OpConv {
			g.Param(n, 1).RandN(rng, 0.3)
		}
	}
	return g, nil
}

func randomWinoCases(n int) []winoCase {
	rng := rand.New(rand.NewPCG(12, 34))
	chans := []int{3, 16, 17, 24, 32, 40}
	cases := []winoCase{
		{cin: 32, cout: 16, h: 12, w: 12, pad: 1, bmap: true},
		{cin: 17, cout: 40, h: 7, w: 7, pad: 1, bmap: true, res: true, relu6: true},
		{cin: 24, cout: 24, h: 1, w: 1, pad: 1, res: true},
		{cin: 40, cout: 3, h: 2, w: 2, pad: 1, bmap: true, relu6: true},
		{cin: 16, cout: 17, h: 15, w: 14, pad: 1, res: true, bmap: true},
		{cin: 3, cout: 24, h: 9, w: 5, pad: 0},
		{cin: 24, cout: 16, h: 3, w: 6, pad: 2, bmap: true, res: true},
	}
	for len(cases) < n {
		pad := 1
		switch rng.IntN(5) {
		case 0:
			pad = 0
		case 1:
			pad = 2
		}
		c := winoCase{cin: chans[rng.IntN(len(chans))], cout: chans[rng.IntN(len(chans))],
			h: 1 + rng.IntN(15), w: 1 + rng.IntN(15), pad: pad,
			bmap: rng.IntN(2) == 0, res: rng.IntN(2) == 0, relu6: rng.IntN(2) == 0}
		if c.h+2*pad < 3 || c.w+2*pad < 3 {
			continue
		}
		cases = append(cases, c)
	}
	return cases
}

// TestWinograd compares Winograd convolutions with the float64 reference on
// random shapes (odd and even sizes from 1x1, channel counts that are not
// multiples of 16, bias maps, residuals, ReLU6, batch up to 3, 1 and 2
// threads), with the assembly and the portable transforms.
func TestWinograd(t *testing.T) {
	cases := randomWinoCases(40)
	old := winoChunkBytes
	defer func() { winoChunkBytes = old }()
	isatest.ForEach(t, func(t *testing.T) {
		worst := 0.0
		for i, c := range cases {
			// odd cases run in chunks of (at least) winoMaxR tiles
			winoChunkBytes = old
			if i%2 == 1 {
				winoChunkBytes = func(int) int { return 1 }
			}
			g, err := winoGraph(c, uint64(i+1))
			if err != nil {
				t.Fatal(err)
			}
			for _, th := range []int{1, 2} {
				p, err := Compile(g, Options{Batch: 3, Threads: th, Winograd: WinogradOn})
				if err != nil {
					t.Fatalf("%v: %v", c, err)
				}
				kernel := ""
				for _, s := range p.Steps() {
					if s.Name == "w" {
						kernel = s.Kernel
					}
				}
				if kernel != "winograd" {
					t.Fatalf("%v: kernel %q, want winograd", c, kernel)
				}
				for _, n := range []int{3, 1} {
					x := randInput(n, g.Input.Shape, uint64(10*i+n))
					vals, _, err := reference.Forward(g, x, n)
					if err != nil {
						t.Fatal(err)
					}
					want := vals[g.Output]
					out := make([]float32, n*p.OutputLen())
					for rep := 0; rep < 2; rep++ {
						if err := p.Run(x, out); err != nil {
							t.Fatal(err)
						}
						e, s := reference.MaxDiff(out, want)
						if e > winoTol*s || math.IsNaN(e) {
							t.Fatalf("%v batch %d threads %d: max |diff| %.3g, max |ref| %.3g (rel %.3g > %g)", c, n, th, e, s, e/s, winoTol)
						}
						worst = max(worst, e/s)
					}
				}
			}
		}
		t.Logf("%d cases: worst rel err %.2g", len(cases), worst)
	})
}

// TestWinogradModels runs the model tests with Winograd forced on and off
// (the default, auto, runs in the other tests), portable kernels included.
func TestWinogradModels(t *testing.T) {
	o := models.Default()
	o.Width, o.Resolution, o.Classes = 0.5, 40, 10
	g, err := testmodels.MergedMobileNetV2(o, testmodels.MergedOptions{BiasMap: true, FinalAct: true})
	if err != nil {
		t.Fatal(err)
	}
	testmodels.RandomizeBN(g, 13)
	isatest.ForEach(t, func(t *testing.T) {
		for _, mode := range []WinogradMode{WinogradOn, WinogradOff} {
			for _, th := range []int{1, 2} {
				p, err := Compile(g, Options{Batch: 2, Threads: th, Winograd: mode})
				if err != nil {
					t.Fatal(err)
				}
				x := randInput(2, g.Input.Shape, 3)
				vals, _, err := reference.Forward(g, x, 2)
				if err != nil {
					t.Fatal(err)
				}
				out := make([]float32, 2*p.OutputLen())
				if err := p.Run(x, out); err != nil {
					t.Fatal(err)
				}
				e, s := reference.MaxDiff(out, vals[g.Output])
				if e > tol*s {
					t.Fatalf("mode %d threads %d: rel err %.3g", mode, th, e/s)
				}
				nw := 0
				for _, st := range p.Steps() {
					if st.Kernel == "winograd" {
						nw++
					}
				}
				if (nw > 0) != (mode == WinogradOn) {
					t.Fatalf("mode %d: %d winograd steps", mode, nw)
				}
				t.Logf("mode %d threads %d: %d winograd steps, rel err %.2g", mode, th, nw, e/s)
			}
		}
	})
	if _, err := Compile(g, Options{Winograd: 7}); err == nil {
		t.Error("unknown Winograd mode: no error")
	}
}

// winoBenchShapes are the stride-1 3x3 layers of MobileNetV2-1.0 at 224
// merged (InC, OutC, size), and a few small-channel shapes for the rule.
var winoBenchShapes = [][3]int{
	{32, 16, 112}, {24, 24, 56}, {32, 32, 28}, {64, 64, 14}, {64, 96, 14}, {96, 96, 14}, {160, 160, 7}, {160, 320, 7},
	{8, 16, 56}, {16, 8, 56}, {8, 8, 56}, {4, 16, 56}, {16, 4, 56}, {12, 12, 28}, {16, 16, 28}, {8, 8, 28},
	{320, 320, 7}, {32, 32, 5}, {64, 64, 4}, {160, 160, 3}, {64, 64, 2}, {64, 64, 1},
}

// BenchmarkWinogradLayers times the step of one merged-model layer (3x3 conv
// with bias), batch 1, 1 thread, direct and Winograd.
func BenchmarkWinogradLayers(b *testing.B) {
	for _, sh := range winoBenchShapes {
		c := winoCase{cin: sh[0], cout: sh[1], h: sh[2], w: sh[2], pad: 1}
		g, err := winoGraph(c, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []WinogradMode{WinogradOff, WinogradOn} {
			name := "direct"
			if mode == WinogradOn {
				name = "winograd"
			}
			b.Run(fmt.Sprintf("%dto%d_%d/%s", sh[0], sh[1], sh[2], name), func(b *testing.B) {
				p, err := Compile(g, Options{Batch: 1, Threads: 1, Winograd: mode})
				if err != nil {
					b.Fatal(err)
				}
				x := randInput(1, g.Input.Shape, 1)
				out := make([]float32, p.OutputLen())
				_ = p.Run(x, out)
				// the conv step alone (no input packing and output unpacking)
				for b.Loop() {
					p.steps[0].execImg(0, 0, true)
				}
				macs := float64(sh[0]*sh[1]*9*sh[2]*sh[2]) * float64(b.N)
				b.ReportMetric(macs/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}

// TestWinogradZeroAllocs checks that Run allocates nothing with Winograd
// steps, in thread-parallel and image-parallel runs.
func TestWinogradZeroAllocs(t *testing.T) {
	o := models.Default()
	o.Width, o.Resolution, o.Classes = 0.5, 56, 10
	g, err := testmodels.MergedMobileNetV2(o, testmodels.MergedOptions{BiasMap: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range []int{1, 2} {
		for _, batch := range []int{1, 2} {
			p, err := Compile(g, Options{Batch: batch, Threads: th})
			if err != nil {
				t.Fatal(err)
			}
			nw := 0
			for _, s := range p.Steps() {
				if s.Kernel == "winograd" {
					nw++
				}
			}
			if nw == 0 {
				t.Fatal("no winograd step")
			}
			x := randInput(batch, g.Input.Shape, 1)
			out := make([]float32, batch*p.OutputLen())
			if err := p.Run(x, out); err != nil {
				t.Fatal(err)
			}
			if a := testing.AllocsPerRun(20, func() { _ = p.Run(x, out) }); a != 0 {
				t.Errorf("threads %d batch %d: %v allocations per Run, want 0", th, batch, a)
			}
		}
	}
}
