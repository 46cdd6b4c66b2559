package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
)

// TestMergedPlanAllMatchesPyTorchAndORT removes the activations of all 17
// blocks of the imported torchvision model (plan "all"), checks our forward
// against PyTorch's model with the same activations removed, merges every
// block into a dense conv with a border bias map, exports it and checks
// ONNX Runtime's output against ours and PyTorch's.
func TestMergedPlanAllMatchesPyTorchAndORT(t *testing.T) {
	g, err := Import(readGz(t, "mnv2_bn.onnx.gz"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := plan.Preset("all", g)
	if err != nil {
		t.Fatal(err)
	}
	g, err = plan.Apply(g, all, plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := readF32(t, "mnv2_bn.in.bin")
	torchNoAct := readF32(t, "mnv2_noact.out.bin")
	checkClose(t, "activations removed vs PyTorch", forward(t, g, x, 2), torchNoAct)
	// Force merges block 1 too (skipped by default because it grows MACs).
	merged, _, err := merge.Merge(g, merge.Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	merged.Meta["plan"] = "all"
	if len(merged.Nodes) >= len(g.Nodes) {
		t.Fatalf("merged graph has %d nodes, original %d", len(merged.Nodes), len(g.Nodes))
	}
	ours := forward(t, merged, x, 2)
	checkClose(t, "merged vs PyTorch", ours, torchNoAct)
	data, err := Export(merged, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "merged.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	onnxChecker(t, path)
	back, err := Import(data, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "merged, exported and imported vs PyTorch", forward(t, back, x, 2), torchNoAct)
	if back.Meta["plan"] != "all" {
		t.Errorf("plan metadata %q after the round trip", back.Meta["plan"])
	}
	if out, ok := runORT(t, path, x, []int{2, 3, 32, 32}); ok {
		checkClose64(t, "ONNX Runtime (merged) vs our forward", out, ours)
		w := make([]float64, len(torchNoAct))
		for i, v := range torchNoAct {
			w[i] = float64(v)
		}
		checkClose64(t, "ONNX Runtime (merged) vs PyTorch", out, w)
	}
}
