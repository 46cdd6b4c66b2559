package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/plan"
)

// TestSearchBaselinePlans writes random and last-k plans with the search's
// budget: keep 8 of MobileNetV2's 17 blocks, features.1 (not mergeable under
// the default MAC-growth limit) counted among the kept, so 9 mergeable
// blocks lose their activations.
func TestSearchBaselinePlans(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	run(t, bin, dir, "new", "mobilenet_v2", "--preset", "fashion-mnist", "-o", "fm.dsk")
	out := run(t, bin, dir, "search", "--model", "fm.dsk", "--keep", "8", "--baseline", "last-k", "-o", "lastk.json")
	if !strings.Contains(out, "9 of 19 units removed") {
		t.Errorf("last-k summary:\n%s", out)
	}
	p, err := plan.Load(filepath.Join(dir, "lastk.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Removed(), ","); got != "features.9,features.10,features.11,features.12,features.13,features.14,features.15,features.16,features.17" {
		t.Errorf("last-k removes %s", got)
	}
	for _, seed := range []string{"1", "2"} {
		run(t, bin, dir, "search", "--model", "fm.dsk", "--keep", "8", "--baseline", "random", "--seed", seed, "-o", "random-"+seed+".json")
	}
	a, err := plan.Load(filepath.Join(dir, "random-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := plan.Load(filepath.Join(dir, "random-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Removed()) != 9 || len(b.Removed()) != 9 || strings.Join(a.Removed(), ",") == strings.Join(b.Removed(), ",") {
		t.Errorf("random plans: %v and %v", a.Removed(), b.Removed())
	}
	for _, p := range [][]string{a.Removed(), b.Removed()} {
		for _, u := range p {
			if u == "features.1" {
				t.Errorf("a random plan removes features.1, which the merge would leave alone: %v", p)
			}
		}
	}
	if out := runFail(t, bin, dir, "search", "--model", "fm.dsk", "--baseline", "greedy", "-o", "x.json"); !strings.Contains(out, "greedy") {
		t.Errorf("unknown baseline: %s", out)
	}
}

// runFail executes a dshrink command line that must fail and returns its
// output.
func runFail(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("dshrink %s succeeded, want an error:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}
