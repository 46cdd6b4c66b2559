package latency

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/train"
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

// TestPredictPlan checks the table prediction of a plan against the
// table's own sums and the solver's prediction.
func TestPredictPlan(t *testing.T) {
	tb := &Table{Version: TableVersion, Blocks: []string{"b0", "b1", "b2", "b3"}, Units: []string{"u0", "u1", "u2", "u3"},
		Fixed: []Part{{Name: "stem", Ms: 1}}}
	for i := range 4 {
		tb.Segments = append(tb.Segments, Segment{Start: i, End: i + 1, Ms: 2}, Segment{Start: i, End: i + 1, Merged: true, Ms: 1.5, Realizable: true})
	}
	tb.Segments = append(tb.Segments, Segment{Start: 1, End: 3, Merged: true, Ms: 2.5, Kernel: "5x5", Realizable: true})
	g := graph.New("m", 1, 4, 4)
	for i, u := range tb.Units {
		g.Units = append(g.Units, graph.Unit{Name: u, Block: tb.Blocks[i]})
	}
	p := plan.New(g, plan.SourcePlanner, map[string]bool{"u1": true, "u2": true, "u3": true})
	p.Segments = [][]string{{"b1", "b2"}}
	mp, err := PredictPlan(tb, p)
	if err != nil {
		t.Fatal(err)
	}
	// fixed 1 + b0 kept 2 + b1..b2 merged 2.5 + b3 merged alone 1.5
	if mp.OriginalMs != 9 || mp.MergedMs != 7 || len(mp.Chains) != 2 || mp.Slower() || len(mp.Losers()) != 0 {
		t.Errorf("prediction %+v", mp)
	}
	if c := mp.Chains[0]; c.Name != "b1..b2" || c.OriginalMs != 4 || c.MergedMs != 2.5 || !c.Pays {
		t.Errorf("chain %+v", c)
	}
	prob, err := NewProblem(tb, []float64{1, 1, 1, 1}, ProblemOptions{MultiBlock: true})
	if err != nil {
		t.Fatal(err)
	}
	lat, _, _ := prob.Evaluate([]bool{true, false, false, false}, prob.Stage1())
	if lat != mp.MergedMs {
		t.Errorf("solver predicts %g, PredictPlan %g", lat, mp.MergedMs)
	}
	// A merged block slower than kept is a loser; a pruned block costs nothing.
	tb.Segments[7].Ms = 3
	p.Pruned = []string{"b0"}
	if mp, err = PredictPlan(tb, p); err != nil {
		t.Fatal(err)
	}
	if mp.MergedMs != 1+2.5+3 || len(mp.Losers()) != 1 || mp.Losers()[0].Name != "b3" {
		t.Errorf("prediction %+v", mp)
	}
	keep, pruned := Choices(tb, p)
	if !slices.Equal(keep, []bool{false, false, false, false}) || !slices.Equal(pruned, []bool{true, false, false, false}) {
		t.Errorf("choices keep %v pruned %v", keep, pruned)
	}
	p.Segments = [][]string{{"b2", "b3"}}
	if _, err := PredictPlan(tb, p); err == nil {
		t.Error("a segment missing from the table accepted")
	}
}

// TestFinetuneImportancePlumbing runs the expensive check for two steps on
// a tiny model: one entry per change, in order, finite, the control's loss
// as the base. (Its agreement with the cheap estimate is a measurement:
// dshrink importance --check.)
func TestFinetuneImportancePlumbing(t *testing.T) {
	o := models.FashionMNIST()
	o.Width, o.Resolution, o.Classes, o.Dropout = 0.35, 12, 3, 0
	g, err := models.MobileNetV2(o)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ds := &memData{c: 1, h: 12, w: 12, classes: 3}
	for i := 0; i < 32; i++ {
		x := make([]float32, 144)
		for k := range x {
			x[k] = float32(rng.NormFloat64())
		}
		ds.x = append(ds.x, x)
		ds.y = append(ds.y, i%3)
	}
	cfg := train.DefaultConfig()
	cfg.BatchSize, cfg.Threads, cfg.Seed = 8, 1, 1
	changes := []Change{{Unit: "features.2"}, {Pruned: "features.3"}, {Layer: "features.3"}}
	rep, err := FinetuneImportance(context.Background(), g, changes, &train.Datasets{Train: ds, Eval: ds}, FinetuneCheckOptions{Train: cfg, Steps: 2, Images: 16})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Units) != 3 || rep.Units[0].Unit != "features.2" || rep.Units[1].Unit != "features.3" || rep.Units[2].Unit != LayerPrefix+"features.3" || rep.Images != 16 {
		t.Fatalf("report %+v", rep)
	}
	for k, u := range rep.Units {
		if math.IsNaN(u.Delta) || math.IsInf(u.Delta, 0) || (k < 2 && math.Abs(u.Loss-rep.BaseLoss-u.Delta) > 1e-12) {
			t.Errorf("entry %+v (base %g)", u, rep.BaseLoss)
		}
	}
	if _, err := FinetuneImportance(context.Background(), g, []Change{{Layer: "features.2"}}, &train.Datasets{Train: ds, Eval: ds}, FinetuneCheckOptions{Train: cfg, Steps: 1}); err == nil {
		t.Error("a layer change on a block without a prunable layer accepted")
	}
	if _, err := FinetuneImportance(context.Background(), g, changes, nil, FinetuneCheckOptions{}); err == nil {
		t.Error("no data accepted")
	}
}
