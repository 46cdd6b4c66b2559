package gemm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate runs gen_tiles.go into a temporary directory and
// checks that the committed tiles_amd64.s, tiles_amd64.go, tiles_arm64.s and
// tiles_arm64.go are what it writes: a change to the generator (or to
// kernels/internal/asmgen) must be followed by `go generate`.
func TestGeneratedUpToDate(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	if testing.Short() {
		t.Skip("runs the generator with the go tool")
	}
	dir := t.TempDir()
	cmd := exec.Command(goTool, "run", "gen_tiles.go", "-dir", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen_tiles.go: %v\n%s", err, out)
	}
	for _, name := range []string{"tiles_amd64.s", "tiles_amd64.go", "tiles_arm64.s", "tiles_arm64.go"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what gen_tiles.go writes: run go generate in kernels/gemm", name)
		}
	}
}
