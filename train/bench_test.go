package train

import (
	"context"
	"io"
	"testing"
)

// BenchmarkTrainMobileNetV2FashionMNIST measures training throughput of
// MobileNetV2-0.5 (1-channel stem, stride 1) on Fashion-MNIST at batch 128,
// the setting of the PyTorch baseline, through the whole loop (loader,
// augmentation, forward, loss, backward, optimiser). Run it with a fixed
// count, e.g.
//
//	go test -run '^$' -bench TrainMobileNetV2 -benchtime 20x ./train/
//
// It reports img/s (steady state: the first step is excluded) and the
// process's peak resident memory.
func BenchmarkTrainMobileNetV2FashionMNIST(b *testing.B) {
	ds := fmnist(b, 0, 0)
	cfg := DefaultConfig()
	cfg.Out = b.TempDir()
	cfg.Quiet = true
	cfg.MaxSteps = b.N + 1
	b.ResetTimer()
	res, err := Run(context.Background(), cfg, Options{Data: ds, Log: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.TrainImgPerSec, "img/s")
	b.ReportMetric(res.PeakRSSMiB, "peak-MiB")
}
