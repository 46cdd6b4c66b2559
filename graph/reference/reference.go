// Package reference evaluates a graph in eval mode with plain float64 loops.
// It is slow and deliberately simple: it is the yardstick that the fast
// executor, the runtime, the merger and the ONNX importer are tested against.
//
// Every IR op is covered, with PyTorch's eval-mode semantics: convolutions
// of any group count; MaxPool and AvgPool with asymmetric padding and ceil
// mode (a ceil-mode window may hang over the trailing padding; the maximum
// ignores padding, takes the first maximum and propagates NaN; the average
// divides by the in-bounds cells, or with CountIncludePad by the window
// clipped to the input plus its padding, see PoolWindow); Mul with a gate of
// the same shape or [N, C, 1, 1]; Concat and Slice along the channels;
// ChannelShuffle (output channel j*g+i is input channel i*(C/g)+j);
// Softmax over the features of [N, F] (max-shifted); and the activations
// identity, relu, relu6, hardswish, hardsigmoid, sigmoid and silu.
package reference

import (
	"fmt"
	"math"

	"github.com/dshrink/dshrink/graph"
)

// Forward runs g in eval mode (BatchNorm with running statistics, no
// dropout) on x, laid out as [n, C, H, W] for the graph's input shape, and
// returns every value by name, each as a flat float64 slice with its shape.
func Forward(g *graph.Graph, x []float32, n int) (map[string][]float64, map[string][]int, error) {
	shapes, err := g.Shapes(n)
	if err != nil {
		return nil, nil, err
	}
	in := shapes[g.Input.Name]
	if len(x) != prod(in) {
		return nil, nil, fmt.Errorf("reference: input has %d values, want %d for shape %v", len(x), prod(in), in)
	}
	vals := map[string][]float64{g.Input.Name: to64(x)}
	for _, nd := range g.Nodes {
		xs := shapes[nd.Inputs[0]]
		a := vals[nd.Inputs[0]]
		out := make([]float64, prod(shapes[nd.Output]))
		os := shapes[nd.Output]
		p := func(i int) []float64 {
			if t := g.Param(nd, i); t != nil {
				return to64(t.Data)
			}
			return nil
		}
		switch nd.Op {
		case graph.OpConv:
			conv(nd.Conv, a, xs, p(0), out, os)
			k := 1
			if nd.Conv.Bias {
				b := p(k)
				k++
				for i := range out {
					out[i] += b[(i/(os[2]*os[3]))%os[1]]
				}
			}
			if nd.Conv.BiasMap {
				bm := p(k)
				per := len(bm)
				for i := range out {
					out[i] += bm[i%per]
				}
			}
		case graph.OpBatchNorm:
			w, b, mu, v := p(0), p(1), p(2), p(3)
			hw := xs[2] * xs[3]
			for i := range out {
				c := (i / hw) % xs[1]
				out[i] = (a[i]-mu[c])/math.Sqrt(v[c]+nd.BN.Eps)*w[c] + b[c]
			}
		case graph.OpAct:
			for i := range out {
				out[i] = Act(nd.Act.Kind, a[i])
			}
		case graph.OpAdd:
			b := vals[nd.Inputs[1]]
			for i := range out {
				out[i] = a[i] + b[i]
			}
		case graph.OpGlobalAvgPool:
			hw := xs[2] * xs[3]
			for i := range out {
				s := 0.0
				for j := 0; j < hw; j++ {
					s += a[i*hw+j]
				}
				out[i] = s / float64(hw)
			}
		case graph.OpFlatten, graph.OpDropout:
			copy(out, a)
		case graph.OpLinear:
			w := p(0)
			var b []float64
			if nd.Linear.Bias {
				b = p(1)
			}
			in, o := nd.Linear.In, nd.Linear.Out
			for s := 0; s < n; s++ {
				for j := 0; j < o; j++ {
					acc := 0.0
					if b != nil {
						acc = b[j]
					}
					for i := 0; i < in; i++ {
						acc += w[j*in+i] * a[s*in+i]
					}
					out[s*o+j] = acc
				}
			}
		case graph.OpPad:
			pd := nd.Pad.Pads
			for s := 0; s < xs[0]*xs[1]; s++ {
				for y := 0; y < xs[2]; y++ {
					for x := 0; x < xs[3]; x++ {
						out[(s*os[2]+y+pd[0])*os[3]+x+pd[1]] = a[(s*xs[2]+y)*xs[3]+x]
					}
				}
			}
		case graph.OpMaxPool:
			pool(nd.Pool, true, a, xs, out, os)
		case graph.OpAvgPool:
			pool(nd.Pool, false, a, xs, out, os)
		case graph.OpMul:
			b := vals[nd.Inputs[1]]
			hw := xs[2] * xs[3]
			for i := range out {
				if len(b) != len(a) {
					out[i] = a[i] * b[i/hw] // [N, C, 1, 1] gate: one value per image and channel
				} else {
					out[i] = a[i] * b[i]
				}
			}
		case graph.OpConcat:
			hw := xs[2] * xs[3]
			off := 0 // channel offset of the current input in the output
			for _, v := range nd.Inputs {
				b, bs := vals[v], shapes[v]
				for s := 0; s < n; s++ {
					for c := 0; c < bs[1]; c++ {
						copy(out[(s*os[1]+off+c)*hw:][:hw], b[(s*bs[1]+c)*hw:][:hw])
					}
				}
				off += bs[1]
			}
		case graph.OpSlice:
			hw := xs[2] * xs[3]
			for s := 0; s < n; s++ {
				for c := 0; c < os[1]; c++ {
					copy(out[(s*os[1]+c)*hw:][:hw], a[(s*xs[1]+nd.Slice.Start+c)*hw:][:hw])
				}
			}
		case graph.OpShuffle:
			hw, ch, gr := xs[2]*xs[3], xs[1], nd.Shuffle.Groups
			per := ch / gr
			for s := 0; s < n; s++ {
				for i := 0; i < gr; i++ {
					for j := 0; j < per; j++ {
						copy(out[(s*ch+j*gr+i)*hw:][:hw], a[(s*ch+i*per+j)*hw:][:hw])
					}
				}
			}
		case graph.OpSoftmax:
			f := xs[1]
			for s := 0; s < n; s++ {
				row, dst := a[s*f:(s+1)*f], out[s*f:(s+1)*f]
				m := math.Inf(-1)
				for _, v := range row {
					m = math.Max(m, v)
				}
				sum := 0.0
				for i, v := range row {
					dst[i] = math.Exp(v - m)
					sum += dst[i]
				}
				for i := range dst {
					dst[i] /= sum
				}
			}
		default:
			return nil, nil, fmt.Errorf("reference: node %s: op %s not supported", nd.Name, nd.Op)
		}
		vals[nd.Output] = out
	}
	return vals, shapes, nil
}

