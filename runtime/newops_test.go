package runtime

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/runtime/testmodels"
)

// randomize gives g deterministic weights, non-trivial BatchNorm statistics
// and random conv and linear biases.
func randomize(g *graph.Graph, seed uint64) {
	g.InitParams(seed)
	testmodels.RandomizeBN(g, seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	for name, t := range g.Params {
		if strings.HasSuffix(name, ".bias") && g.Node(strings.TrimSuffix(name, ".bias")) != nil {
			if n := g.Node(strings.TrimSuffix(name, ".bias")); n.Op == graph.OpConv || n.Op == graph.OpLinear {
				t.RandN(rng, 0.3)
			}
		}
	}
}

// cbr adds conv, BatchNorm and (unless act is empty) an activation.
func cbr(b *graph.Builder, name, x string, in, out, k, s, groups int, act graph.ActKind) string {
	x = b.Conv(name, x, in, out, k, s, k/2, groups, false)
	x = b.BatchNorm(name+".bn", x, out)
	if act != "" {
		x = b.Act(name+".act", x, act, "")
	}
	return x
}

func finish(t testing.TB, b *graph.Builder, out string, seed uint64) *graph.Graph {
	t.Helper()
	g, err := b.Finish(out)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, seed)
	return g
}

// stepKinds counts the compiled steps by kind.
func stepKinds(t *testing.T, g *graph.Graph) map[string]int {
	t.Helper()
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := map[string]int{}
	for _, s := range p.Steps() {
		k[s.Kind]++
	}
	return k
}

// TestPooling covers max and average pooling: 3x3 stride 2 pad 1 (the
// ResNet stem, where padding must not win the max of negative values),
// ceil mode with windows past the padding, both average divisors,
// asymmetric padding, a pooled graph input, and pooled values read by a
// padded convolution and written as the output.
func TestPooling(t *testing.T) {
	type cfg struct {
		max          bool
		k, s         int
		pads         [4]int
		ceil, incPad bool
	}
	cfgs := []cfg{
		{max: true, k: 3, s: 2, pads: [4]int{1, 1, 1, 1}},
		{max: true, k: 3, s: 2, pads: [4]int{0, 0, 0, 0}, ceil: true},
		{max: true, k: 2, s: 2, pads: [4]int{1, 0, 0, 1}, ceil: true},
		{max: true, k: 3, s: 1, pads: [4]int{1, 1, 1, 1}},
		{k: 3, s: 2, pads: [4]int{1, 1, 1, 1}, incPad: true},
		{k: 3, s: 2, pads: [4]int{1, 1, 1, 1}},
		{k: 3, s: 2, pads: [4]int{1, 1, 1, 1}, ceil: true, incPad: true},
		{k: 2, s: 2, pads: [4]int{0, 1, 1, 0}, ceil: true},
		{k: 5, s: 3, pads: [4]int{2, 1, 0, 2}, ceil: true, incPad: true},
	}
	for i, c := range cfgs {
		for _, onInput := range []bool{false, true} {
			name := fmt.Sprintf("pool%d", i)
			b := graph.NewBuilder(name, 3, 13, 11)
			x := "input"
			ch := 3
			if !onInput {
				x = b.Conv("c0", x, 3, 20, 3, 1, 1, 1, true) // no activation: negative values
				ch = 20
			}
			if c.max {
				x = b.MaxPool("pool", x, c.k, c.s, 0)
			} else {
				x = b.AvgPool("pool", x, c.k, c.s, 0, c.incPad)
			}
			pa := b.G.Node("pool").Pool
			pa.Pads, pa.CeilMode = c.pads, c.ceil
			if onInput {
				x = b.Conv("c1", x, ch, 18, 3, 1, 1, 1, true)
			}
			g := finish(t, b, x, uint64(i+1))
			check(t, g, 2, 1)
			check(t, g, 3, 2)
		}
	}
}

