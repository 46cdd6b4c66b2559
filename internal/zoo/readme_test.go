package zoo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/internal/testref"
)

// readmeBlock returns the first ```sh block of README.md's section heading.
func readmeBlock(t *testing.T, root, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no section %q", heading)
	}
	s = s[i:]
	j := strings.Index(s, "```sh\n")
	if j < 0 {
		t.Fatalf("README.md section %q has no sh block", heading)
	}
	s = s[j+len("```sh\n"):]
	k := strings.Index(s, "```")
	if k < 0 {
		t.Fatalf("README.md section %q: unterminated sh block", heading)
	}
	return s[:k]
}

// TestREADMEBringYourOwnModel runs the README's bring-your-own-model
// commands as written (PyTorch export of mobilenet_v2, import, inspect,
// predict, merge --plan all, export), from a directory laid out like the
// repository root with ./dshrink built there.
func TestREADMEBringYourOwnModel(t *testing.T) {
	if testing.Short() {
		t.Skip("exports a model with PyTorch and merges it at 224x224")
	}
	root, err := Root(".")
	if err != nil {
		t.Fatal(err)
	}
	script := readmeBlock(t, root, "## Bring your own model and data")
	if !strings.Contains(script, "python3 -c") || !strings.Contains(script, "./dshrink merge") {
		t.Fatalf("unexpected README block:\n%s", script)
	}
	// On a fresh Debian machine python3 is /usr/bin/python3, Debian's
	// PyTorch's: put it first (a developer's PATH may hold another python3).
	path := "/usr/bin:" + os.Getenv("PATH")
	if exec.Command(Python, "-c", "import torch, torchvision").Run() != nil {
		testref.Missing(t, "python3 with PyTorch and torchvision", "apt-get install python3-torch python3-torchvision, or ./scripts/setup.sh --tests")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "dshrink"), "./cmd/dshrink")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The example reads an image from the repository: lay the directory out
	// like the repository root.
	if err := os.Symlink(filepath.Join(root, "cmd"), filepath.Join(dir, "cmd")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's bring-your-own-model commands fail: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"imported mbv2.onnx", "timing: ", "removed activations", "merge exactness", "FUNCTION CHANGED", "wrote mbv2-merged.dsk"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, f := range []string{"mbv2.onnx", "mbv2.dsk", "mbv2-merged.dsk", "mbv2-merged.onnx"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the example did not write %s: %v", f, err)
		}
	}
}
