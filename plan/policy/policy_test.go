package policy

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/plan"
)

func mbv2(t *testing.T, res int) *graph.Graph {
	t.Helper()
	o := models.Default()
	o.Resolution = res
	o.Width, o.Classes = 0.35, 10
	g, err := models.MobileNetV2(o)
	if err != nil {
		t.Fatal(err)
	}
	g.InitParams(7)
	return g
}

// macPredictor is a deterministic Predictor for tests: a chain costs its
// MACs (1 ms per MMAC) times a per-layer factor, so a merge pays when its
// MACs grow less than slowdown times.
type macPredictor struct {
	slowdown float64 // a merged MAC is this much cheaper than a kept one
	calls    int
}

func (m *macPredictor) Predict(orig, applied, merged *graph.Graph, rep *merge.Report, need map[string]bool, whole bool) (*Prediction, error) {
	m.calls++
	pr := &Prediction{Source: "test: MAC model"}
	if whole {
		c, err := orig.Cost()
		if err != nil {
			return nil, err
		}
		pr.OriginalMs = float64(c.MACs) / 1e6
	}
	for _, c := range rep.Chains {
		if !c.Merged || (need != nil && !need[c.Name]) {
			continue
		}
		k, mm := float64(c.MACs)/1e6, float64(c.MACsAfter)/1e6/m.slowdown
		pr.Chains = append(pr.Chains, ChainCost{Chain: c.Name, Kernel: c.Kernel, MACs: c.MACs, MACsAfter: c.MACsAfter, KeptMs: k, MergedMs: mm, Pays: mm < k})
	}
	return pr, nil
}

