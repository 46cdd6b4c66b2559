package latency

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/plan"
)

// tinyModel is a small MobileNetV2 (width 0.35, 16x16, 4 classes).
func tinyModel(t *testing.T) *graph.Graph {
	t.Helper()
	o := models.FashionMNIST()
	o.Width, o.Resolution, o.Classes = 0.35, 16, 4
	g, err := models.MobileNetV2(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func quickProfile(t *testing.T, g *graph.Graph) *Table {
	t.Helper()
	tb, err := Profile(g, ProfileOptions{Rounds: 2, Iters: 1, Warmup: 1})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestProfileTableRoundTripAndCache(t *testing.T) {
	g := tinyModel(t)
	tb := quickProfile(t, g)
	if len(tb.Blocks) != 17 || len(tb.Fixed) != 3 {
		t.Fatalf("%d blocks, %d fixed parts; want 17 and 3 (stem, head, classifier)", len(tb.Blocks), len(tb.Fixed))
	}
	multi := 0
	for _, s := range tb.Segments {
		if s.End-s.Start > 1 {
			multi++
		}
		// Every segment is the merger's own output, timed inside a whole
		// model (the kept and fixed parts in the whole model, the merged
		// ones in a model merged along runs of their length).
		if !s.Realizable || !s.Context || !(s.Ms > 0) || !(s.IsolatedMs > 0) || s.From == "" || s.To == "" {
			t.Errorf("segment %v: realizable %v, context %v, ms %g, isolated %g, run %s..%s", s.Blocks, s.Realizable, s.Context, s.Ms, s.IsolatedMs, s.From, s.To)
		}
	}
	if multi == 0 {
		t.Error("no multi-block segment measured")
	}
	// By default the single-block entries and the fixed parts come from the
	// whole and the all-merged model run step by step (in context); the
	// isolated timing is kept beside them.
	if tb.Key.Timing != "context" {
		t.Errorf("key timing %q, want context", tb.Key.Timing)
	}
	for _, p := range tb.Fixed {
		if !p.Context || !(p.IsolatedMs > 0) {
			t.Errorf("fixed part %s: context %v, isolated %g", p.Name, p.Context, p.IsolatedMs)
		}
	}
	iso, err := Profile(g, ProfileOptions{Rounds: 1, Iters: 1, Warmup: 1, NoMultiBlock: true, Isolated: true})
	if err != nil {
		t.Fatal(err)
	}
	if iso.Key.Timing != "isolated" || iso.Key == tb.Key {
		t.Errorf("isolated table key %+v", iso.Key)
	}
	for _, s := range iso.Segments {
		if s.Context || s.Ms != s.IsolatedMs {
			t.Errorf("isolated table: segment %v context %v, ms %g vs isolated %g", s.Blocks, s.Context, s.Ms, s.IsolatedMs)
		}
	}
	path := filepath.Join(t.TempDir(), "table.json")
	if err := tb.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Cached(path, tb.Key)
	if err != nil || got == nil {
		t.Fatalf("cached table: %v, %v", got, err)
	}
	if got.Key != tb.Key || len(got.Segments) != len(tb.Segments) || got.BaseMs() != tb.BaseMs() {
		t.Errorf("round trip changed the table: key %v vs %v, base %g vs %g", got.Key, tb.Key, got.BaseMs(), tb.BaseMs())
	}
	other := tb.Key
	other.Threads = 2
	if _, err := Cached(path, other); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("other thread count: %v, want ErrKeyMismatch", err)
	}
	if got, err := Cached(filepath.Join(t.TempDir(), "none.json"), tb.Key); got != nil || err != nil {
		t.Errorf("missing file: %v, %v; want nil, nil", got, err)
	}
	// The key names the CPU, the runtime and the model structure.
	if tb.Key.CPU == "" || tb.Key.Runtime == "" || tb.Key.Model != Fingerprint(g) {
		t.Errorf("key %+v", tb.Key)
	}
	g2 := tinyModel(t)
	g2.InitParams(99) // other weights, same structure
	if Fingerprint(g2) != Fingerprint(g) {
		t.Error("fingerprint depends on the weights")
	}
	o := models.FashionMNIST()
	o.Width, o.Resolution, o.Classes = 0.5, 16, 4
	g3, _ := models.MobileNetV2(o)
	if Fingerprint(g3) == Fingerprint(g) {
		t.Error("fingerprint ignores the width")
	}
}

// midBudgetPlan plans g from table tb halfway between its fastest and its
// unmodified predicted latency, with made-up importances.
func midBudgetPlan(t *testing.T, g *graph.Graph, tb *Table) (*Problem, *plan.Plan) {
	t.Helper()
	imp := make([]float64, len(tb.Blocks))
	for i := range imp {
		imp[i] = float64(i%5) + 0.5
	}
	prob, err := NewProblem(tb, imp, ProblemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sol, err := prob.Solve((prob.MinLatency()+prob.BaseLatency())/2, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanFor(g, tb, sol, "test")
	if err != nil {
		t.Fatal(err)
	}
	return prob, p
}

func TestPlanAcceptedByPlanAndMerge(t *testing.T) {
	g := tinyModel(t)
	tb := quickProfile(t, g)
	prob, p := midBudgetPlan(t, g, tb)
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Validate(g); err != nil {
		t.Fatal(err)
	}
	if q.Source != plan.SourcePlanner || q.Meta["predicted_ms"] == "" || len(q.Removed()) == 0 {
		t.Errorf("plan %+v", q)
	}
	mg, rep, err := Realize(g, q, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged == 0 {
		t.Error("nothing merged")
	}
	ap, err := plan.Apply(g, q, plan.ApplyOptions{PadFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := merge.Verify(ap, mg, merge.VerifyOptions{})
	if err != nil || !vr.OK {
		t.Errorf("merged planned model does not verify: %+v, %v", vr, err)
	}
	if _, err := Measure([]*graph.Graph{mg}, ProfileOptions{Rounds: 1, Iters: 1, Warmup: 1}); err != nil {
		t.Error(err)
	}
	// A sweep gives distinct plans, fastest first, within budget.
	sols, err := prob.Sweep(6, 0)
	if err != nil || len(sols) < 2 {
		t.Fatalf("sweep: %d solutions, %v", len(sols), err)
	}
	for k := 1; k < len(sols); k++ {
		if sols[k].LatencyMs < sols[k-1].LatencyMs || sols[k].LatencyMs > sols[k].BudgetMs+1e-9 {
			t.Errorf("sweep point %d: %+v after %+v", k, sols[k], sols[k-1])
		}
	}
	pts := []Point{{Name: "a", Kind: "planner", PredictedMs: 1, Importance: 1}, {Name: "b", Kind: "planner", PredictedMs: 2, Importance: 3},
		{Name: "s", Kind: "search", PredictedMs: 1.5, Importance: 2}}
	dir := t.TempDir()
	x := func(p Point) float64 { return p.PredictedMs }
	y := func(p Point) float64 { return p.Importance }
	if err := PlotPoints(pts, PlotOptions{Title: "t", X: x, Y: y}, filepath.Join(dir, "p.png"), filepath.Join(dir, "p.svg")); err != nil {
		t.Error(err)
	}
	if err := PlotPoints(pts, PlotOptions{X: x, Y: y}, filepath.Join(dir, "p.gif")); err == nil {
		t.Error("unknown plot format accepted")
	}
	if f := Front(append(pts, Point{Kind: "planner", PredictedMs: 2, Importance: 0.5}), x, y); len(f) != 3 {
		t.Errorf("front %+v, want a, s, b", f)
	}
}

// memData is an in-memory data set.
type memData struct {
	x       [][]float32
	y       []int
	c, h, w int
	classes int
}

func (d *memData) Len() int                     { return len(d.y) }
func (d *memData) Shape() (int, int, int)       { return d.c, d.h, d.w }
func (d *memData) NumClasses() int              { return d.classes }
func (d *memData) Get(i int, dst []float32) int { copy(dst, d.x[i]); return d.y[i] }
func (d *memData) at(i int) ([]float32, int)    { return d.x[i], d.y[i] }

var _ data.Dataset = (*memData)(nil)

// TestImportanceOrdering builds a model whose labels are its own
// predictions, so the base loss is low; a block scaled up to dominate the
// signal must then matter more than one whose residual branch is scaled
// to nearly nothing.
func TestImportanceOrdering(t *testing.T) {
	o := models.FashionMNIST()
	o.Width, o.Resolution, o.Classes, o.Dropout = 0.35, 12, 3, 0
	g, err := models.MobileNetV2(o)
	if err != nil {
		t.Fatal(err)
	}
	// Make the classifier strong so that the predictions are confident.
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range g.Nodes {
		if n.Op == graph.OpLinear {
			g.Params[n.Params[0]].RandN(rng, 1)
		}
	}
	// Block features.3 (residual): shrink its projection BN so the branch is negligible.
	// Block features.2 (no residual): the signal must pass through it.
	for _, n := range g.Nodes {
		if n.Block == "features.3" && n.Op == graph.OpBatchNorm && n.Name == "features.3.conv.3" {
			g.Params[n.Params[0]].Fill(1e-4)
		}
		if n.Block == "features.2" && n.Op == graph.OpBatchNorm {
			g.Params[n.Params[1]].Fill(-0.5) // negative pre-activation bias: ReLU6 cuts a lot
		}
	}
	ds := &memData{c: 1, h: 12, w: 12, classes: 3}
	for i := 0; i < 64; i++ {
		x := make([]float32, 144)
		for k := range x {
			x[k] = float32(rng.NormFloat64())
		}
		ds.x = append(ds.x, x)
		ds.y = append(ds.y, 0)
	}
	// Label every image with the base model's prediction.
	base, err := lossLabels(g, ds)
	if err != nil {
		t.Fatal(err)
	}
	ds.y = base
	rep, err := Importance(g, []string{"features.2", "features.3"}, ds, ds, ImportanceOptions{Images: 64, BatchSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rep.Units {
		if math.IsNaN(u.Delta) || math.IsInf(u.Delta, 0) {
			t.Fatalf("unit %s: importance %g", u.Unit, u.Delta)
		}
	}
	if !(rep.Units[0].Delta > rep.Units[1].Delta) || math.Abs(rep.Units[1].Delta) > 1e-2 {
		t.Errorf("importance %+v: want features.2 above features.3, features.3 near 0", rep.Units)
	}
	// With calibration the estimate stays finite.
	rep2, err := Importance(g, []string{"features.2"}, ds, ds, ImportanceOptions{Images: 64, BatchSize: 32, CalibBatches: 2})
	if err != nil || math.IsNaN(rep2.Units[0].Delta) {
		t.Fatalf("calibrated importance %+v, %v", rep2, err)
	}
	// Pruning: features.3's branch is negligible, so pruning it costs
	// nearly nothing; features.5's branch matters more; features.2 (no
	// residual) cannot be pruned.
	pb := PrunableBlocks(g)
	if !slices.Contains(pb, "features.3") || slices.Contains(pb, "features.2") {
		t.Errorf("prunable blocks %v", pb)
	}
	pr, err := PruneImportance(g, []string{"features.3", "features.5"}, ds, ds, ImportanceOptions{Images: 64, BatchSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(pr.Units[0].Delta) > 1e-2 || !(pr.Units[1].Delta > pr.Units[0].Delta) {
		t.Errorf("pruning importance %+v: want features.3 near 0, features.5 above it", pr.Units)
	}
	if _, err := PruneImportance(g, []string{"features.2"}, ds, ds, ImportanceOptions{Images: 64}); err == nil {
		t.Error("pruning a block without a residual accepted")
	}
	tb := &Table{Blocks: []string{"features.2", "features.3", "features.5"}}
	if c := PruneCosts(tb, pr); !math.IsInf(c[0], 1) || c[1] != pr.Units[0].Delta || c[2] != pr.Units[1].Delta {
		t.Errorf("prune costs %v", c)
	}
	// Layer pruning: the stride-1 depthwise convolutions of features.3 and
	// .5; features.2's is stride 2.
	lr, err := LayerPruneImportance(g, []string{"features.3", "features.5"}, ds, ds, ImportanceOptions{Images: 64, BatchSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Units) != 2 || lr.Units[0].Unit != LayerPrefix+"features.3" || math.IsNaN(lr.Units[1].Delta) || math.IsInf(lr.Units[1].Delta, 0) {
		t.Errorf("layer pruning importance %+v", lr.Units)
	}
	if _, err := LayerPruneImportance(g, []string{"features.2"}, ds, ds, ImportanceOptions{Images: 64}); err == nil {
		t.Error("a block without a prunable layer accepted")
	}
	if c := LayerPruneCosts(tb, lr); !math.IsInf(c[0], 1) || c[1] != lr.Units[0].Delta || c[2] != lr.Units[1].Delta {
		t.Errorf("layer prune costs %v", c)
	}
}

// lossLabels returns g's arg-max prediction for every image of ds.
func lossLabels(g *graph.Graph, ds *memData) ([]int, error) {
	x, _ := load(ds, 0, ds.Len())
	out := make([]int, ds.Len())
	m, err := nn.NewModel(g, ds.Len())
	if err != nil {
		return nil, err
	}
	logits := m.Forward(x, ds.Len(), false)
	for i := range out {
		row := logits[i*ds.classes : (i+1)*ds.classes]
		for j, v := range row {
			if v > row[out[i]] {
				out[i] = j
			}
		}
	}
	return out, nil
}

func TestSpearman(t *testing.T) {
	if r := Spearman([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}); math.Abs(r-1) > 1e-12 {
		t.Errorf("monotone: %g", r)
	}
	if r := Spearman([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}); math.Abs(r+1) > 1e-12 {
		t.Errorf("reversed: %g", r)
	}
	if r := Spearman([]float64{1, 1}, []float64{1, 2}); !math.IsNaN(r) {
		t.Errorf("constant: %g", r)
	}
}

// sameConv reports how two convolution nodes (and their parameters) differ,
// or "" when they are equal.
func sameConv(ga *graph.Graph, a *graph.Node, gb *graph.Graph, b *graph.Node) string {
	if a.Op != graph.OpConv || b.Op != graph.OpConv {
		return fmt.Sprintf("ops %s and %s", a.Op, b.Op)
	}
	if *a.Conv != *b.Conv {
		return fmt.Sprintf("attributes %+v and %+v", *a.Conv, *b.Conv)
	}
	if len(a.Params) != len(b.Params) {
		return fmt.Sprintf("%d and %d parameters", len(a.Params), len(b.Params))
	}
	for k := range a.Params {
		pa, pb := ga.Params[a.Params[k]], gb.Params[b.Params[k]]
		if !slices.Equal(pa.Shape, pb.Shape) || !slices.Equal(pa.Data, pb.Data) {
			return fmt.Sprintf("parameter %d (%s, %s) differs", k, a.Params[k], b.Params[k])
		}
	}
	return ""
}

// TestTableSegmentsAreMergersOutput checks that every merged segment the
// table times is, node for node, the convolution Realize puts in the model
// of a plan with that segment, and that a planned multi-block model is
// built with exactly the planned segments.
func TestTableSegmentsAreMergersOutput(t *testing.T) {
	g := tinyModel(t)
	g.InitParams(3)
	c, err := analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Profile(g, ProfileOptions{Rounds: 1, Iters: 1, Warmup: 1, Isolated: true})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, s := range tb.Segments {
		if !s.Merged || (s.End-s.Start == 1 && s.Start%4 != 0) {
			continue
		}
		removed := map[string]bool{}
		for _, u := range tb.Units[s.Start:s.End] {
			removed[u] = true
		}
		p := plan.New(g, plan.SourcePlanner, removed)
		p.Segments = [][]string{s.Blocks}
		mg, rep, err := Realize(g, p, merge.Options{})
		if err != nil {
			t.Fatalf("segment %v: %v", s.Blocks, err)
		}
		if rep.Merged != 1 {
			t.Fatalf("segment %v: %d merged chains, want 1", s.Blocks, rep.Merged)
		}
		seg, _, err := c.mergedRun(s.Start, s.End)
		if err != nil {
			t.Fatal(err)
		}
		var timed, built *graph.Node
		for _, n := range seg.Nodes {
			if n.Op == graph.OpConv {
				timed = n
			}
		}
		for _, n := range mg.Nodes {
			if n.Output == s.To && n.Inputs[0] == s.From {
				built = n
			}
		}
		if timed == nil || built == nil || len(seg.Nodes) != 2 {
			t.Fatalf("segment %v: timed graph %d nodes, conv %v; built conv %v", s.Blocks, len(seg.Nodes), timed, built)
		}
		if d := sameConv(seg, timed, mg, built); d != "" {
			t.Errorf("segment %v: the timed convolution and the realized one differ: %s", s.Blocks, d)
		}
		var kh, kw int
		if _, err := fmt.Sscanf(s.Kernel, "%dx%d", &kh, &kw); err != nil || kh != built.Conv.KH || kw != built.Conv.KW {
			t.Errorf("segment %v: table kernel %q, built %dx%d", s.Blocks, s.Kernel, built.Conv.KH, built.Conv.KW)
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("only %d segments checked", checked)
	}
	// A planned model with multi-block segments is built with exactly them.
	imp := make([]float64, len(tb.Blocks))
	for i := range imp {
		imp[i] = float64(i%3) + 0.5
	}
	prob, err := NewProblem(tb, imp, ProblemOptions{MultiBlock: true})
	if err != nil {
		t.Fatal(err)
	}
	sol, err := prob.Solve(prob.MinLatency()*1.05, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanFor(g, tb, sol, "test")
	if err != nil {
		t.Fatal(err)
	}
	multi := 0
	for _, s := range p.Segments {
		if len(s) > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Fatalf("the fastest plan has no multi-block segment: %v", p.Segments)
	}
	_, rep, err := Realize(g, p, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != len(sol.Segments) {
		t.Errorf("%d merged chains for %d planned segments", rep.Merged, len(sol.Segments))
	}
	for _, ch := range rep.Chains {
		found := false
		for _, s := range sol.Segments {
			if slices.Equal(ch.Blocks, tb.Blocks[s[0]:s[1]]) {
				found = true
			}
		}
		if ch.Merged && !found {
			t.Errorf("merged chain %s spans %v, not a planned segment", ch.Name, ch.Blocks)
		}
	}
}

// TestPlanWithPruningRoundTrip plans with pruning on a measured table,
// writes and reads the plan, and checks that the realized model prunes
// the planned blocks, merges the planned segments and equals the plan's
// unmerged model.
func TestPlanWithPruningRoundTrip(t *testing.T) {
	g := tinyModel(t)
	g.InitParams(4)
	randomBN(g, 4)
	tb, err := Profile(g, ProfileOptions{Rounds: 1, Iters: 1, Warmup: 1, Isolated: true})
	if err != nil {
		t.Fatal(err)
	}
	imp := make([]float64, len(tb.Blocks))
	prune := make([]float64, len(tb.Blocks))
	prunable := PrunableBlocks(g)
	for i, b := range tb.Blocks {
		imp[i] = 1
		prune[i] = math.Inf(1)
		if slices.Contains(prunable, b) {
			prune[i] = 1.2 // a little worse than losing the activations
		}
	}
	prob, err := NewProblem(tb, imp, ProblemOptions{MultiBlock: true, Prune: prune})
	if err != nil {
		t.Fatal(err)
	}
	sol, err := prob.Solve(prob.MinLatency()*1.02, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanFor(g, tb, sol, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Pruned) == 0 {
		t.Fatalf("the fastest plan prunes nothing (pruned blocks cost no latency): %+v", sol)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Pruned, p.Pruned) || len(q.Segments) != len(p.Segments) || q.Validate(g) != nil {
		t.Fatalf("round trip: pruned %v segments %v, want %v and %v", q.Pruned, q.Segments, p.Pruned, p.Segments)
	}
	mg, rep, err := Realize(g, q, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != len(q.Segments) {
		t.Errorf("%d merged chains for %d segments", rep.Merged, len(q.Segments))
	}
	for _, b := range q.Pruned {
		for _, n := range mg.Nodes {
			if n.Block == b {
				t.Errorf("node %s of pruned block %s left", n.Name, b)
			}
		}
	}
	ap, err := ApplyPlanned(g, q)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := merge.Verify(ap, mg, merge.VerifyOptions{})
	if err != nil || !vr.OK {
		t.Errorf("realized plan does not verify against its unmerged form: %+v, %v", vr, err)
	}
	// Fine-tuning changes the weights of the ApplyPlanned form; MergePlanned
	// still merges it exactly along the plan's runs.
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range ap.Nodes {
		if n.Op == graph.OpConv {
			w := ap.Params[n.Params[0]]
			for i := range w.Data {
				w.Data[i] *= float32(1 + 0.1*rng.NormFloat64())
			}
		}
	}
	fm, frep, err := MergePlanned(ap, q)
	if err != nil {
		t.Fatal(err)
	}
	if frep.Merged != len(q.Segments) {
		t.Errorf("fine-tuned: %d merged chains for %d segments", frep.Merged, len(q.Segments))
	}
	if vr, err := merge.Verify(ap, fm, merge.VerifyOptions{}); err != nil || !vr.OK {
		t.Errorf("merged fine-tuned model does not verify: %+v, %v", vr, err)
	}
}

// randomBN gives every BatchNorm of g non-trivial statistics and shift,
// so that the border forms (pad-first or not) differ.
func randomBN(g *graph.Graph, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, n := range g.Nodes {
		if n.Op != graph.OpBatchNorm {
			continue
		}
		for k, p := range n.Params {
			d := g.Params[p].Data
			for i := range d {
				switch k {
				case 1, 2: // shift, running mean
					d[i] = float32(0.5 * rng.NormFloat64())
				case 3: // running variance
					d[i] = float32(0.5 + rng.Float64())
				}
			}
		}
	}
}

// TestApplyPlannedSingleBlocks checks that for runs of one block the
// planner's form is plan.Apply's per-block pad-first form (same function,
// unlike the form without pad-first).
func TestApplyPlannedSingleBlocks(t *testing.T) {
	g := tinyModel(t)
	g.InitParams(6)
	randomBN(g, 6)
	removed := map[string]bool{}
	var segs [][]string
	for _, b := range []string{"features.3", "features.4", "features.8"} {
		removed[b] = true
		segs = append(segs, []string{b})
	}
	p := plan.New(g, plan.SourcePlanner, removed)
	p.Segments = segs
	a, err := ApplyPlanned(g, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := plan.Apply(g, p, plan.ApplyOptions{PadFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := merge.Verify(b, a, merge.VerifyOptions{})
	if err != nil || !vr.OK {
		t.Errorf("ApplyPlanned and per-block pad-first differ: %+v, %v", vr, err)
	}
	c, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vr, err := merge.Verify(c, a, merge.VerifyOptions{}); err != nil || vr.OK {
		t.Errorf("the pad-first form equals the plain one (%+v, %v): the test's BatchNorms do not reach the border", vr, err)
	}
}

// TestLayerPrunedSegments profiles with layer pruning, checks that every
// layer-pruned segment is the convolution Realize builds for a plan with it
// (a 1x1 kernel: the depthwise layers are gone) and that a plan using them
// survives a file round trip and merges exactly.
func TestLayerPrunedSegments(t *testing.T) {
	g := tinyModel(t)
	g.InitParams(8)
	randomBN(g, 8)
	c, err := analyze(g)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Profile(g, ProfileOptions{Rounds: 1, Iters: 1, Warmup: 1, LayerPruning: true})
	if err != nil {
		t.Fatal(err)
	}
	lp := 0
	for _, s := range tb.Segments {
		if !s.LayerPruned {
			continue
		}
		lp++
		if !s.Context || !(s.Ms > 0) || len(s.PrunedLayers) != s.End-s.Start || !strings.HasPrefix(s.Kernel, "1x1") {
			t.Errorf("layer-pruned segment %v: %+v", s.Blocks, s)
		}
		if s.Start%3 != 0 {
			continue
		}
		removed := map[string]bool{}
		for _, u := range tb.Units[s.Start:s.End] {
			removed[u] = true
		}
		p := plan.New(g, plan.SourcePlanner, removed)
		p.Segments = [][]string{s.Blocks}
		p.PrunedLayers = s.PrunedLayers
		mg, _, err := Realize(g, p, merge.Options{})
		if err != nil {
			t.Fatal(err)
		}
		seg, _, err := c.mergedRunLP(s.Start, s.End)
		if err != nil {
			t.Fatal(err)
		}
		var timed, built *graph.Node
		for _, n := range seg.Nodes {
			if n.Op == graph.OpConv {
				timed = n
			}
		}
		for _, n := range mg.Nodes {
			if n.Output == s.To && n.Inputs[0] == s.From {
				built = n
			}
		}
		if timed == nil || built == nil {
			t.Fatalf("segment %v: timed %v, built %v", s.Blocks, timed, built)
		}
		if d := sameConv(seg, timed, mg, built); d != "" {
			t.Errorf("layer-pruned segment %v: timed and realized convolutions differ: %s", s.Blocks, d)
		}
	}
	if lp == 0 {
		t.Fatal("no layer-pruned segment")
	}
	imp := make([]float64, len(tb.Blocks))
	lpc := make([]float64, len(tb.Blocks))
	for i := range imp {
		imp[i] = 1
		lpc[i] = math.Inf(1)
		if c.layers[i] != "" {
			lpc[i] = 0.05
		}
	}
	prob, err := NewProblem(tb, imp, ProblemOptions{MultiBlock: true, LayerPrune: lpc})
	if err != nil {
		t.Fatal(err)
	}
	sol, err := prob.Solve(prob.MinLatency()*1.02, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanFor(g, tb, sol, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.PrunedLayers) == 0 {
		t.Fatalf("the fastest plan prunes no layer: %+v", sol)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.PrunedLayers, p.PrunedLayers) || q.Validate(g) != nil {
		t.Fatalf("round trip: %v, want %v (%v)", q.PrunedLayers, p.PrunedLayers, q.Validate(g))
	}
	mg, rep, err := Realize(g, q, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != len(q.Segments) {
		t.Errorf("%d merged chains for %d segments", rep.Merged, len(q.Segments))
	}
	ap, err := ApplyPlanned(g, q)
	if err != nil {
		t.Fatal(err)
	}
	if vr, err := merge.Verify(ap, mg, merge.VerifyOptions{}); err != nil || !vr.OK {
		t.Errorf("realized plan with pruned layers does not verify: %+v, %v", vr, err)
	}
	mp, err := PredictPlan(tb, q)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(mp.MergedMs-sol.LatencyMs) > 1e-9 {
		t.Errorf("PredictPlan %.5f, the solver %.5f", mp.MergedMs, sol.LatencyMs)
	}
}
