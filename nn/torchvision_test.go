package nn_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dshrink/dshrink/internal/testref"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/onnx"
)

// The training executor on the torchvision families of issue 16, imported
// from PyTorch's ONNX exports: the eval forward pass must equal PyTorch's
// output, and the gradient of a training step must point downhill by the
// amount it predicts.
//
// The exports are generated once per test binary by
// tools/fixtures/make_torchvision_fixtures.py (Debian's python3-torch and
// python3-torchvision) into a temporary directory, or read from
// DSHRINK_TV_FIXTURES/{fold,bn} when those hold a manifest.json (as the onnx
// package's tests do).

const python = "/usr/bin/python3"

type tvSet struct {
	once sync.Once
	dir  string
	err  error
}

var (
	tvSets = map[string]*tvSet{"fold": {}, "bn": {}}
	tvArgs = map[string][]string{
		"fold": nil,
		"bn":   {"--keep-bn", "--models", "mobilenet_v3_small,efficientnet_b0,shufflenet_v2_x1_0"},
	}
	errMissingTorch = errors.New("torch missing")
)

func tvDir(t *testing.T, set string) string {
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
		if ts.dir, ts.err = os.MkdirTemp("", "dshrink-nn-tv-"); ts.err != nil {
			return
		}
		args := append([]string{filepath.Join("..", "tools", "fixtures", "make_torchvision_fixtures.py"), ts.dir}, tvArgs[set]...)
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

func TestMain(m *testing.M) {
	code := m.Run()
	for _, ts := range tvSets {
		if ts.dir != "" {
			os.RemoveAll(ts.dir)
		}
	}
	os.Exit(code)
}

func readF32(t *testing.T, path string) []float32 {
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

// TestTorchvisionTraining runs every family of the fixtures ("fold":
// BatchNorm folded by the exporter, all eight; "bn": three exported with
// BatchNorm kept):
//   - eval forward against PyTorch's output, within 1e-5 of its scale
//     (float32 accumulation; seen: about 5e-7);
//   - a training step (every unit gated, half of them running as the
//     identity): the loss is cross-entropy on fixed labels; moving the
//     parameters by -lr*grad with lr*|grad|^2 = 1e-2 must lower the loss by
//     that predicted 1e-2 within 15% (a directional finite difference along
//     the gradient; ReLU kinks and float32 rounding stay well inside the
//     margin at this step), once for the parameters of the first half of the
//     nodes (whose gradient crosses every op; skipped where it is below 1%
//     of the whole, as in most BatchNorm-folded random networks) and once
//     for all of them.
func TestTorchvisionTraining(t *testing.T) {
	for _, set := range []string{"fold", "bn"} {
		dir := tvDir(t, set)
		raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		var man struct {
			Models []struct {
				Name, Onnx, Input, Output string
				InputShape                []int `json:"input_shape"`
			}
		}
		if err := json.Unmarshal(raw, &man); err != nil {
			t.Fatal(err)
		}
		if len(man.Models) == 0 {
			t.Fatalf("%s: no models in the manifest", set)
		}
		for _, md := range man.Models {
			t.Run(set+"/"+md.Name, func(t *testing.T) {
				g, err := onnx.ImportFile(filepath.Join(dir, md.Onnx), onnx.ImportOptions{})
				if err != nil {
					t.Fatal(err)
				}
				n := md.InputShape[0]
				m, err := nn.NewModel(g, n)
				if err != nil {
					t.Fatal(err)
				}
				x, want := readF32(t, filepath.Join(dir, md.Input)), readF32(t, filepath.Join(dir, md.Output))
				y := m.Forward(x, n, false)
				if len(y) != len(want) {
					t.Fatalf("%d outputs, PyTorch has %d", len(y), len(want))
				}
				var d, scale float64
				for i, w := range want {
					d = math.Max(d, math.Abs(float64(y[i]-w)))
					scale = math.Max(scale, math.Abs(float64(w)))
				}
				if d > 1e-5*scale || math.IsNaN(d) {
					t.Errorf("eval output differs from PyTorch by %g (scale %g)", d, scale)
				}

				var units []string
				for _, u := range g.Units {
					units = append(units, u.Name)
				}
				if err := m.EnableGates(units); err != nil {
					t.Fatal(err)
				}
				for i, u := range units {
					m.Gates[u].Mask = float32(i % 2)
				}
				k := m.OutputSize()
				labels := make([]int32, n)
				for i := range labels {
					labels[i] = int32(i * 7 % k)
				}
				dout := make([]float32, n*k)
				loss := func() float64 {
					m.SetSeed(1)
					l, _, err := nn.CrossEntropy(m.Forward(x, n, true), labels, n, k, 0, dout)
					if err != nil {
						t.Fatal(err)
					}
					return l
				}
				l0 := loss()
				m.Backward(dout)
				// The parameters of the first half of the nodes: their gradient
				// flows back through every op of the network, while the whole
				// gradient's norm is dominated by the classifier.
				var early, all []string
				for i, nd := range g.Nodes {
					for _, p := range nd.Params {
						if _, ok := m.Grads[p]; ok {
							all = append(all, p)
							if i < len(g.Nodes)/2 {
								early = append(early, p)
							}
						}
					}
				}
				norm2 := func(names []string) float64 {
					var s float64
					for _, name := range names {
						for _, v := range m.Grads[name].Data {
							s += float64(v) * float64(v)
						}
					}
					return s
				}
				for _, c := range []struct {
					what   string
					params []string
				}{{"first half", early}, {"all", all}} {
					g2 := norm2(c.params)
					if !(g2 > 0) || math.IsInf(g2, 0) {
						t.Fatalf("%s: squared gradient norm %g", c.what, g2)
					}
					if c.what == "first half" && g2 < 1e-4*norm2(all) {
						// Random weights with BatchNorm folded: the early layers
						// barely move the output, a step of 0.01 is far outside
						// the linear range.
						t.Logf("first half: |grad| %.3g, below 1%% of the whole: not checked", math.Sqrt(g2))
						continue
					}
					lr := float32(1e-2 / g2)
					saved := map[string][]float32{}
					for _, name := range c.params {
						p := g.Params[name].Data
						saved[name] = append([]float32(nil), p...)
						for i, v := range m.Grads[name].Data {
							p[i] -= lr * v
						}
					}
					drop := l0 - loss()
					for name, p := range saved {
						copy(g.Params[name].Data, p)
					}
					t.Logf("%s: %d tensors, |grad| %.3g, loss %.4f drops by %.4g for a predicted 0.01", c.what, len(c.params), math.Sqrt(g2), l0, drop)
					if drop < 0.85e-2 || drop > 1.15e-2 {
						t.Errorf("%s: a step of lr*|grad|^2 = 0.01 lowered the loss by %g", c.what, drop)
					}
				}
				t.Logf("eval max diff %.2g (scale %.2g)", d, scale)
			})
		}
	}
}
