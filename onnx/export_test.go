package onnx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/dshrink/dshrink/internal/testref"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// variantGraph builds a small graph with every op and attribute the
// exporter handles: Pad, a conv with bias and bias map, identity, ReLU,
// ReLU6, HardSwish and HardSigmoid activations, BatchNorm, a residual Add,
// Dropout and a Linear classifier; parameters are random.
func variantGraph(t testing.TB) *graph.Graph {
	b := graph.NewBuilder("variant", 3, 9, 9)
	h := b.G.Input.Name
	pad := &graph.Node{Name: "pad", Op: graph.OpPad, Inputs: []string{h}, Output: "pad", Pad: &graph.PadAttr{Pads: [4]int{1, 2, 1, 0}}}
	b.G.Nodes = append(b.G.Nodes, pad)
	h = b.Conv("merged", "pad", 3, 8, 3, 2, 0, 1, true)
	h = b.Act("act0", h, graph.ActHardSwish, "u0")
	x := h
	h = b.Conv("expand", h, 8, 16, 1, 1, 0, 1, false)
	h = b.BatchNorm("expand_bn", h, 16)
	h = b.Act("expand_act", h, graph.ActIdentity, "u1")
	h = b.Conv("dw", h, 16, 16, 3, 1, 1, 16, false)
	h = b.BatchNorm("dw_bn", h, 16)
	h = b.Act("dw_act", h, graph.ActReLU6, "u1")
	h = b.Conv("project", h, 16, 8, 1, 1, 0, 1, true)
	h = b.Add("res", x, h)
	h = b.Act("act2", h, graph.ActReLU, "")
	h = b.Act("act3", h, graph.ActHardSigmoid, "")
	h = b.GlobalAvgPool("pool", h)
	h = b.Flatten("flatten", h)
	h = b.Dropout("drop", h, 0.25)
	h = b.Linear("fc", h, 8, 5, true)
	b.G.Units = []graph.Unit{{Name: "u0"}, {Name: "u1"}}
	m := b.G.Node("merged")
	m.Conv.BiasMap = true
	m.Params = append(m.Params, "merged.bias_map")
	g := b.G
	g.Params["merged.bias_map"] = tensor.New(8, 5, 5)
	g.Output = h
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	randomize(g, 3)
	g.Meta["plan"] = "[1,0]"
	return g
}

// newOpsGraph builds a small graph with the ops of issue 16: SiLU, max and
// average pooling (ceil mode, count_include_pad), a channel split into two
// Slices, a grouped conv, Concat, channel shuffle, squeeze-and-excitation
// (pool, convs, hard sigmoid gate, Mul), sigmoid and a Softmax at the end.
func newOpsGraph(t testing.TB) *graph.Graph {
	b := graph.NewBuilder("newops", 3, 12, 12) // 12: the ceil-mode max pool gives 7, not 6
	h := b.Conv("stem", b.G.Input.Name, 3, 8, 3, 1, 1, 1, true)
	h = b.Act("stem_act", h, graph.ActSiLU, "stem")
	h = b.MaxPool("maxpool", h, 3, 2, 1)
	b.G.Node("maxpool").Pool.CeilMode = true
	l := b.Slice("split0", h, 0, 4)
	r := b.Slice("split1", h, 4, 8)
	r = b.Conv("branch", r, 4, 4, 3, 1, 1, 2, false)
	r = b.BatchNorm("branch_bn", r, 4)
	r = b.Act("branch_act", r, graph.ActSigmoid, "")
	h = b.Concat("cat", l, r)
	h = b.Shuffle("shuffle", h, 2)
	s := b.GlobalAvgPool("se_pool", h)
	s = b.Conv("se_fc1", s, 8, 4, 1, 1, 0, 1, true)
	s = b.Act("se_act", s, graph.ActReLU, "")
	s = b.Conv("se_fc2", s, 4, 8, 1, 1, 0, 1, true)
	s = b.Act("se_gate", s, graph.ActHardSigmoid, "")
	h = b.Mul("se_mul", h, s)
	h = b.AvgPool("avgpool", h, 3, 2, 1, true)
	h = b.AvgPool("avgpool2", h, 2, 1, 0, false)
	// PyTorch's ceil mode where it drops a window that would start in the
	// padding (3 -> 2, not 3), max and average.
	h = b.MaxPool("maxpool_trim", h, 2, 2, 1)
	b.G.Node("maxpool_trim").Pool.CeilMode = true
	h = b.AvgPool("avgpool_trim", h, 2, 2, 1, false)
	b.G.Node("avgpool_trim").Pool.CeilMode = true
	h = b.GlobalAvgPool("pool", h)
	h = b.Flatten("flatten", h)
	h = b.Linear("fc", h, 8, 5, true)
	h = b.Softmax("softmax", h)
	b.G.Units = []graph.Unit{{Name: "stem"}}
	g, err := b.Finish(h)
	if err != nil {
		t.Fatal(err)
	}
	randomize(g, 4)
	return g
}

