package merge

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
)

// refOut runs g with the float64 reference on one seeded N(0,1) image and
// returns value v and its shape.
func refOut(t testing.TB, g *graph.Graph, x []float32, v string) ([]float64, []int) {
	t.Helper()
	vals, shapes, err := reference.Forward(g, x, 1)
	if err != nil {
		t.Fatal(err)
	}
	return vals[v], shapes[v]
}

func seededImage(g *graph.Graph, seed uint64) []float32 {
	n := 1
	for _, d := range g.Input.Shape {
		n *= d
	}
	x := make([]float32, n)
	s := seed*2654435761 + 12345
	for i := range x {
		// A deterministic, roughly N(0,1) sequence (sum of uniforms).
		u := 0.0
		for k := 0; k < 4; k++ {
			s = s*6364136223846793005 + 1442695040888963407
			u += float64(s>>11) / float64(1<<53)
		}
		x[i] = float32((u - 2) * math.Sqrt(3))
	}
	return x
}

// verifyRef checks merged against want with the float64 reference on the
// model output and on the listed values; it returns the worst relative error.
func verifyRef(t testing.TB, want, merged *graph.Graph, values []string, seed uint64) float64 {
	t.Helper()
	r, err := Verify(want, merged, VerifyOptions{Random: 2, Seed: seed, Values: values, Executor: ExecReference, Tol: 1e-5})
	if err != nil {
		t.Fatal(err)
	}
	rel := math.Max(r.MaxRel, r.WorstRel)
	if !r.OK {
		t.Errorf("merged model differs: max rel %.3g, worst value %s %.3g", r.MaxRel, r.WorstValue, r.WorstRel)
	}
	return rel
}

// runConv returns the only convolution of a Run graph.
func runConv(t testing.TB, g *graph.Graph) *graph.ConvAttr {
	t.Helper()
	var c *graph.ConvAttr
	for _, n := range g.Nodes {
		if n.Op != graph.OpConv || c != nil {
			t.Fatalf("run graph: want exactly one conv node, have %s (%s)", n.Name, n.Op)
		}
		c = n.Conv
	}
	if c == nil {
		t.Fatal("run graph has no node")
	}
	return c
}

