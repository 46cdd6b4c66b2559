package nn

import (
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/kernels/parallel"
	"github.com/dshrink/dshrink/models"
)

// benchModel builds g's executor and an input of n images.
func benchModel(b *testing.B, g *graph.Graph, n int) (*Model, []float32) {
	b.Helper()
	m, err := NewModel(g, n)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, n*m.InputSize())
	for i := range x {
		x[i] = float32(i%251)/251 - 0.5
	}
	return m, x
}

// BenchmarkTrainStepFashionMNIST times one training step (forward, loss,
// backward) of MobileNetV2-0.5 on 1x28x28 at batch 128, on every thread.
func BenchmarkTrainStepFashionMNIST(b *testing.B) {
	parallel.SetThreads(0)
	defer parallel.SetThreads(1)
	g, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		b.Fatal(err)
	}
	const n = 128
	m, x := benchModel(b, g, n)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % 10)
	}
	dout := make([]float32, n*m.OutputSize())
	step := func() {
		out := m.Forward(x, n, true)
		if _, _, err := CrossEntropy(out, labels, n, m.OutputSize(), 0.1, dout); err != nil {
			b.Fatal(err)
		}
		m.Backward(dout)
	}
	step()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
	// CPU time per image (all threads): steadier than img/s on a shared machine.
	if c := cpuTime() - cpu0; c > 0 {
		b.ReportMetric(float64(n*b.N)/c.Seconds(), "img/cpu-s")
	}
}
