package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/testref"
	"github.com/dshrink/dshrink/nn"
)

// fmnist returns a Fashion-MNIST run setting with nTrain training images
// and nTest test images, or skips the test when the files are absent.
func fmnist(t testing.TB, nTrain, nTest int) *Datasets {
	t.Helper()
	if _, err := os.Stat(filepath.Join(data.DefaultFashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		testref.Missing(t, "Fashion-MNIST", fmt.Sprintf("apt-get install dataset-fashion-mnist puts it in %s: %v", data.DefaultFashionMNISTDir, err))
	}
	ds, err := LoadDatasets(DataConfig{Dataset: "fashion-mnist", TrainSubset: nTrain, TestSubset: nTest}, 7)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// smallCNN is a tiny convolutional classifier for 1x28x28 images (conv-BN-ReLU
// twice, pooling, dropout, linear) that trains in seconds.
func smallCNN(t testing.TB, seed uint64) *graph.Graph {
	t.Helper()
	b := graph.NewBuilder("small", 1, 28, 28)
	h := b.Conv("c1", "input", 1, 16, 3, 2, 1, 1, false)
	h = b.BatchNorm("bn1", h, 16)
	h = b.Act("a1", h, graph.ActReLU6, "u1")
	h = b.Conv("c2", h, 16, 32, 3, 2, 1, 1, false)
	h = b.BatchNorm("bn2", h, 32)
	h = b.Act("a2", h, graph.ActReLU6, "u2")
	h = b.GlobalAvgPool("pool", h)
	h = b.Flatten("flat", h)
	h = b.Dropout("drop", h, 0.2)
	h = b.Linear("fc", h, 32, 10, true)
	b.G.Units = []graph.Unit{{Name: "u1"}, {Name: "u2"}}
	b.G.Classes = 10
	g, err := b.Finish(h)
	if err != nil {
		t.Fatal(err)
	}
	g.InitParams(seed)
	return g
}

func smallConfig(out string) Config {
	c := DefaultConfig()
	c.Epochs = 3
	c.BatchSize = 50
	c.LR = 0.1
	c.Data.RandomCropPad, c.Data.HFlip = 0, false
	c.Out = out
	c.Quiet = true
	c.Seed = 3
	return c
}

func TestRunLearns(t *testing.T) {
	ds := fmnist(t, 2000, 1000)
	dir := t.TempDir()
	cfg := smallConfig(dir)
	var epochs []EpochMetrics
	res, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard,
		OnEpoch: func(m EpochMetrics) { epochs = append(epochs, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(epochs) != 3 || !res.State.Finished || res.State.Step != 3*40 {
		t.Fatalf("ran %d epochs, %d steps, finished %v", len(epochs), res.State.Step, res.State.Finished)
	}
	t.Logf("held-out top-1 %.3f top-5 %.3f loss %.3f", res.Final.Top1, res.Final.Top5, res.Final.Loss)
	if res.Final.Top1 < 0.5 || res.Final.Count != 1000 {
		t.Errorf("held-out top-1 %.3f on %d images, want well above the 10%% chance level", res.Final.Top1, res.Final.Count)
	}
	if epochs[2].TrainLoss >= epochs[0].TrainLoss {
		t.Errorf("training loss did not fall: %v -> %v", epochs[0].TrainLoss, epochs[2].TrainLoss)
	}
	// metrics.jsonl has one line per epoch; model.dsk loads and evaluates the same.
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Errorf("metrics.jsonl has %d lines, want 3", n)
	}
	g, err := graph.Load(filepath.Join(dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	er, err := EvaluateGraph(g, ds.Eval, 200)
	if err != nil {
		t.Fatal(err)
	}
	if er.Top1 != res.Final.Top1 {
		t.Errorf("saved model evaluates to %.4f, the run reported %.4f", er.Top1, res.Final.Top1)
	}
}

func paramsEqual(t *testing.T, a, b *graph.Graph) {
	t.Helper()
	for _, n := range a.ParamNames() {
		pa, pb := a.Params[n], b.Params[n]
		for i := range pa.Data {
			if pa.Data[i] != pb.Data[i] {
				t.Fatalf("parameter %s[%d]: %v vs %v", n, i, pa.Data[i], pb.Data[i])
			}
		}
	}
}

func TestResumeBitIdentical(t *testing.T) {
	ds := fmnist(t, 600, 200)
	// Uninterrupted: 2 epochs of 12 steps.
	full := smallConfig(t.TempDir())
	full.Epochs = 2
	full.Optimizer.ClipGradNorm = 5
	full.LabelSmoothing = 0.1
	full.Data.RandomCropPad, full.Data.HFlip = 2, true // augmentation must replay too
	full.EMA.Decay = 0.9                               // the moving average must resume too
	resFull, err := Run(context.Background(), full, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	// Interrupted mid-epoch (step 7 of epoch 1) by max_steps, then at an epoch
	// boundary by cancelling, then resumed to the end.
	part := full
	part.Out = t.TempDir()
	part.MaxSteps = 7
	r1, err := Run(context.Background(), part, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if r1.State.Step != 7 || r1.State.Finished {
		t.Fatalf("first leg stopped at step %d, finished %v", r1.State.Step, r1.State.Finished)
	}
	part.MaxSteps = 0
	// Ctrl-C in the middle of an epoch: the step in flight completes, then the
	// position is saved.
	ctx, cancel := context.WithCancel(context.Background())
	rMid, err := Run(ctx, part, Options{Data: ds, Resume: true, Log: io.Discard,
		BeforeStep: func(_ *nn.Model, step int) {
			if step == 9 {
				cancel()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !rMid.Interrupted || rMid.State.Step != 10 || rMid.State.EpochStep != 10 {
		t.Fatalf("mid-epoch cancel: interrupted %v at step %d (epoch step %d), want step 10", rMid.Interrupted, rMid.State.Step, rMid.State.EpochStep)
	}
	ctx, cancel = context.WithCancel(context.Background())
	r2, err := Run(ctx, part, Options{Data: ds, Resume: true, Log: io.Discard,
		OnEpoch: func(EpochMetrics) { cancel() }})
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Interrupted || r2.State.Step != 12 {
		t.Fatalf("second leg: interrupted %v at step %d, want a cancel at step 12", r2.Interrupted, r2.State.Step)
	}
	var logb strings.Builder
	changed := part
	changed.LR = 0.5 // ignored (with a message): the checkpoint's configuration wins
	r3, err := Run(context.Background(), changed, Options{Data: ds, Resume: true, Log: &logb})
	if err != nil {
		t.Fatal(err)
	}
	if !r3.State.Finished || r3.State.Step != resFull.State.Step {
		t.Fatalf("resumed run ended at step %d (finished %v), want %d", r3.State.Step, r3.State.Finished, resFull.State.Step)
	}
	paramsEqual(t, resFull.Graph, r3.Graph)
	if !strings.Contains(logb.String(), "keeping the checkpoint's lr") {
		t.Errorf("no message about the ignored lr change: %q", logb.String())
	}
	if len(r3.State.History) != 2 || r3.State.History[0].TrainLoss != resFull.State.History[0].TrainLoss ||
		r3.Final.Top1 != resFull.Final.Top1 {
		t.Errorf("metrics differ: resumed %+v, uninterrupted %+v", r3.State.History, resFull.State.History)
	}
}

func TestNonFiniteLossStops(t *testing.T) {
	ds := fmnist(t, 300, 100)
	dir := t.TempDir()
	cfg := smallConfig(dir)
	// First epoch completes and checkpoints; a NaN is injected in epoch 2.
	_, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard,
		AfterLoss: func(step int, loss float64) float64 {
			if step == 8 {
				return loss / 0 * 0 // NaN
			}
			return loss
		}})
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("Run returned %v, want ErrNonFinite", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "epoch 2") || !strings.Contains(err.Error(), CheckpointFile) {
		t.Errorf("message %q does not say where it stopped and which checkpoint is intact", err)
	}
	ck, err := LoadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatalf("last good checkpoint: %v", err)
	}
	if ck.State.Epoch != 1 || ck.State.Step != 6 {
		t.Errorf("checkpoint at epoch %d step %d, want the end of epoch 1 (step 6)", ck.State.Epoch, ck.State.Step)
	}
	// A huge learning rate makes the loss blow up on its own.
	cfg.Out = t.TempDir()
	cfg.LR = 1e30
	cfg.Optimizer.Momentum, cfg.Optimizer.Nesterov = 0, false
	if _, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("LR 1e30: Run returned %v, want ErrNonFinite", err)
	}
}

func TestRunMobileNetV2Smoke(t *testing.T) {
	// The default model path: a fresh MobileNetV2 (here width 0.35) built from
	// the config, a couple of steps, a checkpoint and a model file.
	ds := fmnist(t, 64, 32)
	cfg := smallConfig(t.TempDir())
	cfg.Model.Width = 0.35
	cfg.Epochs = 1
	cfg.BatchSize = 32
	res, err := Run(context.Background(), cfg, Options{Data: ds, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if res.State.Step != 2 || res.Final.Count != 32 {
		t.Errorf("ran %d steps, evaluated %d images", res.State.Step, res.Final.Count)
	}
	if _, err := graph.Load(res.Model); err != nil {
		t.Error(err)
	}
}

func TestLoadDatasetsSplit(t *testing.T) {
	if _, err := os.Stat(filepath.Join(data.DefaultFashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		testref.Missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist puts it in "+data.DefaultFashionMNISTDir)
	}
	d, err := LoadDatasets(DataConfig{Dataset: "fashion-mnist", ValSplit: 5000, TrainSubset: 1000}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 1000 || d.Eval.Len() != 5000 || d.EvalName != "val" {
		t.Errorf("train %d, %s %d", d.Train.Len(), d.EvalName, d.Eval.Len())
	}
	if _, err := LoadDataset("imagenet", "", "train"); err == nil {
		t.Error("unknown data set accepted")
	}
	if _, err := LoadDataset("fashion-mnist", "", "validation"); err == nil {
		t.Error("unknown split accepted")
	}
}

func TestEMA(t *testing.T) {
	g := smallCNN(t, 1)
	w := g.Params["fc.bias"].Data
	w[0] = 0
	e, err := NewEMA(g, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	w[0] = 2
	e.Update() // 0.5*0 + 0.5*2
	if a := e.Tensors()["fc.bias"].Data[0]; a != 1 {
		t.Fatalf("average %v, want 1", a)
	}
	e.Swap()
	if w[0] != 1 {
		t.Errorf("swapped in %v, want 1", w[0])
	}
	e.Swap()
	if w[0] != 2 {
		t.Errorf("swapped back %v, want 2", w[0])
	}
	if n := testing.AllocsPerRun(5, e.Update); n != 0 {
		t.Errorf("Update allocates %v times", n)
	}
	if _, err := NewEMA(g, 1); err == nil {
		t.Error("decay 1 accepted")
	}
}

func TestRefusesToClobberCheckpoint(t *testing.T) {
	ds := fmnist(t, 100, 50)
	cfg := smallConfig(t.TempDir())
	cfg.Epochs = 1
	if _, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("second fresh run into the same directory: %v, want a refusal", err)
	}
	if _, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard, Overwrite: true}); err != nil {
		t.Errorf("with Overwrite: %v", err)
	}
}

func TestDistillAndInit(t *testing.T) {
	ds := fmnist(t, 1000, 500)
	// Teacher: a short ordinary run.
	tcfg := smallConfig(t.TempDir())
	tcfg.Epochs = 2
	tres, err := Run(context.Background(), tcfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	// Student: starts from the teacher's file (model.init) and distils from it.
	scfg := smallConfig(t.TempDir())
	scfg.Epochs = 1
	scfg.LR = 0.01
	scfg.Model.Init = tres.Model
	scfg.Distill = DistillConfig{Teacher: tres.Model, Weight: 0.7, Temperature: 2}
	sres, err := Run(context.Background(), scfg, Options{Data: ds, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("teacher top-1 %.3f, student top-1 %.3f, student train loss %.3f", tres.Final.Top1, sres.Final.Top1, sres.State.History[0].TrainLoss)
	if sres.Final.Top1 < tres.Final.Top1-0.1 {
		t.Errorf("student fell from %.3f to %.3f", tres.Final.Top1, sres.Final.Top1)
	}
	// A teacher for other data is refused.
	bad := graph.NewBuilder("bad", 1, 28, 28)
	h := bad.GlobalAvgPool("p", "input")
	h = bad.Flatten("f", h)
	h = bad.Linear("fc", h, 1, 7, true)
	bg, err := bad.Finish(h)
	if err != nil {
		t.Fatal(err)
	}
	badPath := filepath.Join(t.TempDir(), "bad.dsk")
	if err := bg.Save(badPath); err != nil {
		t.Fatal(err)
	}
	scfg.Out = t.TempDir()
	scfg.Distill.Teacher = badPath
	if _, err := Run(context.Background(), scfg, Options{Data: ds, Log: io.Discard}); err == nil || !strings.Contains(err.Error(), "teacher") {
		t.Errorf("7-class teacher: %v", err)
	}
}

func TestGatesTrained(t *testing.T) {
	// Gates enabled by Setup are trained as scalar parameters and saved.
	ds := fmnist(t, 200, 50)
	cfg := smallConfig(t.TempDir())
	cfg.Epochs = 1
	cfg.Optimizer.ScalarLRScale = 10
	res, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard,
		Setup: func(m *nn.Model) error { return m.EnableGates([]string{"u1", "u2"}) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Gates) != 2 || (res.Gates["u1"] == 0 && res.Gates["u2"] == 0) {
		t.Errorf("gates %v: want both present and moved from 0", res.Gates)
	}
	ck, err := LoadCheckpoint(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Scalars["u1"] != res.Gates["u1"] {
		t.Errorf("checkpoint gate u1 %v, run %v", ck.Scalars["u1"], res.Gates["u1"])
	}
}

func TestProgressWithoutTerminal(t *testing.T) {
	// Not a terminal: plain progress lines with loss, accuracy, img/s and ETA,
	// and one summary line per epoch.
	ds := fmnist(t, 200, 50)
	cfg := smallConfig(t.TempDir())
	cfg.Epochs = 1
	cfg.Quiet = false
	var log strings.Builder
	if _, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: &log}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"step 4/4", "loss", "acc", "img/s", "ETA", "epoch 1/1: train loss", "test loss"} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("progress output lacks %q:\n%s", s, log.String())
		}
	}
}
