package reference

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/dshrink/dshrink/graph"
)

// A hand-computed 1x1x3x3 conv with padding 1 and a bias map checks the loops.
func TestConvByHand(t *testing.T) {
	b := graph.NewBuilder("t", 1, 3, 3)
	y := b.Conv("c", "input", 1, 1, 3, 1, 1, 1, true)
	g, err := b.Finish(y)
	if err != nil {
		t.Fatal(err)
	}
	g.Params["c.weight"].Fill(1)
	g.Params["c.bias"].Data[0] = 0.5
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	vals, _, err := Forward(g, x, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Sums of 3x3 neighbourhoods with zero padding, plus 0.5.
	want := []float64{12, 21, 16, 27, 45, 33, 24, 39, 28}
	for i, w := range want {
		if got := vals["c"][i]; math.Abs(got-(w+0.5)) > 1e-12 {
			t.Errorf("y[%d] = %g, want %g", i, got, w+0.5)
		}
	}
}

func TestActs(t *testing.T) {
	cases := []struct {
		k    graph.ActKind
		x, y float64
	}{{graph.ActReLU, -1, 0}, {graph.ActReLU6, 7, 6}, {graph.ActHardSwish, 1, 1 * 4.0 / 6}, {graph.ActHardSigmoid, -4, 0}, {graph.ActIdentity, -2, -2},
		{graph.ActSigmoid, 0, 0.5}, {graph.ActSigmoid, math.Log(3), 0.75}, {graph.ActSiLU, math.Log(3), math.Log(3) * 0.75}, {graph.ActSiLU, -math.Log(3), -math.Log(3) * 0.25}}
	for _, c := range cases {
		if got := Act(c.k, c.x); math.Abs(got-c.y) > 1e-12 {
			t.Errorf("%s(%g) = %g, want %g", c.k, c.x, got, c.y)
		}
	}
}

// run builds a one-node graph on a [c, h, w] input with add and evaluates it
// on x (batch 1), returning the node's output.
func run(t *testing.T, c, h, w int, x []float32, add func(b *graph.Builder) string) []float64 {
	t.Helper()
	b := graph.NewBuilder("t", c, h, w)
	y := add(b)
	g, err := b.Finish(y)
	if err != nil {
		t.Fatal(err)
	}
	g.InitParams(1)
	vals, _, err := Forward(g, x, 1)
	if err != nil {
		t.Fatal(err)
	}
	return vals[y]
}

func check(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("%s: y[%d] = %g, want %g (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

// pool1 adds a pooling node with a 1x3 window, stride 2 and one column of
// padding on each side in ceil mode: on a row of 6 it has 4 windows, the last
// starting on the last column and hanging over the padding and past it.
func pool1(op graph.Op, countPad bool) func(b *graph.Builder) string {
	return func(b *graph.Builder) string {
		a := &graph.PoolAttr{KH: 1, KW: 3, StrideH: 1, StrideW: 2, Pads: [4]int{0, 1, 0, 1}, CeilMode: true, CountIncludePad: countPad}
		b.G.Nodes = append(b.G.Nodes, &graph.Node{Name: "p", Op: op, Inputs: []string{"input"}, Output: "p", Pool: a})
		return "p"
	}
}

// Pooling edge cases by hand, following PyTorch's avg_pool2d/max_pool2d:
// windows [-1,2), [1,4), [3,6), [5,8) over columns 0..5 with padding at -1
// and 6. The average's count_include_pad divisor clips the window to the
// input plus padding (so the last window counts 2, not 3); without it, only
// in-bounds cells count. Padding never wins the max.
func TestPoolCeilByHand(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}
	check(t, "avg ceil, pad excluded", run(t, 1, 1, 6, x, pool1(graph.OpAvgPool, false)), []float64{3.0 / 2, 9.0 / 3, 15.0 / 3, 6.0 / 1})
	check(t, "avg ceil, pad included", run(t, 1, 1, 6, x, pool1(graph.OpAvgPool, true)), []float64{3.0 / 3, 9.0 / 3, 15.0 / 3, 6.0 / 2})
	check(t, "max ceil", run(t, 1, 1, 6, x, pool1(graph.OpMaxPool, false)), []float64{2, 4, 6, 6})
	neg := []float32{-1, -2, -3, -4, -5, -6}
	check(t, "max ceil, negative", run(t, 1, 1, 6, neg, pool1(graph.OpMaxPool, false)), []float64{-1, -2, -4, -6})
	nan := []float32{1, float32(math.NaN()), 3, 4, 5, 6}
	if got := run(t, 1, 1, 6, nan, pool1(graph.OpMaxPool, false)); !math.IsNaN(got[0]) || !math.IsNaN(got[1]) || got[2] != 6 {
		t.Errorf("max with NaN in column 1: %v, want NaN in the two windows over it, then 6", got)
	}
}

// A 3x3 window, stride 2, padding 1 over 4x4 values 1..16 (floor mode):
// window sums 14, 30, 57, 99 over 4, 6, 6 and 9 in-bounds cells.
func TestAvgPoolByHand(t *testing.T) {
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i + 1)
	}
	excl := func(b *graph.Builder) string { return b.AvgPool("p", "input", 3, 2, 1, false) }
	incl := func(b *graph.Builder) string { return b.AvgPool("p", "input", 3, 2, 1, true) }
	check(t, "avg, pad excluded", run(t, 1, 4, 4, x, excl), []float64{14.0 / 4, 30.0 / 6, 57.0 / 6, 99.0 / 9})
	check(t, "avg, pad included", run(t, 1, 4, 4, x, incl), []float64{14.0 / 9, 30.0 / 9, 57.0 / 9, 99.0 / 9})
	mp := func(b *graph.Builder) string { return b.MaxPool("p", "input", 3, 2, 1) }
	check(t, "max", run(t, 1, 4, 4, x, mp), []float64{6, 8, 14, 16})
}

