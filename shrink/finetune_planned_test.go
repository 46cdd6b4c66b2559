package shrink

import (
	"context"
	"io"
	"testing"

	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
)

// TestFinetunePlanned fine-tunes a latency planner's plan with a segment of
// two blocks and a pruned block: it trains in the planner's form, the merge
// builds the two blocks as one convolution, and the merged model verifies
// against the fine-tuned one. A per-block plan keeps the per-block form.
func TestFinetunePlanned(t *testing.T) {
	ds := fmnist(t, 200, 100)
	g := tinyMBV2(t)
	prunable := latency.PrunableBlocks(g)
	if len(prunable) == 0 {
		t.Fatal("no prunable block in MobileNetV2")
	}
	pruned := prunable[len(prunable)-1]
	removed := map[string]bool{"features.3": true, "features.4": true, "features.9": true}
	p := plan.New(g, plan.SourcePlanner, removed)
	p.Segments = [][]string{{"features.3", "features.4"}, {"features.9"}}
	p.Pruned = []string{pruned}
	if err := p.Validate(g); err != nil {
		t.Fatal(err)
	}
	if !Planned(p) {
		t.Fatal("Planned = false for a plan with a two-block segment")
	}
	if Planned(&plan.Plan{Segments: [][]string{{"features.3"}, {"features.4"}}}) {
		t.Error("Planned = true for single-block segments")
	}
	tc := quickTrain(t.TempDir(), 1, 0.01)
	rep, err := Finetune(context.Background(), g, FinetuneOptions{Plan: p, PadFirst: true, Train: tc, Data: ds, Log: io.Discard,
		Verify: merge.VerifyOptions{Random: 2, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verify == nil || !rep.Verify.OK {
		t.Fatalf("merge not verified: %+v", rep.Verify)
	}
	two := false
	for _, c := range rep.Merge.Chains {
		if c.Merged && len(c.Blocks) == 2 && c.Blocks[0] == "features.3" && c.Blocks[1] == "features.4" {
			two = true
		}
	}
	if !two {
		t.Errorf("features.3..4 not merged as one convolution: %+v", rep.Merge.Chains)
	}
	if _, err := Finetune(context.Background(), g, FinetuneOptions{Plan: p, FinalAct: true, Train: tc, Data: ds, Log: io.Discard}); err == nil {
		t.Error("final_act with a multi-block plan accepted")
	}
}
