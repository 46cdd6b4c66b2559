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
	for _, method := range []string{MethodPlanner, MethodRandom, MethodLastK, MethodSearch} {
		t.Run(method, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Method, cfg.Target = method, Target{Speedup: 1.2}
			cfg.Planner.Table = table
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
			if sum.Method != method || sum.Target.Speedup != 1.2 {
				t.Errorf("summary method %q target %+v", sum.Method, sum.Target)
			}
			p, err := plan.Load(sum.PlanFile)
			if err != nil {
				t.Fatal(err)
			}
			pred, err1 := strconv.ParseFloat(p.Meta["predicted_ms"], 64)
			base, err2 := strconv.ParseFloat(p.Meta["base_predicted_ms"], 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("plan meta %v: no prediction", p.Meta)
			}
			if !(base/pred >= 1.2-1e-9) || len(p.Removed()) == 0 {
				t.Errorf("plan predicts %.4f of %.4f ms (%.3fx), removes %v: target 1.2x not met", pred, base, base/pred, p.Removed())
			}
			if method == MethodPlanner && !exists(filepath.Join(cfg.Out, "plan", ImportanceFile)) {
				t.Errorf("planner: no importance report")
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