// Channel ops on planes whose values name their channel (channel c holds
// 10c and 10c+1).
func TestChannelOpsByHand(t *testing.T) {
	x := make([]float32, 12)
	for i := range x {
		x[i] = float32(10*(i/2) + i%2)
	}
	plane := func(cs ...int) []float64 {
		var out []float64
		for _, c := range cs {
			out = append(out, float64(10*c), float64(10*c+1))
		}
		return out
	}
	shuffle := func(b *graph.Builder) string { return b.Shuffle("s", "input", 2) }
	// view(2, 3).transpose: output channel j*2+i is input channel i*3+j.
	check(t, "shuffle 2", run(t, 6, 1, 2, x, shuffle), plane(0, 3, 1, 4, 2, 5))
	shuffle3 := func(b *graph.Builder) string { return b.Shuffle("s", "input", 3) }
	check(t, "shuffle 3", run(t, 6, 1, 2, x, shuffle3), plane(0, 2, 4, 1, 3, 5))
	split := func(b *graph.Builder) string {
		l := b.Slice("l", "input", 0, 2)
		r := b.Slice("r", "input", 2, 6)
		return b.Concat("c", r, l)
	}
	check(t, "slice, concat", run(t, 6, 1, 2, x, split), plane(2, 3, 4, 5, 0, 1))
	gate := func(b *graph.Builder) string {
		g := b.GlobalAvgPool("g", "input") // channel c: 10c + 0.5
		return b.Mul("m", "input", g)
	}
	var want []float64
	for i, v := range x {
		want = append(want, float64(v)*(10*float64(i/2)+0.5))
	}
	check(t, "mul, broadcast gate", run(t, 6, 1, 2, x, gate), want)
	sq := func(b *graph.Builder) string { return b.Mul("m", "input", "input") }
	want = want[:0]
	for _, v := range x {
		want = append(want, float64(v)*float64(v))
	}
	check(t, "mul, same shape", run(t, 6, 1, 2, x, sq), want)
}

// A grouped 1x1 convolution (4 channels in 2 groups, weights 1) sums the
// channels of its own group only.
func TestGroupedConvByHand(t *testing.T) {
	b := graph.NewBuilder("t", 4, 1, 1)
	y := b.Conv("c", "input", 4, 4, 1, 1, 0, 2, false)
	g, err := b.Finish(y)
	if err != nil {
		t.Fatal(err)
	}
	g.Params["c.weight"].Fill(1)
	vals, _, err := Forward(g, []float32{1, 2, 3, 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "grouped conv", vals[y], []float64{3, 3, 7, 7})
}

func TestSoftmaxByHand(t *testing.T) {
	b := graph.NewBuilder("t", 3, 1, 1)
	f := b.Flatten("f", "input")
	y := b.Softmax("s", f)
	g, err := b.Finish(y)
	if err != nil {
		t.Fatal(err)
	}
	// Large inputs check the max shift: exp(1000) overflows.
	vals, _, err := Forward(g, []float32{1000, 1001, 1002, 0, 0, math.Float32frombits(0x7f7fffff)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	e1, e2 := math.Exp(-1), math.Exp(-2)
	s := 1 + e1 + e2
	check(t, "softmax", vals[y], []float64{e2 / s, e1 / s, 1 / s, 0, 0, 1})
}

// torchPool is one case of testdata/pool_torch.json (see gen_pool_torch.py).
type torchPool struct {
	Op              string    `json:"op"`
	K               int       `json:"k"`
	Stride          int       `json:"stride"`
	Pad             int       `json:"pad"`
	Ceil            bool      `json:"ceil"`
	CountIncludePad bool      `json:"count_include_pad"`
	Shape           []int     `json:"shape"`
	X               []float32 `json:"x"`
	Y               []float64 `json:"y"`
}

// TestPoolTorch compares pooling with PyTorch 1.13's max_pool2d and
// avg_pool2d on 48 random cases (ceil mode, both divisors, tied windows).
func TestPoolTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/pool_torch.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []torchPool `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for i, c := range f.Cases {
		b := graph.NewBuilder("t", c.Shape[1], c.Shape[2], c.Shape[3])
		op := graph.OpMaxPool
		if c.Op == "avg" {
			op = graph.OpAvgPool
		}
		a := &graph.PoolAttr{KH: c.K, KW: c.K, StrideH: c.Stride, StrideW: c.Stride, Pads: [4]int{c.Pad, c.Pad, c.Pad, c.Pad}, CeilMode: c.Ceil, CountIncludePad: c.CountIncludePad}
		b.G.Nodes = append(b.G.Nodes, &graph.Node{Name: "p", Op: op, Inputs: []string{"input"}, Output: "p", Pool: a})
		g, err := b.Finish("p")
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		vals, _, err := Forward(g, c.X, c.Shape[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(vals["p"]) != len(c.Y) {
			t.Fatalf("case %d (%s %+v, input %v): %d outputs, PyTorch has %d", i, op, *a, c.Shape, len(vals["p"]), len(c.Y))
		}
		for j, w := range c.Y {
			if math.Abs(vals["p"][j]-w) > 1e-6*(1+math.Abs(w)) {
				t.Errorf("case %d (%s %+v): y[%d] = %g, PyTorch %g", i, op, *a, j, vals["p"][j], w)
				break
			}
		}
	}
	if len(f.Cases) < 40 {
		t.Errorf("%d cases", len(f.Cases))
	}
}
