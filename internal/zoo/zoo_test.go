package zoo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/testref"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/onnx"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/plan/policy"
	"github.com/dshrink/dshrink/runtime"
)

// Size and Batch of the matrix's inputs: small, so that the eight families
// import, merge, time and run in about a minute on two cores.
const (
	size  = 64
	batch = 2
	tol   = 1e-4 // relative to the largest reference output
)

type manifest struct {
	Models []struct {
		Name        string `json:"name"`
		ONNX        string `json:"onnx"`
		Input       string `json:"input"`
		Output      string `json:"output"`
		InputShape  []int  `json:"input_shape"`
		OutputShape []int  `json:"output_shape"`
	} `json:"models"`
}

// outcome is what one family's first phase leaves for the ONNX Runtime phase.
type outcome struct {
	exported string    // the merged model exported to ONNX
	x        []float32 // the input
	shape    []int
	ours     []float32 // our runtime's output of the merged model
	removed  []string  // activation nodes the merge removed
	line     string    // the summary line
}

func fixtures(t *testing.T) (root, dir string, m manifest) {
	t.Helper()
	root, err := Root(".")
	if err != nil {
		t.Fatal(err)
	}
	dir, err = Fixtures(root, size, batch)
	if errors.Is(err, ErrNoTorch) {
		testref.Missing(t, "PyTorch and torchvision ("+Python+" with torch, torchvision)", "apt-get install python3-torch python3-torchvision, or ./scripts/setup.sh --tests")
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return root, dir, m
}

// TestTorchvisionMatrix is issue 16's "must show" matrix.
func TestTorchvisionMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("imports, times and merges eight torchvision models")
	}
	root, dir, man := fixtures(t)
	if len(man.Models) != len(Models) {
		t.Fatalf("manifest lists %d models, want %d", len(man.Models), len(Models))
	}
	outs := map[string]*outcome{}
	tmp := t.TempDir()
	for _, mm := range man.Models {
		mm := mm
		t.Run(mm.Name, func(t *testing.T) {
			o := &outcome{shape: mm.InputShape}
			var err error
			if o.x, err = ReadF32(filepath.Join(dir, mm.Input)); err != nil {
				t.Fatal(err)
			}
			want, err := ReadF32(filepath.Join(dir, mm.Output))
			if err != nil {
				t.Fatal(err)
			}
			// 1. It imports, and our runtime computes PyTorch's output.
			g, err := onnx.ImportFile(filepath.Join(dir, mm.ONNX), onnx.ImportOptions{})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			y, err := runOurs(g, o.x, mm.InputShape[0])
			if err != nil {
				t.Fatal(err)
			}
			if rel, abs := RelDiff(y, want); !(rel <= tol) {
				t.Errorf("our runtime vs PyTorch: max relative difference %.3g (abs %.3g), want <= %g", rel, abs, tol)
			}
			// 2. merge --plan all: chains timed in context, only those
			// that pay merged, every other unit keeps its activation.
			p, err := plan.Resolve("all", g)
			if err != nil {
				t.Fatal(err)
			}
			d, err := policy.Decide(g, p, policy.Options{Auto: true, Merge: merge.Options{MaxMACGrowth: -1},
				Predictor: policy.InContext{Opts: policy.QuickOptions(1, nil)}})
			if err != nil {
				t.Fatalf("merge --plan all: %v", err)
			}
			checkDecision(t, g, p, d)
			res, err := merge.Verify(d.Applied, d.Merged, merge.VerifyOptions{Random: 1, Seed: 1, Real: o.x, RealN: mm.InputShape[0], Values: d.Report.ChainOutputs()})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK {
				t.Errorf("merge exactness: max relative error %.3g (worst value %s: %.3g), tolerance %g", res.MaxRel, res.WorstValue, res.WorstRel, res.Tol)
			}
			// 3. export; ONNX Runtime runs it in the second phase.
			data, err := onnx.Export(d.Merged, onnx.ExportOptions{})
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			o.exported = filepath.Join(tmp, mm.Name+".merged.onnx")
			if err := os.WriteFile(o.exported, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if o.ours, err = runOurs(d.Merged, o.x, mm.InputShape[0]); err != nil {
				t.Fatal(err)
			}
			for _, a := range d.Acts {
				o.removed = append(o.removed, a.Node)
			}
			o.line = summary(mm.Name, g, p, d)
			t.Log(o.line)
			for i, u := range d.Restored {
				if i == 2 {
					t.Logf("  ... and %d more units keep their activations", len(d.Restored)-2)
					break
				}
				t.Logf("  %s keeps its activations: %s", u.Unit, u.Why)
			}
			outs[mm.Name] = o
		})
	}
	if len(outs) == 0 {
		t.Fatal("no family got as far as the merge")
	}
	removed := map[string][]string{}
	for name, o := range outs {
		removed[name] = o.removed
		if o.removed == nil {
			removed[name] = []string{}
		}
	}
	if err := IdentityOutputs(root, dir, removed); err != nil {
		t.Fatal(err)
	}
	mods := ORTModules(root)
	for _, mm := range man.Models {
		o := outs[mm.Name]
		if o == nil {
			continue
		}
		t.Run(mm.Name+"/onnxruntime", func(t *testing.T) {
			want, err := ReadF32(filepath.Join(dir, mm.Name+".identity.out.bin"))
			if err != nil {
				t.Fatal(err)
			}
			// Our runtime on the merged model, then ONNX Runtime on its
			// export, against PyTorch with the same activations removed.
			if rel, abs := RelDiff(o.ours, want); !(rel <= tol) {
				t.Errorf("merged model in our runtime vs PyTorch without the %d removed activations: max relative difference %.3g (abs %.3g)", len(o.removed), rel, abs)
			}
			if mods == "" {
				testref.Missing(t, "ONNX Runtime (node and onnxruntime-node in .cache/ort or ORT_NODE_MODULES)", "./scripts/setup.sh --tests")
			}
			got, err := RunORT(root, mods, o.exported, o.x, o.shape)
			if err != nil {
				t.Fatal(err)
			}
			if rel, abs := RelDiff(got, want); !(rel <= tol) {
				t.Errorf("exported merged model in ONNX Runtime vs PyTorch without the %d removed activations: max relative difference %.3g (abs %.3g)", len(o.removed), rel, abs)
			}
		})
	}
	var lines []string
	for _, mm := range man.Models {
		if o := outs[mm.Name]; o != nil {
			lines = append(lines, o.line)
		}
	}
	t.Logf("matrix at %dx%d, batch %d:\n%s", size, size, batch, strings.Join(lines, "\n"))
}

