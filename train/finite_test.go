package train

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/nn"
)

// TestDivergedStateNeverSaved poisons a BatchNorm running variance during
// epoch 2 (the loss stays finite: training uses the batch statistics) and
// checks that the run stops with "diverged" at that step, names the last
// finite checkpoint, and that this checkpoint holds only finite values.
func TestDivergedStateNeverSaved(t *testing.T) {
	ds := fmnist(t, 300, 100)
	dir := t.TempDir()
	cfg := smallConfig(dir)
	g := smallCNN(t, 1)
	_, err := Run(context.Background(), cfg, Options{Data: ds, Graph: g, Log: io.Discard,
		BeforeStep: func(_ *nn.Model, step int) {
			if step == 8 {
				g.Params["bn2.running_var"].Data[3] = float32(math.Inf(1))
			}
		}})
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("Run returned %v, want ErrNonFinite", err)
	}
	for _, want := range []string{"diverged at epoch 2, step 3", "bn2.running_var", "last finite checkpoint", CheckpointFile} {
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
	ck, err := LoadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if ck.State.Epoch != 1 {
		t.Errorf("checkpoint at epoch %d, want 1", ck.State.Epoch)
	}
	if bad := ck.nonFinite(); bad != "" {
		t.Errorf("the last checkpoint is not finite: %s", bad)
	}
	// Save itself refuses a non-finite state.
	ck.Graph.Params["bn1.running_mean"].Data[0] = float32(math.NaN())
	p := filepath.Join(t.TempDir(), "c.safetensors")
	if err := ck.Save(p); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "bn1.running_mean") {
		t.Errorf("Save of a NaN state: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
}

// TestHugeLRWithEvaluation is the lr 1e6 case of issue 17 with evaluation
// on: the run must stop on divergence, not die encoding NaN metrics.
func TestHugeLRWithEvaluation(t *testing.T) {
	ds := fmnist(t, 300, 100)
	cfg := smallConfig(t.TempDir())
	cfg.LR = 1e6
	cfg.EvalEvery = 1
	_, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard})
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("Run returned %v, want a divergence error", err)
	}
	if ck, err := LoadCheckpoint(filepath.Join(cfg.Out, CheckpointFile)); err == nil {
		if bad := ck.nonFinite(); bad != "" {
			t.Errorf("checkpoint is not finite: %s", bad)
		}
	}
}

func TestTopKNaN(t *testing.T) {
	nan := float32(math.NaN())
	logits := []float32{nan, nan, nan, 1, 2, 3, 0, nan, 5}
	// Row 0: the label scores NaN; row 1: label 2 is the best; row 2: a NaN outranks label 2 for top-1.
	if got := TopK(logits, []int{0, 2, 2}, 3, 1); got != 1 {
		t.Errorf("top-1 = %d, want 1", got)
	}
	if got := TopK(logits, []int{0, 2, 2}, 3, 2); got != 2 {
		t.Errorf("top-2 = %d, want 2", got)
	}
}

func TestMetricsNeverNaN(t *testing.T) {
	em := finiteMetrics(EpochMetrics{Epoch: 1, TrainLoss: math.NaN(), Test: &EvalResult{Loss: math.Inf(1)}})
	p := filepath.Join(t.TempDir(), MetricsFile)
	if err := writeMetrics(p, []EpochMetrics{em}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !bytes.Contains(b, []byte(`"non_finite":["train_loss=NaN","test.loss=+Inf"]`)) {
		t.Errorf("metrics line %s", b)
	}
}

// TestResumeTruncatesMetrics: a failure between the metrics write and the
// checkpoint save leaves an epoch in metrics.jsonl that the checkpoint does
// not have; the resumed run must not write it twice.
func TestResumeTruncatesMetrics(t *testing.T) {
	ds := fmnist(t, 300, 100)
	cfg := smallConfig(t.TempDir())
	cfg.Epochs = 2
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := Run(ctx, cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard,
		OnEpoch: func(EpochMetrics) { cancel() }}); err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(cfg.Out, MetricsFile)
	b, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	// Simulate the crash: an extra line for epoch 2 without its checkpoint.
	if err := os.WriteFile(mp, append(b, []byte(`{"epoch":2,"step":12}`+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, Options{Data: ds, Resume: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(mp)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"epoch":1,`) || !strings.HasPrefix(lines[1], `{"epoch":2,`) {
		t.Errorf("metrics after resume:\n%s", b)
	}
}
