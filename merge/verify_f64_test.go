package merge

import (
	"testing"

	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/plan"
)

// TestVerifyFloat64Fallback merges blocks 2-16 of a freshly initialised
// MobileNetV2 (the README's quick start: activations removed without
// fine-tuning, so values grow without bound and then meet features.17's
// ReLU6). Every merged chain agrees to float32 rounding; the model output
// may not, in float32, and Verify must then judge the merge in float64
// instead of failing an exact merge.
func TestVerifyFloat64Fallback(t *testing.T) {
	o := models.Default()
	o.Resolution = 64
	g, err := models.MobileNetV2(o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Resolve("features.2-16", g)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, rep, err := Merge(applied, Options{MaxMACGrowth: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 15 {
		t.Fatalf("%d chains merged, want 15", rep.Merged)
	}
	res, err := Verify(applied, m, VerifyOptions{Seed: 1, Values: rep.ChainOutputs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("max rel %.3g (%s), float32 %.3g, worst chain %s %.3g", res.MaxRel, res.Executor, res.Float32MaxRel, res.WorstValue, res.WorstRel)
	if !res.OK {
		t.Fatalf("an exact merge failed verification: %+v", res)
	}
	if res.Float32MaxRel > 0 && res.Executor != "graph/reference (float64)" {
		t.Fatalf("float32 failed (%.3g) but the result does not come from the float64 rerun: %s", res.Float32MaxRel, res.Executor)
	}
	// A wrong merge must still fail, in either executor: break one merged weight.
	for _, n := range m.Nodes {
		if n.Name == "features.8.merged" {
			w := m.Params[n.Params[0]].Data
			w[len(w)/2] += 1
		}
	}
	bad, err := Verify(applied, m, VerifyOptions{Seed: 1, Values: rep.ChainOutputs()})
	if err != nil {
		t.Fatal(err)
	}
	if bad.OK {
		t.Fatalf("a broken merge verified: %+v", bad)
	}
}
