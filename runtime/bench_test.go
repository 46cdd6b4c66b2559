package runtime

import (
	"fmt"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/kernels/isa/isatest"
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

// stepMs compiles g and returns each step's median time (StepTimes) by
// node name, for one image at threads th.
func stepMs(b *testing.B, g *graph.Graph, th int, opts Options) map[string]float64 {
	opts.Batch, opts.Threads = 1, th
	p, err := Compile(g, opts)
	if err != nil {
		b.Fatal(err)
	}
	ts, err := p.StepTimes(randInput(1, g.Input.Shape, 1), 15)
	if err != nil {
		b.Fatal(err)
	}
	m := map[string]float64{}
	for i, s := range p.Steps() {
		m[s.Name] += ts[i]
	}
	return m
}

// BenchmarkPoolStem times ResNet-18's stem at 224x224 step by step: the
// 7x7 stride-2 conv (3 -> 64, with BN and ReLU) and the 3x3 stride-2 max
// pooling of its 64 x 112 x 112 output, 1 and 2 threads, at every ISA level.
func BenchmarkPoolStem(b *testing.B) {
	gb := graph.NewBuilder("stem", 3, 224, 224)
	x := gb.Conv("conv1", "input", 3, 64, 7, 2, 3, 1, false)
	x = gb.BatchNorm("bn1", x, 64)
	x = gb.Act("relu", x, graph.ActReLU, "")
	x = gb.MaxPool("maxpool", x, 3, 2, 1)
	g, err := gb.Finish(x)
	if err != nil {
		b.Fatal(err)
	}
	g.InitParams(1)
	isatest.ForEachB(b, func(b *testing.B) {
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("t%d", th), func(b *testing.B) {
				var m map[string]float64
				for b.Loop() {
					m = stepMs(b, g, th, Options{})
				}
				b.ReportMetric(m["conv1"], "conv_ms")
				b.ReportMetric(m["maxpool"], "maxpool_ms")
			})
		}
	})
}

// BenchmarkGroupedConv times RegNetX-like grouped 3x3 convolutions (c
// channels in groups of per, hw x hw, stride 1, BN and ReLU) as compiled
// (each output block reads only its groups' input blocks) beside the dense
// convolution of the same shape, which is what expanding the groups to a
// block-diagonal dense kernel costs (Winograd where Auto picks it), 1 thread.
func BenchmarkGroupedConv(b *testing.B) {
	for _, c := range []struct{ c, per, hw int }{{48, 24, 28}, {56, 8, 28}, {104, 8, 14}, {152, 8, 14}, {368, 8, 7}} {
		b.Run(fmt.Sprintf("c%d_g%d_%dx%d", c.c, c.c/c.per, c.hw, c.hw), func(b *testing.B) {
			layer := func(groups int) *graph.Graph {
				gb := graph.NewBuilder("grouped", c.c, c.hw, c.hw)
				x := gb.Conv("conv", "input", c.c, c.c, 3, 1, 1, groups, false)
				x = gb.BatchNorm("bn", x, c.c)
				x = gb.Act("relu", x, graph.ActReLU, "")
				g, err := gb.Finish(x)
				if err != nil {
					b.Fatal(err)
				}
				g.InitParams(1)
				return g
			}
			grouped, dense := layer(c.c/c.per), layer(1)
			var mg, md map[string]float64
			for b.Loop() {
				mg = stepMs(b, grouped, 1, Options{})
				md = stepMs(b, dense, 1, Options{})
			}
			b.ReportMetric(mg["conv"], "grouped_ms")
			b.ReportMetric(md["conv"], "dense_ms")
		})
	}
}

