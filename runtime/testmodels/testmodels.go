// Package testmodels builds models with the shapes the runtime must be fast
// and exact on, for tests and benchmarks: MobileNetV2 whose inverted residual
// blocks are replaced by single dense convolutions (the shapes that merging
// produces), optionally with border bias maps or pad-first Pad nodes, and a
// helper that gives every BatchNorm non-trivial statistics so that folding is
// exercised.
package testmodels

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/tensor"
)

// MergedOptions selects the variant built by MergedMobileNetV2.
type MergedOptions struct {
	// BiasMap gives every merged convolution a random border bias map.
	BiasMap bool
	// PadFirst pads each merged block's input with a Pad node and runs the
	// dense convolution unpadded (the pad-first form).
	PadFirst bool
	// FinalAct adds a ReLU6 after each merged block (the paper's ADD_FINAL_ACT).
	FinalAct bool
}

// MergedMobileNetV2 builds a MobileNetV2 with the options of o in which every
// inverted residual block is one dense kxk convolution (InC -> OutC, the
// block's stride, padding k/2, with bias), as the fully merged model of
// DepthShrinker has. Weights are random (not the merge of a real model):
// the shapes are what matter for speed.
func MergedMobileNetV2(o models.Options, m MergedOptions) (*graph.Graph, error) {
	g, err := models.MobileNetV2(o)
	if err != nil {
		return nil, err
	}
	return MergeShapes(g, m, o.Seed)
}

// MergeShapes returns a copy of g (built by a models builder, with block
// annotations) in which every block is one dense convolution with random
// weights.
func MergeShapes(g *graph.Graph, m MergedOptions, seed uint64) (*graph.Graph, error) {
	shapes, err := g.Shapes(1)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 77))
	b := graph.NewBuilder(g.Name+"_merged", g.Input.Shape[0], g.Input.Shape[1], g.Input.Shape[2])
	rename := map[string]string{g.Input.Name: "input"}
	blocks := map[string]*graph.Block{}
	for i := range g.Blocks {
		blocks[g.Blocks[i].Name] = &g.Blocks[i]
	}
	done := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Block != "" {
			if done[n.Block] {
				continue
			}
			done[n.Block] = true
			bl := blocks[n.Block]
			x := rename[bl.Input]
			k := bl.Kernel
			pad := k / 2
			name := bl.Name + ".merged"
			if m.PadFirst {
				pv := name + ".pad"
				b.G.Nodes = append(b.G.Nodes, &graph.Node{Name: pv, Op: graph.OpPad, Inputs: []string{x}, Output: pv, Pad: &graph.PadAttr{Pads: [4]int{pad, pad, pad, pad}}})
				x = pv
				pad = 0
			}
			h := b.Conv(name, x, bl.InC, bl.OutC, k, bl.Stride, pad, 1, true)
			nd := b.G.Nodes[len(b.G.Nodes)-1]
			w := b.G.Params[nd.Params[0]]
			w.RandN(rng, math.Sqrt(1/float64(bl.InC*k*k)))
			b.G.Params[nd.Params[1]].RandN(rng, 0.1)
			if m.BiasMap {
				os := shapes[bl.Output]
				bm := tensor.New(bl.OutC, os[2], os[3])
				for c := 0; c < bl.OutC; c++ {
					for y := 0; y < os[2]; y++ {
						for xx := 0; xx < os[3]; xx++ {
							if y == 0 || xx == 0 || y == os[2]-1 || xx == os[3]-1 {
								bm.Data[(c*os[2]+y)*os[3]+xx] = float32(rng.NormFloat64() * 0.1)
							}
						}
					}
				}
				pn := name + ".bias_map"
				b.G.Params[pn] = bm
				nd.Params = append(nd.Params, pn)
				nd.Conv.BiasMap = true
			}
			if m.FinalAct {
				h = b.Act(name+".act", h, graph.ActReLU6, "")
			}
			rename[bl.Output] = h
			continue
		}
		c := *n
		c.Inputs = nil
		for _, in := range n.Inputs {
			r, ok := rename[in]
			if !ok {
				return nil, fmt.Errorf("merge shapes: node %s reads %q, which is not available", n.Name, in)
			}
			c.Inputs = append(c.Inputs, r)
		}
		c.Params = append([]string(nil), n.Params...)
		copyAttrs(&c)
		for _, p := range n.Params {
			b.G.Params[p] = g.Params[p].Clone()
		}
		b.G.Nodes = append(b.G.Nodes, &c)
		rename[n.Output] = c.Output
	}
	out, err := b.Finish(rename[g.Output])
	if err != nil {
		return nil, err
	}
	out.Classes = g.Classes
	return out, nil
}

// RandomizeBN gives every BatchNorm random affine parameters and running
// statistics (as the peers' randomize_bn does), so that folding matters, and
// every conv bias and bias map random values.
func RandomizeBN(g *graph.Graph, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, n := range g.Nodes {
		switch n.Op {
		case graph.OpBatchNorm:
			w, b, mu, v := g.Param(n, 0), g.Param(n, 1), g.Param(n, 2), g.Param(n, 3)
			for i := range w.Data {
				mu.Data[i] = float32(rng.NormFloat64() * 0.2)
				v.Data[i] = float32(rng.Float64()*0.5 + 0.75)
				w.Data[i] = float32(rng.Float64()*0.5 + 0.75)
				b.Data[i] = float32(rng.NormFloat64() * 0.2)
			}
		case graph.OpLinear:
			if n.Linear.Bias {
				g.Param(n, 1).RandN(rng, 0.1)
			}
		}
	}
}

// copyAttrs replaces n's attribute pointers with copies.
func copyAttrs(n *graph.Node) {
	if n.Conv != nil {
		v := *n.Conv
		n.Conv = &v
	}
	if n.BN != nil {
		v := *n.BN
		n.BN = &v
	}
	if n.Act != nil {
		v := *n.Act
		n.Act = &v
	}
	if n.Linear != nil {
		v := *n.Linear
		n.Linear = &v
	}
	if n.Dropout != nil {
		v := *n.Dropout
		n.Dropout = &v
	}
	if n.Pad != nil {
		v := *n.Pad
		n.Pad = &v
	}
}
