package train

import (
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/dshrink/dshrink/nn"
)

func TestTrainingStepAllocations(t *testing.T) {
	// The steady-state training step (loader, forward, loss, backward,
	// optimiser, EMA, metrics; quiet) allocates (almost) nothing.
	ds := fmnist(t, 2000, 50)
	cfg := smallConfig(t.TempDir())
	cfg.Epochs = 1
	cfg.EMA.Decay = 0.99
	cfg.Optimizer.ClipGradNorm = 5
	var ms runtime.MemStats
	var start uint64
	const from, to = 5, 35
	var perStep float64
	_, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard,
		BeforeStep: func(_ *nn.Model, step int) {
			switch step {
			case from:
				runtime.ReadMemStats(&ms)
				start = ms.Mallocs
			case to:
				runtime.ReadMemStats(&ms)
				perStep = float64(ms.Mallocs-start) / (to - from)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.2f allocations per training step", perStep)
	if perStep > 2 {
		t.Errorf("%.2f allocations per training step, want about 0", perStep)
	}
}
