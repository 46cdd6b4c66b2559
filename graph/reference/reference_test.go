package reference

import (
	"math"
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
	}{{graph.ActReLU, -1, 0}, {graph.ActReLU6, 7, 6}, {graph.ActHardSwish, 1, 1 * 4.0 / 6}, {graph.ActHardSigmoid, -4, 0}, {graph.ActIdentity, -2, -2}}
	for _, c := range cases {
		if got := Act(c.k, c.x); math.Abs(got-c.y) > 1e-12 {
			t.Errorf("%s(%g) = %g, want %g", c.k, c.x, got, c.y)
		}
	}
}
