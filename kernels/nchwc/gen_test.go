package nchwc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The families are generated on every architecture (this file has no build
// constraint, so `go generate` finds the directive anywhere).
//
//go:generate go run gen_kernels.go

// TestGeneratedUpToDate runs gen_kernels.go into a temporary directory and
// checks that the committed families are what it writes: a change to the
// generator (or to kernels/internal/asmgen) must be followed by
// `go generate`.
func TestGeneratedUpToDate(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	if testing.Short() {
		t.Skip("runs the generator with the go tool")
	}
	dir := t.TempDir()
	cmd := exec.Command(goTool, "run", "gen_kernels.go", "-dir", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen_kernels.go: %v\n%s", err, out)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("gen_kernels.go wrote nothing (%v)", err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what gen_kernels.go writes: run go generate in kernels/nchwc", name)
		}
	}
}
