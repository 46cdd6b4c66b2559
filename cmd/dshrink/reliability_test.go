package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/safetensors"
	"github.com/dshrink/dshrink/tensor"
)

// TestReliabilityCLI runs the fault cases of issue 17 that need the whole
// command line, sharing one binary and one starting model.
func TestReliabilityCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	run(t, bin, dir, "new", "mobilenet_v2", "--preset", "fashion-mnist", "-o", "fm.dsk")
	in := func(name string) string { return filepath.Join(dir, name) }

	t.Run("export is atomic and follows no link", func(t *testing.T) {
		if err := os.WriteFile(in("victim.txt"), []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("victim.txt", in("out.onnx.tmp")); err != nil {
			t.Fatal(err)
		}
		run(t, bin, dir, "export", "fm.dsk", "-o", "out.onnx")
		if b, _ := os.ReadFile(in("victim.txt")); string(b) != "keep me" {
			t.Errorf("export wrote through the link at out.onnx.tmp: victim.txt = %q", b)
		}
		if st, err := os.Lstat(in("out.onnx")); err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
			t.Errorf("out.onnx: %v %v", st, err)
		}
		if err := os.Mkdir(in("dir.onnx"), 0o755); err != nil {
			t.Fatal(err)
		}
		if out := runFail(t, bin, dir, "export", "fm.dsk", "-o", "dir.onnx"); !strings.Contains(out, "existing directory") {
			t.Errorf("export to a directory: %s", out)
		}
	})

	t.Run("bench refuses a batch beyond the memory limit", func(t *testing.T) {
		cmd := exec.Command(bin, "bench", "fm.dsk", "--batch", "2000")
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "DSHRINK_MEM_LIMIT=256M")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "needs about") || !strings.Contains(string(out), "limit of 256.0 MiB") {
			t.Errorf("bench --batch 2000 under 256 MiB: %v\n%s", err, out)
		}
		if out := runFail(t, bin, dir, "bench", "fm.dsk", "--batch", "1000000"); !strings.Contains(out, "exceeds") || strings.Contains(out, "goroutine") {
			t.Errorf("bench --batch 1000000: %s", out)
		}
	})

	t.Run("foreign files get a clear message", func(t *testing.T) {
		if err := os.WriteFile(in("model.pt"), []byte("PK\x03\x04\x14\x00archive/data.pkl"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out := runFail(t, bin, dir, "inspect", "model.pt"); !strings.Contains(out, "not a .dsk or ONNX file") || !strings.Contains(out, "PyTorch") {
			t.Errorf("inspect model.pt: %s", out)
		}
	})

	t.Run("crafted models are refused cleanly", func(t *testing.T) {
		for name, edit := range map[string]func(g map[string]any){
			"null node": func(g map[string]any) { g["nodes"].([]any)[2] = nil },
			"pads 2^61": func(g map[string]any) {
				g["nodes"].([]any)[0].(map[string]any)["conv"].(map[string]any)["pads"] = []any{1 << 61, 1 << 61, 1 << 61, 1 << 61}
			},
			"input 4000x4000": func(g map[string]any) { g["input"].(map[string]any)["shape"] = []any{1, 4000, 4000} },
		} {
			p := craftModel(t, in("fm.dsk"), edit)
			for _, args := range [][]string{{"inspect", p}, {"bench", p, "--iters", "1"}, {"export", p, "-o", in("x.onnx")}} {
				out := runFail(t, bin, dir, args...)
				if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") || !strings.Contains(out, "graph") {
					t.Errorf("%s: dshrink %s:\n%s", name, args[0], out)
				}
			}
		}
	})

	t.Run("merge refuses negative flags and a directory output", func(t *testing.T) {
		for _, flag := range [][]string{{"--tol", "-1"}, {"--max-kernel", "-2"}, {"--verify-images", "-3"}} {
			args := append([]string{"merge", "fm.dsk", "--plan", "all", "-o", "m.dsk"}, flag...)
			if out := runFail(t, bin, dir, args...); !strings.Contains(out, "must not be negative") {
				t.Errorf("merge %s %s: %s", flag[0], flag[1], out)
			}
		}
		if err := os.MkdirAll(in("outdir"), 0o755); err != nil {
			t.Fatal(err)
		}
		if out := runFail(t, bin, dir, "merge", "fm.dsk", "--plan", "all", "-o", "outdir"); !strings.Contains(out, "existing directory") {
			t.Errorf("merge -o DIR: %s", out)
		}
	})

	t.Run("eval of a NaN model scores 0, not 100%", func(t *testing.T) {
		p := craftParams(t, in("fm.dsk"), func(ts map[string]*tensor.Tensor) {
			for n, x := range ts {
				if strings.HasSuffix(n, ".bias") {
					for i := range x.Data {
						x.Data[i] = float32(math.NaN())
					}
				}
			}
		})
		data := filepath.Join(t.TempDir(), "imgs")
		for _, class := range strings.Fields("c0 c1 c2 c3 c4 c5 c6 c7 c8 c9") {
			if err := os.MkdirAll(filepath.Join(data, "test", class), 0o755); err != nil {
				t.Fatal(err)
			}
			img := image.NewGray(image.Rect(0, 0, 28, 28))
			var b bytes.Buffer
			if err := png.Encode(&b, img); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(data, "test", class, "x.png"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := run(t, bin, dir, "eval", p, "--data", "folder", "--dir", data, "--image-size", "28", "--gray")
		if !strings.Contains(out, "top-1 0.00%, top-5 0.00%") {
			t.Errorf("eval of a NaN model: %s", out)
		}
	})
}

// craftParams rewrites the parameters of the .dsk file src with edit.
func craftParams(t *testing.T, src string, edit func(map[string]*tensor.Tensor)) string {
	t.Helper()
	f, err := safetensors.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	edit(f.Tensors)
	out := filepath.Join(t.TempDir(), "params.dsk")
	if err := safetensors.WriteFile(out, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	return out
}

// craftModel rewrites the structure JSON of the .dsk file src with edit and
// returns the path of the result.
func craftModel(t *testing.T, src string, edit func(g map[string]any)) string {
	t.Helper()
	f, err := safetensors.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]any
	if err := json.Unmarshal([]byte(f.Metadata["dshrink.graph"]), &g); err != nil {
		t.Fatal(err)
	}
	edit(g)
	js, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata["dshrink.graph"] = string(js)
	out := filepath.Join(t.TempDir(), "crafted.dsk")
	if err := safetensors.WriteFile(out, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	return out
}
