package graph

import (
	"fmt"
	"testing"
)

// TestNewOpShapes builds a small graph with every op added for imported
// models (pools, SE gate, split/concat/shuffle, softmax) and checks the
// inferred shapes, then checks that malformed attributes are refused.
func TestNewOpShapes(t *testing.T) {
	b := NewBuilder("ops", 3, 17, 17)
	x := b.Conv("stem", "input", 3, 8, 3, 2, 1, 1, false) // 9x9
	mp := b.MaxPool("mp", x, 3, 2, 1)                     // 5x5
	ap := b.AvgPool("ap", mp, 3, 1, 1, false)             // 5x5
	se := b.GlobalAvgPool("se.pool", ap)
	se = b.Conv("se.fc1", se, 8, 4, 1, 1, 0, 1, true)
	se = b.Act("se.act", se, ActSiLU, "")
	se = b.Conv("se.fc2", se, 4, 8, 1, 1, 0, 1, true)
	se = b.Act("se.gate", se, ActSigmoid, "")
	m := b.Mul("se.mul", ap, se)
	l := b.Slice("split.0", m, 0, 3)
	r := b.Slice("split.1", m, 3, 8)
	r = b.Conv("branch", r, 5, 5, 1, 1, 0, 1, false)
	c := b.Concat("cat", l, r)
	s := b.Shuffle("shuffle", c, 2)
	g := b.GlobalAvgPool("pool", s)
	f := b.Flatten("flat", g)
	f = b.Linear("fc", f, 8, 4, true)
	out := b.Softmax("prob", f)
	gr, err := b.Finish(out)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := gr.Shapes(2)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{"mp": {2, 8, 5, 5}, "ap": {2, 8, 5, 5}, "se.mul": {2, 8, 5, 5}, "split.0": {2, 3, 5, 5}, "split.1": {2, 5, 5, 5}, "cat": {2, 8, 5, 5}, "shuffle": {2, 8, 5, 5}, "prob": {2, 4}}
	for v, w := range want {
		if got := sh[v]; fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: shape %v, want %v", v, got, w)
		}
	}
	c2 := gr.Clone()
	if c2.Node("mp").Pool == gr.Node("mp").Pool || c2.Node("split.1").Slice == gr.Node("split.1").Slice || c2.Node("shuffle").Shuffle == gr.Node("shuffle").Shuffle {
		t.Error("Clone shares attribute structs")
	}

	bad := []func(*Graph){
		func(g *Graph) { g.Node("shuffle").Shuffle.Groups = 3 },
		func(g *Graph) { g.Node("split.1").Slice.End = 9 },
		func(g *Graph) { g.Node("mp").Pool.Pads = [4]int{3, 3, 3, 3} },
		func(g *Graph) { g.Node("se.mul").Inputs[1] = "se.fc1" },
	}
	for i, mod := range bad {
		g2 := gr.Clone()
		mod(g2)
		if err := g2.Validate(); err == nil {
			t.Errorf("malformed graph %d validated", i)
		}
	}
}

func TestPoolOutCeil(t *testing.T) {
	cases := []struct {
		in, k, s, lo, hi int
		ceil             bool
		want             int
	}{
		{112, 3, 2, 1, 1, false, 56},
		{112, 3, 2, 0, 0, true, 56},
		{113, 3, 2, 0, 0, false, 56},
		{6, 3, 2, 0, 0, true, 3}, // windows start at 0, 2, 4 (4 < 6)
		{5, 2, 2, 1, 1, true, 3}, // a 4th window would start at 6, past the input and its leading pad
	}
	for _, c := range cases {
		if got := PoolOut(c.in, c.k, c.s, c.lo, c.hi, c.ceil); got != c.want {
			t.Errorf("PoolOut(%d, k%d, s%d, pads %d/%d, ceil %v) = %d, want %d", c.in, c.k, c.s, c.lo, c.hi, c.ceil, got, c.want)
		}
	}
}
