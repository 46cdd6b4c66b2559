package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMergePlanAgreement holds dshrink merge to issue 16: a plan whose
// removed activations no merged chain takes away is refused with the units
// listed (ds-d removes the stem's and the expansion-1 block's), --force
// takes it and --explain lists every removed activation, stem included;
// --plan all keeps what does not pay, says why, and reports the function
// change apart from the merge's exactness; --json carries the decision.
func TestMergePlanAgreement(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	run(t, bin, dir, "new", "mobilenet_v2", "--preset", "fashion-mnist", "-o", "fm.dsk")

	out := runFail(t, bin, dir, "merge", "fm.dsk", "--plan", "ds-d", "-o", "m.dsk", "--decide", "macs")
	for _, want := range []string{"no merge takes away", "features.0:", "features.1:", "--force"} {
		if !strings.Contains(out, want) {
			t.Errorf("merge --plan ds-d: output lacks %q:\n%s", want, out)
		}
	}
	// The stem and two blocks: the stem's activation goes, nothing merges it.
	out = runFail(t, bin, dir, "merge", "fm.dsk", "--plan", "features.0,features.3-4", "-o", "m.dsk", "--decide", "macs")
	for _, want := range []string{"no merge takes away", "features.0:", "--force"} {
		if !strings.Contains(out, want) {
			t.Errorf("merge --plan features.0,features.3-4: output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "m.dsk")); err == nil {
		t.Error("merge wrote a model although it refused")
	}

	out = run(t, bin, dir, "merge", "fm.dsk", "--plan", "features.0,features.3-4", "-o", "m.dsk", "--decide", "macs", "--force", "--explain")
	for _, want := range []string{"removed activations", "features.0.2", "NOT MERGED", "(stem/head)", "features.3.merged", "FUNCTION CHANGED", "top-1 agrees", "merge exactness", "timing: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("merge --plan features.0,features.3-4 --force --explain: output lacks %q:\n%s", want, out)
		}
	}

	out = run(t, bin, dir, "merge", "fm.dsk", "--plan", "all", "-o", "all.dsk", "--json")
	var js struct {
		Merged int `json:"merged"`
		Policy struct {
			Acts []struct {
				Unit   string `json:"unit"`
				Merged bool   `json:"merged"`
			} `json:"removed_activations"`
			Restored []struct {
				Unit string `json:"unit"`
				Why  string `json:"why"`
			} `json:"restored"`
			Prediction *struct {
				Source     string  `json:"source"`
				OriginalMs float64 `json:"original_ms"`
				MergedMs   float64 `json:"merged_ms"`
			} `json:"prediction"`
			Slower bool `json:"predicted_slower"`
		} `json:"policy"`
		Change *struct {
			Top1 float64 `json:"top1_agreement"`
		} `json:"function_change"`
		Outputs map[string]string `json:"outputs"`
	}
	start := strings.Index(out, "{\n")
	if start < 0 {
		t.Fatalf("merge --json: no JSON object:\n%s", out)
	}
	if err := json.NewDecoder(strings.NewReader(out[start:])).Decode(&js); err != nil {
		t.Fatalf("merge --json: %v\n%s", err, out)
	}
	for _, a := range js.Policy.Acts {
		if !a.Merged {
			t.Errorf("--plan all removed an activation of %s that no chain merges", a.Unit)
		}
	}
	for _, u := range js.Policy.Restored {
		if u.Why == "" {
			t.Errorf("unit %s restored without a reason", u.Unit)
		}
	}
	if js.Merged > 0 {
		if p := js.Policy.Prediction; p == nil || !strings.Contains(p.Source, "measured") || js.Policy.Slower || p.MergedMs > p.OriginalMs {
			t.Errorf("merged %d chains: prediction %+v, slower %v", js.Merged, p, js.Policy.Slower)
		}
		if js.Change == nil {
			t.Error("no function_change for a model whose activations were not fine-tuned away")
		}
	}
	if js.Outputs["model"] != "all.dsk" {
		t.Errorf("outputs %v", js.Outputs)
	}
}
