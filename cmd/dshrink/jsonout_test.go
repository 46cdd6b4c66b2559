package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestJSONOutputs checks the --json convention on the commands that report
// quickly: stdout is exactly one JSON object with snake_case keys, and the
// files a command wrote are listed under "outputs".
func TestJSONOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args    []string
		outputs bool // lists written files under "outputs"
	}{
		{[]string{"version"}, false},
		{[]string{"new", "mobilenet_v2", "--preset", "fashion-mnist", "-o", "fm.dsk"}, true},
		{[]string{"export", "fm.dsk", "-o", "fm.onnx"}, true},
		{[]string{"import", "fm.onnx", "-o", "back.dsk"}, true},
		{[]string{"inspect", "back.dsk"}, false},
		{[]string{"profile", "fm.dsk", "-o", "fm.table.json", "--rounds", "1", "--iters", "1"}, true},
		{[]string{"plan", "fm.dsk", "--speedup", "1.1", "--table", "fm.table.json", "-o", "plan.json"}, true},
		{[]string{"bench", "fm.dsk", "--rounds", "1", "--iters", "1", "--warmup", "1"}, false},
	} {
		cmd := exec.Command(bin, append(c.args, "--json")...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("dshrink %s --json: %v\n%s", strings.Join(c.args, " "), err, stderr.String())
		}
		dec := json.NewDecoder(&stdout)
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Errorf("dshrink %s --json: stdout is not a JSON object: %v", c.args[0], err)
			continue
		}
		if dec.More() {
			t.Errorf("dshrink %s --json: more than one JSON document on stdout", c.args[0])
		}
		for k := range obj {
			if k != strings.ToLower(k) || strings.ContainsAny(k, " -") {
				t.Errorf("dshrink %s --json: key %q is not snake_case", c.args[0], k)
			}
		}
		if _, ok := obj["outputs"]; ok != c.outputs {
			t.Errorf("dshrink %s --json: outputs present %v, want %v", c.args[0], ok, c.outputs)
		}
	}
}
