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
