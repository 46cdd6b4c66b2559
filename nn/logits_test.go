package nn

import (
	"math"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
)

// TestLogitsGraph checks that a graph ending in Softmax is trained on its
// logits: the view's model output equals the reference's Softmax input, a
// backward pass reaches the shared parameters, and other graphs are
// returned unchanged.
func TestLogitsGraph(t *testing.T) {
	b := graph.NewBuilder("softmax-end", 2, 5, 5)
	x := b.Conv("conv", "input", 2, 4, 3, 1, 1, 1, true)
	x = b.GlobalAvgPool("pool", x)
	x = b.Flatten("flat", x)
	logits := b.Linear("fc", x, 4, 3, true)
	g, err := b.Finish(b.Softmax("prob", logits))
	if err != nil {
		t.Fatal(err)
	}
	g.InitParams(7)
	for i := range g.Params["fc.weight"].Data {
		g.Params["fc.weight"].Data[i] = float32(i%5) - 2
	}
	v := LogitsGraph(g)
	if v.Output != logits || len(v.Nodes) != len(g.Nodes)-1 || g.Output != "prob" {
		t.Fatalf("view output %q with %d nodes (graph %q, %d nodes)", v.Output, len(v.Nodes), g.Output, len(g.Nodes))
	}
	m, err := NewModel(v, 2)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, 2*2*5*5)
	for i := range in {
		in[i] = float32(math.Sin(float64(i)))
	}
	got := m.Forward(in, 2, false)
	ref, _, err := reference.Forward(g, in, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d, scale := reference.MaxDiff(got, ref[logits]); d > 1e-5*math.Max(scale, 1) {
		t.Fatalf("view output differs from the reference logits by %g", d)
	}
	m.Forward(in, 2, true)
	m.Backward([]float32{1, 0, 0, 0, 1, 0})
	var norm float64
	for _, w := range m.Grads["fc.weight"].Data {
		norm += float64(w * w)
	}
	if norm == 0 {
		t.Fatal("no gradient reached fc.weight")
	}
	if &g.Params["fc.weight"].Data[0] != &v.Params["fc.weight"].Data[0] {
		t.Fatal("the view does not share the graph's parameters")
	}
	plain := LogitsGraph(v)
	if plain != v {
		t.Fatal("a graph without a final Softmax was not returned unchanged")
	}
}
