package nn

import "github.com/dshrink/dshrink/graph"

// LogitsGraph returns g itself, or, when g ends in a Softmax (as some ONNX
// exports do), a view of g without that Softmax whose output is the logits
// that the losses take. The view shares g's parameter tensors, so training a
// model built on it trains g; the probabilities are a monotone function of
// the logits, so top-k accuracy is the same.
func LogitsGraph(g *graph.Graph) *graph.Graph {
	if g == nil || len(g.Nodes) == 0 {
		return g
	}
	last := g.Nodes[len(g.Nodes)-1]
	if last.Op != graph.OpSoftmax || last.Output != g.Output || len(last.Inputs) != 1 {
		return g
	}
	v := *g
	v.Nodes = g.Nodes[: len(g.Nodes)-1 : len(g.Nodes)-1]
	v.Output = last.Inputs[0]
	return &v
}
