package shrink

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/train"
)

// TestPipelineMethods runs the pipeline with each method at a target
// speedup: the plan meets the target by the latency table's prediction,
// the planner's plan comes with its table and importance, and a rerun
// skips the plan stage.
func TestPipelineMethods(t *testing.T) {
	ds := fmnist(t, 200, 100)
	table := filepath.Join(t.TempDir(), "table.json") // measured once, shared
	for _, method := range []string{MethodPlanner, MethodRandom, MethodLastK, MethodSearch, "planner-mb"} {
		t.Run(method, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Method, cfg.Target = method, Target{Speedup: 1.2}
			cfg.Planner.Table = table
			if method == "planner-mb" {
				// Multi-block segments and pruning: its own table (multi-block runs timed).
				cfg.Method, cfg.Planner.MultiBlock, cfg.Planner.Prune = MethodPlanner, true, true
				cfg.Planner.Table = filepath.Join(t.TempDir(), "table-mb.json")
			}
			cfg.Out = t.TempDir()
			cfg.Quiet = true
			cfg.Data.RandomCropPad, cfg.Data.HFlip = 0, false
			cfg.Base.Arch = train.ModelConfig{Arch: "mobilenet_v2", Width: 0.1, StemStride: 2}
			for _, st := range []*StageTrain{&cfg.Base.Train, &cfg.Search.Train, &cfg.Finetune.Train} {
				st.Epochs, st.BatchSize, st.EvalBatchSize = 1, 50, 100
			}
			cfg.Planner.ImportanceImages = 50
			cfg.Bench.Iters = 3
			cfg.Verify.RealImages = 4
			sum, err := RunPipeline(context.Background(), cfg, PipelineOptions{Data: ds, Log: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Method != cfg.Method || sum.Target.Speedup != 1.2 {
				t.Errorf("summary method %q target %+v", sum.Method, sum.Target)
			}
			p, err := plan.Load(sum.PlanFile)
			if err != nil {
				t.Fatal(err)
			}
			// The meta rounds to 0.1 us; rounding keeps pred <= budget.
			pred, err1 := strconv.ParseFloat(p.Meta["predicted_ms"], 64)
			budget, err2 := strconv.ParseFloat(p.Meta["budget_ms"], 64)
			base, err3 := strconv.ParseFloat(p.Meta["base_predicted_ms"], 64)
			if err1 != nil || err2 != nil || err3 != nil {
				t.Fatalf("plan meta %v: no prediction", p.Meta)
			}
			if !(pred <= budget) || !(budget <= base/1.2+1e-4) || len(p.Removed()) == 0 {
				t.Errorf("plan predicts %.4f ms, budget %.4f of %.4f ms, removes %v: target 1.2x not met", pred, budget, base, p.Removed())
			}
			if cfg.Method == MethodPlanner && !exists(filepath.Join(cfg.Out, "plan", ImportanceFile)) {
				t.Errorf("planner: no importance report")
			}
			if cfg.Planner.Prune && !exists(filepath.Join(cfg.Out, "plan", PruneImportanceFile)) {
				t.Errorf("planner with pruning: no pruning importance report")
			}
			t.Logf("plan: removed %v, segments %v, pruned %v", p.Removed(), p.Segments, p.Pruned)
			if method == "planner-mb" && !Planned(p) {
				t.Errorf("multi-block planner with pruning: neither a multi-block segment nor a pruned block (%v, %v)", p.Segments, p.Pruned)
			}
			if sum.Verify == nil || !sum.Verify.OK {
				t.Errorf("merge not verified: %+v", sum.Verify)
			}
			again, err := RunPipeline(context.Background(), cfg, PipelineOptions{Data: ds, Log: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range again.Stages {
				if st.Status == "ran" || st.Status == "resumed" {
					t.Errorf("rerun: stage %s %s, want skipped", st.Stage, st.Status)
				}
			}
		})
	}
}
