// Package zoo is the torchvision test matrix of issue 16: for each compact
// CNN family of torchvision 0.14 (mobilenet_v2, mobilenet_v3_small,
// mobilenet_v3_large, efficientnet_b0, mnasnet1_0, resnet18,
// shufflenet_v2_x1_0, regnet_x_400mf), exported to ONNX by PyTorch with
// random weights and randomised BatchNorm statistics, its tests check that
//
//   - the export imports, and dshrink's runtime computes PyTorch's output
//     (1e-4 relative to the largest output);
//   - `dshrink merge --plan all` (plan/policy.Decide with the preset all,
//     chains timed in context) then `dshrink export` gives an ONNX file whose
//     ONNX Runtime output equals PyTorch's output of the same model with the
//     same activations replaced by the identity;
//   - the merged model is predicted no slower than the original, or the
//     merge declined and said why (every unit the plan removed and the merge
//     did not take away is restored with a reason).
//
// The exports come from tools/fixtures/make_torchvision_fixtures.py, run in
// the tests' set-up into .cache/zoo at the repository root (64x64 inputs,
// batch 2; regenerated when the script changes). The PyTorch outputs with
// activations removed come from identity_outputs.py next to this file: the
// test writes the removed activation nodes (the importer's names, which are
// the PyTorch module paths) to REMOVED.json and the script rebuilds each model
// with the same seeds and replaces exactly those calls by the identity.
//
// Without Debian's python3-torch/python3-torchvision, or without ONNX Runtime
// (node and onnxruntime-node in .cache/ort), the tests skip with a message;
// with DSHRINK_REQUIRE_REFS=1 (scripts/test.sh) they fail instead.
package zoo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dshrink/dshrink/internal/fsutil"
)

// Python is the interpreter with Debian's torch and torchvision.
const Python = "/usr/bin/python3"

// Models are the families of the matrix, in the fixture script's order.
var Models = []string{"mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
	"mnasnet1_0", "resnet18", "shufflenet_v2_x1_0", "regnet_x_400mf"}

// ErrNoTorch is returned by Fixtures when PyTorch cannot be imported.
var ErrNoTorch = errors.New("PyTorch and torchvision are not installed for " + Python)

// Root returns the repository root: the first directory above dir holding go.mod.
func Root(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("zoo: no go.mod above %s", dir)
		}
		d = up
	}
}

// Fixtures returns the directory of the torchvision exports at size x size
// with the given batch under root/.cache/zoo, generating them with the
// fixture script when they are missing or the script changed.
func Fixtures(root string, size, batch int) (string, error) {
	script := filepath.Join(root, "tools", "fixtures", "make_torchvision_fixtures.py")
	src, err := fsutil.ReadFile(script, 0)
	if err != nil {
		return "", fmt.Errorf("zoo: %w", err)
	}
	args := []string{"--size", fmt.Sprint(size), "--batch", fmt.Sprint(batch), "--models", strings.Join(Models, ",")}
	h := sha256.Sum256(append(src, []byte(strings.Join(args, " "))...))
	stamp := hex.EncodeToString(h[:8])
	dir := filepath.Join(root, ".cache", "zoo", fmt.Sprintf("s%d-b%d", size, batch))
	if b, err := fsutil.ReadFile(filepath.Join(dir, "stamp"), 0); err == nil && strings.TrimSpace(string(b)) == stamp {
		return dir, nil
	}
	if err := exec.Command(Python, "-c", "import torch, torchvision").Run(); err != nil {
		return "", ErrNoTorch
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("zoo: %w", err)
	}
	cmd := exec.Command(Python, append([]string{script, dir}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("zoo: %s: %v\n%s", script, err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "stamp"), []byte(stamp+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("zoo: %w", err)
	}
	return dir, nil
}

// IdentityOutputs writes removed (model -> activation node names) to
// dir/removed.json and runs identity_outputs.py, which writes
// dir/M.identity.out.bin for each model.
func IdentityOutputs(root, dir string, removed map[string][]string) error {
	b, err := json.MarshalIndent(map[string]any{"models": removed}, "", " ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "removed.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("zoo: %w", err)
	}
	script := filepath.Join(root, "internal", "zoo", "identity_outputs.py")
	if out, err := exec.Command(Python, script, dir, path).CombinedOutput(); err != nil {
		return fmt.Errorf("zoo: %s: %v\n%s", script, err, out)
	}
	return nil
}

// ORTModules returns the node_modules directory holding onnxruntime-node
// (ORT_NODE_MODULES, else root/.cache/ort/node_modules), or "".
func ORTModules(root string) string {
	for _, d := range []string{os.Getenv("ORT_NODE_MODULES"), filepath.Join(root, ".cache", "ort", "node_modules")} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "onnxruntime-node", "package.json")); err == nil {
			return d
		}
	}
	return ""
}

// RunORT runs the ONNX model at path in ONNX Runtime (tools/ort/run_ort.js,
// one thread) on x of the given [N, C, H, W] shape and returns its output.
func RunORT(root, mods, path string, x []float32, shape []int) ([]float32, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	dir, err := os.MkdirTemp("", "dshrink-zoo-ort-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "x.bin"), filepath.Join(dir, "y.bin")
	if err := WriteF32(in, x); err != nil {
		return nil, err
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	cmd := exec.Command(node, filepath.Join(root, "tools", "ort", "run_ort.js"), path, in, strings.Join(dims, ","), out)
	cmd.Env = append(os.Environ(), "ORT_NODE_MODULES="+mods)
	if res, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("zoo: ONNX Runtime on %s: %v\n%s", filepath.Base(path), err, res)
	}
	return ReadF32(out)
}

// ReadF32 reads a raw little-endian float32 file.
func ReadF32(path string) ([]float32, error) {
	b, err := fsutil.ReadFile(path, 0)
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("zoo: %s has %d bytes, not whole float32 values", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// WriteF32 writes x as raw little-endian float32.
func WriteF32(path string, x []float32) error {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return os.WriteFile(path, b, 0o644)
}

// RelDiff returns max |got - want| / max |want| (and the absolute maximum),
// +Inf when the lengths differ or a value is not finite.
func RelDiff(got, want []float32) (rel, abs float64) {
	if len(got) != len(want) || len(want) == 0 {
		return math.Inf(1), math.Inf(1)
	}
	var scale float64
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return math.Inf(1), math.Inf(1)
		}
		abs = math.Max(abs, d)
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if scale == 0 {
		return abs, abs
	}
	return abs / scale, abs
}