// TestCrossBlockRuns merges runs of 2 and 3 consecutive inverted residual
// blocks (with and without residuals, stride 1 and 2, padded) into one
// convolution. Pad-first form: the run is rewritten by PadFirst and the
// merge is checked against that unmerged form with the float64 reference,
// the merged kernel against k1 + (k2 - 1) s1 and the stride against s1 s2.
// The pad-first form itself equals the original run away from the border.
// Bias-map form: runs whose later padded layers read only padding of the
// run's input merge exactly (stride 2 on an odd size); the others are
// refused with ErrNeedsPadFirst.
func TestCrossBlockRuns(t *testing.T) {
	cases := []struct {
		name   string
		h      int
		specs  []blockSpec
		from   int // first block of the run (index into specs)
		to     int // last block of the run
		kernel int // merged kernel
		stride int
		// biasMapExact: the run merges exactly as it is (bias-map form).
		biasMapExact bool
	}{
		{"2 blocks residual s1", 8, []blockSpec{{8, 3, 3, 1}, {8, 2, 3, 1}}, 0, 1, 5, 1, false},
		{"2 blocks no residual s1", 8, []blockSpec{{12, 3, 3, 1}, {16, 2, 3, 1}}, 0, 1, 5, 1, false},
		{"2 blocks s2 then residual", 8, []blockSpec{{12, 3, 3, 2}, {12, 2, 3, 1}}, 0, 1, 7, 2, false},
		{"2 blocks s2 then residual odd", 7, []blockSpec{{12, 3, 3, 2}, {12, 2, 3, 1}}, 0, 1, 7, 2, true},
		{"2 blocks s1 then s2", 10, []blockSpec{{8, 2, 3, 1}, {12, 3, 3, 2}}, 0, 1, 5, 2, false},
		{"3 blocks residual s1 k5", 9, []blockSpec{{8, 2, 3, 1}, {8, 2, 5, 1}, {8, 3, 3, 1}}, 0, 2, 9, 1, false},
		{"3 blocks s2 res res", 10, []blockSpec{{12, 2, 3, 2}, {12, 3, 3, 1}, {12, 2, 3, 1}}, 0, 2, 11, 2, false},
		{"3 blocks mixed, middle of net", 12, []blockSpec{{8, 1, 3, 1}, {12, 3, 3, 2}, {12, 2, 3, 1}, {16, 2, 3, 2}, {16, 2, 3, 1}}, 1, 3, 11, 4, false},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := buildNet(t, uint64(500+ci), 3, c.h, c.specs)
			applied := applyAll(t, g, false)
			seg := Segment{From: applied.Blocks[c.from].Input, To: applied.Blocks[c.to].Output}
			// Pad-first form.
			pf, err := PadFirst(applied, []Segment{seg})
			if err != nil {
				t.Fatal(err)
			}
			merged, rep, err := Merge(pf, Options{Segments: []Segment{seg}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Merged != 1 || len(rep.Chains[0].Blocks) != c.to-c.from+1 {
				t.Fatalf("chains %+v, want one over %d blocks", rep.Chains, c.to-c.from+1)
			}
			ch := rep.Chains[0]
			if ch.BiasMap {
				t.Errorf("pad-first run needed a bias map")
			}
			mn := merged.Producer(applied.Blocks[c.to].Output)
			if mn == nil || mn.Op != graph.OpConv || mn.Conv.KH != c.kernel || mn.Conv.StrideH != c.stride {
				t.Fatalf("merged node %+v, want a %dx%d/s%d conv (chain %s)", mn, c.kernel, c.kernel, c.stride, ch.Kernel)
			}
			for _, b := range applied.Blocks[c.from : c.to+1] {
				if merged.Node(b.Name+".add") != nil {
					t.Errorf("residual add of %s left in the merged run", b.Name)
				}
			}
			verifyRef(t, pf, merged, []string{seg.To}, uint64(ci))
			// Run gives the same node and report as the whole-model merge.
			rg, rch, err := Run(applied, seg.From, seg.To, Options{PadFirst: true})
			if err != nil {
				t.Fatal(err)
			}
			if a := runConv(t, rg); *a != *mn.Conv || rch.MACsAfter != ch.MACsAfter || rch.Kernel != ch.Kernel {
				t.Errorf("Run gives %+v (%s), Merge %+v (%s)", *a, rch.Kernel, *mn.Conv, ch.Kernel)
			}
			mw := merged.Params[mn.Params[0]].Data
			rw := rg.Params[rg.Nodes[0].Params[0]].Data
			for i := range mw {
				if mw[i] != rw[i] {
					t.Fatalf("Run's weight %d = %g, Merge's %g", i, rw[i], mw[i])
				}
			}
			// The same run of the per-block pad-first form (plan.Apply's)
			// merges into the same convolution.
			pb := applyAll(t, g, true)
			pg, pch, err := Run(pb, seg.From, seg.To, Options{PadFirst: true})
			if err != nil {
				t.Fatal(err)
			}
			if a := runConv(t, pg); *a != *mn.Conv || pch.Kernel != ch.Kernel {
				t.Errorf("from the per-block pad-first form: %+v, want %+v", *a, *mn.Conv)
			}
			for i, v := range pg.Params[pg.Nodes[0].Params[0]].Data {
				if math.Abs(float64(v-mw[i])) > 1e-6*(1+math.Abs(float64(mw[i]))) {
					t.Fatalf("from the per-block pad-first form: weight %d = %g, want %g", i, v, mw[i])
				}
			}
			// The pad-first form equals the original run away from the
			// border of the run's output (its receptive field inside).
			checkInterior(t, applied, pf, seg, mn.Conv, uint64(ci))
			// Without segments, Merge merges the run PadFirst recorded in
			// the model as one, and the other blocks as usual.
			runs, err := RecordedRuns(pf)
			if err != nil || len(runs) != 1 || runs[0] != seg {
				t.Fatalf("recorded runs %v (%v), want %v", runs, err, seg)
			}
			dm, drep, err := Merge(pf, Options{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			if dn := dm.Producer(seg.To); dn == nil || dn.Op != graph.OpConv || *dn.Conv != *mn.Conv || drep.Merged != len(c.specs)-(c.to-c.from) {
				t.Errorf("default merge of the pad-first model: %d chains merged, run node %+v", drep.Merged, dn)
			}
			verifyRef(t, pf, dm, drep.ChainOutputs(), uint64(ci))
			// Bias-map form.
			bm, brep, err := Merge(applied, Options{Segments: []Segment{seg}})
			switch {
			case c.biasMapExact && err != nil:
				t.Fatalf("bias-map form: %v", err)
			case c.biasMapExact:
				if !brep.Chains[0].BiasMap {
					t.Errorf("bias-map form: no bias map")
				}
				verifyRef(t, applied, bm, []string{seg.To}, uint64(ci))
			case !errors.Is(err, ErrNeedsPadFirst):
				t.Errorf("bias-map form: error %v, want ErrNeedsPadFirst", err)
			}
			if _, ch, res, err := VerifyRun(applied, seg.From, seg.To, Options{PadFirst: true}, VerifyOptions{Executor: ExecReference, Tol: 1e-5}); err != nil || !res.OK || ch.BiasMap {
				t.Errorf("VerifyRun pad-first: %v %+v", err, res)
			}
			if _, _, err := Run(applied, seg.From, seg.To, Options{}); c.biasMapExact != (err == nil) {
				t.Errorf("Run in the bias-map form: %v", err)
			}
		})
	}
}

// checkInterior compares the run's output in g and in its pad-first form pf
// at the positions whose receptive field in the run's input (merged kernel a)
// lies inside the input: there the two forms compute the same thing.
func checkInterior(t *testing.T, g, pf *graph.Graph, seg Segment, a *graph.ConvAttr, seed uint64) {
	t.Helper()
	x := seededImage(g, seed)
	va, s := refOut(t, g, x, seg.To)
	vb, _ := refOut(t, pf, x, seg.To)
	shapes, err := g.Shapes(1)
	if err != nil {
		t.Fatal(err)
	}
	ih, iw := shapes[seg.From][2], shapes[seg.From][3]
	inside, border, worst := 0, 0, 0.0
	scale := 0.0
	for _, v := range va {
		scale = math.Max(scale, math.Abs(v))
	}
	for c := 0; c < s[1]; c++ {
		for y := 0; y < s[2]; y++ {
			for xx := 0; xx < s[3]; xx++ {
				y0, x0 := y*a.StrideH-a.Pads[0], xx*a.StrideW-a.Pads[1]
				i := (c*s[2]+y)*s[3] + xx
				if y0 >= 0 && x0 >= 0 && y0+a.KH <= ih && x0+a.KW <= iw {
					inside++
					worst = math.Max(worst, math.Abs(va[i]-vb[i]))
				} else if va[i] != vb[i] {
					border++
				}
			}
		}
	}
	if worst > 1e-9*scale {
		t.Errorf("pad-first form differs from the original inside the border by %.3g (scale %.3g)", worst, scale)
	}
	if border == 0 {
		t.Errorf("pad-first form equals the original at the border too: the rewrite did nothing")
	}
	t.Logf("pad-first vs original: %d interior values equal (max diff %.2g), %d border values differ", inside, worst, border)
}

// TestResNetBasicBlock: a ResNet basic block with its middle ReLU removed,
// 3x3 then 3x3 plus the identity residual, becomes one 5x5 (the residual a
// centre tap) in the pad-first form; with a downsample (3x3/s2, 3x3, skip
// 1x1/s2 + BatchNorm: an add of two linear functions of the input) one
// 7x7/s2. As imported (bias-map form) two padded 3x3 in a row are not one
// convolution: the merger says so.
func TestResNetBasicBlock(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprint("downsample=", down), func(t *testing.T) {
			b := graph.NewBuilder("resnet", 3, 10, 10)
			x := b.Conv("conv1", "input", 3, 8, 3, 1, 1, 1, false)
			x = b.BatchNorm("bn1", x, 8)
			x = b.Act("relu", x, graph.ActReLU, "")
			b.Block = "layer1.0"
			outC, s := 8, 1
			if down {
				outC, s = 16, 2
			}
			h := b.Conv("layer1.0.conv1", x, 8, outC, 3, s, 1, 1, false)
			h = b.BatchNorm("layer1.0.bn1", h, outC)
			h = b.Act("layer1.0.relu", h, graph.ActIdentity, "layer1.0")
			h = b.Conv("layer1.0.conv2", h, outC, outC, 3, 1, 1, 1, false)
			h = b.BatchNorm("layer1.0.bn2", h, outC)
			skip := x
			if down {
				skip = b.Conv("layer1.0.downsample.0", x, 8, outC, 1, 2, 0, 1, false)
				skip = b.BatchNorm("layer1.0.downsample.1", skip, outC)
			}
			h = b.Add("layer1.0.add", skip, h)
			b.Block = ""
			b.G.Blocks = append(b.G.Blocks, graph.Block{Name: "layer1.0", Kind: graph.BlockBasic, InC: 8, OutC: outC, Hidden: outC,
				Kernel: 3, Stride: s, Residual: true, Input: x, Output: h})
			out := b.Act("layer1.0.relu_out", h, graph.ActReLU, "")
			g, err := b.Finish(out)
			if err != nil {
				t.Fatal(err)
			}
			randomize(g, 41)
			seg := Segment{From: x, To: h}
			if _, _, err := Run(g, seg.From, seg.To, Options{}); !errors.Is(err, ErrNeedsPadFirst) {
				t.Errorf("bias-map form: %v, want ErrNeedsPadFirst", err)
			}
			_, brep, err := Merge(g, Options{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			if brep.Merged != 0 || len(brep.UnmergedNotes) != 1 || !strings.Contains(brep.UnmergedNotes[0], "block layer1.0 not merged") || !strings.Contains(brep.UnmergedNotes[0], "PadFirst") {
				t.Errorf("bias-map form: %d merged, notes %q; want none merged and the reason", brep.Merged, brep.UnmergedNotes)
			}
			pf, err := PadFirst(g, []Segment{seg})
			if err != nil {
				t.Fatal(err)
			}
			merged, rep, err := Merge(pf, Options{Segments: []Segment{seg}})
			if err != nil {
				t.Fatal(err)
			}
			want := "5x5"
			if down {
				want = "7x7/s2"
			}
			if rep.Merged != 1 || rep.Chains[0].Kernel != want || rep.Chains[0].BiasMap {
				t.Fatalf("chain %+v, want one %s without a bias map", rep.Chains, want)
			}
			if countOp(merged, graph.OpConv) != 2 || countOp(merged, graph.OpAdd) != 0 {
				t.Errorf("merged model has %d convs and %d adds, want 2 and 0", countOp(merged, graph.OpConv), countOp(merged, graph.OpAdd))
			}
			verifyRef(t, pf, merged, []string{seg.To}, 3)
			// The per-block default finds the same chain by itself.
			dm, drep, err := Merge(pf, Options{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			if drep.Merged != 1 || drep.Chains[0].Kernel != want || countOp(dm, graph.OpAdd) != 0 {
				t.Errorf("default chains %+v, want one %s with the residual", drep.Chains, want)
			}
			verifyRef(t, pf, dm, nil, 4)
		})
	}
}

// TestGroupedBottleneck: RegNet X's block (1x1, grouped 3x3, 1x1, with the
// identity or a 1x1/s2 projection skip) composes densely into one 3x3 in
// the model's own (bias-map) form: its only padded layer reads the input
// through a 1x1.
func TestGroupedBottleneck(t *testing.T) {
	for _, s := range []int{1, 2} {
		t.Run(fmt.Sprint("stride=", s), func(t *testing.T) {
			b := graph.NewBuilder("regnet", 16, 10, 10)
			x := "input"
			b.Block = "trunk.block1"
			w := 16
			outC := 16
			if s == 2 {
				outC = 24
			}
			// The projection first, as torchvision's forward (and its ONNX
			// export) computes it.
			skip := x
			if s == 2 {
				skip = b.Conv("proj", x, 16, outC, 1, 2, 0, 1, false)
				skip = b.BatchNorm("proj.bn", skip, outC)
			}
			h := b.Conv("a", x, 16, w, 1, 1, 0, 1, false)
			h = b.BatchNorm("a.bn", h, w)
			h = b.Act("a.relu", h, graph.ActIdentity, "trunk.block1")
			h = b.Conv("b", h, w, w, 3, s, 1, 4, false) // 4 groups of 4 channels
			h = b.BatchNorm("b.bn", h, w)
			h = b.Act("b.relu", h, graph.ActIdentity, "trunk.block1")
			h = b.Conv("c", h, w, outC, 1, 1, 0, 1, false)
			h = b.BatchNorm("c.bn", h, outC)
			h = b.Add("add", skip, h)
			b.Block = ""
			b.G.Blocks = append(b.G.Blocks, graph.Block{Name: "trunk.block1", Kind: graph.BlockBottleneck, Groups: 4, InC: 16, OutC: outC, Hidden: w,
				Kernel: 3, Stride: s, Residual: true, Input: x, Output: h})
			out := b.Act("relu", h, graph.ActReLU, "")
			g, err := b.Finish(out)
			if err != nil {
				t.Fatal(err)
			}
			randomize(g, 51)
			merged, rep, err := Merge(g, Options{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			want := "3x3"
			if s == 2 {
				want = "3x3/s2"
			}
			if rep.Merged != 1 || rep.Chains[0].Kernel != want || !rep.Chains[0].BiasMap || countOp(merged, graph.OpAdd) != 0 {
				t.Fatalf("chains %+v, want one dense %s with a border bias map", rep.Chains, want)
			}
			verifyRef(t, g, merged, []string{h}, 5)
			rg, ch, err := Run(g, x, h, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a := runConv(t, rg); a.Groups != 1 || ch.Kernel != want {
				t.Errorf("Run: groups %d kernel %s", a.Groups, ch.Kernel)
			}
			sub, err := Extract(g, x, h)
			if err != nil {
				t.Fatal(err)
			}
			verifyRef(t, sub, rg, nil, 6)
			if _, _, res, err := VerifyRun(g, x, h, Options{}, VerifyOptions{Executor: ExecReference, Tol: 1e-5}); err != nil || !res.OK {
				t.Errorf("VerifyRun: %v %+v", err, res)
			}
			// The pad-first form of the block merges without a bias map.
			pf, err := PadFirst(g, []Segment{{x, h}})
			if err != nil {
				t.Fatal(err)
			}
			pm, prep, err := Merge(pf, Options{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			if prep.Merged != 1 || prep.Chains[0].Kernel != want || prep.Chains[0].BiasMap || countOp(pm, graph.OpAdd) != 0 {
				t.Errorf("pad-first chains %+v, want one %s without a bias map", prep.Chains, want)
			}
			verifyRef(t, pf, pm, nil, 7)
		})
	}
}

// shuffleUnit builds a ShuffleNetV2 unit: stride 1 splits the channels and
// runs the branch (1x1, BN, ReLU, dw 3x3, BN, 1x1, BN, ReLU) on the second
// half; stride 2 runs two branches on the whole input. Then Concat and
// channel shuffle. The unit's unit name marks the branch's first ReLU
// removable; the plan-applied form has it as the identity.
func shuffleUnit(b *graph.Builder, name, x string, c, stride int) string {
	half := c / 2
	branch := func(p, in string, inC int) string {
		h := b.Conv(p+".0", in, inC, half, 1, 1, 0, 1, false)
		h = b.BatchNorm(p+".1", h, half)
		h = b.Act(p+".2", h, graph.ActIdentity, name)
		h = b.Conv(p+".3", h, half, half, 3, stride, 1, half, false)
		h = b.BatchNorm(p+".4", h, half)
		h = b.Conv(p+".5", h, half, half, 1, 1, 0, 1, false)
		h = b.BatchNorm(p+".6", h, half)
		return b.Act(p+".7", h, graph.ActReLU, "")
	}
	b.Block = name
	var a, bb string
	if stride == 1 {
		a = b.Slice(name+".split1", x, 0, half)
		bb = branch(name+".branch2", b.Slice(name+".split2", x, half, c), half)
	} else {
		a = b.Conv(name+".branch1.0", x, c, c, 3, 2, 1, c, false)
		a = b.BatchNorm(name+".branch1.1", a, c)
		a = b.Conv(name+".branch1.2", a, c, half, 1, 1, 0, 1, false)
		a = b.BatchNorm(name+".branch1.3", a, half)
		a = b.Act(name+".branch1.4", a, graph.ActReLU, "")
		bb = branch(name+".branch2", x, c)
	}
	y := b.Concat(name+".cat", a, bb)
	y = b.Shuffle(name+".shuffle", y, 2)
	b.Block = ""
	return y
}

// TestShuffleNetBranch: only the branch's chain merges (1x1, dw 3x3, 1x1
// into one 3x3); Slice, Concat, ChannelShuffle and MaxPool stay as they are
// and no chain crosses them.
func TestShuffleNetBranch(t *testing.T) {
	b := graph.NewBuilder("shufflenet", 3, 16, 16)
	x := b.Conv("conv1.0", "input", 3, 8, 3, 1, 1, 1, false)
	x = b.BatchNorm("conv1.1", x, 8)
	x = b.Act("conv1.2", x, graph.ActReLU, "")
	x = b.MaxPool("maxpool", x, 3, 2, 1)
	x = shuffleUnit(b, "stage2.0", x, 8, 2)
	x = shuffleUnit(b, "stage2.1", x, 8, 1)
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 61)
	merged, rep, err := Merge(g, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.Explain(&sb)
	// stage2.0: branch1 (dw 3x3/s2, 1x1) and branch2 (1x1, dw/s2, 1x1);
	// stage2.1: branch2. The stem conv is followed by a ReLU.
	want := map[string]string{"stage2.0.branch1.0": "3x3/s2", "stage2.0.branch2.0": "3x3/s2", "stage2.1.branch2.0": "3x3"}
	got := 0
	for _, c := range rep.Chains {
		if k, ok := want[c.Nodes[0]]; ok && c.Merged && c.Kernel == k {
			got++
		}
		for _, n := range c.Nodes {
			if op := g.Node(n).Op; op != graph.OpConv && op != graph.OpBatchNorm && op != graph.OpAct {
				t.Errorf("chain %s contains %s (%s)", c.Name, n, op)
			}
		}
	}
	if got != len(want) || rep.Merged != len(want) {
		t.Fatalf("want the three branch chains merged:\n%s", sb.String())
	}
	for _, op := range []graph.Op{graph.OpSlice, graph.OpConcat, graph.OpShuffle, graph.OpMaxPool} {
		if countOp(merged, op) != countOp(g, op) {
			t.Errorf("%s nodes: %d after the merge, %d before", op, countOp(merged, op), countOp(g, op))
		}
	}
	verifyRef(t, g, merged, rep.ChainOutputs(), 7)
	// A run across the Concat is refused with the reason.
	if _, _, err := Run(g, "stage2.0.cat", "stage2.1.cat", Options{}); err == nil || !strings.Contains(err.Error(), "Shuffle") {
		t.Errorf("run across the shuffle: %v", err)
	}
	if _, _, err := Run(g, "stage2.0.shuffle", "stage2.1.branch2.6", Options{}); err == nil || !strings.Contains(err.Error(), "Slice") {
		t.Errorf("run across the slice: %v", err)
	}
	rg, ch, err := Run(g, "stage2.1.split2", "stage2.1.branch2.6", Options{})
	if err != nil || ch.Kernel != "3x3" {
		t.Fatalf("branch run: %v, %+v", err, ch)
	}
	sub, err := Extract(g, "stage2.1.split2", "stage2.1.branch2.6")
	if err != nil {
		t.Fatal(err)
	}
	verifyRef(t, sub, rg, nil, 8)
}

// TestSqueezeExcitationSkipped: in an inverted residual block with
// squeeze-and-excitation the gate multiplies the depthwise output by a
// function of the input, so the block is not linear: a run over it is
// refused with that reason, and the default merge leaves the projection and
// the residual alone (it merges the expand and depthwise layers before the
// gate, which are linear).
func TestSqueezeExcitationSkipped(t *testing.T) {
	b := graph.NewBuilder("mbv3", 8, 8, 8)
	x := "input"
	b.Block = "features.1"
	h := b.Conv("features.1.expand", x, 8, 24, 1, 1, 0, 1, false)
	h = b.BatchNorm("features.1.expand.bn", h, 24)
	h = b.Act("features.1.expand.act", h, graph.ActIdentity, "features.1")
	h = b.Conv("features.1.dw", h, 24, 24, 3, 1, 1, 24, false)
	h = b.BatchNorm("features.1.dw.bn", h, 24)
	d := b.Act("features.1.dw.act", h, graph.ActIdentity, "features.1")
	s := b.GlobalAvgPool("features.1.se.pool", d)
	s = b.Conv("features.1.se.fc1", s, 24, 8, 1, 1, 0, 1, true)
	s = b.Act("features.1.se.relu", s, graph.ActReLU, "")
	s = b.Conv("features.1.se.fc2", s, 8, 24, 1, 1, 0, 1, true)
	s = b.Act("features.1.se.gate", s, graph.ActSigmoid, "")
	h = b.Mul("features.1.se.mul", d, s)
	h = b.Conv("features.1.project", h, 24, 8, 1, 1, 0, 1, false)
	h = b.BatchNorm("features.1.project.bn", h, 8)
	h = b.Add("features.1.add", x, h)
	b.Block = ""
	g, err := b.Finish(h)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 71)
	if _, _, err := Run(g, x, h, Options{}); err == nil || !strings.Contains(err.Error(), "squeeze-and-excitation") {
		t.Errorf("run over the SE block: %v, want the squeeze-and-excitation reason", err)
	}
	merged, rep, err := Merge(g, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.Explain(&sb)
	if rep.Merged != 1 || rep.Chains[0].Kernel != "3x3" || !strings.Contains(rep.Chains[0].Stop, "squeeze-and-excitation") {
		t.Errorf("want the expand+dw chain merged, stopped by the SE gate:\n%s", sb.String())
	}
	if len(rep.UnmergedNotes) != 1 || !strings.Contains(rep.UnmergedNotes[0], "features.1.se.mul of block features.1 is a squeeze-and-excitation gate") {
		t.Errorf("notes %q, want the SE block's reason", rep.UnmergedNotes)
	}
	if countOp(merged, graph.OpMul) != 1 || countOp(merged, graph.OpAdd) != 1 {
		t.Errorf("the gate and the residual must stay")
	}
	verifyRef(t, g, merged, rep.ChainOutputs(), 9)
}

// TestMNASNet: MNASNet's stem separable convolution (depthwise 3x3, then
// 1x1, with the activation between them removed) becomes one dense 3x3, and
// its 5x5 expansion-3 inverted residual blocks merge each on their own (bias
// map form) or, as one run of three blocks, into one 21x21/s2 convolution in
// the pad-first form.
func TestMNASNet(t *testing.T) {
	b := graph.NewBuilder("mnasnet", 3, 16, 16)
	x := b.Conv("layers.0", "input", 3, 8, 3, 2, 1, 1, false)
	x = b.BatchNorm("layers.1", x, 8)
	x = b.Act("layers.2", x, graph.ActReLU, "")
	x = b.Conv("layers.3", x, 8, 8, 3, 1, 1, 8, false)
	x = b.BatchNorm("layers.4", x, 8)
	x = b.Act("layers.5", x, graph.ActIdentity, "")
	x = b.Conv("layers.6", x, 8, 16, 1, 1, 0, 1, false)
	x = b.BatchNorm("layers.7", x, 16)
	inC := 16
	for i, s := range []blockSpec{{24, 3, 5, 2}, {24, 3, 5, 1}, {24, 3, 5, 1}} {
		x = invertedResidual(b, fmt.Sprintf("layers.8.%d", i), x, inC, s.out, s.stride, s.expand, s.kernel)
		inC = s.out
	}
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 81)
	applied := applyAll(t, g, false)
	merged, rep, err := Merge(applied, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	kernels := []string{}
	for _, c := range rep.Chains {
		if c.Merged {
			kernels = append(kernels, c.Kernel)
		}
	}
	if strings.Join(kernels, ",") != "3x3,5x5/s2,5x5,5x5" {
		t.Errorf("merged chains %v, want the stem's 3x3 and the three blocks' 5x5", kernels)
	}
	verifyRef(t, applied, merged, rep.ChainOutputs(), 11)
	seg := Segment{From: applied.Blocks[0].Input, To: applied.Blocks[2].Output}
	pf, err := PadFirst(applied, []Segment{seg})
	if err != nil {
		t.Fatal(err)
	}
	pm, prep, err := Merge(pf, Options{Segments: []Segment{seg}})
	if err != nil {
		t.Fatal(err)
	}
	if prep.Merged != 1 || prep.Chains[0].Kernel != "21x21/s2" || prep.Chains[0].BiasMap {
		t.Fatalf("run %+v, want one 21x21/s2 without a bias map", prep.Chains)
	}
	verifyRef(t, pf, pm, []string{seg.To}, 12)
}

// applyLin evaluates l on x ([inC, inH, inW]) in float64: the zero-padded
// convolution plus the bias and the bias map.
func applyLin(l *lin, x []float64) []float64 {
	out := make([]float64, l.outC*l.outH*l.outW)
	for o := 0; o < l.outC; o++ {
		g := o / l.kpg()
		for y := 0; y < l.outH; y++ {
			for xx := 0; xx < l.outW; xx++ {
				s := 0.0
				if l.b != nil {
					s = l.b[o]
				}
				if l.m != nil {
					s += l.m[(o*l.outH+y)*l.outW+xx]
				}
				for il := 0; il < l.cpg(); il++ {
					i := g*l.cpg() + il
					for ky := 0; ky < l.kh; ky++ {
						iy := y*l.sh - l.pads[0] + ky
						for kx := 0; kx < l.kw; kx++ {
							ix := xx*l.sw - l.pads[1] + kx
							if iy >= 0 && iy < l.inH && ix >= 0 && ix < l.inW {
								s += l.w[l.widx(o, il, ky, kx)] * x[(i*l.inH+iy)*l.inW+ix]
							}
						}
					}
				}
				out[(o*l.outH+y)*l.outW+xx] = s
			}
		}
	}
	return out
}

// TestNoSingleConvAcrossPaddedLayers checks docs/merge.md's claim: two
// padded 3x3 convolutions in a row composed into one 5x5 (with the bias map
// compose would give) equal the chain in the interior, but at the border
// they differ by an amount that depends on the input, so no bias map (a
// constant) can make them equal. The merger refuses such a run in the
// bias-map form for that reason.
func TestNoSingleConvAcrossPaddedLayers(t *testing.T) {
	b := graph.NewBuilder("two3x3", 2, 6, 6)
	x := b.Conv("c1", "input", 2, 3, 3, 1, 1, 1, true)
	x = b.Conv("c2", x, 3, 2, 3, 1, 1, 1, true)
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 91)
	shapes, err := g.Shapes(1)
	if err != nil {
		t.Fatal(err)
	}
	a, err := linFromConv(g, g.Nodes[0], shapes["input"])
	if err != nil {
		t.Fatal(err)
	}
	c, err := linFromConv(g, g.Nodes[1], shapes[g.Nodes[0].Output])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compose(a, c); err == nil {
		t.Fatal("compose accepted two padded 3x3 in a row")
	}
	naive, err := composeChecked(a, c, false)
	if err != nil {
		t.Fatal(err)
	}
	diff := func(seed uint64) []float64 {
		x := seededImage(g, seed)
		chain := applyLin(c, applyLin(a, f64(x)))
		d := applyLin(naive, f64(x))
		for i := range d {
			d[i] -= chain[i]
		}
		return d
	}
	d1, d2 := diff(1), diff(2)
	interior, border := 0.0, 0.0
	for o := 0; o < 2; o++ {
		for y := 0; y < 6; y++ {
			for xx := 0; xx < 6; xx++ {
				i := (o*6+y)*6 + xx
				if y >= 2 && y < 4 && xx >= 2 && xx < 4 {
					interior = math.Max(interior, math.Max(math.Abs(d1[i]), math.Abs(d2[i])))
				} else {
					// A constant map would make d1 == d2.
					border = math.Max(border, math.Abs(d1[i]-d2[i]))
				}
			}
		}
	}
	if interior > 1e-12 {
		t.Errorf("naive merge differs in the interior by %.3g", interior)
	}
	if border < 1e-3 {
		t.Errorf("naive merge's border error does not depend on the input (%.3g): a bias map would do", border)
	}
	t.Logf("naive 5x5: interior exact (%.2g), border error varies with the input by up to %.3g", interior, border)
	if _, _, err := Run(g, "input", x, Options{}); !errors.Is(err, ErrNeedsPadFirst) {
		t.Errorf("Run: %v, want ErrNeedsPadFirst", err)
	}
}

// TestRunErrors: runs that are not one linear, closed run are refused with
// the reason, naming the value or node.
func TestRunErrors(t *testing.T) {
	g := buildNet(t, 3, 3, 8, []blockSpec{{8, 3, 3, 1}, {8, 2, 3, 1}, {12, 2, 3, 2}})
	applied := applyAll(t, g, false)
	b0, b1, b2 := applied.Blocks[0], applied.Blocks[1], applied.Blocks[2]
	cases := []struct {
		name     string
		from, to string
		want     string
	}{
		{"unknown input", "nope", b0.Output, `no value "nope"`},
		{"unknown output", b0.Input, "nope", `no node computes "nope"`},
		{"empty", b0.Input, b0.Input, "empty"},
		{"backwards", b1.Output, b0.Output, "is not computed from"},
		{"inner value read outside", b0.Input, "features.2.conv.3", "outside the run reads"},
		{"non-linear activation", "input", b0.Output, "non-linear activation"},
		{"ends at a conv before its BatchNorm", b0.Input, "features.1.conv.2", "folds into it"},
		{"fed from outside", "features.2.conv.0.2", b1.Output, "not computed from the run's input"},
	}
	for _, c := range cases {
		if _, _, err := Run(applied, c.from, c.to, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Run error %v, want %q", c.name, err, c.want)
		}
	}
	segs := []Segment{{b0.Input, b1.Output}, {b1.Input, b2.Output}}
	pf, err := PadFirst(applied, segs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Merge(pf, Options{Segments: segs}); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("overlapping segments: %v", err)
	}
	if _, _, err := Merge(applied, Options{PadFirst: true}); err == nil {
		t.Error("Merge accepted the PadFirst option")
	}
	if _, err := PadFirst(applied, []Segment{{"input", b0.Output}}); err == nil || !strings.Contains(err.Error(), "non-linear") {
		t.Errorf("PadFirst over a ReLU6: %v", err)
	}
}
