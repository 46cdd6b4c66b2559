package shrink

import (
	"context"
	"errors"
	"github.com/dshrink/dshrink/internal/testref"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/train"
)

// tinyMBV2 is a MobileNetV2-0.1 for 1x28x28 inputs (stem stride 2): the full
// 17-block structure at a size that trains in a fraction of a second.
func tinyMBV2(t testing.TB) *graph.Graph {
	t.Helper()
	g, err := models.MobileNetV2(models.Options{Width: 0.1, InChannels: 1, Resolution: 28, Classes: 10, StemStride: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// fmnist returns nTrain training and nTest test images of Fashion-MNIST, or
// skips the test when the data set is not installed.
func fmnist(t testing.TB, nTrain, nTest int) *train.Datasets {
	t.Helper()
	if _, err := os.Stat(filepath.Join(data.DefaultFashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		testref.Missing(t, "Fashion-MNIST in "+data.DefaultFashionMNISTDir, "apt-get install dataset-fashion-mnist: "+err.Error())
	}
	ds, err := train.LoadDatasets(train.DataConfig{Dataset: "fashion-mnist", TrainSubset: nTrain, TestSubset: nTest}, 7)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// quickTrain is a short training recipe for tests.
func quickTrain(out string, epochs int, lr float64) train.Config {
	c := train.DefaultConfig()
	c.Epochs, c.BatchSize, c.EvalBatchSize, c.LR = epochs, 50, 100, lr
	c.Data.RandomCropPad, c.Data.HFlip = 0, false
	c.Out, c.Quiet, c.Seed = out, true, 3
	c.Distill = train.DistillConfig{}
	return c
}

func TestKeepCountAndSelect(t *testing.T) {
	for _, c := range []struct {
		u     int
		r     float64
		keep  int
		want  int
		isErr bool
	}{
		{17, 0.4, -1, 6, false}, {10, 0.4, -1, 4, false}, {17, 0, -1, 0, false}, {17, 1, -1, 17, false},
		{17, 0.4, 3, 3, false}, {17, 0.4, 18, 0, true}, {17, 1.5, -1, 0, true}, {17, math.NaN(), -1, 0, true},
	} {
		got, err := KeepCount(c.u, c.r, c.keep)
		if (err != nil) != c.isErr || (!c.isErr && got != c.want) {
			t.Errorf("KeepCount(%d, %g, %d) = %d, %v; want %d (error %v)", c.u, c.r, c.keep, got, err, c.want, c.isErr)
		}
	}
	keep := SelectKept([]float64{0.5, 0, 0.2, 0, 1}, []float64{0, -1, 0, 2, 0}, 2)
	if want := []bool{false, true, false, true, false}; !equalBools(keep, want) {
		t.Errorf("SelectKept = %v, want %v", keep, want)
	}
	// Ties broken by the gradient average: unit 3 (larger) before unit 1.
	keep = SelectKept([]float64{0.5, 0, 0.2, 0, 1}, []float64{0, -1, 0, 2, 0}, 1)
	if want := []bool{false, false, false, true, false}; !equalBools(keep, want) {
		t.Errorf("SelectKept tie = %v, want %v", keep, want)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lossOf runs m in eval mode on x and returns the mean cross-entropy and its
// gradient with respect to the logits.
func lossOf(t *testing.T, m *nn.Model, x []float32, labels []int32, n int) (float64, []float32) {
	t.Helper()
	logits := m.Forward(x, n, false)
	d := make([]float32, n*10)
	loss, _, err := nn.CrossEntropy(logits, labels, n, 10, 0, d)
	if err != nil {
		t.Fatal(err)
	}
	return loss, d
}

// TestGateGradientSTE checks, for the search's gates on a MobileNetV2 with
// trained-like random BatchNorm statistics, that the gradient reaching each
// gate through the straight-through path at a hard mask point (m = 0 kept,
// m = 1 removed) equals the finite difference of the soft form
// act(x) + s*(x - act(x)) at s = m, and that a block's gate gradient is the
// sum of its activations' gradients (sum over the unit of dy*(x - act(x))).
func TestGateGradientSTE(t *testing.T) {
	g := tinyMBV2(t)
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 4
	x := make([]float32, n*784)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	// Random BatchNorm shifts (init statistics: mean 0, variance 1) so that
	// the ReLU6s clip on both sides.
	for _, nd := range g.Nodes {
		if nd.Op == graph.OpBatchNorm {
			for j := range g.Params[nd.Params[1]].Data {
				g.Params[nd.Params[1]].Data[j] = float32(rng.NormFloat64() * 0.5)
			}
		}
	}
	labels := []int32{1, 3, 5, 7}
	cands := Candidates(g, false)
	m, err := nn.NewModel(g, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnableGates(cands); err != nil {
		t.Fatal(err)
	}
	vals := make([]float64, len(cands))
	for i := range vals {
		vals[i] = rng.Float64()
	}
	keep := SelectKept(vals, nil, 7)
	for i, u := range cands {
		m.Gates[u].Value = float32(vals[i])
		m.Gates[u].Mask = 1
		if keep[i] {
			m.Gates[u].Mask = 0
		}
	}
	_, d := lossOf(t, m, x, labels, n)
	m.Backward(d)
	grads := map[string]float64{}
	for _, u := range cands {
		grads[u] = float64(m.Gates[u].Grad)
	}
	// The loss is piecewise smooth in s (the other activations have kinks),
	// so the central difference is taken at two small steps and the closer
	// one is used: every gate within 25%, all gates together within 5% (L2).
	checked := 0
	var num, den float64
	for i, u := range cands {
		gt := m.Gates[u]
		m0 := gt.Mask
		best := math.Inf(1)
		for _, eps := range []float32{1e-3, 3e-4} {
			gt.Mask = m0 + eps
			lp, _ := lossOf(t, m, x, labels, n)
			gt.Mask = m0 - eps
			lm, _ := lossOf(t, m, x, labels, n)
			gt.Mask = m0
			fd := (lp - lm) / float64(2*eps)
			if math.Abs(fd-grads[u]) < math.Abs(best-grads[u]) {
				best = fd
			}
		}
		num += (best - grads[u]) * (best - grads[u])
		den += best * best
		if math.Abs(best-grads[u]) > 0.25*math.Abs(best)+2e-3 {
			t.Errorf("unit %s (mask %v): gate gradient %.6g, finite difference of the soft form %.6g", u, m0, grads[u], best)
		}
		if keep[i] {
			checked++
		}
	}
	if rel := math.Sqrt(num / den); rel > 0.05 {
		t.Errorf("gate gradients differ from the finite differences by %.3g (relative L2), want <= 0.05", rel)
	} else {
		t.Logf("gate gradients vs finite differences: relative L2 difference %.3g over %d gates", rel, len(cands))
	}
	if checked == 0 || checked == len(cands) {
		t.Fatalf("want both kept and removed units checked, kept %d of %d", checked, len(cands))
	}

	// Per activation: the block's gradient is the sum over its activations.
	pa := PerActivationUnits(g)
	pm, err := nn.NewModel(pa, n)
	if err != nil {
		t.Fatal(err)
	}
	pc := Candidates(pa, false)
	if err := pm.EnableGates(pc); err != nil {
		t.Fatal(err)
	}
	blockOf := map[string]string{}
	for _, u := range pa.Units {
		blockOf[u.Name] = u.Block
	}
	mask := map[string]float32{}
	for _, u := range cands {
		mask[u] = m.Gates[u].Mask
	}
	for _, u := range pc {
		pm.Gates[u].Mask = mask[blockOf[u]] // the block's unit is named after its block
	}
	_, d = lossOf(t, pm, x, labels, n)
	pm.Backward(d)
	sum := map[string]float64{}
	for _, u := range pc {
		sum[blockOf[u]] += float64(pm.Gates[u].Grad)
	}
	for _, u := range cands {
		if math.Abs(sum[u]-grads[u]) > 1e-3*math.Max(math.Abs(grads[u]), 1e-3) {
			t.Errorf("unit %s: block gate gradient %.6g, sum over its activations %.6g", u, grads[u], sum[u])
		}
	}
	if len(pc) <= len(cands) {
		t.Errorf("per-activation copy has %d candidates, per block %d", len(pc), len(cands))
	}
}

// TestSearchBudgetAndPlan runs a short search and checks that the budget is
// met exactly at every step, that the plan file round-trips and is accepted
// by plan.Apply and merge.
func TestSearchBudgetAndPlan(t *testing.T) {
	ds := fmnist(t, 200, 100)
	for _, c := range []struct {
		name     string
		ratio    float64
		keep     int
		perAct   bool
		wantKept int
	}{
		{"ratio", 0.4, -1, false, 6},
		{"keep", 0.4, 9, false, 9},
		{"per-activation", 0.5, -1, true, 16}, // 33 activations in 17 blocks
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tinyMBV2(t)
			dir := t.TempDir()
			tc := quickTrain(dir, 2, 0.05)
			tc.Optimizer.ScalarLRScale = 10
			steps := 0
			// Units whose blocks would not merge get no gate and count as kept.
			gg := g
			if c.perAct {
				gg = PerActivationUnits(g)
			}
			_, excl, err := SearchCandidates(gg, false, false, merge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Search(context.Background(), g, SearchOptions{KeepRatio: c.ratio, Keep: c.keep, PerActivation: c.perAct, Train: tc, Data: ds, Log: io.Discard,
				OnStep: func(step int, gates map[string]*nn.Gate) {
					kept := 0
					maxKept, minRemoved := float32(math.Inf(-1)), float32(math.Inf(1))
					for u, gt := range gates {
						if gt.Mask != 0 && gt.Mask != 1 {
							t.Fatalf("step %d: unit %s has mask %v, want 0 or 1", step, u, gt.Mask)
						}
						if gt.Mask == 0 {
							kept++
							maxKept = max(maxKept, gt.Value)
						} else {
							minRemoved = min(minRemoved, gt.Value)
						}
					}
					// The raw gates rank the units (no clamp): every kept
					// unit's gate is at most every removed unit's.
					if maxKept > minRemoved {
						t.Fatalf("step %d: a kept unit has gate %v above a removed unit's %v", step, maxKept, minRemoved)
					}
					if kept+len(excl) != c.wantKept {
						t.Fatalf("step %d: %d gated units + %d excluded keep their activation, want %d", step, kept, len(excl), c.wantKept)
					}
					steps++
				}})
			if err != nil {
				t.Fatal(err)
			}
			if steps != 8 {
				t.Errorf("OnStep ran %d times, want 8", steps)
			}
			p := res.Plan
			if p.Source != plan.SourceSearch {
				t.Errorf("plan source %q", p.Source)
			}
			nRemoved := len(p.Removed())
			if nRemoved != len(res.Candidates)+len(res.Excluded)-c.wantKept {
				t.Errorf("plan removes %d units, want %d", nRemoved, len(res.Candidates)+len(res.Excluded)-c.wantKept)
			}
			if len(res.Excluded) != len(excl) {
				t.Errorf("search excluded %v, want %v", res.Excluded, excl)
			}
			for _, u := range p.Units {
				isCand := false
				for _, cu := range res.Candidates {
					isCand = isCand || cu == u.Name
				}
				if isCand != (u.Gate != nil) {
					t.Errorf("unit %s: candidate %v but gate %v", u.Name, isCand, u.Gate)
				}
				if !isCand && !u.Keep {
					t.Errorf("unit %s is not a candidate but is removed", u.Name)
				}
			}
			var sb strings.Builder
			if err := WriteSummary(&sb, p); err != nil || !strings.Contains(sb.String(), "remove") {
				t.Errorf("summary: %v\n%s", err, sb.String())
			}
			path := filepath.Join(dir, "plan.json")
			if err := p.Save(path); err != nil {
				t.Fatal(err)
			}
			q, qg, err := ResolvePlan(path, g)
			if err != nil {
				t.Fatal(err)
			}
			if len(qg.Units) != len(res.Graph.Units) || !equalInts(q.Vector(qg), p.Vector(res.Graph)) {
				t.Errorf("plan round trip changed the decisions")
			}
			for i := range q.Units {
				if (q.Units[i].Gate == nil) != (p.Units[i].Gate == nil) || (q.Units[i].Gate != nil && *q.Units[i].Gate != *p.Units[i].Gate) {
					t.Errorf("unit %s: gate changed in round trip", q.Units[i].Name)
				}
			}
			applied, err := plan.Apply(qg, q, plan.ApplyOptions{PadFirst: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, rep, err := merge.Merge(applied, merge.Options{}); err != nil || rep.Merged == 0 {
				t.Fatalf("merge of the searched plan: %v (merged %v)", err, rep)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMalformedPlansRejected(t *testing.T) {
	g := tinyMBV2(t)
	dir := t.TempDir()
	good := plan.New(g, plan.SourceSearch, map[string]bool{"features.3": true})
	var sb strings.Builder
	if err := good.Encode(&sb); err != nil {
		t.Fatal(err)
	}
	text := sb.String()
	cases := map[string]string{
		"garbage":       "{not json",
		"version":       strings.Replace(text, `"version": 1`, `"version": 7`, 1),
		"unknown field": strings.Replace(text, `"version": 1`, `"version": 1, "colour": "red"`, 1),
		"unknown unit":  strings.Replace(text, `"features.5"`, `"features.55"`, 1),
		"duplicate":     strings.Replace(text, `"features.5"`, `"features.4"`, 1),
		"model":         strings.Replace(text, `"model": "`+g.Name+`"`, `"model": "resnet50"`, 1),
		"gate range":    strings.Replace(text, `"keep": false`, `"keep": false, "gate": 1.5`, 1),
		"missing unit":  strings.Replace(text, "{\n      \"name\": \"features.18\",\n      \"keep\": true\n    }", "", 1),
	}
	for name, body := range cases {
		if body == text {
			t.Fatalf("case %s did not change the plan", name)
		}
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ResolvePlan(path, g); err == nil {
			t.Errorf("%s: malformed plan accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	for _, spec := range []string{"", "features.99", "features.3-1", "nope.json", "ds-z"} {
		if _, _, err := ResolvePlan(spec, g); err == nil {
			t.Errorf("plan argument %q accepted", spec)
		}
	}
	for _, spec := range []string{"all", "ds-a", "DS-F", "features.3,features.5-8"} {
		if _, _, err := ResolvePlan(spec, g); err != nil {
			t.Errorf("plan argument %q: %v", spec, err)
		}
	}
}

func TestBaselinePlans(t *testing.T) {
	g := tinyMBV2(t)
	cands := Candidates(g, false)
	for _, kind := range []Baseline{BaselineRandom, BaselineLastK} {
		p, err := BaselinePlan(kind, g, Candidates(g, false), 10, 4)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(g); err != nil {
			t.Fatal(err)
		}
		if n := removedCandidates(p, Candidates(g, false)); n != 10 || len(p.Removed()) != 10 {
			t.Errorf("%s removes %d candidates, want 10", kind, n)
		}
	}
	p, _ := BaselinePlan(BaselineLastK, g, Candidates(g, false), 3, 0)
	if r := p.Removed(); strings.Join(r, ",") != strings.Join(cands[len(cands)-3:], ",") {
		t.Errorf("last-k removes %v", r)
	}
	a, _ := BaselinePlan(BaselineRandom, g, Candidates(g, false), 8, 1)
	b, _ := BaselinePlan(BaselineRandom, g, Candidates(g, false), 8, 2)
	if strings.Join(a.Removed(), ",") == strings.Join(b.Removed(), ",") {
		t.Errorf("random plans of two seeds are equal: %v", a.Removed())
	}
	if _, err := BaselinePlan(BaselineRandom, g, Candidates(g, false), 18, 1); err == nil {
		t.Error("over-budget baseline accepted")
	}
	if _, err := ParseBaseline("greedy"); err == nil {
		t.Error("unknown baseline accepted")
	}
}

// TestEndToEnd runs search, fine-tune, merge and verify on a tiny model and
// checks that the merged model predicts exactly as the fine-tuned one.
func TestEndToEnd(t *testing.T) {
	ds := fmnist(t, 300, 200)
	dir := t.TempDir()
	base := tinyMBV2(t)
	br, err := train.Run(context.Background(), quickTrain(filepath.Join(dir, "base"), 2, 0.1), train.Options{Graph: base, Data: ds, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	base = br.Graph
	sres, err := Search(context.Background(), base, SearchOptions{KeepRatio: 0.4, Keep: -1, Train: quickTrain(filepath.Join(dir, "search"), 1, 0.01), Data: ds, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	tc := quickTrain(filepath.Join(dir, "ft"), 1, 0.01)
	tc.Distill = train.DistillConfig{Weight: 0.7, Temperature: 1}
	rep, err := Finetune(context.Background(), base, FinetuneOptions{Plan: sres.Plan, PadFirst: true, Train: tc, Data: ds, Log: io.Discard,
		RealImages: 4, Verify: merge.VerifyOptions{Random: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// Every removed block is merged, except the expansion-1 block
	// features.1, which merge's MAC check leaves alone.
	wantChains := rep.RemovedN
	if !sres.Plan.Keep("features.1") {
		wantChains--
	}
	if !rep.Verify.OK || rep.Chains != wantChains || rep.RemovedN != 11 {
		t.Errorf("verify %+v, %d chains merged for %d removed units (want %d)", rep.Verify, rep.Chains, rep.RemovedN, wantChains)
	}
	if rep.Agreement != 1 {
		t.Errorf("merged and fine-tuned predictions agree on %.4f of the images, want all", rep.Agreement)
	}
	if rep.Merged.Top1 != rep.Finetuned.Top1 || rep.Merged.Convs >= rep.Finetuned.Convs {
		t.Errorf("merged %+v vs fine-tuned %+v", rep.Merged, rep.Finetuned)
	}
	if rep.Distill.Teacher == "" {
		t.Error("no teacher used")
	}
	for _, f := range []string{FinetunedFile, MergedFile, ReportFile, PlanFile, TeacherFile} {
		if _, err := os.Stat(filepath.Join(dir, "ft", f)); err != nil {
			t.Error(err)
		}
	}
	// The files reload and give the same predictions.
	ft, err := graph.Load(filepath.Join(dir, "ft", FinetunedFile))
	if err != nil {
		t.Fatal(err)
	}
	mg, err := graph.Load(filepath.Join(dir, "ft", MergedFile))
	if err != nil {
		t.Fatal(err)
	}
	_, p1, err := EvaluatePredict(ft, ds.Eval, 100)
	if err != nil {
		t.Fatal(err)
	}
	_, p2, err := EvaluatePredict(mg, ds.Eval, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(p1, p2) {
		t.Error("reloaded merged model predicts differently from the fine-tuned one")
	}
	if lat, err := MeasureLatency(mg, 1, 1, 5); err != nil || lat.MedianMs <= 0 {
		t.Errorf("latency of the merged model: %+v, %v", lat, err)
	}
	// A tolerance nobody can meet is refused and writes no merged model.
	tc.Out = filepath.Join(dir, "ft-strict")
	_, err = Finetune(context.Background(), base, FinetuneOptions{Plan: sres.Plan, PadFirst: true, Train: tc, Data: ds, Log: io.Discard,
		Verify: merge.VerifyOptions{Random: 1, Tol: 1e-30}})
	if !errors.Is(err, merge.ErrTolerance) {
		t.Errorf("impossible tolerance: error %v", err)
	}
	if _, serr := os.Stat(filepath.Join(tc.Out, MergedFile)); serr == nil {
		t.Error("merged model written above tolerance")
	}
}

func TestConfigs(t *testing.T) {
	for _, f := range []string{"shrink-fmnist.yaml", "shrink-quick.yaml", "search.yaml", "finetune.yaml"} {
		c, err := LoadConfig(filepath.Join("..", "configs", f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if f == "shrink-fmnist.yaml" {
			d := DefaultConfig()
			if !reflect.DeepEqual(c.Search, d.Search) || c.Finetune.Train.Epochs != d.Finetune.Train.Epochs || !c.Finetune.PadFirst ||
				c.Method != d.Method || c.Target != d.Target || c.Planner != d.Planner || c.Base.Train.Epochs != d.Base.Train.Epochs {
				t.Errorf("%s differs from the defaults it documents: %+v", f, c)
			}
		}
	}
	for _, bad := range []string{"serach:\n  keep_ratio: 0.4\n", "search:\n  keep_ratio: 1.5\n", "finetune:\n  temperature: 0\n",
		"compare:\n  baselines: [greedy]\n", "search:\n  train:\n    epochs: 0\n", "search:\n  train:\n    optimizer: {name: lion}\n"} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("config %q accepted", bad)
		} else {
			t.Logf("%q: %v", bad, err)
		}
	}
}

// TestPipelineResume runs the whole pipeline on a tiny model: interrupted at
// once (the base stage leaves a checkpoint), resumed, then rerun with every
// stage skipped; with a comparison of two seeds per arm.
func TestPipelineResume(t *testing.T) {
	ds := fmnist(t, 200, 100)
	cfg := DefaultConfig()
	cfg.Method, cfg.Target = MethodSearch, Target{} // keep ratio 0.4: 11 blocks removed
	cfg.Out = t.TempDir()
	cfg.Quiet = true
	cfg.Data.RandomCropPad, cfg.Data.HFlip = 0, false
	cfg.Base.Arch = train.ModelConfig{Arch: "mobilenet_v2", Width: 0.1, StemStride: 2}
	for _, st := range []*StageTrain{&cfg.Base.Train, &cfg.Search.Train, &cfg.Finetune.Train} {
		st.Epochs, st.BatchSize, st.EvalBatchSize = 1, 50, 100
	}
	cfg.Bench.Iters = 5
	cfg.Verify.RealImages = 4
	cfg.Compare = CompareConfig{Baselines: []string{"random", "last-k"}, Seeds: 2}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunPipeline(ctx, cfg, PipelineOptions{Data: ds, Log: io.Discard}); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("cancelled run: error %v, want ErrInterrupted", err)
	}
	if !hasCheckpoint(filepath.Join(cfg.Out, "base")) {
		t.Fatal("interrupted base stage left no checkpoint")
	}
	sum, err := RunPipeline(context.Background(), cfg, PipelineOptions{Data: ds, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stages[0].Status != "resumed" {
		t.Errorf("base stage %q, want resumed", sum.Stages[0].Status)
	}
	if sum.RemovedBlocks != 11 || sum.Blocks != 17 || sum.Verify == nil || !sum.Verify.OK || sum.Agreement != 1 {
		t.Errorf("summary: removed %d of %d blocks, verify %+v, agreement %v", sum.RemovedBlocks, sum.Blocks, sum.Verify, sum.Agreement)
	}
	if sum.BaseLatency == nil || sum.Speedup <= 0 {
		t.Errorf("no latency: %+v", sum.BaseLatency)
	}
	if sum.Compare == nil || len(sum.Compare.Arms) != 3 || sum.Compare.Budget != 11 {
		t.Fatalf("comparison %+v", sum.Compare)
	}
	for _, a := range sum.Compare.Arms {
		if len(a.Runs) != 2 {
			t.Errorf("arm %s has %d runs", a.Name, len(a.Runs))
		}
		for _, r := range a.Runs {
			if len(r.Removed) != 11 {
				t.Errorf("arm %s seed %d removes %d units", a.Name, r.Seed, len(r.Removed))
			}
		}
	}
	var sb strings.Builder
	if err := sum.WriteTable(&sb); err != nil || !strings.Contains(sb.String(), "merged") {
		t.Errorf("table: %v\n%s", err, sb.String())
	}
	for _, f := range []string{SummaryFile, SummaryMDFile, BenchFile, CompareFile, CompareMDFile} {
		if _, err := os.Stat(filepath.Join(cfg.Out, f)); err != nil {
			t.Error(err)
		}
	}
	again, err := RunPipeline(context.Background(), cfg, PipelineOptions{Data: ds, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range again.Stages {
		if !strings.HasPrefix(st.Status, "skipped") {
			t.Errorf("rerun: stage %s %s, want skipped", st.Stage, st.Status)
		}
	}
	if again.Merged.Top1 != sum.Merged.Top1 {
		t.Errorf("rerun changed the result: %v vs %v", again.Merged.Top1, sum.Merged.Top1)
	}
}

func TestStageConfigCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stage")
	type k struct{ A int }
	if err := checkStageConfig(dir, "s", k{1}); err != nil {
		t.Fatal(err)
	}
	if err := checkStageConfig(dir, "s", k{1}); err != nil {
		t.Fatal(err)
	}
	if err := checkStageConfig(dir, "s", k{2}); err == nil || !strings.Contains(err.Error(), "another configuration") {
		t.Fatalf("changed configuration: %v", err)
	}
}

func TestMergeableCandidates(t *testing.T) {
	g, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	all := Candidates(g, false)
	got, excl, err := MergeableCandidates(g, false, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// features.1 (expansion 1: depthwise 3x3 + 1x1) grows 5.8x when merged,
	// past the default limit of 2x: it is the only block left out.
	if len(excl) != 1 || excl[0].Block != "features.1" || excl[0].Reason == "" {
		t.Fatalf("excluded %+v, want features.1 with a reason", excl)
	}
	if len(got) != len(all)-1 {
		t.Fatalf("%d mergeable candidates of %d", len(got), len(all))
	}
	for _, u := range got {
		if u == excl[0].Unit {
			t.Fatalf("excluded unit %s among the candidates", u)
		}
	}
	forced, excl, err := MergeableCandidates(g, false, merge.Options{Force: true})
	if err != nil || len(excl) != 0 || len(forced) != len(all) {
		t.Fatalf("with Force: %d candidates, excluded %v, err %v", len(forced), excl, err)
	}
	incl, _, err := SearchCandidates(g, false, true, merge.Options{})
	if err != nil || len(incl) != len(all) {
		t.Fatalf("IncludeUnmergeable: %d candidates, err %v", len(incl), err)
	}
}