// TestMulGate covers squeeze-and-excitation gates (GlobalAvgPool, 1x1 convs
// on the [N,C,1,1] value, hardsigmoid or sigmoid, Mul) with a residual
// around them, a same-shape Mul and a softmax at the end.
func TestMulGate(t *testing.T) {
	for _, gate := range []graph.ActKind{graph.ActHardSigmoid, graph.ActSigmoid} {
		b := graph.NewBuilder("se_"+string(gate), 5, 10, 9)
		x := cbr(b, "stem", "input", 5, 24, 3, 1, 1, graph.ActSiLU)
		s := b.GlobalAvgPool("se.gap", x)
		s = b.Conv("se.fc1", s, 24, 6, 1, 1, 0, 1, true)
		s = b.Act("se.relu", s, graph.ActReLU, "")
		s = b.Conv("se.fc2", s, 6, 24, 1, 1, 0, 1, true)
		s = b.Act("se.gate", s, gate, "")
		y := b.Mul("se.mul", x, s)
		y = cbr(b, "proj", y, 24, 24, 1, 1, 1, "")
		y = b.Add("res", y, x)
		z := b.Mul("sq", y, y)
		z = b.GlobalAvgPool("gap", z)
		z = b.Flatten("flat", z)
		z = b.Linear("fc", z, 24, 10, true)
		z = b.Softmax("softmax", z)
		g := finish(t, b, z, 4)
		k := stepKinds(t, g)
		if k["mul"] != 2 || k["softmax"] != 1 {
			t.Errorf("steps %v, want 2 mul and a softmax", k)
		}
		check(t, g, 3, 1)
		check(t, g, 2, 2)
	}
}

// TestActivations checks sigmoid, SiLU and hardsigmoid fused into
// convolutions and as separate steps, over a wide range of inputs.
func TestActivations(t *testing.T) {
	for _, act := range []graph.ActKind{graph.ActSigmoid, graph.ActSiLU, graph.ActHardSigmoid} {
		b := graph.NewBuilder("act_"+string(act), 3, 7, 6)
		x := b.Act("a0", "input", act, "") // standalone: the input is no conv
		x = b.Conv("c1", x, 3, 17, 3, 1, 1, 1, true)
		x = b.Act("a1", x, act, "")
		x = b.Conv("c2", x, 17, 17, 3, 1, 1, 17, true)
		x = b.Act("a2", x, act, "")
		g := finish(t, b, x, 6)
		for _, name := range []string{"c1.weight", "c2.weight"} {
			w := g.Params[name]
			for i := range w.Data {
				w.Data[i] *= 8 // outputs far into the tails
			}
		}
		check(t, g, 2, 2)
	}
}

// TestChannelOps covers Concat, Slice and ChannelShuffle: ShuffleNetV2 units
// whose 58 and 116 channels split off block boundaries, a block-aligned
// slice and concat, a shuffle as the output, and a concat of three.
func TestChannelOps(t *testing.T) {
	b := graph.NewBuilder("channels", 3, 12, 10)
	x := cbr(b, "stem", "input", 3, 116, 3, 1, 1, graph.ActReLU)
	x = shuffleUnit(b, "u1", x, 116, 1)
	x = shuffleUnit(b, "u2", x, 116, 1)
	a := b.Slice("a", x, 16, 48) // block-aligned
	c := b.Slice("c", x, 3, 40)
	y := b.Concat("cat3", a, c, a)
	y = b.Conv("mix", y, 32+37+32, 40, 1, 1, 0, 1, true)
	y = b.Shuffle("shuf4", y, 4)
	g := finish(t, b, y, 7)
	k := stepKinds(t, g)
	if k["gather"] > 6 {
		t.Errorf("%d gather steps, want the concat-shuffle-slice chains composed: %v", k["gather"], k)
	}
	check(t, g, 3, 1)
	check(t, g, 2, 2)
}

// shuffleUnit is a ShuffleNetV2 unit (stride 1: split in halves, the right
// one through the branch; stride 2: both branches on the whole input).
func shuffleUnit(b *graph.Builder, name, x string, c, stride int) string {
	return shuffleUnitIO(b, name, x, c, c, stride)
}

