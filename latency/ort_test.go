package latency

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/testref"
	"github.com/dshrink/dshrink/merge"
)

// findORT returns the ORT installation, or skips (fails in CI) without one.
func findORT(t *testing.T) *ORT {
	t.Helper()
	rt, err := FindORT()
	if err != nil {
		testref.Missing(t, "ONNX Runtime (node and onnxruntime-node@1.30.0 in .cache/ort)", "./scripts/setup.sh")
	}
	return rt
}

func TestProfileORT(t *testing.T) {
	rt := findORT(t)
	g := tinyModel(t)
	opts := ProfileOptions{Runtime: RuntimeORT, Rounds: 2, Iters: 2, Warmup: 1}
	tb, err := Profile(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Key.Executor != rt.Executor() || !strings.HasPrefix(tb.Key.Executor, "onnxruntime-") || tb.Key.Timing != "isolated" {
		t.Errorf("key %s: want executor %s, timing isolated", tb.Key, rt.Executor())
	}
	key, err := TableKey(Fingerprint(g), opts)
	if err != nil || key != tb.Key {
		t.Errorf("TableKey = %s, %v; the table has %s", key, err, tb.Key)
	}
	if ours, _ := TableKey(Fingerprint(g), ProfileOptions{}); ours == tb.Key || ours.Executor != "ours" {
		t.Errorf("our runtime's key %s", ours)
	}
	pos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
	multi := 0
	for _, s := range tb.Segments {
		if !pos(s.Ms) || !pos(s.IsolatedMs) || s.Ms > s.IsolatedMs || s.Context {
			t.Errorf("segment %v merged %v: ms %g, isolated %g, context %v", s.Blocks, s.Merged, s.Ms, s.IsolatedMs, s.Context)
		}
		if s.End-s.Start > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Error("no multi-block segment timed")
	}
	if len(tb.Fixed) != 3 {
		t.Errorf("%d fixed parts, want 3", len(tb.Fixed))
	}
	for _, p := range tb.Fixed {
		if !pos(p.Ms) || !pos(p.IsolatedMs) || p.Context {
			t.Errorf("fixed part %s: ms %g, isolated %g, context %v", p.Name, p.Ms, p.IsolatedMs, p.Context)
		}
	}
	if !pos(tb.WholeMs) || !pos(tb.Calibration()) {
		t.Errorf("whole model %g ms, calibration %g", tb.WholeMs, tb.Calibration())
	}
	t.Logf("ORT table: base %.4f ms, whole model %.4f ms (calibration x%.3f)", tb.BaseMs(), tb.WholeMs, tb.Calibration())

	// The table round-trips and its key finds it in the cache.
	path := filepath.Join(t.TempDir(), "ort.table.json")
	if err := tb.Save(path); err != nil {
		t.Fatal(err)
	}
	if c, err := Cached(path, key); err != nil || c == nil {
		t.Errorf("Cached with the ORT key: %v, %v", c, err)
	}

	// The planner works from it.
	_, p := midBudgetPlan(t, g, tb)
	if len(p.Removed()) == 0 {
		t.Error("the plan at the mid budget removes nothing")
	}

	// Measure times whole models with ORT too.
	mg, _, err := Realize(g, p, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Measure([]*graph.Graph{g, mg}, ProfileOptions{Runtime: RuntimeORT, Rounds: 2, Iters: 2, Warmup: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, tm := range ts {
		if !pos(tm.RunMs) || tm.StepsMs != tm.RunMs {
			t.Errorf("model %d: %+v", i, tm)
		}
	}
}

func TestORTMissingNamesSetup(t *testing.T) {
	t.Setenv("ORT_NPM_DIR", t.TempDir())
	_, err := Profile(tinyModel(t), ProfileOptions{Runtime: RuntimeORT})
	if err == nil || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Errorf("without onnxruntime-node: %v, want an error naming ./scripts/setup.sh", err)
	}
	if _, err := Profile(tinyModel(t), ProfileOptions{Runtime: "tvm"}); err == nil {
		t.Error("unknown runtime accepted")
	}
}
