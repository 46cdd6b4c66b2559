package train

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadConfigUnknownKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(p, []byte("epochs: 3\noptimizer:\n  name: sgd\n  momentun: 0.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(p)
	if err == nil {
		t.Fatal("unknown key accepted")
	}
	for _, s := range []string{"momentun", p, "line 4"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, text := range []string{
		"epochs: three\n",
		"batch_size: 0\n",
		"data:\n  dataset: imagenet\n",
		"schedule:\n  name: poly\n",
		"lr: -1\n",
	} {
		if _, err := ParseConfig([]byte(text)); err == nil {
			t.Errorf("config %q accepted", text)
		}
	}
}

func TestExampleConfig(t *testing.T) {
	cfg, err := LoadConfig("../configs/fmnist-mbv2-0.5.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Optimizer.Name != "sgd" || !cfg.Optimizer.Nesterov || cfg.LR != 0.1 || cfg.BatchSize != 128 || cfg.Model.Width != 0.5 {
		t.Errorf("example config: %+v", cfg)
	}
	// The example file spells out the defaults.
	if want := DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("configs/fmnist-mbv2-0.5.yaml differs from DefaultConfig:\n file %+v\n want %+v", cfg, want)
	}
	// An empty file gives the defaults.
	d, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Epochs != DefaultConfig().Epochs {
		t.Errorf("empty config: epochs %d", d.Epochs)
	}
}
