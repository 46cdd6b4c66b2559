package onnx

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
	"github.com/dshrink/dshrink/models"
)

// relTol is the tolerance of every output comparison in these tests: the
// largest absolute difference divided by the largest absolute reference value.
const relTol = 1e-4

func readGz(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readF32(t testing.TB, name string) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// forward runs g on x (batch n) with the reference evaluator.
func forward(t testing.TB, g *graph.Graph, x []float32, n int) []float64 {
	t.Helper()
	vals, _, err := reference.Forward(g, x, n)
	if err != nil {
		t.Fatal(err)
	}
	return vals[g.Output]
}

func relErr(got []float64, want []float32) float64 {
	var d, s float64
	for i := range want {
		d = math.Max(d, math.Abs(got[i]-float64(want[i])))
		s = math.Max(s, math.Abs(float64(want[i])))
	}
	return d / s
}

func checkClose(t *testing.T, what string, got []float64, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	e := relErr(got, want)
	t.Logf("%s: relative error %.3g (tolerance %g)", what, e, relTol)
	if e > relTol || math.IsNaN(e) {
		t.Errorf("%s: relative error %g exceeds %g", what, e, relTol)
	}
}

func TestImportTorchvisionMobileNetV2(t *testing.T) {
	g, err := Import(readGz(t, "mnv2_bn.onnx.gz"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "mnv2_bn vs PyTorch", forward(t, g, readF32(t, "mnv2_bn.in.bin"), 2), readF32(t, "mnv2_bn.out.bin"))
	if len(g.Blocks) != 17 || len(g.Units) != 19 {
		t.Errorf("recognised %d blocks and %d units, want 17 and 19 as torchvision", len(g.Blocks), len(g.Units))
	}
	ref, err := models.MobileNetV2(models.Options{Width: 0.35, InChannels: 3, Resolution: 32, Classes: 10, StemStride: 2, Dropout: 0.2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Params) != len(g.Params) {
		t.Errorf("%d parameters, models.MobileNetV2 has %d", len(g.Params), len(ref.Params))
	}
	for name, p := range ref.Params {
		q, ok := g.Params[name]
		if !ok {
			t.Errorf("parameter %s of models.MobileNetV2 is missing", name)
			continue
		}
		if !sameShape(p.Shape, q.Shape) {
			t.Errorf("parameter %s: shape %v, models.MobileNetV2 has %v", name, q.Shape, p.Shape)
		}
	}
	// Blocks and units as models.MobileNetV2 annotates them.
	for i, b := range ref.Blocks {
		if i >= len(g.Blocks) {
			break
		}
		gb := g.Blocks[i]
		gb.Input, gb.Output, b.Input, b.Output = "", "", "", ""
		if gb != b {
			t.Errorf("block %d: %+v, want %+v", i, gb, b)
		}
	}
	for i, u := range ref.Units {
		if i < len(g.Units) && g.Units[i] != u {
			t.Errorf("unit %d: %+v, want %+v", i, g.Units[i], u)
		}
	}
	for _, rn := range ref.Nodes {
		if rn.Op != graph.OpAct {
			continue
		}
		n := g.Node(rn.Name)
		if n == nil || n.Act == nil || n.Act.Unit != rn.Act.Unit || n.Block != rn.Block {
			t.Errorf("activation %s: imported %+v, want unit %q block %q", rn.Name, n, rn.Act.Unit, rn.Block)
		}
	}
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestImportFoldedBatchNorm(t *testing.T) {
	g, err := Import(readGz(t, "small_folded.onnx.gz"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "small_folded vs PyTorch", forward(t, g, readF32(t, "small_folded.in.bin"), 2), readF32(t, "small_folded.out.bin"))
	// features.1 (expansion 1), features.2..4; stem features.0 and head features.5.
	if len(g.Blocks) != 4 || len(g.Units) != 6 {
		t.Errorf("recognised %d blocks and %d units, want 4 and 6", len(g.Blocks), len(g.Units))
	}
	for _, p := range []string{"features.0.0.weight", "features.0.0.bias", "features.2.conv.1.0.weight", "features.2.conv.2.bias", "classifier.1.weight"} {
		if g.Params[p] == nil {
			t.Errorf("parameter %s missing (folded BN parameters are named after the node)", p)
		}
	}
	for name := range g.Params {
		if strings.Contains(name, "onnx::") {
			t.Errorf("parameter %s keeps the exporter's name", name)
		}
	}
	if b := g.Block("features.3"); b == nil || !b.Residual {
		t.Errorf("features.3 should be a residual block: %+v", b)
	}
}

func TestImportOps(t *testing.T) {
	for _, f := range []string{"ops13.onnx.gz", "ops17.onnx.gz"} {
		g, err := Import(readGz(t, f), ImportOptions{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		checkClose(t, f+" vs PyTorch", forward(t, g, readF32(t, "ops.in.bin"), 2), readF32(t, "ops.out.bin"))
		var kinds []string
		for _, n := range g.Nodes {
			if n.Act != nil {
				kinds = append(kinds, string(n.Act.Kind))
			}
		}
		if got := strings.Join(kinds, ","); got != "hardswish,hardsigmoid,relu" {
			t.Errorf("%s: activations %s", f, got)
		}
	}
}

// TestImportExternalData rewrites the fixture with every initializer in an
// external file and checks it imports to the same outputs, and that broken
// locations, offsets and lengths are rejected.
func TestImportExternalData(t *testing.T) {
	m := mustParse(t, readGz(t, "small_folded.onnx.gz"))
	dir := t.TempDir()
	var blob bytes.Buffer
	for _, init := range m.GetGraph().GetInitializer() {
		moveExternal(init, "weights.bin", &blob)
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), blob.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.onnx")
	writeModel(t, path, m)
	g, err := ImportFile(path, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "external data", forward(t, g, readF32(t, "small_folded.in.bin"), 2), readF32(t, "small_folded.out.bin"))
	if _, err := Import(mustMarshal(t, m), ImportOptions{}); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("external data without a directory: %v", err)
	}
	// Links that leave the model's directory, a FIFO (which would block
	// a plain open forever) and a directory are refused.
	secret := filepath.Join(t.TempDir(), "secret.bin")
	if err := os.WriteFile(secret, blob.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		os.Symlink(secret, filepath.Join(dir, "link.bin")),
		os.Symlink("/", filepath.Join(dir, "root")),
		mkfifo(filepath.Join(dir, "fifo")),
		os.Mkdir(filepath.Join(dir, "sub"), 0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ key, val, want string }{
		{"location", "../weights.bin", "relative path"},
		{"location", "/etc/passwd", "relative path"},
		{"location", "missing.bin", "no such file"},
		{"location", "link.bin", "outside"},
		{"location", "root/etc/passwd", "outside"},
		{"location", "fifo", "named pipe"},
		{"location", "sub", "directory"},
		{"offset", "999999999", "past the end"},
		{"length", "3", "needs"},
		{"offset", "-1", "non-negative"},
	} {
		m2 := mustParse(t, mustMarshal(t, m))
		init := m2.GetGraph().GetInitializer()[len(m2.GetGraph().GetInitializer())-1]
		for _, kv := range init.GetExternalData() {
			if kv.GetKey() == c.key {
				kv.Value = &c.val
			}
		}
		p := filepath.Join(dir, "broken.onnx")
		writeModel(t, p, m2)
		if _, err := ImportFile(p, ImportOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: error %v, want one mentioning %q", c.key, c.val, err, c.want)
		}
	}
}
