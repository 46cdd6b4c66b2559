package train

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
)

// TestResumeKeepsEpochs: resuming with another Config.Epochs (a default)
// keeps the checkpoint's epoch count; only Options.Epochs changes it.
func TestResumeKeepsEpochs(t *testing.T) {
	ds := fmnist(t, 300, 100)
	cfg := smallConfig(t.TempDir())
	cfg.Epochs = 2
	cfg.MaxSteps = 3
	if _, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	again := cfg
	again.MaxSteps = 0
	again.Epochs = 30 // what the CLI's default would bring
	res, err := Run(context.Background(), again, Options{Data: ds, Resume: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if res.State.Epoch != 2 || !res.State.Finished {
		t.Errorf("resumed run ended after %d epochs (finished %v), want the checkpoint's 2", res.State.Epoch, res.State.Finished)
	}
	res, err = Run(context.Background(), again, Options{Data: ds, Resume: true, Epochs: 3, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if res.State.Epoch != 3 {
		t.Errorf("with Options.Epochs 3 the run ended after %d epochs", res.State.Epoch)
	}
}

// TestRunLocksOut: a second run on the same directory fails at once.
func TestRunLocksOut(t *testing.T) {
	ds := fmnist(t, 300, 100)
	cfg := smallConfig(t.TempDir())
	unlock, err := fsutil.LockDir(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "in use by another dshrink run") {
		t.Errorf("second run: %v", err)
	}
}

// TestFolderClassMismatch: test classes that differ from the training ones
// are an error, not a silent remapping of the labels.
func TestFolderClassMismatch(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, "train", 2)
	writeFolder(t, root, "test", 2)
	if err := os.Rename(filepath.Join(root, "test", "dark"), filepath.Join(root, "test", "zebra")); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDatasets(DataConfig{Dataset: "folder", Dir: root, ImageSize: 8}, 1)
	if err == nil || !strings.Contains(err.Error(), "differ from the training classes") {
		t.Errorf("mismatched classes: %v", err)
	}
}

// TestEvaluateClassMismatch: a model that records its classes is not scored
// on a folder whose classes differ.
func TestEvaluateClassMismatch(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, "test", 2)
	ds, err := LoadFolder(root, "test", 8, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	b := graph.NewBuilder("m", 3, 8, 8)
	x := b.GlobalAvgPool("pool", "input")
	x = b.Flatten("flat", x)
	x = b.Linear("fc", x, 3, 2, true)
	b.G.Classes = 2
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	g.InitParams(1)
	if _, err := EvaluateGraph(g, ds, 4); err != nil {
		t.Fatalf("no class names recorded: %v", err)
	}
	if err := g.SetClassNames([]string{"dark", "light"}); err != nil {
		t.Fatal(err)
	}
	if _, err := EvaluateGraph(g, ds, 4); err != nil {
		t.Fatalf("same classes: %v", err)
	}
	if err := g.SetClassNames([]string{"light", "dark"}); err != nil {
		t.Fatal(err)
	}
	if _, err := EvaluateGraph(g, ds, 4); err == nil || !strings.Contains(err.Error(), "labels would not match") {
		t.Errorf("other classes: %v", err)
	}
}
