package merge

import (
	"testing"

	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/plan"
)

// TestMobileNetV2All counts MACs and parameters of MobileNetV2-1.0 at 224
// with plan all, merged per block (reference: 300.8 M -> 257.5 M MACs and
// 3.49 M -> 3.14 M parameters with every block merged; 209.8 M MACs and
// 3.139 M parameters with block 1 left unmerged, which the default MAC check
// does).
func TestMobileNetV2All(t *testing.T) {
	if testing.Short() {
		t.Skip("merges the full 224 model")
	}
	g, err := models.MobileNetV2(models.Default())
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Preset("all", g)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		force         bool
		merged        int
		macs          float64
		params        float64
		firstBlockDec bool
	}{{true, 17, 257.5e6, 3.143e6, true}, {false, 16, 209.8e6, 3.139e6, false}} {
		m, rep, err := Merge(applied, Options{Force: c.force})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("force=%v: MACs %d -> %d, params %d -> %d, %d chains merged, %d bias maps, %d nodes",
			c.force, rep.Before.MACs, rep.After.MACs, rep.Before.Params, rep.After.Params, rep.Merged, rep.BiasMaps, len(m.Nodes))
		if rep.Merged != c.merged || rep.BiasMaps != 0 {
			t.Errorf("force=%v: %d merged, %d bias maps; want %d, 0 (random-init BN has zero expand bias)", c.force, rep.Merged, rep.BiasMaps, c.merged)
		}
		if d := float64(rep.After.MACs) - c.macs; d > 0.05e6 || d < -0.05e6 {
			t.Errorf("force=%v: MACs after %d, want about %.1f M", c.force, rep.After.MACs, c.macs/1e6)
		}
		if d := float64(rep.After.Params) - c.params; d > 0.5e3 || d < -0.5e3 {
			t.Errorf("force=%v: params after %d, want about %.3f M", c.force, rep.After.Params, c.params/1e6)
		}
		if rep.Chains[0].Merged != c.firstBlockDec || rep.Chains[0].Blocks[0] != "features.1" {
			t.Errorf("force=%v: first chain %+v", c.force, rep.Chains[0])
		}
		if rep.Before.MACs < 300.0e6 || rep.Before.MACs > 301.5e6 {
			t.Errorf("MACs before %d, want about 300.8 M", rep.Before.MACs)
		}
		for _, ch := range rep.Chains {
			if len(ch.Blocks) != 1 || ch.Kernel[:3] != "3x3" {
				t.Errorf("chain %s: blocks %v kernel %s, want one block each, 3x3", ch.Name, ch.Blocks, ch.Kernel)
			}
		}
	}
}

// TestMobileNetV2Small verifies numerically, at a small resolution and with
// random BatchNorm statistics, every preset and both padding forms.
func TestMobileNetV2Small(t *testing.T) {
	o := models.Default()
	o.Resolution = 32
	o.Width = 0.35
	o.Classes = 10
	g, err := models.MobileNetV2(o)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 77)
	for _, name := range []string{"all", "ds-a", "ds-f"} {
		p, err := plan.Preset(name, g)
		if err != nil {
			t.Fatal(err)
		}
		for _, opt := range []plan.ApplyOptions{{}, {PadFirst: true}, {AddFinalAct: true}} {
			applied, err := plan.Apply(g, p, opt)
			if err != nil {
				t.Fatal(err)
			}
			m, rep, err := Merge(applied, Options{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(applied, m, VerifyOptions{Random: 1, Seed: 3, Intermediates: true, Executor: ExecReference})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %+v: %d chains merged (%d bias maps), MACs %d -> %d, max rel %.3g (worst shared value %s %.3g)",
				name, opt, rep.Merged, rep.BiasMaps, rep.Before.MACs, rep.After.MACs, res.MaxRel, res.WorstValue, res.WorstRel)
			if !res.OK || res.MaxRel > 1e-5 {
				t.Errorf("%s %+v: max relative error %.3g, worst value %s %.3g", name, opt, res.MaxRel, res.WorstValue, res.WorstRel)
			}
			if (name == "all" || name == "ds-f") && rep.Merged != 17 || name == "ds-a" && rep.Merged != 6 {
				t.Errorf("%s: %d chains merged", name, rep.Merged)
			}
		}
	}
}

// TestMobileNetV2MultiBlock merges MobileNetV2-1.0 at 224 (random BatchNorm
// statistics) with plan all as explicit runs: features.4 to features.6 (a
// stride-2 block and two residual blocks) as one 11x11/s2 convolution, every
// other block but the first on its own, in the pad-first form; the merged
// model equals the pad-first unmerged model (float32 nn executor, model
// output and every merged run's output), and Run gives the run's node.
func TestMobileNetV2MultiBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("merges the full 224 model")
	}
	g, err := models.MobileNetV2(models.Default())
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 5)
	applied := applyAll(t, g, false)
	var segs []Segment
	for i := 1; i < len(applied.Blocks); i++ {
		b := applied.Blocks[i]
		switch b.Name {
		case "features.4":
			segs = append(segs, Segment{From: b.Input, To: applied.Block("features.6").Output})
		case "features.5", "features.6":
		default:
			segs = append(segs, Segment{From: b.Input, To: b.Output})
		}
	}
	pf, err := PadFirst(applied, segs)
	if err != nil {
		t.Fatal(err)
	}
	merged, rep, err := Merge(pf, Options{Segments: segs})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Merged != 14 || rep.BiasMaps != 0 {
		t.Fatalf("%d runs merged, %d bias maps; want 14, 0", rep.Merged, rep.BiasMaps)
	}
	var multi *Chain
	for i, c := range rep.Chains {
		if len(c.Blocks) > 1 {
			multi = &rep.Chains[i]
		}
	}
	if multi == nil || multi.Kernel != "11x11/s2" || len(multi.Blocks) != 3 {
		t.Fatalf("multi-block run %+v, want features.4-6 as one 11x11/s2", multi)
	}
	t.Logf("MACs of the pad-first form %s -> merged %s; run %s: %s MACs -> %s", human(rep.Before.MACs), human(rep.After.MACs),
		multi.Name, human(multi.MACs), human(multi.MACsAfter))
	res, err := Verify(pf, merged, VerifyOptions{Random: 1, Seed: 2, Values: rep.ChainOutputs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pad-first unmerged vs merged (%s): max rel %.3g, worst run output %s %.3g", res.Executor, res.MaxRel, res.WorstValue, res.WorstRel)
	if !res.OK {
		t.Errorf("merged model differs: max rel %.3g, worst %s %.3g", res.MaxRel, res.WorstValue, res.WorstRel)
	}
	rg, ch, err := Run(applied, segs[2].From, segs[2].To, Options{PadFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Kernel != multi.Kernel || ch.MACsAfter != multi.MACsAfter || *rg.Nodes[0].Conv != *merged.Producer(multi.Output).Conv {
		t.Errorf("Run gives %s %+v, Merge %s", ch.Kernel, *rg.Nodes[0].Conv, multi.Kernel)
	}
}
