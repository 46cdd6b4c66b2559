package fuzzcompile

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/runtime"
)

// FuzzCompile gives a fuzzed graph structure fitting parameters and, when it
// validates and is small, compiles it with runtime.Compile and runs it, and
// runs it on the nn executor: neither may panic on a graph that validates,
// and both must agree on the output size.
func FuzzCompile(f *testing.F) {
	b := graph.NewBuilder("seed", 2, 9, 7)
	x := b.Conv("c1", "input", 2, 4, 3, 2, 1, 1, true)
	x = b.BatchNorm("bn", x, 4)
	x = b.Act("act", x, graph.ActHardSwish, "u")
	y := b.Conv("dw", x, 4, 4, 3, 1, 1, 4, false)
	x = b.Add("add", x, y)
	x = b.Conv("pw", x, 4, 6, 1, 1, 0, 1, true)
	x = b.GlobalAvgPool("pool", x)
	x = b.Flatten("flat", x)
	x = b.Linear("fc", x, 6, 3, true)
	g, err := b.Finish(x)
	if err != nil {
		f.Fatal(err)
	}
	js, err := json.Marshal(g)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(js, uint64(1), uint8(2))
	f.Fuzz(func(t *testing.T, js []byte, seed uint64, batch uint8) {
		g := &graph.Graph{}
		if err := json.Unmarshal(js, g); err != nil {
			return
		}
		if g.AllocParams(1<<16) != nil {
			return
		}
		g.InitParams(seed)
		if g.Validate() != nil {
			return // duplicate names, an undefined output, ...
		}
		n := int(batch%4) + 1
		if m, err := g.MemoryEstimate(n, true); err != nil || m > 64<<20 {
			return
		}
		if c, err := g.Cost(); err != nil || c.MACs*int64(n) > 50e6 {
			return // keep each input fast
		}
		p, err := runtime.Compile(g, runtime.Options{Batch: n})
		if err != nil {
			return
		}
		in := make([]float32, n*p.InputLen())
		for i := range in {
			in[i] = float32(math.Sin(float64(i)))
		}
		out := make([]float32, n*p.OutputLen())
		if err := p.Run(in, out); err != nil {
			t.Fatalf("a compiled program does not run: %v", err)
		}
		m, err := nn.NewModel(g, n)
		if err != nil {
			return
		}
		if got := len(m.Forward(in, n, false)); got != len(out) {
			t.Fatalf("nn gives %d outputs, runtime %d", got, len(out))
		}
	})
}