// randomize fills every parameter with random values (positive variances).
func randomize(g *graph.Graph, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, n := range g.Nodes {
		for i, p := range n.Params {
			d := g.Params[p].Data
			for j := range d {
				d[j] = float32(rng.NormFloat64() * 0.5)
				if n.Op == graph.OpBatchNorm && i == 3 {
					d[j] = float32(0.5 + rng.Float64())
				}
			}
		}
	}
}

func input(n int, shape []int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, n*shape[0]*shape[1]*shape[2])
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func TestExportRoundTrip(t *testing.T) {
	mnv2, err := Import(readGz(t, "mnv2_bn.onnx.gz"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		g    *graph.Graph
		opts ExportOptions
	}{
		{"mnv2", mnv2, ExportOptions{}},
		{"mnv2_b2_opset17", mnv2, ExportOptions{Batch: 2, Opset: 17}},
		{"variant", variantGraph(t), ExportOptions{}},
		{"variant_opset14", variantGraph(t), ExportOptions{Opset: 14}},
		{"newops", newOpsGraph(t), ExportOptions{}},
		{"newops_b2_opset17", newOpsGraph(t), ExportOptions{Batch: 2, Opset: 17}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := Export(c.g, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Export(c.g, c.opts)
			if err != nil || !bytes.Equal(data, again) {
				t.Errorf("export is not deterministic (%v)", err)
			}
			back, err := Import(data, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			x := input(2, c.g.Input.Shape, 5)
			want := forward(t, c.g, x, 2)
			got := forward(t, back, x, 2)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("output %d: %g after the round trip, %g before", i, got[i], want[i])
				}
			}
			if len(back.Nodes) != len(c.g.Nodes) {
				t.Errorf("%d nodes after the round trip, %d before", len(back.Nodes), len(c.g.Nodes))
			}
			for i, n := range c.g.Nodes {
				if i < len(back.Nodes) && (back.Nodes[i].Name != n.Name || fmt.Sprint(back.Nodes[i].Params) != fmt.Sprint(n.Params) || back.Nodes[i].Block != n.Block) {
					t.Errorf("node %d: %s %v after the round trip, %s %v before", i, back.Nodes[i].Name, back.Nodes[i].Params, n.Name, n.Params)
				}
				if n.Act != nil && i < len(back.Nodes) && (back.Nodes[i].Act == nil || *back.Nodes[i].Act != *n.Act) {
					t.Errorf("node %s: activation %+v after the round trip, %+v before", n.Name, back.Nodes[i].Act, n.Act)
				}
			}
			if fmt.Sprint(back.Blocks) != fmt.Sprint(c.g.Blocks) || fmt.Sprint(back.Units) != fmt.Sprint(c.g.Units) {
				t.Errorf("structure changed: %v %v, want %v %v", back.Blocks, back.Units, c.g.Blocks, c.g.Units)
			}
			if p := c.g.Meta["plan"]; back.Meta["plan"] != p {
				t.Errorf("plan metadata %q, want %q", back.Meta["plan"], p)
			}
			path := filepath.Join(t.TempDir(), c.name+".onnx")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			onnxChecker(t, path)
			checkInferredShapes(t, path, c.g)
			b := 2
			if c.opts.Batch == 0 {
				b = 3 // a batch other than the one used to build shapes
				x = input(b, c.g.Input.Shape, 6)
				want = forward(t, c.g, x, b)
			}
			if out, ok := runORT(t, path, x, append([]int{b}, c.g.Input.Shape...)); ok {
				checkClose64(t, "ONNX Runtime vs our forward", out, want)
			}
		})
	}
}

