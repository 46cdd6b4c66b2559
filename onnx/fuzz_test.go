package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// fuzzSeeds returns small valid and broken models: the ops fixtures, an
// exported variant graph and damaged copies of them.
func fuzzSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	ops := readGz(t, "ops13.onnx.gz")
	seeds["ops13"] = ops
	seeds["ops17"] = readGz(t, "ops17.onnx.gz")
	v, err := Export(variantGraph(t), ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seeds["variant"] = v
	nv, err := Export(newOpsGraph(t), ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seeds["newops"] = nv
	seeds["truncated"] = ops[:len(ops)/2]
	flipped := append([]byte(nil), v...)
	for i := 7; i < len(flipped); i += 97 {
		flipped[i] ^= 0x5a
	}
	seeds["corrupt"] = flipped
	m := mustParse(t, v)
	m.GetGraph().GetInitializer()[0].Dims = []int64{1 << 40, 1 << 40}
	seeds["absurd_dims"] = mustMarshal(t, m)
	return seeds
}

// FuzzImport feeds arbitrary bytes to Import: it must return a graph or an
// error, never panic, and an imported graph must export and describe.
func FuzzImport(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := Check(data, ImportOptions{}); err == nil && r.OK() != (r.Graph != nil) {
			t.Fatalf("Check: ok %v but graph %v", r.OK(), r.Graph != nil)
		}
		g, err := Import(data, ImportOptions{})
		if err != nil {
			return
		}
		if _, err := Export(g, ExportOptions{}); err != nil {
			t.Fatalf("imported graph does not export: %v", err)
		}
		if _, err := Describe(g); err != nil {
			t.Fatalf("imported graph does not describe: %v", err)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzImport when
// DSHRINK_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("DSHRINK_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set DSHRINK_WRITE_FUZZ_CORPUS=1 to regenerate the committed seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzImport")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed_"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMalformed checks that truncated, corrupt and absurd files give errors
// that say what is wrong.
func TestMalformed(t *testing.T) {
	good := readGz(t, "small_folded.onnx.gz")
	mod := func(f func(m *onnxpb.ModelProto)) []byte {
		m := mustParse(t, good)
		f(m)
		return mustMarshal(t, m)
	}
	node := func(m *onnxpb.ModelProto, op string) *onnxpb.NodeProto {
		for _, n := range m.GetGraph().GetNode() {
			if n.GetOpType() == op {
				return n
			}
		}
		t.Fatalf("no %s node", op)
		return nil
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"truncated", good[:len(good)-1000], ""},
		{"garbage", []byte("\xff\xff\xff\xff not a protobuf"), "protobuf"},
		{"no graph", mod(func(m *onnxpb.ModelProto) { m.Graph = nil }), "no graph"},
		{"absurd dims", mod(func(m *onnxpb.ModelProto) { m.GetGraph().GetInitializer()[0].Dims = []int64{1 << 40, 1 << 40} }), "out of range"},
		{"too many elements", mod(func(m *onnxpb.ModelProto) {
			m.GetGraph().GetInitializer()[0].Dims = []int64{1 << 20, 1 << 20}
		}), "more than"},
		{"negative dim", mod(func(m *onnxpb.ModelProto) { m.GetGraph().GetInitializer()[0].Dims = []int64{-1} }), "out of range"},
		{"raw data too short", mod(func(m *onnxpb.ModelProto) {
			in := m.GetGraph().GetInitializer()[0]
			in.RawData = in.RawData[:len(in.RawData)-4]
		}), "raw data has"},
		{"absurd input", mod(func(m *onnxpb.ModelProto) {
			m.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()[2].Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1 << 40}
		}), "dimension 2"},
		{"unsupported op", mod(func(m *onnxpb.ModelProto) { node(m, "Add").OpType = proto.String("Resize") }), `unsupported op "Resize" at node "/features/features.3/Add"`},
		{"dilation", mod(func(m *onnxpb.ModelProto) {
			for _, a := range node(m, "Conv").GetAttribute() {
				if a.GetName() == "dilations" {
					a.Ints = []int64{2, 2}
				}
			}
		}), "dilations"},
		{"clip bounds", mod(func(m *onnxpb.ModelProto) {
			c := node(m, "Clip")
			c.Input[2] = c.Input[1] // [0, 0]
		}), "Clip to [0, 0]"},
		{"undefined input", mod(func(m *onnxpb.ModelProto) { node(m, "Add").Input[0] = "nowhere" }), `input "nowhere" is not defined`},
		{"opset", mod(func(m *onnxpb.ModelProto) { m.GetOpsetImport()[0].Version = proto.Int64(99) }), "opset 99"},
		{"unknown data type", mod(func(m *onnxpb.ModelProto) { m.GetGraph().GetInitializer()[0].DataType = proto.Int32(10) }), "data type"},
	}
	for _, c := range cases {
		_, err := Import(c.data, ImportOptions{})
		if err == nil {
			t.Errorf("%s: imported without error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want it to mention %q", c.name, err, c.want)
		}
	}
}
