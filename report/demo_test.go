package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/internal/testref"
)

const fmnistDir = "/usr/share/datasets/fashion-mnist"

// needFashionMNIST skips the test when the data set is absent (and fails it
// when DSHRINK_REQUIRE_REFS=1, as in CI).
func needFashionMNIST(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(fmnistDir, "train-images-idx3-ubyte.gz")); err != nil {
		testref.Missing(t, "Fashion-MNIST ("+fmnistDir+")", "apt-get install dataset-fashion-mnist, or ./scripts/setup.sh")
	}
}

// TestDemoQuickEndToEnd runs the demo's quick variant on a tiny subset:
// every stage, the extra unmerged point and the report; then reruns it,
// which must skip every stage.
func TestDemoQuickEndToEnd(t *testing.T) {
	needFashionMNIST(t)
	if testing.Short() {
		t.Skip("short mode")
	}
	cfg, err := DemoConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Out = filepath.Join(t.TempDir(), "demo")
	cfg.Data.TrainSubset, cfg.Data.TestSubset = 256, 128
	cfg.Base.Train.Epochs = 1
	cfg.Verify.RealImages = 8
	cfg.Bench.Iters = 10
	cfg.Quiet = true
	var log bytes.Buffer
	res, err := Demo(context.Background(), cfg, DemoOptions{Log: &log})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, log.String())
	}
	s := res.Summary
	if s.Verify == nil || !s.Verify.OK {
		t.Fatalf("merge not verified: %+v", s.Verify)
	}
	if s.RemovedBlocks == 0 || s.Merged.MACs >= s.Base.MACs || s.Base.LatencyMs <= 0 || s.Merged.LatencyMs <= 0 {
		t.Errorf("summary: removed %d blocks, MACs %d -> %d, latency %.3f -> %.3f ms", s.RemovedBlocks, s.Base.MACs, s.Merged.MACs, s.Base.LatencyMs, s.Merged.LatencyMs)
	}
	if res.Report != filepath.Join(cfg.Out, HTMLFile) {
		t.Errorf("report at %s", res.Report)
	}
	for _, f := range []string{HTMLFile, PointsFile, "summary.json", "bench.json"} {
		if _, err := os.Stat(filepath.Join(cfg.Out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	d, err := Load(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Warnings) > 0 {
		t.Errorf("warnings on a fresh demo run: %v", d.Warnings)
	}
	// The demo plans with the latency planner: base and finetune train, no search.
	if len(d.Curves) != 2 || len(d.Units) != 19 || findPoint(d.Points, "fine-tuned") == nil {
		t.Errorf("report data: %d curves, %d units, points %+v", len(d.Curves), len(d.Units), d.Points)
	}
	for _, u := range d.Units {
		// A removed block is merged, or says why not (e.g. its MACs would grow too much).
		if !u.Keep && u.Block != "" && (u.Kernel == "") == (u.Note == "") {
			t.Errorf("removed block neither merged nor explained: %+v", u)
		}
	}
	for _, want := range []string{"dshrink demo: the DepthShrinker method", "== stage base", "== stage finetune", "== report"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}

	// A rerun resumes: every stage is done.
	log.Reset()
	res2, err := Demo(context.Background(), cfg, DemoOptions{Log: &log})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	for _, st := range res2.Summary.Stages {
		if !strings.HasPrefix(st.Status, "skipped") {
			t.Errorf("rerun: stage %s %s", st.Stage, st.Status)
		}
	}
	if res2.Summary.Merged.Top1 != s.Merged.Top1 {
		t.Errorf("rerun changed the merged accuracy: %v -> %v", s.Merged.Top1, res2.Summary.Merged.Top1)
	}
}

// TestDemoCancelled checks that a cancelled demo reports the interruption
// (the stages save a checkpoint; shrink's tests cover the resume).
func TestDemoCancelled(t *testing.T) {
	needFashionMNIST(t)
	cfg, err := DemoConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Out = filepath.Join(t.TempDir(), "demo")
	cfg.Data.TrainSubset, cfg.Data.TestSubset = 256, 64
	cfg.Quiet = true
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log bytes.Buffer
	if _, err := Demo(ctx, cfg, DemoOptions{Log: &log}); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("cancelled demo: err %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, HTMLFile)); err == nil {
		t.Error("a cancelled demo wrote a report")
	}
}