// shuffleNetV2 is ShuffleNetV2 x1.0's shape at res x res: stem, max pool,
// stages of 116, 232 and 464 channels (4, 8 and 4 units), conv5 of 1024.
func shuffleNetV2(b testing.TB, res int) *graph.Graph {
	gb := graph.NewBuilder("shufflenetv2_x1.0", 3, res, res)
	x := cbr(gb, "stem", "input", 3, 24, 3, 2, 1, graph.ActReLU)
	x = gb.MaxPool("maxpool", x, 3, 2, 1)
	in := 24
	for s, st := range []struct{ c, n int }{{116, 4}, {232, 8}, {464, 4}} {
		for u := 0; u < st.n; u++ {
			stride := 1
			if u == 0 {
				stride = 2
			}
			x = shuffleUnitIO(gb, fmt.Sprintf("s%d.%d", s+2, u), x, in, st.c, stride)
			in = st.c
		}
	}
	x = cbr(gb, "conv5", x, in, 1024, 1, 1, 1, graph.ActReLU)
	x = gb.Flatten("flat", gb.GlobalAvgPool("gap", x))
	x = gb.Linear("fc", x, 1024, 1000, true)
	return finish(b, gb, x, 1)
}

// efficientNetB0 is EfficientNet-B0's shape at res x res (SiLU, sigmoid SE
// gates of a quarter of the block's input channels), or with act and gate
// replaced (ReLU, hardsigmoid) to price the exp-based activations.
func efficientNetB0(b testing.TB, res int, act, gate graph.ActKind) *graph.Graph {
	gb := graph.NewBuilder("efficientnet_b0", 3, res, res)
	x := cbr(gb, "stem", "input", 3, 32, 3, 2, 1, act)
	in := 32
	for s, st := range []struct{ e, k, c, n, s int }{{1, 3, 16, 1, 1}, {6, 3, 24, 2, 2}, {6, 5, 40, 2, 2}, {6, 3, 80, 3, 2}, {6, 5, 112, 3, 1}, {6, 5, 192, 4, 2}, {6, 3, 320, 1, 1}} {
		for u := 0; u < st.n; u++ {
			stride := st.s
			if u > 0 {
				stride = 1
			}
			x = seBlock(gb, fmt.Sprintf("b%d.%d", s, u), x, in, in*st.e, st.c, st.k, stride, max(1, in/4), act, gate)
			in = st.c
		}
	}
	x = cbr(gb, "head", x, in, 1280, 1, 1, 1, act)
	x = gb.Flatten("flat", gb.GlobalAvgPool("gap", x))
	x = gb.Linear("fc", x, 1280, 1000, true)
	return finish(b, gb, x, 2)
}

// BenchmarkFamilyKinds times ShuffleNetV2 x1.0 and EfficientNet-B0 shapes at
// 224x224, batch 1, 1 thread, and reports the time of each step kind (ms)
// and, for EfficientNet-B0, the whole model with ReLU and hardsigmoid in
// place of SiLU and sigmoid (relu_total_ms: the exp-based activations cost
// total_ms - relu_total_ms).
func BenchmarkFamilyKinds(b *testing.B) {
	models := map[string]func() (*graph.Graph, *graph.Graph){
		"shufflenetv2": func() (*graph.Graph, *graph.Graph) { return shuffleNetV2(b, 224), nil },
		"efficientnetb0": func() (*graph.Graph, *graph.Graph) {
			return efficientNetB0(b, 224, graph.ActSiLU, graph.ActSigmoid), efficientNetB0(b, 224, graph.ActReLU, graph.ActHardSigmoid)
		},
	}
	for _, name := range []string{"shufflenetv2", "efficientnetb0"} {
		b.Run(name, func(b *testing.B) {
			g, alt := models[name]()
			kinds := map[string]float64{}
			var total, altTotal float64
			for b.Loop() {
				clear(kinds)
				p, err := Compile(g, Options{})
				if err != nil {
					b.Fatal(err)
				}
				ts, err := p.StepTimes(randInput(1, g.Input.Shape, 1), 9)
				if err != nil {
					b.Fatal(err)
				}
				total = 0
				for i, s := range p.Steps() {
					kinds[s.Kind] += ts[i]
					total += ts[i]
				}
				if alt != nil {
					altTotal = 0
					for _, v := range stepMs(b, alt, 1, Options{}) {
						altTotal += v
					}
				}
			}
			for k, v := range kinds {
				b.ReportMetric(v, k+"_ms")
			}
			b.ReportMetric(total, "total_ms")
			if alt != nil {
				b.ReportMetric(altTotal, "relu_total_ms")
			}
		})
	}
}
