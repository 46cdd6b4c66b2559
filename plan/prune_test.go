package plan

import (
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/nn"
)

// TestPrunedAndSegmentsRoundTrip checks that a plan with pruned blocks and
// merged segments survives Save and Load and that Validate refuses
// malformed ones.
func TestPrunedAndSegmentsRoundTrip(t *testing.T) {
	g := mbv2(t, 32)
	// features.3, .5, .6 are residual stride-1 blocks; .4 is not (stride 2).
	p := New(g, SourcePlanner, map[string]bool{"features.3": true, "features.4": true, "features.6": true})
	p.Segments = [][]string{{"features.3", "features.4"}, {"features.6"}}
	p.Pruned = []string{"features.5"}
	if err := p.Validate(g); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip: %+v, want %+v", q, p)
	}
	for _, c := range []struct {
		segs   [][]string
		pruned []string
		want   string
	}{
		{pruned: []string{"features.4"}, want: "cannot be pruned"},
		{pruned: []string{"features.9", "features.9"}, want: "more than once"},
		{pruned: []string{"nope"}, want: "not a block"},
		{segs: [][]string{{"features.3", "features.6"}}, want: "does not follow"},
		{segs: [][]string{{"features.3"}, {"features.3", "features.4"}}, want: "more than one segment"},
		{segs: [][]string{{"features.7"}}, want: "keeps its activations"},
		{segs: [][]string{{"features.6"}}, pruned: []string{"features.6"}, want: "is pruned"},
		{segs: [][]string{{}}, want: "empty"},
	} {
		r := *p
		r.Segments, r.Pruned = c.segs, c.pruned
		if err := r.Validate(g); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("segments %v pruned %v: %v, want an error with %q", c.segs, c.pruned, err, c.want)
		}
	}
}

// TestApplyPruned checks that a pruned block computes the identity: the
// pruned model equals the original with the block's branch zeroed (last
// BatchNorm's scale and shift 0), and the block is gone.
func TestApplyPruned(t *testing.T) {
	g := mbv2(t, 32)
	g.InitParams(5)
	p := New(g, SourcePlanner, nil)
	p.Pruned = []string{"features.5"}
	pg, err := Apply(g, p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pg.Block("features.5") != nil || pg.Meta["plan.pruned"] != "features.5" {
		t.Errorf("block still there or meta %q", pg.Meta["plan.pruned"])
	}
	for _, n := range pg.Nodes {
		if n.Block == "features.5" {
			t.Errorf("node %s of the pruned block left", n.Name)
		}
	}
	zero := g.Clone()
	var last *graph.Node
	for _, n := range zero.Nodes {
		if n.Block == "features.5" && n.Op == graph.OpBatchNorm {
			last = n
		}
	}
	for _, k := range []int{0, 1} {
		w := zero.Param(last, k)
		for i := range w.Data {
			w.Data[i] = 0
		}
	}
	x := make([]float32, 2*3*32*32)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.37))
	}
	out := func(m *graph.Graph) []float32 {
		nm, err := nn.NewModel(m, 2)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), nm.Forward(x, 2, false)...)
	}
	a, b := out(pg), out(zero)
	for i := range a {
		if d := math.Abs(float64(a[i] - b[i])); d > 1e-4*(1+math.Abs(float64(b[i]))) {
			t.Fatalf("output %d: pruned %g, zeroed branch %g", i, a[i], b[i])
		}
	}
}

// dwConv returns block b's depthwise convolution.
func dwConv(t *testing.T, g *graph.Graph, b string) *graph.Node {
	t.Helper()
	for _, n := range g.Nodes {
		if n.Block == b && n.Op == graph.OpConv && n.Conv.Groups > 1 && n.Conv.Groups == n.Conv.InC {
			return n
		}
	}
	t.Fatalf("block %s has no depthwise convolution", b)
	return nil
}

// TestApplyPrunedLayers checks layer pruning: the depthwise convolution of
// a removed block and its BatchNorm become the identity, equal to the model
// whose depthwise kernel is a centred 1 and whose BatchNorm is the identity;
// Validate refuses layers that change the shape or lie outside a removed
// block.
func TestApplyPrunedLayers(t *testing.T) {
	g := mbv2(t, 32)
	g.InitParams(7)
	dw3, dw4 := dwConv(t, g, "features.3"), dwConv(t, g, "features.4")
	p := New(g, SourcePlanner, map[string]bool{"features.3": true, "features.4": true})
	p.PrunedLayers = []string{dw3.Name}
	if err := p.Validate(g); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		layers []string
		want   string
	}{
		{[]string{dw4.Name}, "cannot be pruned"}, // stride 2
		{[]string{"nope"}, "not a node"},
		{[]string{dw3.Name, dw3.Name}, "more than once"},
		{[]string{dwConv(t, g, "features.5").Name}, "not in a block whose activations are removed"},
	} {
		r := *p
		r.PrunedLayers = c.layers
		if err := r.Validate(g); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("layers %v: %v, want an error with %q", c.layers, err, c.want)
		}
	}
	pg, err := Apply(g, p, ApplyOptions{PadFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	if pg.Node(dw3.Name) != nil || pg.Meta["plan.pruned_layers"] != dw3.Name {
		t.Errorf("layer still there or meta %q", pg.Meta["plan.pruned_layers"])
	}
	// The same function: a centred-1 depthwise kernel and an identity BatchNorm.
	id := g.Clone()
	w := id.Param(id.Node(dw3.Name), 0)
	k := dw3.Conv.KH * dw3.Conv.KW
	for i := range w.Data {
		w.Data[i] = 0
		if i%k == k/2 {
			w.Data[i] = 1
		}
	}
	bn := id.Consumers(dw3.Output)[0]
	gam, bet, mu, v := id.Param(bn, 0), id.Param(bn, 1), id.Param(bn, 2), id.Param(bn, 3)
	for i := range gam.Data {
		gam.Data[i] = float32(math.Sqrt(float64(v.Data[i]) + bn.BN.Eps))
		bet.Data[i] = mu.Data[i]
	}
	q := New(g, SourcePlanner, map[string]bool{"features.3": true, "features.4": true})
	ig, err := Apply(id, q, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*32*32)
	for i := range x {
		x[i] = float32(math.Cos(float64(i) * 0.11))
	}
	out := func(m *graph.Graph) []float32 {
		nm, err := nn.NewModel(m, 1)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), nm.Forward(x, 1, false)...)
	}
	pl, err := Apply(g, p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := out(pl), out(ig)
	for i := range a {
		if d := math.Abs(float64(a[i] - b[i])); d > 1e-4*(1+math.Abs(float64(b[i]))) {
			t.Fatalf("output %d: pruned layer %g, identity layer %g", i, a[i], b[i])
		}
	}
}
