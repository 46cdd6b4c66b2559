package merge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
	"github.com/dshrink/dshrink/plan"
)

type blockSpec struct {
	out, expand, kernel, stride int
}

// buildNet builds input [c, h, h] -> stem conv (3x3, ReLU6, unit "stem") ->
// inverted residual blocks -> output, in torchvision's layout, and fills the
// parameters with random weights and non-trivial BatchNorm statistics.
func buildNet(t testing.TB, seed uint64, c, h int, specs []blockSpec) *graph.Graph {
	t.Helper()
	b := graph.NewBuilder("testnet", c, h, h)
	x := b.Conv("stem.0", "input", c, 8, 3, 1, 1, 1, false)
	x = b.BatchNorm("stem.1", x, 8)
	x = b.Act("stem.2", x, graph.ActReLU6, "stem")
	b.G.Units = append(b.G.Units, graph.Unit{Name: "stem"})
	inC := 8
	for i, s := range specs {
		x = invertedResidual(b, fmt.Sprintf("features.%d", i+1), x, inC, s.out, s.stride, s.expand, s.kernel)
		inC = s.out
	}
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, seed)
	return g
}

// invertedResidual mirrors models.invertedResidual.
func invertedResidual(b *graph.Builder, name, x string, inC, outC, stride, expand, kernel int) string {
	hidden := inC * expand
	b.Block = name
	p := name + ".conv."
	h := x
	i := 0
	if expand != 1 {
		h = b.Conv(fmt.Sprintf("%s%d.0", p, i), h, inC, hidden, 1, 1, 0, 1, false)
		h = b.BatchNorm(fmt.Sprintf("%s%d.1", p, i), h, hidden)
		h = b.Act(fmt.Sprintf("%s%d.2", p, i), h, graph.ActReLU6, name)
		i++
	}
	h = b.Conv(fmt.Sprintf("%s%d.0", p, i), h, hidden, hidden, kernel, stride, kernel/2, hidden, false)
	h = b.BatchNorm(fmt.Sprintf("%s%d.1", p, i), h, hidden)
	h = b.Act(fmt.Sprintf("%s%d.2", p, i), h, graph.ActReLU6, name)
	i++
	h = b.Conv(fmt.Sprintf("%s%d", p, i), h, hidden, outC, 1, 1, 0, 1, false)
	h = b.BatchNorm(fmt.Sprintf("%s%d", p, i+1), h, outC)
	residual := stride == 1 && inC == outC
	if residual {
		h = b.Add(name+".add", x, h)
	}
	b.G.Blocks = append(b.G.Blocks, graph.Block{Name: name, Kind: "inverted_residual", InC: inC, OutC: outC, Hidden: hidden,
		Expand: expand, Kernel: kernel, Stride: stride, Residual: residual, Input: x, Output: h})
	b.G.Units = append(b.G.Units, graph.Unit{Name: name, Block: name})
	b.Block = ""
	return h
}

// randomize gives every parameter a random value; BatchNorm gets affine
// parameters and running statistics far from the identity, so folded biases
// (the expand bias in particular) are non-zero.
func randomize(g *graph.Graph, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, n := range g.Nodes {
		switch n.Op {
		case graph.OpConv:
			a := n.Conv
			w := g.Params[n.Params[0]]
			w.RandN(rng, 1/math.Sqrt(float64(a.InC/a.Groups*a.KH*a.KW)))
			for _, p := range n.Params[1:] {
				g.Params[p].RandN(rng, 0.3)
			}
		case graph.OpBatchNorm:
			for i := range n.BN.C {
				g.Params[n.Params[0]].Data[i] = float32(0.5 + rng.Float64())
				g.Params[n.Params[1]].Data[i] = float32(rng.NormFloat64() * 0.5)
				g.Params[n.Params[2]].Data[i] = float32(rng.NormFloat64() * 0.5)
				g.Params[n.Params[3]].Data[i] = float32(0.5 + 1.5*rng.Float64())
			}
		case graph.OpLinear:
			for _, p := range n.Params {
				g.Params[p].RandN(rng, 0.1)
			}
		}
	}
}