// TestStructureRecognisedWithoutMetadata exports without the structure
// metadata, with some activations made identity (a searched model), and
// checks the importer recognises the same blocks and units.
func TestStructureRecognisedWithoutMetadata(t *testing.T) {
	g, err := Import(readGz(t, "mnv2_bn.onnx.gz"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range g.Nodes {
		if n.Act != nil && i%3 == 0 {
			n.Act.Kind = graph.ActIdentity
		}
	}
	data, err := Export(g, ExportOptions{NoStructure: true})
	if err != nil {
		t.Fatal(err)
	}
	back, err := Import(data, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back.Blocks) != fmt.Sprint(g.Blocks) || fmt.Sprint(back.Units) != fmt.Sprint(g.Units) {
		t.Errorf("structure changed:\n%v %v\nwant\n%v %v", back.Blocks, back.Units, g.Blocks, g.Units)
	}
}

func checkClose64(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	var d, s float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
		s = math.Max(s, math.Abs(want[i]))
	}
	t.Logf("%s: relative error %.3g (tolerance %g)", what, d/s, relTol)
	if d/s > relTol || math.IsNaN(d) {
		t.Errorf("%s: relative error %g exceeds %g", what, d/s, relTol)
	}
}

const python = "/usr/bin/python3"

// onnxChecker runs onnx.checker.check_model with full_check on path, or
// skips when python3-onnx is not installed.
func onnxChecker(t *testing.T, path string) {
	t.Helper()
	if err := exec.Command(python, "-c", "import onnx").Run(); err != nil {
		testref.Missing(t, "onnx.checker ("+python+" with the onnx module)", "apt-get install python3-onnx")
		return
	}
	script := "import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)"
	out, err := exec.Command(python, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Errorf("onnx.checker rejects %s: %v\n%s", filepath.Base(path), err, out)
	}
}

// checkInferredShapes runs ONNX's shape inference on the model at path and
// checks that every value's inferred shape (batch aside) is the one dshrink
// computes: an exported op means what the graph means (PyTorch's ceil-mode
// pooling, for one, is not ONNX's).
func checkInferredShapes(t *testing.T, path string, g *graph.Graph) {
	t.Helper()
	if err := exec.Command(python, "-c", "import onnx").Run(); err != nil {
		testref.Missing(t, "onnx shape inference ("+python+" with the onnx module)", "apt-get install python3-onnx")
		return
	}
	script := `import sys, onnx
m = onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]), strict_mode=True)
for v in m.graph.value_info:
    print(v.name, *[d.dim_value for d in v.type.tensor_type.shape.dim[1:]])`
	out, err := exec.Command(python, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx shape inference fails on %s: %v\n%s", filepath.Base(path), err, out)
	}
	shapes, err := g.Shapes(1)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		want, ok := shapes[f[0]]
		if !ok {
			continue
		}
		if got := strings.Join(f[1:], " "); got != strings.Trim(fmt.Sprint(want[1:]), "[]") {
			t.Errorf("value %s: ONNX infers [N %s], dshrink %v", f[0], got, want)
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("shape inference gave no shapes for %s", filepath.Base(path))
	}
}

// ortModules returns the node_modules directory holding onnxruntime-node.
func ortModules() string {
	for _, d := range []string{os.Getenv("ORT_NODE_MODULES"), filepath.Join("..", ".cache", "ort", "node_modules")} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "onnxruntime-node", "package.json")); err == nil {
			abs, _ := filepath.Abs(d)
			return abs
		}
	}
	return ""
}

// runORT runs the model at path in ONNX Runtime (tools/ort/run_ort.js) and
// returns its output; ok is false (and the check is skipped with a message)
// when node or onnxruntime-node is missing.
func runORT(t *testing.T, path string, x []float32, shape []int) (out []float32, ok bool) {
	t.Helper()
	node, err := exec.LookPath("node")
	mods := ortModules()
	if err != nil || mods == "" {
		testref.Missing(t, "ONNX Runtime (node and onnxruntime-node@1.30.0 in .cache/ort or ORT_NODE_MODULES)", "./scripts/setup.sh")
		return nil, false
	}
	dir := t.TempDir()
	in, outPath := filepath.Join(dir, "x.bin"), filepath.Join(dir, "y.bin")
	buf := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(in, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	cmd := exec.Command(node, filepath.Join("..", "tools", "ort", "run_ort.js"), path, in, strings.Join(dims, ","), outPath)
	cmd.Env = append(os.Environ(), "ORT_NODE_MODULES="+mods)
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ONNX Runtime failed on %s: %v\n%s", filepath.Base(path), err, res)
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	out = make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, true
}

// TestORTRunsPyTorchFixture checks the yardstick itself: ONNX Runtime on the
// PyTorch-exported fixture reproduces PyTorch's output.
func TestORTRunsPyTorchFixture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mnv2_bn.onnx")
	if err := os.WriteFile(path, readGz(t, "mnv2_bn.onnx.gz"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := readF32(t, "mnv2_bn.out.bin")
	if out, ok := runORT(t, path, readF32(t, "mnv2_bn.in.bin"), []int{2, 3, 32, 32}); ok {
		w := make([]float64, len(want))
		for i, v := range want {
			w[i] = float64(v)
		}
		checkClose64(t, "ONNX Runtime vs PyTorch", out, w)
	}
}
