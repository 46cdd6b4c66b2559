package onnx

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// foldConv returns conv n's weight and bias with the BatchNorm that follows
// it (if any) folded in, in float64.
func foldConv(g *graph.Graph, n *graph.Node) (w, b []float64, next string) {
	for _, v := range g.Params[n.Params[0]].Data {
		w = append(w, float64(v))
	}
	b = make([]float64, n.Conv.OutC)
	if n.Conv.Bias {
		for i, v := range g.Params[n.Params[1]].Data {
			b[i] = float64(v)
		}
	}
	next = n.Output
	if cs := g.Consumers(n.Output); len(cs) == 1 && cs[0].Op == graph.OpBatchNorm {
		bn := cs[0]
		ga, be, mu, va := g.Param(bn, 0).Data, g.Param(bn, 1).Data, g.Param(bn, 2).Data, g.Param(bn, 3).Data
		per := len(w) / n.Conv.OutC
		for k := 0; k < n.Conv.OutC; k++ {
			s := float64(ga[k]) / math.Sqrt(float64(va[k])+bn.BN.Eps)
			for j := 0; j < per; j++ {
				w[k*per+j] *= s
			}
			b[k] = float64(be[k]) + (b[k]-float64(mu[k]))*s
		}
		next = bn.Output
	}
	return w, b, next
}

// mergeAllBlocks is a test-local DepthShrinker merge (the shrink package owns
// the real one): every inverted residual block of g, whose activations must
// be the identity, becomes one dense conv with bias and border bias map.
func mergeAllBlocks(t *testing.T, g *graph.Graph) *graph.Graph {
	shapes, err := g.Shapes(1)
	if err != nil {
		t.Fatal(err)
	}
	out := graph.New(g.Name+"_merged", g.Input.Shape[0], g.Input.Shape[1], g.Input.Shape[2])
	out.Input.Name = g.Input.Name
	out.Meta["plan"] = "all"
	for _, n := range g.Nodes {
		if n.Block == "" {
			c := *n
			out.Nodes = append(out.Nodes, &c)
			for _, p := range n.Params {
				out.Params[p] = g.Params[p]
			}
			if n.Act != nil && n.Act.Unit != "" {
				out.Units = append(out.Units, graph.Unit{Name: n.Act.Unit})
			}
			continue
		}
		b := g.Block(n.Block)
		if n.Output != b.Output {
			continue
		}
		var convs []*graph.Node
		for _, m := range g.Nodes {
			if m.Block == b.Name && m.Op == graph.OpConv {
				convs = append(convs, m)
			}
		}
		in := b.InC
		E := b.Hidden
		w1 := make([]float64, E*in)
		b1 := make([]float64, E)
		if len(convs) == 3 {
			w1, b1, _ = foldConv(g, convs[0])
		} else {
			for e := 0; e < E; e++ {
				w1[e*in+e] = 1
			}
		}
		dw := convs[len(convs)-2]
		wd, bd, _ := foldConv(g, dw)
		w2, b2, _ := foldConv(g, convs[len(convs)-1])
		k, s, pads := dw.Conv.KH, dw.Conv.StrideH, dw.Conv.Pads
		xs, os := shapes[b.Input], shapes[b.Output]
		H, W, Ho, Wo, Co := xs[2], xs[3], os[2], os[3], b.OutC
		K := tensor.New(Co, in, k, k)
		bias := tensor.New(Co)
		bmap := tensor.New(Co, Ho, Wo)
		tap := make([]float64, k*k) // sum_e W2[o,e] Wd[e,t] b1[e]
		for o := 0; o < Co; o++ {
			c := b2[o]
			for i := range tap {
				tap[i] = 0
			}
			for e := 0; e < E; e++ {
				sum := 0.0
				for t := 0; t < k*k; t++ {
					sum += wd[e*k*k+t]
					tap[t] += w2[o*E+e] * wd[e*k*k+t] * b1[e]
				}
				c += w2[o*E+e] * (bd[e] + b1[e]*sum)
			}
			bias.Data[o] = float32(c)
			for i := 0; i < in; i++ {
				for t := 0; t < k*k; t++ {
					v := 0.0
					for e := 0; e < E; e++ {
						v += w2[o*E+e] * wd[e*k*k+t] * w1[e*in+i]
					}
					if b.Residual && i == o && t == (k/2)*k+k/2 {
						v++
					}
					K.Data[(o*in+i)*k*k+t] = float32(v)
				}
			}
			for y := 0; y < Ho; y++ {
				for x := 0; x < Wo; x++ {
					m := 0.0
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := y*s-pads[0]+ky, x*s-pads[1]+kx
							if iy < 0 || iy >= H || ix < 0 || ix >= W {
								m -= tap[ky*k+kx]
							}
						}
					}
					bmap.Data[(o*Ho+y)*Wo+x] = float32(m)
				}
			}
		}
		name := b.Output
		out.Params[name+".weight"], out.Params[name+".bias"], out.Params[name+".bias_map"] = K, bias, bmap
		out.Nodes = append(out.Nodes, &graph.Node{Name: name, Op: graph.OpConv, Inputs: []string{b.Input}, Output: name,
			Params: []string{name + ".weight", name + ".bias", name + ".bias_map"},
			Conv:   &graph.ConvAttr{InC: in, OutC: Co, KH: k, KW: k, StrideH: s, StrideW: s, Pads: pads, Groups: 1, Bias: true, BiasMap: true}})
	}
	out.Output = g.Output
	if err := out.Validate(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMergedPlanAllMatchesPyTorchAndORT removes the activations of all 17
// blocks of the imported torchvision model (plan "all"), checks our forward
// against PyTorch's model with the same activations removed, merges every
// block into a dense conv with a border bias map, exports it and checks
// ONNX Runtime's output against ours and PyTorch's.
func TestMergedPlanAllMatchesPyTorchAndORT(t *testing.T) {
	g, err := Import(readGz(t, "mnv2_bn.onnx.gz"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Act != nil && n.Block != "" {
			n.Act.Kind = graph.ActIdentity
		}
	}
	x := readF32(t, "mnv2_bn.in.bin")
	torchNoAct := readF32(t, "mnv2_noact.out.bin")
	checkClose(t, "activations removed vs PyTorch", forward(t, g, x, 2), torchNoAct)
	merged := mergeAllBlocks(t, g)
	if len(merged.Nodes) >= len(g.Nodes) {
		t.Fatalf("merged graph has %d nodes, original %d", len(merged.Nodes), len(g.Nodes))
	}
	ours := forward(t, merged, x, 2)
	checkClose(t, "merged vs PyTorch", ours, torchNoAct)
	data, err := Export(merged, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "merged.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	onnxChecker(t, path)
	back, err := Import(data, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "merged, exported and imported vs PyTorch", forward(t, back, x, 2), torchNoAct)
	if back.Meta["plan"] != "all" {
		t.Errorf("plan metadata %q after the round trip", back.Meta["plan"])
	}
	if out, ok := runORT(t, path, x, []int{2, 3, 32, 32}); ok {
		checkClose64(t, "ONNX Runtime (merged) vs our forward", out, ours)
		w := make([]float64, len(torchNoAct))
		for i, v := range torchNoAct {
			w[i] = float64(v)
		}
		checkClose64(t, "ONNX Runtime (merged) vs PyTorch", out, w)
	}
}
