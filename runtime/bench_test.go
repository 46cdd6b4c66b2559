package runtime

import (
	"fmt"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/runtime/testmodels"
)

func benchModels(b testing.TB) map[string]*graph.Graph {
	o := models.Default()
	orig, err := models.MobileNetV2(o)
	if err != nil {
		b.Fatal(err)
	}
	merged, err := testmodels.MergedMobileNetV2(o, testmodels.MergedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return map[string]*graph.Graph{"orig": orig, "merged": merged}
}

// BenchmarkMobileNetV2 times one forward pass of MobileNetV2-1.0 at 224x224,
// original and merged-shape, batch 1 and 16, 1 and 2 threads.
func BenchmarkMobileNetV2(b *testing.B) {
	gs := benchModels(b)
	for _, name := range []string{"orig", "merged"} {
		for _, batch := range []int{1, 16} {
			for _, th := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/b%d/t%d", name, batch, th), func(b *testing.B) {
					g := gs[name]
					p, err := Compile(g, Options{Batch: batch, Threads: th})
					if err != nil {
						b.Fatal(err)
					}
					x := randInput(batch, g.Input.Shape, 1)
					out := make([]float32, batch*p.OutputLen())
					_ = p.Run(x, out)
					b.ResetTimer()
					for b.Loop() {
						_ = p.Run(x, out)
					}
					b.ReportMetric(float64(b.Elapsed().Seconds()*1e3)/float64(b.N), "ms/op")
					b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
				})
			}
		}
	}
}

// BenchmarkMobileNetV2Winograd times MobileNetV2-1.0 at 224x224, original and
// merged-shape, batch 1 and 16, 1 thread, with Winograd off and auto (the
// original has no stride-1 dense 3x3 convolution: both modes are the same).
func BenchmarkMobileNetV2Winograd(b *testing.B) {
	gs := benchModels(b)
	for _, batch := range []int{1, 16} {
		for _, name := range []string{"orig", "merged"} {
			for _, mode := range []WinogradMode{WinogradOff, WinogradAuto} {
				mname := map[WinogradMode]string{WinogradOff: "direct", WinogradAuto: "auto"}[mode]
				b.Run(fmt.Sprintf("b%d/%s/%s", batch, name, mname), func(b *testing.B) {
					g := gs[name]
					p, err := Compile(g, Options{Batch: batch, Threads: 1, Winograd: mode})
					if err != nil {
						b.Fatal(err)
					}
					x := randInput(batch, g.Input.Shape, 1)
					out := make([]float32, batch*p.OutputLen())
					_ = p.Run(x, out)
					for b.Loop() {
						_ = p.Run(x, out)
					}
					b.ReportMetric(float64(b.Elapsed().Seconds()*1e3)/float64(b.N), "ms/op")
				})
			}
		}
	}
}