// shuffleUnitIO is shuffleUnit from in to c channels (stride 2 when in != c).
func shuffleUnitIO(b *graph.Builder, name, x string, in, c, stride int) string {
	half := c / 2
	var left, right string
	rin := half
	if stride == 1 {
		left = b.Slice(name+".l", x, 0, half)
		right = b.Slice(name+".r", x, half, c)
	} else {
		left = cbr(b, name+".b1dw", x, in, in, 3, 2, in, "")
		left = cbr(b, name+".b1pw", left, in, half, 1, 1, 1, graph.ActReLU)
		right, rin = x, in
	}
	right = cbr(b, name+".pw1", right, rin, half, 1, 1, 1, graph.ActReLU)
	right = cbr(b, name+".dw", right, half, half, 3, stride, half, "")
	right = cbr(b, name+".pw2", right, half, half, 1, 1, 1, graph.ActReLU)
	y := b.Concat(name+".cat", left, right)
	return b.Shuffle(name+".shuffle", y, 2)
}

// TestGroupedConv covers grouped convolutions with neither 1 nor C groups:
// groups of 8 channels over 48 and 104 (104 is not a multiple of 16),
// groups of 24 (across block boundaries), strides 1 and 2.
func TestGroupedConv(t *testing.T) {
	for _, c := range []struct{ ch, per, stride int }{{48, 8, 2}, {104, 8, 1}, {48, 24, 1}, {40, 20, 2}} {
		b := graph.NewBuilder(fmt.Sprintf("grouped%d_%d", c.ch, c.per), 4, 11, 9)
		x := cbr(b, "stem", "input", 4, c.ch, 3, 1, 1, graph.ActReLU)
		x = cbr(b, "g", x, c.ch, c.ch, 3, c.stride, c.ch/c.per, graph.ActReLU)
		x = b.Conv("g2", x, c.ch, c.ch, 3, 1, 1, c.ch/c.per, true)
		g := finish(t, b, x, 8)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Steps() {
			if s.Name != "g2" {
				continue
			}
			// Groups that cover most blocks run as Winograd on the dense
			// expansion; the others direct on their groups' blocks.
			if want := map[bool]string{true: "winograd", false: "direct"}[c.per > blk]; s.Kernel != want {
				t.Errorf("%s: g2 runs %s, want %s", g.Name, s.Kernel, want)
			}
			hw := 11 * 9
			if c.stride == 2 {
				hw = 6 * 5
			}
			if want := int64(c.ch * c.per * 9 * hw); s.MACs != want {
				t.Errorf("%s: g2 counts %d MACs, want %d", g.Name, s.MACs, want)
			}
		}
		check(t, g, 2, 1)
		check(t, g, 3, 2)
	}
}

// Whole models, one small model per family shape.

// resnetLike is a ResNet-18-like model: 7x7 stride 2 stem, 3x3 stride 2 max
// pooling, basic blocks (one with a strided 1x1 shortcut).
func resnetLike(t *testing.T) *graph.Graph {
	b := graph.NewBuilder("resnet_like", 3, 40, 40)
	x := cbr(b, "stem", "input", 3, 16, 7, 2, 1, graph.ActReLU)
	x = b.MaxPool("maxpool", x, 3, 2, 1)
	basic := func(name, x string, in, out, stride int) string {
		y := cbr(b, name+".c1", x, in, out, 3, stride, 1, graph.ActReLU)
		y = cbr(b, name+".c2", y, out, out, 3, 1, 1, "")
		sc := x
		if stride != 1 || in != out {
			sc = cbr(b, name+".down", x, in, out, 1, stride, 1, "")
		}
		y = b.Add(name+".add", y, sc)
		return b.Act(name+".relu", y, graph.ActReLU, "")
	}
	x = basic("l1", x, 16, 16, 1)
	x = basic("l2", x, 16, 32, 2)
	x = b.GlobalAvgPool("gap", x)
	x = b.Flatten("flat", x)
	x = b.Linear("fc", x, 32, 10, true)
	return finish(t, b, x, 11)
}

