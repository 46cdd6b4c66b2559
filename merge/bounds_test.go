package merge

import (
	"math"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/memlimit"
)

// TestOptionBounds: negative or absurd options are errors, not silently the
// defaults, and a huge verification is refused before allocating (issue 17).
func TestOptionBounds(t *testing.T) {
	b := graph.NewBuilder("b", 2, 8, 8)
	x := b.Conv("c0", "input", 2, 2, 3, 1, 1, 1, true)
	x = b.Conv("c1", x, 2, 2, 1, 1, 0, 1, true)
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 1)
	if _, _, err := Merge(g, Options{MaxKernel: -3}); err == nil || !strings.Contains(err.Error(), "max kernel -3") {
		t.Errorf("MaxKernel -3: %v", err)
	}
	merged, _, err := Merge(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    VerifyOptions
		want string
	}{
		{VerifyOptions{Tol: -1}, "tolerance -1"},
		{VerifyOptions{Tol: math.NaN()}, "tolerance NaN"},
		{VerifyOptions{Random: -5}, "-5 random"},
		{VerifyOptions{Random: 100_000_000}, "needs about"},
	} {
		restore := memlimit.SetForTest(1 << 30)
		_, err := Verify(g, merged, c.o)
		restore()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error containing %q", c.o, err, c.want)
		}
	}
	if res, err := Verify(g, merged, VerifyOptions{}); err != nil || !res.OK {
		t.Errorf("default verification: %+v, %v", res, err)
	}
}

// TestHugeMergedWeight: a chain whose merged weight would be huge (a 1x1
// conv to 1 channel and back out to many) stops before allocating it.
func TestHugeMergedWeight(t *testing.T) {
	b := graph.NewBuilder("wide", 4096, 2, 2)
	x := b.Conv("narrow", "input", 4096, 1, 1, 1, 0, 1, false)
	x = b.Conv("wide", x, 1, 1<<17, 1, 1, 0, 1, false)
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	merged, rep, err := Merge(g, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 0 || len(merged.Nodes) != 2 {
		t.Fatalf("merged %d chains into %d nodes, want the chain stopped", rep.Merged, len(merged.Nodes))
	}
}
