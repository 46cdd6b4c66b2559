package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/internal/testref"
)

// buildCLI compiles dshrink once into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dshrink")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// run executes one dshrink command line in dir and returns its output; it
// fails the test when the command fails.
func run(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dshrink %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestHelpEverywhere checks that every command has --help with examples.
func TestHelpEverywhere(t *testing.T) {
	bin := buildCLI(t)
	for _, c := range rootCmd.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		out := run(t, bin, t.TempDir(), c.Name(), "--help")
		if !strings.Contains(out, "Examples:") {
			t.Errorf("dshrink %s --help has no examples", c.Name())
		}
	}
}

// TestREADMEQuickStart runs the README's quick-start commands as written,
// with flags that make the long ones short (fewer steps, subsets, rounds):
// a new user's first commands must work.
func TestREADMEQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	repo, _ := filepath.Abs("../..")
	out := run(t, bin, dir, "version")
	if !strings.Contains(out, "dshrink ") || !strings.Contains(out, "kernels ") || !strings.Contains(out, "go ") {
		t.Errorf("version: want the version, Go and the kernels' instruction set:\n%s", out)
	}
	if out := run(t, bin, dir, "--version"); !strings.HasPrefix(out, "dshrink ") {
		t.Errorf("--version: %s", out)
	}
	// The model-only part needs no data. 224 is shortened to 64 for speed.
	run(t, bin, dir, "new", "mobilenet_v2", "-o", "mbv2.dsk", "--resolution", "64")
	out = run(t, bin, dir, "new", "mobilenet_v2", "--preset", "fashion-mnist", "-o", "fm.dsk")
	if !strings.Contains(out, "0.70 M params") {
		t.Errorf("fashion-mnist preset: %s", out)
	}
	run(t, bin, dir, "inspect", "mbv2.dsk")
	out = run(t, bin, dir, "merge", "mbv2.dsk", "--plan", "all", "-o", "mbv2-merged.dsk", "--explain")
	if _, err := os.Stat(filepath.Join(dir, "mbv2-merged.dsk")); err != nil {
		t.Fatalf("merge wrote nothing: %v\n%s", err, out)
	}
	run(t, bin, dir, "bench", "mbv2.dsk", "mbv2-merged.dsk", "--batch", "1,2", "--threads", "1,2", "--rounds", "2", "--iters", "1")
	run(t, bin, dir, "export", "mbv2-merged.dsk", "-o", "mbv2-merged.onnx")
	run(t, bin, dir, "import", "mbv2-merged.onnx", "-o", "back.dsk")
	run(t, bin, dir, "inspect", "mbv2-merged.onnx")
	// A modest speedup: the table is timed with 2 rounds on a shared machine,
	// and the test must not depend on how fast the machine is.
	run(t, bin, dir, "profile", "fashion-mnist", "-o", "fm.table.json", "--rounds", "2", "--iters", "1")
	run(t, bin, dir, "plan", "fashion-mnist", "--speedup", "1.1", "--table", "fm.table.json", "-o", "plan.json", "--measure", "--rounds", "2", "--iters", "1")

	if _, err := data.FashionMNIST("", false); err != nil {
		testref.Missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist")
	}
	cfg := filepath.Join(repo, "configs", "fmnist-mbv2-0.5.yaml")
	run(t, bin, dir, "train", "--config", cfg, "--out", "runs/base", "--max-steps", "3", "--train-subset", "384", "--quiet")
	run(t, bin, dir, "eval", "runs/base/model.dsk")
	run(t, bin, dir, "search", "--model", "runs/base/model.dsk", "--keep-ratio", "0.4", "-o", "runs/plan.json",
		"--max-steps", "2", "--train-subset", "256", "--test-subset", "256", "--quiet")
	out = run(t, bin, dir, "finetune", "--model", "runs/base/model.dsk", "--plan", "runs/plan.json", "-o", "runs/ft",
		"--max-steps", "2", "--train-subset", "256", "--test-subset", "256", "--quiet")
	for _, f := range []string{"runs/ft/merged.dsk", "runs/ft/finetuned.dsk"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("finetune did not write %s: %v\n%s", f, err, out)
		}
	}
	run(t, bin, dir, "bench", "runs/base/model.dsk", "runs/ft/merged.dsk", "--rounds", "2", "--iters", "1")

	// predict on the shrunk model needs no flags: the preprocessing and the
	// Fashion-MNIST class names travel from training through the merge.
	samples, err := filepath.Glob(filepath.Join(repo, "docs", "samples", "*.png"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no sample images in docs/samples: %v", err)
	}
	out = run(t, bin, dir, append([]string{"predict", "runs/ft/merged.dsk"}, samples...)...)
	for _, s := range samples {
		if !strings.Contains(out, s) {
			t.Errorf("predict printed nothing for %s:\n%s", s, out)
		}
	}
	named := 0
	for _, c := range data.FashionMNISTClasses {
		if strings.Contains(out, "1. "+c+" ") {
			named++
		}
	}
	if named == 0 || !strings.Contains(out, "(class ") {
		t.Errorf("predict on the Fashion-MNIST model: want Fashion-MNIST class names:\n%s", out)
	}
	if strings.Contains(out, "records no preprocessing") {
		t.Errorf("the trained model lost its preprocessing:\n%s", out)
	}
}