func applyAll(t testing.TB, g *graph.Graph, padFirst bool) *graph.Graph {
	t.Helper()
	p, err := plan.Preset("all", g)
	if err != nil {
		t.Fatal(err)
	}
	a, err := plan.Apply(g, p, plan.ApplyOptions{PadFirst: padFirst})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// relErr runs both graphs with the reference on one seeded input and
// returns the max abs difference of the outputs relative to the max |a|.
func relErr(t testing.TB, a, b *graph.Graph, seed uint64) (rel, abs float64) {
	t.Helper()
	r, err := Verify(a, b, VerifyOptions{Random: 1, Seed: seed, Intermediates: true, Executor: ExecReference})
	if err != nil {
		t.Fatal(err)
	}
	return math.Max(r.MaxRel, r.WorstRel), r.MaxAbs
}

func countOp(g *graph.Graph, op graph.Op) int {
	k := 0
	for _, n := range g.Nodes {
		if n.Op == op {
			k++
		}
	}
	return k
}

// TestMergeProperty: random block configurations, both padding forms; the
// merged model equals the plan-applied model to float round-off, and each
// block becomes one convolution.
func TestMergeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	worst := 0.0
	for trial := 0; trial < 24; trial++ {
		e := []int{1, 3, 6}[trial%3]
		k := []int{3, 5}[(trial/3)%2]
		s := []int{1, 2}[(trial/6)%2]
		h := 7 + rng.IntN(4) // odd and even sizes
		residual := trial%4 < 2 && s == 1
		out := 8
		if !residual {
			out = 8 + 4*(1+rng.IntN(2))
			if s == 1 && trial%2 == 0 {
				out = 12
			}
		}
		specs := []blockSpec{{out: out, expand: e, kernel: k, stride: s}}
		g := buildNet(t, uint64(100+trial), 3, h, specs)
		for _, padFirst := range []bool{false, true} {
			name := fmt.Sprintf("e%d_k%d_s%d_h%d_res%v_padfirst%v", e, k, s, h, residual, padFirst)
			applied := applyAll(t, g, padFirst)
			merged, rep, err := Merge(applied, Options{Force: true})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if rep.Merged != 1 {
				var sb strings.Builder
				rep.Explain(&sb)
				t.Fatalf("%s: %d chains merged, want 1\n%s", name, rep.Merged, sb.String())
			}
			// stem conv + merged block conv.
			if c := countOp(merged, graph.OpConv); c != 2 || countOp(merged, graph.OpAdd) != 0 || countOp(merged, graph.OpBatchNorm) != 0 {
				t.Errorf("%s: %d convs, %d adds, %d BN after merge, want 2, 0, 0", name, c, countOp(merged, graph.OpAdd), countOp(merged, graph.OpBatchNorm))
			}
			ch := rep.Chains[0]
			if padFirst && ch.BiasMap {
				t.Errorf("%s: pad-first form needed a bias map", name)
			}
			if !padFirst && e > 1 && !ch.BiasMap {
				t.Errorf("%s: expand bias is non-zero, a bias map is needed", name)
			}
			rel, _ := relErr(t, applied, merged, uint64(trial))
			worst = math.Max(worst, rel)
			if rel > 1e-5 {
				t.Errorf("%s: relative error %.3g", name, rel)
			}
		}
	}
	t.Logf("worst relative error over all configurations: %.3g", worst)
}

