package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// TestImportCheck runs `dshrink import --check` on a clean PyTorch export
// (exit 0, says so) and on one with two unsupported op types (exit 1, every
// op listed with its count and nodes).
func TestImportCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	gunzipFile(t, filepath.Join("..", "..", "onnx", "testdata", "mnv2_bn.onnx.gz"), filepath.Join(dir, "good.onnx"))
	out := run(t, bin, dir, "import", "--check", "good.onnx")
	if !strings.Contains(out, "every op can be imported") || !strings.Contains(out, "17 blocks") {
		t.Errorf("clean model: %s", out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "good.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	clips := 0
	for _, n := range m.GetGraph().GetNode() {
		if n.GetOpType() == "Clip" {
			clips++
			op := "Elu"
			if clips > 30 {
				op = "Celu"
			}
			n.OpType = proto.String(op)
			n.Input = n.Input[:1]
		}
	}
	bad, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.onnx"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	out = runFail(t, bin, dir, "import", "--check", "bad.onnx")
	for _, want := range []string{"Elu", "30 x", "Celu", "5 x", "/features/features.0/features.0.2/Clip", "cannot be imported"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
