package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/shrink"
	"github.com/dshrink/dshrink/train"
)

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeMetrics(t *testing.T, path string, ms ...train.EpochMetrics) {
	t.Helper()
	var buf bytes.Buffer
	for _, m := range ms {
		b, _ := json.Marshal(m)
		buf.Write(append(b, '\n'))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// syntheticRun writes a run directory such as shrink.RunPipeline leaves,
// without model files, and returns it.
func syntheticRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	g := func(v float64) *float64 { return &v }
	p := &plan.Plan{Version: plan.Version, Model: "mobilenet_v2_0.5", Source: plan.SourceSearch, Units: []plan.Unit{
		{Name: "features.0", Keep: true},
		{Name: "features.1", Keep: true, Gate: g(0.01)},
		{Name: "features.2", Keep: false, Gate: g(0.83)},
		{Name: "features.3", Keep: false, Gate: g(0.61)},
		{Name: "features.4", Keep: true},
	}}
	writeJSONFile(t, filepath.Join(dir, "search", shrink.PlanFile), p)
	verify := &merge.Result{Images: 18, RealImages: 16, MaxAbs: 1.5e-5, Scale: 118, MaxRel: 1.3e-7, Tol: 1e-4, OK: true, Executor: "nn (float32)"}
	ft := shrink.FinetuneReport{Plan: "search", Removed: []string{"features.2", "features.3"}, Verify: verify,
		Merge: &merge.Report{Merged: 2, FoldedBN: 10, RemovedIdentity: 4, OriginalNodeCount: 40, MergedNodeCount: 20, Chains: []merge.Chain{
			{Name: "features.2.merged", Blocks: []string{"features.2"}, Nodes: []string{"features.2.pad", "a", "b", "c"}, Kernels: []string{"1x1 dw", "1x1", "3x3/s2 dw", "1x1"}, Kernel: "3x3/s2",
				MACs: 580800, MACsAfter: 225792, Merged: true, Reason: "merged"},
			{Name: "features.3.merged", Blocks: []string{"features.3"}, Kernels: []string{"1x1", "3x3 dw", "1x1", "+residual"}, Kernel: "3x3",
				MACs: 863616, MACsAfter: 451584, Merged: true, Reason: "merged"},
		}}}
	writeJSONFile(t, filepath.Join(dir, "finetune", shrink.ReportFile), ft)
	sum := shrink.Summary{
		Out: "elsewhere/run", Plan: "search", PlanFile: "elsewhere/run/search/plan.json",
		Removed: []string{"features.2", "features.3"}, RemovedBlocks: 2, Blocks: 4,
		Base:          shrink.ModelStats{File: "elsewhere/run/base/model.dsk", Top1: 0.8812, Images: 2000, MACs: 6773088, Params: 700202, Convs: 52, LatencyMs: 0.188},
		Finetuned:     shrink.ModelStats{Top1: 0.8790, Images: 2000, MACs: 8298336, Params: 700202, Convs: 52},
		Merged:        shrink.ModelStats{Top1: 0.8791, Images: 2000, MACs: 4997088, Params: 644226, Convs: 30, LatencyMs: 0.139},
		BaseLatency:   &shrink.Latency{MedianMs: 0.188, Batch: 1, Threads: 1, Iters: 200, Executor: "runtime (avx512)"},
		MergedLatency: &shrink.Latency{MedianMs: 0.139, Batch: 1, Threads: 1, Iters: 200, Executor: "runtime (avx512)"},
		Speedup:       0.188 / 0.139, Verify: verify, Agreement: 0.999,
		Search: &shrink.SearchSnapshot{Candidates: []string{"features.1", "features.2", "features.3"}, Kept: 1},
		Compare: &shrink.Comparison{Budget: 2, BaseTop1: 0.8812, Arms: []shrink.Arm{
			{Name: "search", Runs: []shrink.ArmRun{{Seed: 1, MergedTop1: 0.8791, MergedMACs: 4997088}, {Seed: 2, MergedTop1: 0.8770, MergedMACs: 5100000}}, Mean: 0.878},
			{Name: "random", Runs: []shrink.ArmRun{{Seed: 1, MergedTop1: 0.8650, MergedMACs: 5600000}}, Mean: 0.865},
		}},
		Stages: []shrink.StageStatus{{Stage: "base", Status: "ran", Seconds: 200}, {Stage: "finetune", Status: "ran", Seconds: 150}},
		Config: shrink.DefaultConfig(),
	}
	writeJSONFile(t, filepath.Join(dir, shrink.SummaryFile), sum)
	ev := func(top1, loss float64) *train.EvalResult {
		return &train.EvalResult{Top1: top1, Loss: loss, Count: 2000}
	}
	writeMetrics(t, filepath.Join(dir, "base", train.MetricsFile),
		train.EpochMetrics{Epoch: 1, TrainLoss: 0.9, TrainTop1: 0.7, Test: ev(0.3, 22)},
		train.EpochMetrics{Epoch: 2, TrainLoss: 0.5, TrainTop1: 0.82, Test: ev(0.85, 0.4)},
		train.EpochMetrics{Epoch: 2, TrainLoss: 0.45, TrainTop1: 0.84, Test: ev(0.88, 0.35)}) // a resumed epoch: the last line wins
	writeMetrics(t, filepath.Join(dir, "search", train.MetricsFile), train.EpochMetrics{Epoch: 1, TrainLoss: 0.5, TrainTop1: 0.8, Test: ev(0.86, 0.4)})
	writeMetrics(t, filepath.Join(dir, "finetune", train.MetricsFile),
		train.EpochMetrics{Epoch: 1, TrainLoss: 0.4, TrainTop1: 0.85, Test: ev(0.87, 0.36)},
		train.EpochMetrics{Epoch: 2, TrainLoss: 0.35, TrainTop1: 0.86, Test: ev(0.879, 0.34)})
	writeJSONFile(t, filepath.Join(dir, PointsFile), []Point{{Name: "fine-tuned, not merged", Kind: "fine-tuned", Top1: 0.879, LatencyMs: 0.2, MACs: 8298336}})
	writeJSONFile(t, filepath.Join(dir, ParetoFile), map[string]any{"points": []Point{{Name: "plan 1.5x", Top1: 0.874, LatencyMs: 0.125, MACs: 4000000}}})
	return dir
}

func TestBuildSynthetic(t *testing.T) {
	dir := syntheticRun(t)
	out, err := Build(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if out != filepath.Join(dir, HTMLFile) {
		t.Fatalf("report written to %s", out)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{
		`<table id="results">`, "shrunk (merged)", "88.12", "87.91", "0.188", "0.139", "1.35x", "700.2K", "5.00M", // results table
		`<table id="units">`, "features.2", "0.830", "removed", "stem/head, fixed", "3x3/s2", "580.8K", "225.8K", "pad → 1x1 → 3x3/s2 dw → 1x1", // per-unit decisions
		`<table id="verify">`, "1.3e-07", "1.5e-05", // verification
		`<table id="compare">`, "random", // comparison
		"fine-tuned, not merged", "plan 1.5x", // extra and Pareto points
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Self-contained: no scripts, no external resources.
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import", "src=\"/", "src=\"file:"} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q: it must render offline", bad)
		}
	}
	imgs := regexp.MustCompile(`src="data:image/png;base64,([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(html, -1)
	// Latency, MACs (the comparison has no latency), loss and accuracy plots.
	if len(imgs) != 4 {
		t.Fatalf("%d embedded PNGs, want 4", len(imgs))
	}
	for i, m := range imgs {
		raw, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		im, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if b := im.Bounds(); b.Dx() < 600 || b.Dy() < 400 {
			t.Errorf("image %d is only %dx%d", i, b.Dx(), b.Dy())
		}
	}
	// The base model file is absent: a warning, not an error.
	if !strings.Contains(html, "Parts of the run could not be read") {
		t.Error("report does not show the missing base model")
	}
}

func TestLoadUnitsAndCurves(t *testing.T) {
	d, err := Load(syntheticRun(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Units) != 5 {
		t.Fatalf("%d unit rows, want 5", len(d.Units))
	}
	u := d.Units[2]
	if u.Unit != "features.2" || u.Keep || u.Gate == nil || *u.Gate != 0.83 || u.Kernel != "3x3/s2" || u.MACsBefore != 580800 || u.MACsAfter != 225792 {
		t.Errorf("features.2 row: %+v", u)
	}
	if d.Units[0].Candidate || !d.Units[1].Candidate {
		t.Errorf("candidates: %+v %+v", d.Units[0], d.Units[1])
	}
	if len(d.Curves) != 3 || d.Curves[0].Stage != "base" || len(d.Curves[0].Epochs) != 2 || d.Curves[0].Epochs[1].TrainLoss != 0.45 {
		t.Errorf("curves: %+v", d.Curves)
	}
	kinds := map[string]int{}
	for _, p := range d.Points {
		kinds[p.Kind]++
	}
	want := map[string]int{"base": 1, "merged": 1, "fine-tuned": 1, "compare: search": 1, "compare: random": 1, "pareto": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d points of kind %q, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a finished shrink run") {
		t.Errorf("empty directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, shrink.SummaryFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), shrink.SummaryFile) {
		t.Errorf("malformed summary: %v", err)
	}
	run := syntheticRun(t)
	if err := os.WriteFile(filepath.Join(run, ParetoFile), []byte(`{"points": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "search", train.MetricsFile), []byte("{\"epoch\":1}\ngarbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Load(run)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(d.Warnings, "\n")
	for _, want := range []string{ParetoFile, "search curves", ":2:"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

func TestReadPareto(t *testing.T) {
	dir := t.TempDir()
	arr := filepath.Join(dir, "a.json")
	os.WriteFile(arr, []byte(`[{"name":"p1","top1":0.8,"latency_ms":0.1}]`), 0o644)
	pts, err := ReadPareto(arr)
	if err != nil || len(pts) != 1 || pts[0].Name != "p1" || pts[0].LatencyMs != 0.1 {
		t.Errorf("array form: %v %+v", err, pts)
	}
}

func TestDemoConfig(t *testing.T) {
	file, err := os.ReadFile(filepath.Join("..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, DemoYAML()) {
		t.Fatal("configs/demo.yaml differs from the embedded report/demo.yaml: copy one onto the other")
	}
	cfg, err := DemoConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Out != "runs/demo" || cfg.Base.Model != "" || cfg.Bench.Batch != 1 || cfg.Bench.Threads != 1 || !cfg.Finetune.PadFirst {
		t.Errorf("demo config: %+v", cfg)
	}
	q, err := DemoConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	if q.Out != QuickOut || q.Data.TrainSubset >= cfg.Data.TrainSubset || q.Base.Train.Epochs > cfg.Base.Train.Epochs {
		t.Errorf("quick config: %+v", q)
	}
}

func TestReadParetoPlannerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pareto.json")
	os.WriteFile(path, []byte(`{"model":"m","points":[
		{"name":"b1","kind":"planner","predicted_ms":0.15,"measured_ms":0.16,"top1":0.87},
		{"name":"b2","kind":"planner","predicted_ms":0.12,"top1":0.86},
		{"name":"b3","kind":"planner","predicted_ms":0.10}]}`), 0o644)
	pts, err := ReadPareto(path)
	if err != nil || len(pts) != 3 {
		t.Fatalf("%v %+v", err, pts)
	}
	if pts[0].LatencyMs != 0.16 || pts[1].LatencyMs != 0.12 || !strings.Contains(pts[1].Note, "predicted") || pts[0].Kind != "pareto: planner" {
		t.Errorf("planner points: %+v", pts)
	}
	run := syntheticRun(t)
	d, err := LoadWith(run, Options{Pareto: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range d.Points {
		if p.Kind == "pareto: planner" {
			n++
		}
	}
	if n != 2 || !strings.Contains(strings.Join(d.Warnings, " "), "1 of 3 points") {
		t.Errorf("%d planner points plotted, warnings %v", n, d.Warnings)
	}
}

func TestLogTicks(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{}).Ticks(0.53, 1.99) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "0.6 0.7 0.8 0.9 1" {
		t.Errorf("labels within a decade: %q", got)
	}
	labels = nil
	for _, tk := range (logTicks{}).Ticks(0.3, 25) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "0.5 1 2 5 10 20" {
		t.Errorf("labels over two decades: %q", got)
	}
	if (logTicks{}).Ticks(0, 1) != nil {
		t.Error("ticks for a non-positive range")
	}
}