func resolve(t *testing.T, g *graph.Graph, spec string) *plan.Plan {
	t.Helper()
	p, err := plan.Resolve(spec, g)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRemovedActsListsStemAndSkippedBlocks: ds-d removes the stem's
// activation and features.1's; by the MAC rule features.1 is not merged,
// and no chain reaches the stem: both are listed as not merged, with why;
// every other removed activation is merged into its block's chain.
func TestRemovedActsListsStemAndSkippedBlocks(t *testing.T) {
	g := mbv2(t, 32)
	p := resolve(t, g, "ds-d")
	ap, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err := merge.Merge(ap, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	acts := RemovedActs(g, ap, p, rep)
	units := map[string]bool{}
	for _, a := range acts {
		units[a.Unit] = true
		if a.Kind != string(graph.ActReLU6) {
			t.Errorf("%s: was %s, want relu6", a.Node, a.Kind)
		}
		switch a.Unit {
		case "features.0":
			if a.Merged || !strings.Contains(a.Why, "no linear chain runs through it") || !strings.Contains(a.Why, "outside every block") {
				t.Errorf("stem activation %s: merged %v, why %q", a.Node, a.Merged, a.Why)
			}
		case "features.1":
			if a.Merged || !strings.Contains(a.Why, "MACs would grow") {
				t.Errorf("features.1 activation %s: merged %v, why %q", a.Node, a.Merged, a.Why)
			}
		default:
			if !a.Merged || a.Chain != a.Block+".merged" {
				t.Errorf("%s: merged %v into %q (why %q), want %s.merged", a.Node, a.Merged, a.Chain, a.Why, a.Block)
			}
		}
	}
	for _, u := range p.Removed() {
		if !units[u] {
			t.Errorf("removed unit %s has no listed activation", u)
		}
	}
	orph := Orphans(acts)
	if len(orph) != 2 || orph[0].Unit != "features.0" || orph[1].Unit != "features.1" {
		t.Errorf("orphans %+v, want features.0 and features.1", orph)
	}
}

// TestDecideExplicitPlanRefusesOrphans: an explicit plan whose removed
// activations are not all merged away is refused with the units listed,
// and --force takes it as it is.
func TestDecideExplicitPlanRefusesOrphans(t *testing.T) {
	g := mbv2(t, 32)
	p := resolve(t, g, "ds-d")
	d, err := Decide(g, p, Options{})
	if !errors.Is(err, ErrOrphans) || !strings.Contains(err.Error(), "features.0") || !strings.Contains(err.Error(), "features.1") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("ds-d: err %v, want ErrOrphans naming features.0 and features.1 and --force", err)
	}
	if d == nil || len(d.Orphans) != 2 {
		t.Fatalf("decision %+v", d)
	}
	d, err = Decide(g, p, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Plan.Removed()) != len(p.Removed()) || len(d.Orphans) != 2 || !d.FunctionChanged {
		t.Errorf("forced: removed %v, orphans %v, function changed %v", d.Plan.Removed(), d.Orphans, d.FunctionChanged)
	}
}

// TestDecideAllKeepsWhatDoesNotPay: with the preset all (Auto), the units
// no merge takes away and the chains predicted slower get their
// activations back; the rest merge, and every remaining removed activation
// is merged away; the prediction adds up.
func TestDecideAllKeepsWhatDoesNotPay(t *testing.T) {
	g := mbv2(t, 32)
	p := resolve(t, g, "all")
	pred := &macPredictor{slowdown: 2.5}
	d, err := Decide(g, p, Options{Auto: true, Merge: merge.Options{MaxMACGrowth: -1}, Predictor: pred})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Restored) == 0 {
		t.Fatalf("nothing restored; with a 2.5x merged advantage features.1 (5.8x MACs) should not pay")
	}
	restored := strings.Join(d.RestoredUnits(), ",")
	if !strings.Contains(restored, "features.1") {
		t.Errorf("restored %s, want features.1 among them", restored)
	}
	for _, u := range d.Restored {
		if !strings.Contains(u.Why, "predicted slower") || !strings.Contains(u.Why, "ms merged vs") {
			t.Errorf("restored %s: why %q, want the figures", u.Unit, u.Why)
		}
	}
	for _, a := range d.Acts {
		if !a.Merged {
			t.Errorf("%s of %s removed but not merged: %s", a.Node, a.Unit, a.Why)
		}
	}
	if len(d.Losers) != 0 || d.Slower || d.Prediction == nil {
		t.Fatalf("losers %v, slower %v, prediction %v", d.Losers, d.Slower, d.Prediction)
	}
	// The whole prediction is the original less each merged chain's saving.
	want := d.Prediction.OriginalMs
	for _, c := range d.Prediction.Chains {
		if !c.Pays {
			t.Errorf("chain %s kept merged but does not pay", c.Chain)
		}
		want -= c.KeptMs - c.MergedMs
	}
	if math.Abs(want-d.Prediction.MergedMs) > 1e-9 || d.Prediction.MergedMs >= d.Prediction.OriginalMs {
		t.Errorf("merged prediction %g, want %g (< original %g)", d.Prediction.MergedMs, want, d.Prediction.OriginalMs)
	}
	if d.Report.Merged != len(d.Prediction.Chains) {
		t.Errorf("%d chains merged, %d timed", d.Report.Merged, len(d.Prediction.Chains))
	}
	// Chains already timed are not timed again after units are restored.
	if pred.calls != 1 {
		t.Errorf("predictor called %d times, want 1 (cached chains)", pred.calls)
	}
}