// TestBorderBias: without the map the plain merge is exact in the interior
// but wrong at the border; with the map it is exact everywhere.
func TestBorderBias(t *testing.T) {
	g := buildNet(t, 3, 3, 9, []blockSpec{{out: 8, expand: 6, kernel: 3, stride: 1}})
	applied := applyAll(t, g, false)
	merged, rep, err := Merge(applied, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BiasMaps != 1 {
		t.Fatalf("%d bias maps, want 1", rep.BiasMaps)
	}
	rel, _ := relErr(t, applied, merged, 1)
	if rel > 1e-5 {
		t.Fatalf("with the bias map: relative error %.3g", rel)
	}
	// Drop the map: the interior stays exact, the border is off.
	plain := merged.Clone()
	var mc *graph.Node
	for _, n := range plain.Nodes {
		if n.Conv != nil && n.Conv.BiasMap {
			mc = n
		}
	}
	bm := plain.Params[mc.Params[len(mc.Params)-1]]
	mapData := bm.Data
	mc.Conv.BiasMap = false
	mc.Params = mc.Params[:len(mc.Params)-1]
	x := make([]float32, 3*9*9)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	va, _, err := reference.Forward(applied, x, 1)
	if err != nil {
		t.Fatal(err)
	}
	vb, shp, err := reference.Forward(plain, x, 1)
	if err != nil {
		t.Fatal(err)
	}
	a, b := va[applied.Output], vb[plain.Output]
	s := shp[plain.Output]
	var interior, border float64
	for c := 0; c < s[1]; c++ {
		for y := 0; y < s[2]; y++ {
			for xx := 0; xx < s[3]; xx++ {
				i := (c*s[2]+y)*s[3] + xx
				d := math.Abs(a[i] - b[i])
				if y == 0 || xx == 0 || y == s[2]-1 || xx == s[3]-1 {
					border = math.Max(border, d)
				} else {
					interior = math.Max(interior, d)
					if mapData[i] != 0 {
						t.Fatalf("bias map non-zero in the interior at %d,%d,%d", c, y, xx)
					}
				}
			}
		}
	}
	t.Logf("plain merge without the map: interior max error %.3g, border max error %.3g", interior, border)
	if interior > 1e-4 || border < 1e-2 {
		t.Errorf("plain merge: interior error %.3g (want round-off), border %.3g (want visible)", interior, border)
	}
}

// TestStride2Even: stride 2 with an even input pads only top/left in effect.
func TestStride2Even(t *testing.T) {
	for _, padFirst := range []bool{false, true} {
		g := buildNet(t, 11, 3, 8, []blockSpec{{out: 16, expand: 6, kernel: 3, stride: 2}, {out: 16, expand: 6, kernel: 5, stride: 1}})
		applied := applyAll(t, g, padFirst)
		merged, rep, err := Merge(applied, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Merged != 2 {
			t.Fatalf("padFirst=%v: %d merged, want 2", padFirst, rep.Merged)
		}
		if k := rep.Chains[0].Kernel; k != "3x3/s2" {
			t.Errorf("merged kernel %s, want 3x3/s2", k)
		}
		rel, _ := relErr(t, applied, merged, 3)
		if rel > 1e-5 {
			t.Errorf("padFirst=%v: relative error %.3g", padFirst, rel)
		}
	}
}

// TestExpansion1: a block without expand conv (depthwise then 1x1) merges
// into one dense conv, needs no bias map (the depthwise reads x directly),
// and is skipped by the default MAC check when it grows too much.
func TestExpansion1(t *testing.T) {
	g := buildNet(t, 13, 3, 10, []blockSpec{{out: 8, expand: 1, kernel: 3, stride: 1}})
	applied := applyAll(t, g, false)
	merged, rep, err := Merge(applied, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := rep.Chains[0]
	// dw 3x3 on 8 ch + 1x1 8->8: 72+64 = 136 per pixel; dense 3x3 8->8: 576 per pixel.
	if ch.Merged || !strings.Contains(ch.Reason, "skipped") {
		t.Errorf("default options: chain %+v, want skipped by the MAC check", ch)
	}
	rel, _ := relErr(t, applied, merged, 1)
	if rel > 1e-5 {
		t.Errorf("unmerged (folded) model: relative error %.3g", rel)
	}
	merged, rep, err = Merge(applied, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	ch = rep.Chains[0]
	if !ch.Merged || ch.BiasMap || ch.Kernel != "3x3" {
		t.Errorf("forced: chain %+v, want merged dense 3x3 without a bias map", ch)
	}
	rel, _ = relErr(t, applied, merged, 2)
	if rel > 1e-5 {
		t.Errorf("forced merge: relative error %.3g", rel)
	}
}

// TestTwoConsumers: a value read by two nodes is not merged through.
func TestTwoConsumers(t *testing.T) {
	b := graph.NewBuilder("fork", 4, 6, 6)
	x := b.Conv("a", "input", 4, 8, 1, 1, 0, 1, true)
	y := b.Conv("b", x, 8, 8, 3, 1, 1, 8, true)
	z := b.Conv("c", x, 8, 8, 1, 1, 0, 1, true)
	w := b.Conv("d", y, 8, 8, 1, 1, 0, 1, true)
	out := b.Add("sum", w, z)
	g, err := b.Finish(out)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 4)
	merged, rep, err := Merge(g, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if merged.Node("a") == nil {
		t.Errorf("conv a (its output has two readers) was merged away")
	}
	// b then d form a chain of their own.
	if rep.Merged != 1 || rep.Chains[0].Input != x || len(rep.Chains[0].Nodes) != 2 {
		t.Errorf("chains %+v, want one chain b>d starting at %s", rep.Chains, x)
	}
	rel, _ := relErr(t, g, merged, 1)
	if rel > 1e-5 {
		t.Errorf("relative error %.3g", rel)
	}
}

// TestDepthwiseOnly: a chain of depthwise convolutions stays depthwise, with
// the kernel grown by composition.
func TestDepthwiseOnly(t *testing.T) {
	b := graph.NewBuilder("dw", 6, 9, 9)
	x := b.Conv("a", "input", 6, 6, 3, 2, 0, 6, true)
	x = b.Conv("b", x, 6, 6, 3, 1, 0, 6, true)
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 5)
	merged, rep, err := Merge(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 1 {
		t.Fatalf("%d merged, want 1", rep.Merged)
	}
	n := merged.Nodes[0]
	if n.Conv.Groups != 6 || n.Conv.KH != 7 || n.Conv.StrideH != 2 {
		t.Errorf("merged conv %+v, want depthwise 7x7 stride 2", *n.Conv)
	}
	rel, _ := relErr(t, g, merged, 1)
	if rel > 1e-5 {
		t.Errorf("relative error %.3g", rel)
	}
}

// TestCrossBlocksPadded: with chains allowed across blocks, two padded
// residual blocks are not composed (not exact at the border); each block is
// merged on its own and the report says why the chain stops.
func TestCrossBlocksPadded(t *testing.T) {
	g := buildNet(t, 21, 3, 8, []blockSpec{{out: 8, expand: 3, kernel: 3, stride: 1}, {out: 8, expand: 3, kernel: 3, stride: 1}})
	applied := applyAll(t, g, false)
	merged, rep, err := Merge(applied, Options{CrossBlocks: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 2 || !strings.Contains(rep.Chains[0].Stop, "pad-first") {
		t.Errorf("chains %+v, want two, the first stopping for exactness", rep.Chains)
	}
	rel, _ := relErr(t, applied, merged, 1)
	if rel > 1e-5 {
		t.Errorf("relative error %.3g", rel)
	}
}

// TestMultiBlockChain: two consecutive blocks with identity activations
// between them and residuals merge into one convolution with a grown kernel.
// The first block has a 1x1 depthwise kernel, so composing the second
// block's padded 3x3 after it is exact; the residuals of both blocks compose
// (x + B1(x) feeds B2 and its residual).
func TestMultiBlockChain(t *testing.T) {
	g := buildNet(t, 31, 3, 7, []blockSpec{{out: 8, expand: 3, kernel: 1, stride: 1}, {out: 8, expand: 2, kernel: 3, stride: 1}, {out: 8, expand: 2, kernel: 3, stride: 2}})
	applied := applyAll(t, g, false)
	merged, rep, err := Merge(applied, Options{CrossBlocks: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 2 || len(rep.Chains[0].Blocks) != 2 || rep.Chains[0].Kernel != "3x3" {
		var sb strings.Builder
		rep.Explain(&sb)
		t.Fatalf("want blocks 1 and 2 in one 3x3 chain:\n%s", sb.String())
	}
	rel, _ := relErr(t, applied, merged, 1)
	if rel > 1e-5 {
		t.Errorf("relative error %.3g", rel)
	}
	// Unpadded (valid) blocks compose with kernel growth k1+(k2-1)*s1 and stride s1*s2.
	b := graph.NewBuilder("valid", 4, 15, 15)
	x := b.Conv("e1", "input", 4, 12, 1, 1, 0, 1, true)
	x = b.Conv("d1", x, 12, 12, 3, 2, 0, 12, true)
	x = b.Conv("p1", x, 12, 6, 1, 1, 0, 1, true)
	x = b.Conv("e2", x, 6, 12, 1, 1, 0, 1, true)
	x = b.Conv("d2", x, 12, 12, 3, 1, 0, 12, true)
	x = b.Conv("p2", x, 12, 6, 1, 1, 0, 1, true)
	v, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	randomize(v, 8)
	mv, rep, err := Merge(v, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 1 || len(mv.Nodes) != 1 || mv.Nodes[0].Conv.KH != 7 || mv.Nodes[0].Conv.StrideH != 2 {
		t.Fatalf("want one 7x7/s2 conv, got %+v", rep.Chains)
	}
	rel, _ = relErr(t, v, mv, 2)
	if rel > 1e-5 {
		t.Errorf("valid chain: relative error %.3g", rel)
	}
}

// TestMaxKernel: the kernel cap stops a chain.
func TestMaxKernel(t *testing.T) {
	b := graph.NewBuilder("cap", 2, 20, 20)
	x := "input"
	for i := 0; i < 4; i++ {
		x = b.Conv(fmt.Sprintf("c%d", i), x, 2, 2, 3, 1, 0, 1, true)
	}
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 9)
	merged, rep, err := Merge(g, Options{MaxKernel: 5, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 2 || countOp(merged, graph.OpConv) != 2 || !strings.Contains(rep.Chains[0].Stop, "cap") {
		t.Errorf("want two 5x5 convs, got %+v", rep.Chains)
	}
	rel, _ := relErr(t, g, merged, 1)
	if rel > 1e-5 {
		t.Errorf("relative error %.3g", rel)
	}
}

// TestVerify: the float32 executor accepts a correct merge and rejects one
// whose border bias map was dropped, and it catches the error at the chain
// output even when the model output hides it.
func TestVerify(t *testing.T) {
	g := buildNet(t, 41, 3, 12, []blockSpec{{out: 8, expand: 6, kernel: 3, stride: 1}, {out: 16, expand: 6, kernel: 5, stride: 2}})
	applied := applyAll(t, g, false)
	merged, rep, err := Merge(applied, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(applied, merged, VerifyOptions{Random: 3, Seed: 1, Values: rep.ChainOutputs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("float32 nn executor: max rel %.3g, worst chain output %s %.3g", res.MaxRel, res.WorstValue, res.WorstRel)
	if !res.OK || res.Executor != "nn (float32)" || res.Images != 3 {
		t.Errorf("correct merge rejected: %+v", res)
	}
	real := make([]float32, 2*3*12*12)
	for i := range real {
		real[i] = float32(i%13) / 13
	}
	res, err = Verify(applied, merged, VerifyOptions{Random: 1, Real: real, RealN: 2})
	if err != nil || !res.OK || res.RealImages != 2 || res.Images != 3 {
		t.Errorf("with real images: %+v, %v", res, err)
	}
	if _, err := Verify(applied, merged, VerifyOptions{Real: real[:5], RealN: 2}); err == nil {
		t.Error("short real input accepted")
	}
	for _, n := range merged.Nodes {
		if n.Conv != nil && n.Conv.BiasMap {
			n.Conv.BiasMap = false
			n.Params = n.Params[:len(n.Params)-1]
		}
	}
	res, err = Verify(applied, merged, VerifyOptions{Random: 1, Values: rep.ChainOutputs()})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK {
		t.Errorf("merge without bias maps accepted: %+v", res)
	}
}

// TestGroupedCompose: grouped convolutions of different group counts compose
// into a conv with gcd groups; asymmetric padding and stride are kept exact.
func TestGroupedCompose(t *testing.T) {
	b := graph.NewBuilder("groups", 12, 11, 10)
	x := b.Conv("a", "input", 12, 12, 3, 1, 1, 4, true)
	x = b.Conv("b", x, 12, 12, 1, 1, 0, 6, true)
	x = b.Conv("c", x, 12, 24, 3, 2, 0, 2, true)
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	g.Node("a").Conv.Pads = [4]int{2, 0, 1, 1}
	randomize(g, 12)
	merged, rep, err := Merge(g, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 1 || merged.Nodes[0].Conv.Groups != 2 || merged.Nodes[0].Conv.KH != 5 {
		t.Fatalf("want one 5x5/s2 conv with 2 groups, got %+v", rep.Chains)
	}
	rel, _ := relErr(t, g, merged, 1)
	if rel > 1e-5 {
		t.Errorf("relative error %.3g", rel)
	}
}
