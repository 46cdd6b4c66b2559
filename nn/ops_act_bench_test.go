package nn

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/kernels/isa"
	"github.com/dshrink/dshrink/kernels/parallel"
)

// scalarSmooth is the per-value loop nn ran sigmoid and SiLU with before
// vec's kernels (expf per value), kept as the baseline of BenchmarkSmoothAct.
func scalarSmooth(kind graph.ActKind, dst, x, dy []float32) {
	silu := kind == graph.ActSiLU
	if dy == nil {
		for j, v := range x {
			if silu {
				dst[j] = v / (1 + expf(-v))
			} else {
				dst[j] = 1 / (1 + expf(-v))
			}
		}
		return
	}
	for j, v := range x {
		s := 1 / (1 + expf(-v))
		d := s * (1 - s)
		if silu {
			d = s + v*d
			if s == 0 {
				d = 0
			}
		}
		dst[j] = dy[j] * d
	}
}

// BenchmarkSmoothAct times sigmoid and SiLU, forward and backward, on one
// thread over an EfficientNet-B0 activation (batch 8, 32 channels at 32x32):
// the former scalar loop against vec's kernels under every vector level, in
// the same run (wall and process CPU time per op).
func BenchmarkSmoothAct(b *testing.B) {
	defer parallel.SetThreads(parallel.Threads())
	parallel.SetThreads(1)
	r := rand.New(rand.NewSource(1))
	const n = 8 * 32 * 32 * 32
	x, dy, y := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(r.NormFloat64()*3), float32(r.NormFloat64())
	}
	for _, kind := range []graph.ActKind{graph.ActSigmoid, graph.ActSiLU} {
		for _, bwd := range []bool{false, true} {
			name := fmt.Sprintf("%v/fwd", kind)
			if bwd {
				name = fmt.Sprintf("%v/bwd", kind)
			}
			run := func(b *testing.B, f func()) {
				c0 := cpuTime()
				for b.Loop() {
					f()
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
				// Process CPU time per op: on a shared machine, less
				// sensitive than wall time to other processes.
				b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
			}
			b.Run(name+"/scalar", func(b *testing.B) {
				run(b, func() {
					if bwd {
						scalarSmooth(kind, y, x, dy)
					} else {
						scalarSmooth(kind, y, x, nil)
					}
				})
			})
			for _, l := range isa.Available() {
				if l == isa.Generic {
					continue
				}
				restore, err := isa.Force(l)
				if err != nil {
					b.Fatal(err)
				}
				b.Run(name+"/"+l.String(), func(b *testing.B) {
					run(b, func() {
						if bwd {
							actBwd(kind, y, dy, x)
						} else {
							actFwd(kind, y, x)
						}
					})
				})
				restore()
			}
		}
	}
}