// seBlock is an inverted residual with squeeze-and-excitation: expand,
// depthwise, SE (reduce to se channels, gate act), project, residual.
func seBlock(b *graph.Builder, name, x string, in, hidden, out, k, stride, se int, act, gate graph.ActKind) string {
	y := x
	if hidden != in {
		y = cbr(b, name+".exp", x, in, hidden, 1, 1, 1, act)
	}
	y = cbr(b, name+".dw", y, hidden, hidden, k, stride, hidden, act)
	s := b.GlobalAvgPool(name+".se.gap", y)
	s = b.Conv(name+".se.fc1", s, hidden, se, 1, 1, 0, 1, true)
	if act == graph.ActSiLU {
		s = b.Act(name+".se.act", s, graph.ActSiLU, "")
	} else {
		s = b.Act(name+".se.act", s, graph.ActReLU, "")
	}
	s = b.Conv(name+".se.fc2", s, se, hidden, 1, 1, 0, 1, true)
	s = b.Act(name+".se.gate", s, gate, "")
	y = b.Mul(name+".se.mul", y, s)
	y = cbr(b, name+".proj", y, hidden, out, 1, 1, 1, "")
	if stride == 1 && in == out {
		y = b.Add(name+".add", y, x)
	}
	return y
}

// mobileNetV3Like has hardswish, SE blocks with hardsigmoid gates and a
// head 1x1 conv on the pooled value.
func mobileNetV3Like(t *testing.T) *graph.Graph {
	b := graph.NewBuilder("mnv3_like", 3, 32, 32)
	x := cbr(b, "stem", "input", 3, 16, 3, 2, 1, graph.ActHardSwish)
	x = seBlock(b, "b1", x, 16, 16, 16, 3, 1, 8, graph.ActReLU, graph.ActHardSigmoid)
	x = seBlock(b, "b2", x, 16, 72, 24, 5, 2, 24, graph.ActHardSwish, graph.ActHardSigmoid)
	x = seBlock(b, "b3", x, 24, 96, 24, 5, 1, 24, graph.ActHardSwish, graph.ActHardSigmoid)
	x = cbr(b, "last", x, 24, 96, 1, 1, 1, graph.ActHardSwish)
	x = b.GlobalAvgPool("gap", x)
	x = b.Conv("head", x, 96, 128, 1, 1, 0, 1, true)
	x = b.Act("head.act", x, graph.ActHardSwish, "")
	x = b.Flatten("flat", x)
	x = b.Linear("fc", x, 128, 10, true)
	return finish(t, b, x, 12)
}

// efficientNetLike has SiLU everywhere and sigmoid SE gates, ending in a
// softmax.
func efficientNetLike(t *testing.T) *graph.Graph {
	b := graph.NewBuilder("effnet_like", 3, 32, 32)
	x := cbr(b, "stem", "input", 3, 32, 3, 2, 1, graph.ActSiLU)
	x = seBlock(b, "b1", x, 32, 32, 16, 3, 1, 8, graph.ActSiLU, graph.ActSigmoid)
	x = seBlock(b, "b2", x, 16, 96, 24, 3, 2, 4, graph.ActSiLU, graph.ActSigmoid)
	x = seBlock(b, "b3", x, 24, 144, 24, 5, 1, 6, graph.ActSiLU, graph.ActSigmoid)
	x = cbr(b, "head", x, 24, 64, 1, 1, 1, graph.ActSiLU)
	x = b.GlobalAvgPool("gap", x)
	x = b.Flatten("flat", x)
	x = b.Dropout("drop", x, 0.2)
	x = b.Linear("fc", x, 64, 10, true)
	x = b.Softmax("softmax", x)
	return finish(t, b, x, 13)
}

