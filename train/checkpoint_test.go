package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/tensor"
)

func TestCheckpointRoundTrip(t *testing.T) {
	g := smallCNN(t, 5)
	c := &Checkpoint{Graph: g, Scalars: map[string]float32{"u1": 0.25},
		OptimState: map[string]*tensor.Tensor{"m1.fc.bias": tensor.New(10)},
		OptimMeta:  map[string]string{"optim.name": "sgd", "optim.steps": "3"},
		EMA:        map[string]*tensor.Tensor{"fc.bias": tensor.New(10)},
		State:      State{Epoch: 2, EpochStep: 4, Step: 44, Seed: 9, LR: 0.01, History: []EpochMetrics{{Epoch: 1}}, Config: DefaultConfig()}}
	c.OptimState["m1.fc.bias"].Data[3] = 7
	p := filepath.Join(t.TempDir(), CheckpointFile)
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	d, err := LoadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	if d.State.Step != 44 || d.State.EpochStep != 4 || d.State.Seed != 9 || len(d.State.History) != 1 || d.State.Config.BatchSize != 128 {
		t.Errorf("state %+v", d.State)
	}
	if d.Scalars["u1"] != 0.25 || d.OptimState["m1.fc.bias"].Data[3] != 7 || d.OptimMeta["optim.steps"] != "3" || d.EMA["fc.bias"] == nil {
		t.Errorf("scalars %v, optimiser meta %v", d.Scalars, d.OptimMeta)
	}
	if err := copyParams(g.Clone(), d.Graph); err != nil {
		t.Error(err)
	}
	for n, p := range g.Params {
		for i, v := range p.Data {
			if d.Graph.Params[n].Data[i] != v {
				t.Fatalf("%s[%d] = %v, saved %v", n, i, d.Graph.Params[n].Data[i], v)
			}
		}
	}
}

func TestCheckpointCorrupt(t *testing.T) {
	dir := t.TempDir()
	g := smallCNN(t, 5)
	good := filepath.Join(dir, "good.safetensors")
	if err := (&Checkpoint{Graph: g, State: State{Config: DefaultConfig()}}).Save(good); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{"truncated": b[:len(b)/2], "empty": nil, "model file": nil}
	for name, data := range cases {
		p := filepath.Join(dir, name)
		if name == "model file" {
			if err := g.Save(p); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadCheckpoint(p)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming %s", name, err, p)
		}
	}
}