// TestDecideRefusesSlowerModel: an explicit plan whose chains lose is
// refused with the figures; forced, the decision says it is slower.
func TestDecideRefusesSlowerModel(t *testing.T) {
	g := mbv2(t, 32)
	p := resolve(t, g, "features.2-17")
	pred := &macPredictor{slowdown: 0.5} // merged MACs twice as expensive: every chain loses
	_, err := Decide(g, p, Options{Merge: merge.Options{MaxMACGrowth: -1}, Predictor: pred})
	if !errors.Is(err, ErrLosers) || !strings.Contains(err.Error(), "ms merged vs") || !strings.Contains(err.Error(), "features.5.merged") {
		t.Fatalf("err %v, want ErrLosers with figures", err)
	}
	d, err := Decide(g, p, Options{Merge: merge.Options{MaxMACGrowth: -1}, Predictor: pred, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Slower || d.Prediction.MergedMs <= d.Prediction.OriginalMs {
		t.Errorf("forced: slower %v, prediction %+v", d.Slower, d.Prediction)
	}
}

// TestCompareSaysWhatChanged: merging an unfine-tuned model changes its
// function (reported), a model whose activations are already the identity
// does not.
func TestCompareSaysWhatChanged(t *testing.T) {
	g := mbv2(t, 32)
	p := resolve(t, g, "all")
	d, err := Decide(g, p, Options{Auto: true})
	if err != nil {
		t.Fatal(err)
	}
	if !d.FunctionChanged {
		t.Fatal("function change not detected")
	}
	c, err := Compare(g, d.Merged, 4, 1, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Images != 4 || c.MaxAbs <= 0 || c.MeanAbs <= 0 || c.MeanAbs > c.MaxAbs || c.Top1Agree < 0 || c.Top1Agree > 1 || !strings.Contains(c.Inputs, "random") {
		t.Errorf("change %+v", c)
	}
	// The plan-applied model against its own merge: the same function.
	same, err := Compare(d.Applied, d.Merged, 3, 2, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if same.Top1Agree != 1 || same.MaxRel > 1e-4 {
		t.Errorf("applied vs merged: %+v", same)
	}
	// Already fine-tuned away: the applied model given as the model.
	d2, err := Decide(d.Applied, resolve(t, d.Applied, "all"), Options{Auto: true})
	if err != nil {
		t.Fatal(err)
	}
	if d2.FunctionChanged {
		t.Error("identity activations reported as a function change")
	}
}

// TestMeasurePredictorRuns times a small model's chains with the runtime
// (one round) and checks the figures are there; no timing is asserted.
func TestMeasurePredictorRuns(t *testing.T) {
	g := mbv2(t, 32)
	p := resolve(t, g, "features.3,features.4")
	ap, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mg, rep, err := merge.Merge(ap, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := Measure{Opts: QuickOptions(1, nil)}
	m.Opts.Rounds, m.Opts.MaxRounds, m.Opts.Iters, m.Opts.Warmup = 1, 1, 1, 1
	pr, err := m.Predict(g, ap, mg, rep, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Chains) != 2 || !(pr.OriginalMs > 0) || !strings.Contains(pr.Source, "measured now") {
		t.Fatalf("prediction %+v", pr)
	}
	for _, c := range pr.Chains {
		if !(c.KeptMs > 0) || !(c.MergedMs > 0) || c.Pays != (c.MergedMs < c.KeptMs) {
			t.Errorf("chain %+v", c)
		}
	}
}

// TestBetweenComputesTheChain: the kept sub-model of a chain computes the
// same values as the whole model there.
func TestBetweenComputesTheChain(t *testing.T) {
	g := mbv2(t, 32)
	shapes, err := g.Shapes(1)
	if err != nil {
		t.Fatal(err)
	}
	b := g.Block("features.4")
	s, err := between(g, shapes, b.Input, b.Output, "kept")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range g.Nodes {
		if x.Block == "features.4" {
			n++
		}
	}
	if len(s.Nodes) != n {
		t.Errorf("sub-model has %d nodes, block features.4 %d", len(s.Nodes), n)
	}
	if _, err := between(g, shapes, b.Output, b.Input, "backwards"); err == nil {
		t.Error("between output and input: want an error")
	}
}

// TestInContextPredictorRuns times a small model and its merge in context
// (one round); no timing is asserted, only that every merged chain has
// figures.
func TestInContextPredictorRuns(t *testing.T) {
	g := mbv2(t, 32)
	p := resolve(t, g, "features.3,features.4")
	ap, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mg, rep, err := merge.Merge(ap, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := InContext{Opts: QuickOptions(1, nil)}
	m.Opts.Rounds, m.Opts.MaxRounds, m.Opts.Iters, m.Opts.Warmup = 1, 1, 1, 1
	pr, err := m.Predict(g, ap, mg, rep, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Chains) != 2 || !(pr.OriginalMs > 0) || !(pr.MergedMs > 0) {
		t.Fatalf("prediction %+v", pr)
	}
	for _, c := range pr.Chains {
		if !(c.KeptMs > 0) || !(c.MergedMs > 0) || c.MACs == 0 {
			t.Errorf("chain %+v", c)
		}
	}
}

// TestTablePredictor reads kept and merged entries from a latency table
// and asks the fallback for chains the table lacks.
func TestTablePredictor(t *testing.T) {
	g := mbv2(t, 32)
	p := resolve(t, g, "features.3,features.4")
	ap, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mg, rep, err := merge.Merge(ap, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := &latency.Table{Fixed: []latency.Part{{Name: "stem", Ms: 1}}}
	for i, b := range g.Blocks {
		tb.Blocks = append(tb.Blocks, b.Name)
		tb.Units = append(tb.Units, b.Name)
		tb.Segments = append(tb.Segments, latency.Segment{Start: i, End: i + 1, Ms: 2})
	}
	// features.3 is block 2: merged 1 ms (pays); features.4 has no merged entry.
	tb.Segments = append(tb.Segments, latency.Segment{Start: 2, End: 3, Merged: true, Ms: 1})
	fb := &macPredictor{slowdown: 1}
	pr, err := Table{T: tb, Path: "t.json", Fallback: fb}.Predict(g, ap, mg, rep, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if pr.OriginalMs != 1+2*float64(len(g.Blocks)) || len(pr.Chains) != 2 || fb.calls != 1 {
		t.Fatalf("prediction %+v, fallback calls %d", pr, fb.calls)
	}
	c := pr.Chains[0]
	if c.Chain != "features.3.merged" || c.KeptMs != 2 || c.MergedMs != 1 || !c.Pays {
		t.Errorf("table chain %+v", c)
	}
	if !strings.Contains(pr.Source, "latency table t.json") || !strings.Contains(pr.Source, "does not describe") {
		t.Errorf("source %q", pr.Source)
	}
}

// TestDecidePlannerPlan: a latency planner's plan with a two-block segment
// merges along exactly its runs (the segment as one convolution), from the
// planned form, and the decision says the function changed.
func TestDecidePlannerPlan(t *testing.T) {
	g := mbv2(t, 32)
	p := plan.New(g, plan.SourcePlanner, map[string]bool{"features.5": true, "features.6": true, "features.9": true})
	p.Segments = [][]string{{"features.5", "features.6"}}
	pred := &macPredictor{slowdown: 4}
	d, err := Decide(g, p, Options{Predictor: pred})
	if err != nil {
		t.Fatal(err)
	}
	if d.Report.Merged != 2 {
		t.Fatalf("merged %d runs, want 2 (features.5-6 and features.9)", d.Report.Merged)
	}
	if !d.FunctionChanged || d.Applied.Meta[merge.MetaRuns] == "" {
		t.Errorf("function changed %v, planned form %q", d.FunctionChanged, d.Applied.Meta[merge.MetaRuns])
	}
	for _, a := range d.Acts {
		if !a.Merged {
			t.Errorf("%s: %s", a.Node, a.Why)
		}
	}
	res, err := merge.Verify(d.Applied, d.Merged, merge.VerifyOptions{Random: 1})
	if err != nil || !res.OK {
		t.Fatalf("verify: %v %+v", err, res)
	}
	// Given the planned form (a model fine-tuned in it), it is not applied again.
	d2, err := Decide(d.Applied, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Report.Merged != 2 || d2.FunctionChanged {
		t.Errorf("from the planned form: merged %d, function changed %v", d2.Report.Merged, d2.FunctionChanged)
	}
}