// shuffleNetLike has ShuffleNetV2's stem (conv, max pool), stride-2 and
// stride-1 units with 58/116 channel splits, and its head.
func shuffleNetLike(t *testing.T) *graph.Graph {
	b := graph.NewBuilder("shufflenet_like", 3, 48, 48)
	x := cbr(b, "stem", "input", 3, 24, 3, 2, 1, graph.ActReLU)
	x = b.MaxPool("maxpool", x, 3, 2, 1)
	// The first unit of a stage maps 24 -> 116: branches of 58 each.
	l := cbr(b, "s2.0.b1dw", x, 24, 24, 3, 2, 24, "")
	l = cbr(b, "s2.0.b1pw", l, 24, 58, 1, 1, 1, graph.ActReLU)
	r := cbr(b, "s2.0.pw1", x, 24, 58, 1, 1, 1, graph.ActReLU)
	r = cbr(b, "s2.0.dw", r, 58, 58, 3, 2, 58, "")
	r = cbr(b, "s2.0.pw2", r, 58, 58, 1, 1, 1, graph.ActReLU)
	x = b.Shuffle("s2.0.shuffle", b.Concat("s2.0.cat", l, r), 2)
	x = shuffleUnit(b, "s2.1", x, 116, 1)
	x = shuffleUnit(b, "s2.2", x, 116, 1)
	x = shuffleUnit(b, "s3.0", x, 116, 2) // 116 -> 116 at half the size
	x = shuffleUnit(b, "s3.1", x, 116, 1)
	x = cbr(b, "conv5", x, 116, 64, 1, 1, 1, graph.ActReLU)
	x = b.GlobalAvgPool("gap", x)
	x = b.Flatten("flat", x)
	x = b.Linear("fc", x, 64, 10, true)
	return finish(t, b, x, 14)
}

// regNetLike has RegNetX bottlenecks: 1x1, grouped 3x3 (groups of 8
// channels), 1x1, with strided shortcuts.
func regNetLike(t *testing.T) *graph.Graph {
	b := graph.NewBuilder("regnet_like", 3, 32, 32)
	x := cbr(b, "stem", "input", 3, 32, 3, 2, 1, graph.ActReLU)
	bottleneck := func(name, x string, in, out, stride, per int) string {
		y := cbr(b, name+".a", x, in, out, 1, 1, 1, graph.ActReLU)
		y = cbr(b, name+".b", y, out, out, 3, stride, out/per, graph.ActReLU)
		y = cbr(b, name+".c", y, out, out, 1, 1, 1, "")
		sc := x
		if stride != 1 || in != out {
			sc = cbr(b, name+".proj", x, in, out, 1, stride, 1, "")
		}
		return b.Act(name+".relu", b.Add(name+".add", y, sc), graph.ActReLU, "")
	}
	x = bottleneck("s1.0", x, 32, 48, 2, 8)
	x = bottleneck("s1.1", x, 48, 48, 1, 8)
	x = bottleneck("s2.0", x, 48, 104, 2, 8)
	x = b.GlobalAvgPool("gap", x)
	x = b.Flatten("flat", x)
	x = b.Linear("fc", x, 104, 10, true)
	return finish(t, b, x, 15)
}

func familyModels(t *testing.T) []*graph.Graph {
	return []*graph.Graph{resnetLike(t), mobileNetV3Like(t), efficientNetLike(t), shuffleNetLike(t), regNetLike(t)}
}

// TestFamilyModels runs one small model of each imported family's shape
// against the float64 reference under every ISA level, batch 1 and 3 (and
// 2), threads 1 and 2.
func TestFamilyModels(t *testing.T) {
	for _, g := range familyModels(t) {
		t.Run(g.Name, func(t *testing.T) {
			check(t, g, 3, 1)
			check(t, g, 2, 2)
		})
	}
}

// TestFamilyZeroAllocs checks that Run allocates nothing with the new steps.
func TestFamilyZeroAllocs(t *testing.T) {
	for _, g := range familyModels(t) {
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
			if a := testing.AllocsPerRun(10, func() { _ = p.Run(x, out) }); a != 0 {
				t.Errorf("%s threads %d: %v allocations per Run, want 0", g.Name, th, a)
			}
		}
	}
}
