package fuzzcompile

import (
	"fmt"
	"math"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/runtime"
)

// opsGraph builds a well-formed graph from a byte program: an input of
// size from the first three bytes, then one operation per four bytes
// (dense, depthwise or grouped convolutions with any kernel, stride and
// asymmetric padding, BatchNorm, every activation, residual adds, Pad,
// Dropout, max and average pooling with ceil mode, a squeeze-and-excitation
// gate, channel slices and concatenation, channel shuffle), then global
// pooling, a linear classifier and sometimes a Softmax. Operations that
// would not fit the current shape are skipped, so most programs give a
// valid model.
func opsGraph(prog []byte) *graph.Graph {
	at := func(i int) int {
		if i >= 0 && i < len(prog) {
			return int(prog[i])
		}
		return 0
	}
	c, h, w := 1+at(0)%6, 1+at(1)%14, 1+at(2)%14
	g := graph.New("ops", c, h, w)
	cur := g.Input.Name
	type val struct {
		name    string
		c, h, w int
	}
	vals := []val{{cur, c, h, w}}
	kinds := []graph.ActKind{graph.ActReLU, graph.ActReLU6, graph.ActHardSwish, graph.ActHardSigmoid, graph.ActIdentity, graph.ActSigmoid, graph.ActSiLU}
	for i := 3; i+3 < len(prog) && len(g.Nodes) < 24; i += 4 {
		op, a, b, d := at(i)%13, at(i+1), at(i+2), at(i+3)
		name := fmt.Sprintf("n%d", len(g.Nodes))
		n := &graph.Node{Name: name, Inputs: []string{cur}, Output: name}
		switch op {
		case 0, 1, 2: // dense, depthwise, grouped
			kh, kw := 1+a%5, 1+(a/5)%5
			sh, sw := 1+b%3, 1+(b/3)%3
			pads := [4]int{d % 3, (d / 3) % 3, (d / 9) % 3, (d / 27) % 3}
			outC, groups := 1+(b/9)%12, 1
			switch op {
			case 1:
				outC, groups = c, c
			case 2:
				for _, gr := range []int{4, 3, 2} {
					if c%gr == 0 {
						groups = gr
						break
					}
				}
				outC = groups * (1 + (b/9)%4)
			}
			ho := graph.ConvOut(h, kh, sh, pads[0], pads[2])
			wo := graph.ConvOut(w, kw, sw, pads[1], pads[3])
			if h+pads[0]+pads[2] < kh || w+pads[1]+pads[3] < kw || ho < 1 || wo < 1 {
				continue
			}
			n.Op = graph.OpConv
			n.Conv = &graph.ConvAttr{InC: c, OutC: outC, KH: kh, KW: kw, StrideH: sh, StrideW: sw, Pads: pads, Groups: groups, Bias: d&1 == 1}
			n.Params = []string{name + ".weight"}
			if n.Conv.Bias {
				n.Params = append(n.Params, name+".bias")
			}
			c, h, w = outC, ho, wo
		case 3:
			n.Op, n.BN = graph.OpBatchNorm, &graph.BNAttr{C: c, Eps: 1e-5, Momentum: 0.1}
			n.Params = []string{name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"}
		case 4:
			n.Op, n.Act = graph.OpAct, &graph.ActAttr{Kind: kinds[a%len(kinds)]}
		case 5:
			other := ""
			for j := len(vals) - 2; j >= 0; j-- {
				if v := vals[j]; v.c == c && v.h == h && v.w == w && (a+j)%2 == 0 {
					other = v.name
					break
				}
			}
			if other == "" {
				continue
			}
			n.Op, n.Inputs = graph.OpAdd, []string{cur, other}
		case 6:
			p := [4]int{a % 3, (a / 3) % 3, (a / 9) % 3, (a / 27) % 3}
			n.Op, n.Pad = graph.OpPad, &graph.PadAttr{Pads: p}
			h, w = h+p[0]+p[2], w+p[1]+p[3]
		case 7:
			n.Op, n.Dropout = graph.OpDropout, &graph.DropoutAttr{P: 0.5}
		case 8, 9: // max, average pooling
			kh, kw := 1+a%3, 1+(a/3)%3
			sh, sw := 1+b%3, 1+(b/3)%3
			pads := [4]int{d % 2, (d / 2) % 2, (d / 4) % 2, (d / 8) % 2}
			if pads[0] >= kh || pads[2] >= kh || pads[1] >= kw || pads[3] >= kw {
				pads = [4]int{}
			}
			ceil := d&16 != 0
			ho := graph.PoolOut(h, kh, sh, pads[0], pads[2], ceil)
			wo := graph.PoolOut(w, kw, sw, pads[1], pads[3], ceil)
			if ho < 1 || wo < 1 {
				continue
			}
			n.Op = graph.OpMaxPool
			if op == 9 {
				n.Op = graph.OpAvgPool
			}
			n.Pool = &graph.PoolAttr{KH: kh, KW: kw, StrideH: sh, StrideW: sw, Pads: pads, CeilMode: ceil, CountIncludePad: d&32 != 0}
			h, w = ho, wo
		case 10: // squeeze-and-excitation: x * gate(pool(x))
			sq, gt := name+".squeeze", name+".gate"
			g.Nodes = append(g.Nodes,
				&graph.Node{Name: sq, Op: graph.OpGlobalAvgPool, Inputs: []string{cur}, Output: sq},
				&graph.Node{Name: gt, Op: graph.OpAct, Inputs: []string{sq}, Output: gt, Act: &graph.ActAttr{Kind: []graph.ActKind{graph.ActSigmoid, graph.ActHardSigmoid}[a%2]}})
			n.Op, n.Inputs = graph.OpMul, []string{cur, gt}
		case 11: // split the channels in two and concatenate them swapped
			if c < 2 {
				continue
			}
			cut := 1 + a%(c-1)
			lo, hi := name+".lo", name+".hi"
			g.Nodes = append(g.Nodes,
				&graph.Node{Name: lo, Op: graph.OpSlice, Inputs: []string{cur}, Output: lo, Slice: &graph.SliceAttr{Start: 0, End: cut}},
				&graph.Node{Name: hi, Op: graph.OpSlice, Inputs: []string{cur}, Output: hi, Slice: &graph.SliceAttr{Start: cut, End: c}})
			n.Op, n.Inputs = graph.OpConcat, []string{hi, lo}
		case 12:
			groups := 0
			for _, gr := range []int{2 + a%3, 2} {
				if c%gr == 0 && c > gr {
					groups = gr
					break
				}
			}
			if groups == 0 {
				continue
			}
			n.Op, n.Shuffle = graph.OpShuffle, &graph.ShuffleAttr{Groups: groups}
		}
		g.Nodes = append(g.Nodes, n)
		cur = name
		vals = append(vals, val{cur, c, h, w})
	}
	g.Nodes = append(g.Nodes,
		&graph.Node{Name: "pool", Op: graph.OpGlobalAvgPool, Inputs: []string{cur}, Output: "pool"},
		&graph.Node{Name: "flat", Op: graph.OpFlatten, Inputs: []string{"pool"}, Output: "flat"})
	classes := 1 + at(len(prog)-1)%10
	g.Nodes = append(g.Nodes, &graph.Node{Name: "fc", Op: graph.OpLinear, Inputs: []string{"flat"}, Output: "fc",
		Linear: &graph.LinearAttr{In: c, Out: classes, Bias: true}, Params: []string{"fc.weight", "fc.bias"}})
	g.Output = "fc"
	if at(len(prog)-2)%4 == 0 {
		g.Nodes = append(g.Nodes, &graph.Node{Name: "prob", Op: graph.OpSoftmax, Inputs: []string{"fc"}, Output: "prob"})
		g.Output = "prob"
	}
	return g
}

// FuzzOps compares runtime.Compile's program with the nn executor on models
// built from fuzzed operation programs: same output, within float32
// tolerance, and no panic.
func FuzzOps(f *testing.F) {
	f.Add([]byte{2, 9, 7, 0, 12, 4, 10, 3, 0, 0, 0, 4, 1, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 2, 30, 1, 5}, uint64(1), uint8(2))
	f.Add([]byte{3, 13, 13, 0, 6, 0, 40, 1, 6, 3, 13, 2, 7, 10, 1, 6, 1, 2, 3, 4, 2, 0, 0}, uint64(2), uint8(1))
	f.Add([]byte{0, 5, 5, 1, 24, 8, 80, 6, 2, 0, 0, 0, 12, 1, 7}, uint64(3), uint8(3))
	// Pools (one in ceil mode), an SE gate, a swapped split, a shuffle,
	// sigmoid and SiLU, and a final Softmax.
	f.Add([]byte{4, 12, 12, 8, 4, 1, 0, 9, 4, 0, 49, 10, 0, 0, 0, 11, 1, 0, 0, 12, 0, 0, 0, 4, 5, 0, 0, 4, 6, 0, 0, 0, 3}, uint64(4), uint8(2))
	f.Fuzz(func(t *testing.T, prog []byte, seed uint64, batch uint8) {
		g := opsGraph(prog)
		if g.AllocParams(1<<18) != nil {
			return
		}
		g.InitParams(seed)
		for name, p := range g.Params { // non-trivial BatchNorm statistics
			for i := range p.Data {
				switch {
				case len(name) > 13 && name[len(name)-13:] == ".running_mean":
					p.Data[i] = float32(math.Sin(float64(i) + float64(seed)))
				case len(name) > 12 && name[len(name)-12:] == ".running_var":
					p.Data[i] = 0.5 + float32(math.Abs(math.Cos(float64(i))))
				}
			}
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("a program built an invalid graph: %v", err)
		}
		n := int(batch%3) + 1
		p, err := runtime.Compile(g, runtime.Options{Batch: n})
		if err != nil {
			t.Fatalf("runtime.Compile refused a valid graph: %v", err)
		}
		m, err := nn.NewModel(g, n)
		if err != nil {
			t.Fatalf("nn.NewModel refused a valid graph: %v", err)
		}
		in := make([]float32, n*p.InputLen())
		for i := range in {
			in[i] = float32(math.Sin(0.37*float64(i) + float64(seed%7)))
		}
		out := make([]float32, n*p.OutputLen())
		var ref []float32
		stack := callKnown(func() {
			if err := p.Run(in, out); err != nil {
				t.Fatalf("run: %v", err)
			}
			ref = m.Forward(in, n, false)
		})
		if stack != "" {
			if isKnown(stack) {
				t.Skip("a known crash (see TestKnownCrashes)")
			}
			t.Fatal(stack)
		}
		var diff, scale float64
		for i := range ref {
			diff = math.Max(diff, math.Abs(float64(out[i]-ref[i])))
			scale = math.Max(scale, math.Abs(float64(ref[i])))
		}
		if diff > 1e-3*math.Max(scale, 1e-3) || math.IsNaN(diff) {
			t.Fatalf("runtime and nn differ by %.3g (scale %.3g) on %d nodes", diff, scale, len(g.Nodes))
		}
		// A training step's forward and backward passes must not panic either.
		stack = callKnown(func() {
			m.SetSeed(seed)
			y := m.Forward(in, n, true)
			dy := make([]float32, len(y))
			for i := range dy {
				dy[i] = float32(math.Cos(float64(i)))
			}
			m.Backward(dy)
		})
		if stack != "" {
			if isKnown(stack) {
				t.Skip("a known crash (see TestKnownCrashes)")
			}
			t.Fatal(stack)
		}
	})
}
