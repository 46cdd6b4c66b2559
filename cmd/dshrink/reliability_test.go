package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
}
