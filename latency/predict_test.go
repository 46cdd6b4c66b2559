package latency

import (
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
)

// TestMeasureMerge checks that every layer merge.Merge replaces is charged
// to its chain and every other layer to the rest, and that the figures
// cover every chain.
func TestMeasureMerge(t *testing.T) {
	g := tinyModel(t)
	p, err := plan.Preset("all", g)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := plan.Apply(g, p, plan.ApplyOptions{PadFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	mg, rep, err := merge.Merge(ap, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Structure: a node of ap is charged to a chain exactly when the merged
	// model no longer has it, except BatchNorms folded into (and identities
	// dropped around) convolutions that were not merged.
	of := chainOfNodes(ap, rep)
	kept := map[string]bool{}
	for _, n := range mg.Nodes {
		kept[n.Name] = true
	}
	for _, n := range ap.Nodes {
		_, charged := of[n.Name]
		folded := n.Op == graph.OpBatchNorm || n.Op == graph.OpAct && n.Act.Kind == graph.ActIdentity
		if charged && kept[n.Name] || !charged && !kept[n.Name] && !folded {
			t.Errorf("node %s (%s): charged to a chain %v, still in the merged model %v", n.Name, n.Op, charged, kept[n.Name])
		}
	}
	mp, err := MeasureMerge(ap, mg, rep, ProfileOptions{Rounds: 2, Iters: 1, Warmup: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(mp.Chains) != rep.Merged || rep.Merged == 0 {
		t.Fatalf("%d chains measured, %d merged", len(mp.Chains), rep.Merged)
	}
	for _, c := range mp.Chains {
		if !(c.OriginalMs > 0) || !(c.MergedMs > 0) || c.Pays != (c.MergedMs < c.OriginalMs) {
			t.Errorf("chain %s: %+v", c.Name, c)
		}
	}
	if !(mp.OriginalMs > 0) || !(mp.MergedMs > 0) || !(mp.RestOriginalMs > 0) || mp.Slower() != (mp.MergedMs > mp.OriginalMs) {
		t.Errorf("prediction %+v", mp)
	}
	if _, err := MeasureMerge(ap, mg, rep, ProfileOptions{Runtime: "ort"}); err == nil {
		t.Error("ONNX Runtime accepted for per-step times")
	}
	var none *graph.Graph
	if _, err := MeasureMerge(none, mg, rep, ProfileOptions{}); err == nil {
		t.Error("nil model accepted")
	}
}
