package onnx

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/testref"
	"github.com/dshrink/dshrink/runtime"
)

// The torchvision matrix of issue 16: every family's export imports, its
// blocks are found and named after the PyTorch modules.
//
// The exports are generated once per test binary by
// tools/fixtures/make_torchvision_fixtures.py (Debian's python3-torch and
// python3-torchvision; about 10 s), into a temporary directory, or read from
// DSHRINK_TV_FIXTURES when that names a directory the script has filled.

type tvSet struct {
	once sync.Once
	dir  string
	err  error
}

// tvSets are the generated fixture directories: "fold" (all eight and the
// README's example, exported with torch.onnx.export's defaults) and "bn"
// (three families exported with BatchNormalization and the shape
// arithmetic kept).
var tvSets = map[string]*tvSet{"fold": {}, "bn": {}}

var tvArgs = map[string][]string{
	"fold": {"--readme"},
	"bn":   {"--keep-bn", "--models", "mobilenet_v3_small,efficientnet_b0,shufflenet_v2_x1_0"},
}

// torchvisionDir returns the directory with the torchvision exports of set
// ("fold" or "bn"), or skips (fails with DSHRINK_REQUIRE_REFS=1) when
// PyTorch is missing. DSHRINK_TV_FIXTURES=DIR reads DIR/fold and DIR/bn
// instead, when they hold a manifest.json.
func torchvisionDir(t *testing.T, set string) string {
	t.Helper()
	if d := os.Getenv("DSHRINK_TV_FIXTURES"); d != "" {
		if _, err := os.Stat(filepath.Join(d, set, "manifest.json")); err == nil {
			return filepath.Join(d, set)
		}
	}
	ts := tvSets[set]
	ts.once.Do(func() {
		if err := exec.Command(python, "-c", "import torch, torchvision").Run(); err != nil {
			ts.err = errMissingTorch
			return
		}
		dir, err := os.MkdirTemp("", "dshrink-tv-")
		if err != nil {
			ts.err = err
			return
		}
		ts.dir = dir
		ids := map[string][]string{}
		for _, c := range tvWant {
			if c.unit != nil {
				ids[c.model] = c.unit
			}
		}
		js, _ := json.Marshal(ids)
		idPath := filepath.Join(dir, "identity.json")
		if err := os.WriteFile(idPath, js, 0o644); err != nil {
			ts.err = err
			return
		}
		args := append([]string{filepath.Join("..", "tools", "fixtures", "make_torchvision_fixtures.py"), dir, "--identity", idPath}, tvArgs[set]...)
		if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
			ts.err = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if ts.err == errMissingTorch {
		testref.Missing(t, "PyTorch and torchvision ("+python+" with torch, torchvision)", "apt-get install python3-torch python3-torchvision, or ./scripts/setup.sh --tests")
	}
	if ts.err != nil {
		t.Fatalf("generating the torchvision exports: %v", ts.err)
	}
	return ts.dir
}

var errMissingTorch = errors.New("torch missing")

func TestMain(m *testing.M) {
	code := m.Run()
	for _, ts := range tvSets {
		if ts.dir != "" {
			os.RemoveAll(ts.dir)
		}
	}
	os.Exit(code)
}

func readF32File(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// tvWant is what the importer must find in each family: the block kinds
// and how many of each, a few block names that map back to the PyTorch
// modules, and some stem/head unit names.
var tvWant = []struct {
	model  string
	kinds  map[string]int
	names  []string
	units  []string
	se     int // blocks with squeeze-and-excitation
	groups int // blocks with grouped (not depthwise) middle convs
	// unit: the activation nodes of one block's unit, named after the
	// PyTorch module calls; PyTorch's output with them replaced by the
	// identity is M.identity.out.bin.
	unit []string
}{
	{"mobilenet_v2", map[string]int{graph.BlockInvertedResidual: 17}, []string{"features.1", "features.3", "features.17"}, []string{"features.0", "features.18"}, 0, 0, []string{"features.2.conv.0.2", "features.2.conv.1.2"}},
	{"readme_mobilenet_v2", map[string]int{graph.BlockInvertedResidual: 17}, []string{"features.1", "features.17"}, []string{"features.0", "features.18"}, 0, 0, nil},
	{"mobilenet_v3_small", map[string]int{graph.BlockInvertedResidualSE: 9, graph.BlockInvertedResidual: 2}, []string{"features.1", "features.4", "features.11"}, []string{"features.0", "features.12"}, 9, 0, []string{"features.4.block.0.2", "features.4.block.1.2"}},
	{"mobilenet_v3_large", map[string]int{graph.BlockInvertedResidualSE: 8, graph.BlockInvertedResidual: 7}, []string{"features.1", "features.4", "features.15"}, []string{"features.0", "features.16"}, 8, 0, []string{"features.2.block.0.2", "features.2.block.1.2"}},
	{"efficientnet_b0", map[string]int{graph.BlockInvertedResidualSE: 16}, []string{"features.1.0", "features.2.1", "features.7.0"}, []string{"features.0", "features.8"}, 16, 0, []string{"features.2.0.block.0.2", "features.2.0.block.1.2"}},
	{"mnasnet1_0", map[string]int{graph.BlockInvertedResidual: 17}, []string{"layers.3", "layers.8.0", "layers.13.0"}, []string{"layers.0", "layers.14"}, 0, 0, []string{"layers.8.0.layers.2", "layers.8.0.layers.5"}},
	{"resnet18", map[string]int{graph.BlockBasic: 8}, []string{"layer1.0", "layer2.0", "layer4.1"}, []string{"conv1"}, 0, 0, []string{"layer1.0.relu"}},
	{"shufflenet_v2_x1_0", map[string]int{graph.BlockShuffleBranch: 16}, []string{"stage2.0.branch2", "stage2.1.branch2", "stage4.3.branch2"}, []string{"conv1", "conv5"}, 0, 0, []string{"stage2.1.branch2.2"}},
	{"regnet_x_400mf", map[string]int{graph.BlockBottleneck: 22}, []string{"trunk_output.block1.block1-0", "trunk_output.block4.block4-11"}, []string{"stem"}, 0, 22, []string{"trunk_output.block1.block1-0.f.a.2", "trunk_output.block1.block1-0.f.b.2"}},
}

func TestTorchvisionImport(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the torchvision matrix exports eight full-size models with PyTorch (TestImportTinyFamilies covers the constructs)")
	}
	for _, set := range []string{"fold", "bn"} {
		for _, c := range tvWant {
			if set == "bn" && !slices.Contains(strings.Split(tvArgs["bn"][2], ","), c.model) {
				continue
			}
			t.Run(set+"/"+c.model, func(t *testing.T) { testTorchvisionModel(t, torchvisionDir(t, set), c.model, set == "fold") })
		}
	}
}

// testTorchvisionModel imports one export and checks its blocks, units and
// output; full adds the unit-name and export checks.
func testTorchvisionModel(t *testing.T, dir, model string, full bool) {
	for _, c := range tvWant {
		if c.model != model {
			continue
		}
		{
			path := filepath.Join(dir, c.model+".onnx")
			g, err := ImportFile(path, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			names := map[string]bool{}
			se, groups := 0, 0
			for _, b := range g.Blocks {
				kinds[b.Kind]++
				names[b.Name] = true
				if b.SE {
					se++
				}
				if b.Groups > 1 {
					groups++
				}
			}
			if fmt.Sprint(kinds) != fmt.Sprint(c.kinds) {
				t.Errorf("blocks %v, want %v", kinds, c.kinds)
			}
			if se != c.se || groups != c.groups {
				t.Errorf("%d blocks with SE and %d with grouped convs, want %d and %d", se, groups, c.se, c.groups)
			}
			for _, nm := range c.names {
				if !names[nm] {
					t.Errorf("no block named %q; blocks: %v", nm, sortedKeys(names))
				}
			}
			units := map[string]bool{}
			for _, u := range g.Units {
				units[u.Name] = true
				if strings.Contains(u.Name, "unit") || strings.HasPrefix(u.Name, "block.") {
					t.Errorf("unit %q is not named after a PyTorch module", u.Name)
				}
			}
			for _, u := range c.units {
				if !units[u] {
					t.Errorf("no unit named %q; units: %v", u, sortedKeys(units))
				}
			}
			for _, b := range g.Blocks {
				// Every ResNet and RegNet block has a shortcut (identity
				// or projection), part of the block.
				if (b.Kind == graph.BlockBasic || b.Kind == graph.BlockBottleneck) && (!b.Residual || g.Producer(b.Output).Op != graph.OpAdd) {
					t.Errorf("block %s: residual %v, output %s; want its shortcut Add", b.Name, b.Residual, b.Output)
				}
				if !units[b.Name] {
					t.Errorf("block %s has no removable activation unit", b.Name)
				}
			}
			t.Logf("%s: %d nodes, %d blocks %v, %d units", c.model, len(g.Nodes), len(g.Blocks), kinds, len(g.Units))
			// The imported model computes what PyTorch computed (float64
			// reference evaluator).
			x := readF32File(t, filepath.Join(dir, c.model+".in.bin"))
			batch := len(x) / numel(g.Input.Shape)
			checkClose(t, c.model+": imported model (graph/reference) vs PyTorch", forward(t, g, x, batch), readF32File(t, filepath.Join(dir, c.model+".out.bin")))
			// Our runtime computes PyTorch's output on the imported model.
			prog, err := runtime.Compile(g, runtime.Options{Batch: batch, Threads: 1})
			if err != nil {
				t.Fatalf("runtime.Compile: %v", err)
			}
			out := make([]float32, batch*g.Classes)
			if err := prog.Run(x, out); err != nil {
				t.Fatalf("runtime Run: %v", err)
			}
			checkClose(t, c.model+": runtime vs PyTorch", f64(out), readF32File(t, filepath.Join(dir, c.model+".out.bin")))
			if !full {
				return
			}
			if c.unit != nil {
				testUnitNames(t, g, c.unit, x, batch, readF32File(t, filepath.Join(dir, c.model+".identity.out.bin")))
			}
			// Exported back to ONNX, the model passes onnx.checker and
			// ONNX Runtime computes PyTorch's output.
			data, err := Export(g, ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			path = filepath.Join(t.TempDir(), c.model+".onnx")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			onnxChecker(t, path)
			checkInferredShapes(t, path, g)
			if out, ok := runORT(t, path, x, append([]int{batch}, g.Input.Shape...)); ok {
				want := readF32File(t, filepath.Join(dir, c.model+".out.bin"))
				checkClose(t, c.model+": dshrink's export in ONNX Runtime vs PyTorch", f64(out), want)
			}
		}
		return
	}
	t.Fatalf("no expectations for %s", model)
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// testUnitNames checks that the activation nodes named acts (PyTorch module
// calls) are exactly one block's removable unit, and that the model with
// them replaced by the identity computes what PyTorch computes with those
// module calls replaced by the identity: a plan maps back to the model.
func testUnitNames(t *testing.T, g *graph.Graph, acts []string, x []float32, batch int, want []float32) {
	t.Helper()
	unit := ""
	for _, name := range acts {
		n := g.Node(name)
		if n == nil || n.Act == nil {
			t.Fatalf("no activation node named %q", name)
		}
		if unit == "" {
			unit = n.Act.Unit
		}
		if n.Act.Unit == "" || n.Act.Unit != unit || g.Block(unit) == nil {
			t.Fatalf("activation %s is in unit %q, want the unit of a block shared by %v", name, n.Act.Unit, acts)
		}
	}
	var members []string
	for _, n := range g.Nodes {
		if n.Act != nil && n.Act.Unit == unit {
			members = append(members, n.Name)
		}
	}
	if fmt.Sprint(members) != fmt.Sprint(acts) {
		t.Errorf("unit %s holds %v, want %v", unit, members, acts)
	}
	h := g.Clone()
	for _, n := range h.Nodes {
		if n.Act != nil && n.Act.Unit == unit {
			n.Act.Kind = graph.ActIdentity
		}
	}
	checkClose(t, "unit "+unit+" removed vs PyTorch with "+strings.Join(acts, ", ")+" as identity", forward(t, h, x, batch), want)
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// TestImportTinyFamilies imports the small committed torchvision-style
// exports (tools/fixtures/make_torchvision_fixtures.py --tiny; no PyTorch
// needed): ShuffleNetV2 with its shape arithmetic, channel split and
// shuffle, MobileNetV3 with hard swish and squeeze-and-excitation,
// EfficientNet with SiLU; blocks, names, and outputs (reference evaluator
// and runtime) against PyTorch's; the export back runs in ONNX Runtime.
func TestImportTinyFamilies(t *testing.T) {
	for _, c := range []struct {
		name   string
		kinds  map[string]int
		blocks []string
	}{
		{"tiny_shufflenet", map[string]int{graph.BlockShuffleBranch: 4}, []string{"stage2.0.branch2", "stage2.1.branch2", "stage3.0.branch2", "stage4.0.branch2"}},
		{"tiny_mnv3", map[string]int{graph.BlockInvertedResidualSE: 2, graph.BlockInvertedResidual: 2}, []string{"features.1", "features.2", "features.3", "features.4"}},
		{"tiny_effnet", map[string]int{graph.BlockInvertedResidualSE: 3}, []string{"features.1.0", "features.2.0", "features.3.0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := Import(readGz(t, c.name+".onnx.gz"), ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			var names []string
			for _, b := range g.Blocks {
				kinds[b.Kind]++
				names = append(names, b.Name)
			}
			if fmt.Sprint(kinds) != fmt.Sprint(c.kinds) || fmt.Sprint(names) != fmt.Sprint(c.blocks) {
				t.Errorf("blocks %v %v, want %v %v", kinds, names, c.kinds, c.blocks)
			}
			x, want := readF32(t, c.name+".in.bin"), readF32(t, c.name+".out.bin")
			checkClose(t, c.name+": reference vs PyTorch", forward(t, g, x, 2), want)
			prog, err := runtime.Compile(g, runtime.Options{Batch: 2, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, len(want))
			if err := prog.Run(x, out); err != nil {
				t.Fatal(err)
			}
			checkClose(t, c.name+": runtime vs PyTorch", f64(out), want)
			data, err := Export(g, ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			back, err := Import(data, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(back.Blocks) != fmt.Sprint(g.Blocks) || len(back.Nodes) != len(g.Nodes) {
				t.Errorf("round trip changed the model: %d nodes, blocks %v", len(back.Nodes), back.Blocks)
			}
			path := filepath.Join(t.TempDir(), c.name+".onnx")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			onnxChecker(t, path)
			checkInferredShapes(t, path, g)
			if out, ok := runORT(t, path, x, append([]int{2}, g.Input.Shape...)); ok {
				checkClose(t, c.name+": dshrink's export in ONNX Runtime vs PyTorch", f64(out), want)
			}
		})
	}
}