// checkDecision holds merge --plan all to what issue 16 asks: a plan and
// the merge agree, and the merged model is not predicted slower, or the
// merge declined and said why.
func checkDecision(t *testing.T, g *graph.Graph, p *plan.Plan, d *policy.Decision) {
	t.Helper()
	for _, a := range d.Acts {
		if !a.Merged {
			t.Errorf("activation %s of unit %s removed but not merged away: %s", a.Node, a.Unit, a.Why)
		}
	}
	final := map[string]bool{}
	for _, u := range d.Plan.Removed() {
		final[u] = true
	}
	restored := map[string]string{}
	for _, u := range d.Restored {
		restored[u.Unit] = u.Why
	}
	for _, u := range p.Removed() {
		if !final[u] && restored[u] == "" {
			t.Errorf("unit %s dropped from the plan without a reason", u)
		}
	}
	if len(d.Plan.Removed()) > 0 && d.Report.Merged == 0 {
		t.Errorf("units %v removed, nothing merged", d.Plan.Removed())
	}
	switch {
	case d.Report.Merged == 0:
		if len(d.Restored) != len(p.Removed()) {
			t.Errorf("nothing merged but %d of %d units restored with a reason", len(d.Restored), len(p.Removed()))
		}
	case d.Prediction == nil:
		t.Error("merged without a timing")
	case d.Slower:
		t.Errorf("merged model predicted slower (%.4f ms vs %.4f ms) and not declined", d.Prediction.MergedMs, d.Prediction.OriginalMs)
	}
	if d.Report.Merged > 0 && !d.FunctionChanged {
		t.Error("activations removed from a model that computes them: the function change is not reported")
	}
}

func runOurs(g *graph.Graph, x []float32, n int) ([]float32, error) {
	p, err := runtime.Compile(g, runtime.Options{Batch: n, Threads: 1})
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	y := make([]float32, n*p.OutputLen())
	if err := p.Run(x, y); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	return y, nil
}

func summary(name string, g *graph.Graph, p *plan.Plan, d *policy.Decision) string {
	speed := "nothing merged"
	if pr := d.Prediction; pr != nil && d.Report.Merged > 0 {
		speed = fmt.Sprintf("predicted %.3f -> %.3f ms (%.2fx)", pr.OriginalMs, pr.MergedMs, pr.Speedup())
	}
	return fmt.Sprintf("%-20s blocks %2d, units removed by all %2d, kept back %2d, chains merged %2d, MACs %.1fM -> %.1fM, %s",
		name, len(g.Blocks), len(p.Removed()), len(d.Restored), d.Report.Merged, float64(d.Report.Before.MACs)/1e6, float64(d.Report.After.MACs)/1e6, speed)
}
