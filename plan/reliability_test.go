package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/models"
)

// TestResolveErrors: a directory, trailing data after the JSON object and an
// invalid plan get messages that name the file and the problem (issue 17).
func TestResolveErrors(t *testing.T) {
	g, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := Preset("all", g)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.json")
	if err := p.Save(good); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	trailing := filepath.Join(dir, "trailing.json")
	os.WriteFile(trailing, append(b, []byte(`{"version": 1}`)...), 0o644)
	spaces := filepath.Join(dir, "spaces.json")
	os.WriteFile(spaces, append(b, []byte("\n\n  \n")...), 0o644)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(strings.Replace(string(b), `"features.2"`, `"features.99"`, 1)), 0o644)
	sub := filepath.Join(dir, "dir.json")
	os.Mkdir(sub, 0o755)

	if _, err := Resolve(spaces, g); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
	for spec, want := range map[string]string{
		trailing:                        "data after the plan's JSON object",
		sub:                             "dir.json is not a regular file",
		bad:                             "plan " + bad,
		filepath.Join(dir, "none.json"): "no such file",
	} {
		_, err := Resolve(spec, g)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "%!") {
			t.Errorf("%s: %v, want an error containing %q", filepath.Base(spec), err, want)
		}
	}
}
