package latency

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
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
			if s.Realizable {
				t.Errorf("multi-block segment %v marked realizable", s.Blocks)
			}
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
	for _, s := range tb.Segments {
		if s.End-s.Start == 1 && (!s.Context || !(s.Ms > 0) || !(s.IsolatedMs > 0)) {
			t.Errorf("segment %v: context %v, ms %g, isolated %g", s.Blocks, s.Context, s.Ms, s.IsolatedMs)
		}
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