// Act applies an activation in float64.
func Act(k graph.ActKind, x float64) float64 {
	switch k {
	case graph.ActReLU:
		return math.Max(x, 0)
	case graph.ActReLU6:
		return math.Min(math.Max(x, 0), 6)
	case graph.ActHardSwish:
		return x * math.Min(math.Max(x+3, 0), 6) / 6
	case graph.ActHardSigmoid:
		return math.Min(math.Max(x+3, 0), 6) / 6
	case graph.ActSigmoid:
		return 1 / (1 + math.Exp(-x))
	case graph.ActSiLU:
		return x / (1 + math.Exp(-x))
	}
	return x
}

// PoolWindow returns the window of output position o along one axis of
// length in, as PyTorch computes it: the input cells [lo, hi) it reads
// (clipped to the input) and, for average pooling with count_include_pad,
// the divisor span (the window clipped to the input plus its padding only,
// so a ceil-mode window that hangs over the trailing padding counts less).
func PoolWindow(o, in, k, stride, padLo, padHi int) (lo, hi, span int) {
	start := o*stride - padLo
	end := min(start+k, in+padHi)
	span = end - start
	return max(start, 0), min(end, in), span
}

// pool runs a max (isMax) or average pooling with PyTorch's semantics:
// padding never wins the max (the first maximum in row-major window order
// wins, NaN propagates), and the average divides by the in-bounds cells, or
// with CountIncludePad by the window clipped to the input plus its padding.
func pool(a *graph.PoolAttr, isMax bool, x []float64, xs []int, y []float64, ys []int) {
	h, w, ho, wo := xs[2], xs[3], ys[2], ys[3]
	for s := 0; s < xs[0]*xs[1]; s++ {
		plane := x[s*h*w : (s+1)*h*w]
		for oy := 0; oy < ho; oy++ {
			y0, y1, sh := PoolWindow(oy, h, a.KH, a.StrideH, a.Pads[0], a.Pads[2])
			for ox := 0; ox < wo; ox++ {
				x0, x1, sw := PoolWindow(ox, w, a.KW, a.StrideW, a.Pads[1], a.Pads[3])
				var r float64
				if isMax {
					r = math.Inf(-1)
				window:
					for iy := y0; iy < y1; iy++ {
						for ix := x0; ix < x1; ix++ {
							v := plane[iy*w+ix]
							if math.IsNaN(v) {
								r = v // NaN wins, as in PyTorch
								break window
							}
							if v > r {
								r = v
							}
						}
					}
				} else {
					for iy := y0; iy < y1; iy++ {
						for ix := x0; ix < x1; ix++ {
							r += plane[iy*w+ix]
						}
					}
					div := (y1 - y0) * (x1 - x0)
					if a.CountIncludePad {
						div = sh * sw
					}
					r /= float64(div)
				}
				y[(s*ho+oy)*wo+ox] = r
			}
		}
	}
}

func conv(c *graph.ConvAttr, x []float64, xs []int, w []float64, y []float64, ys []int) {
	n, _, h, wd := xs[0], xs[1], xs[2], xs[3]
	ho, wo := ys[2], ys[3]
	cpg, kpg := c.InC/c.Groups, c.OutC/c.Groups
	for b := 0; b < n; b++ {
		for k := 0; k < c.OutC; k++ {
			g := k / kpg
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					s := 0.0
					for ci := 0; ci < cpg; ci++ {
						ch := g*cpg + ci
						for ky := 0; ky < c.KH; ky++ {
							iy := oy*c.StrideH - c.Pads[0] + ky
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < c.KW; kx++ {
								ix := ox*c.StrideW - c.Pads[1] + kx
								if ix < 0 || ix >= wd {
									continue
								}
								s += w[((k*cpg+ci)*c.KH+ky)*c.KW+kx] * x[((b*xs[1]+ch)*h+iy)*wd+ix]
							}
						}
					}
					y[((b*c.OutC+k)*ho+oy)*wo+ox] = s
				}
			}
		}
	}
}

func prod(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// MaxDiff returns the largest absolute difference between a and b and the
// largest absolute value of b (for relative error); lengths must match.
func MaxDiff(a []float32, b []float64) (absErr, scale float64) {
	for i := range b {
		absErr = math.Max(absErr, math.Abs(float64(a[i])-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return absErr, scale
}
