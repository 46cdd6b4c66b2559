package merge

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/memlimit"
)

// lin is an affine convolution on a fixed input size, in float64: the output
// is conv(zero-pad(x), w) + b[o] + m[o, y, x]. Convolutions, Pad nodes,
// BatchNorm and the identity are all lin values, and a linear chain composes
// into one.
type lin struct {
	inC, outC, groups    int
	kh, kw, sh, sw       int
	pads                 [4]int // top, left, bottom, right
	inH, inW, outH, outW int
	w                    []float64 // [outC, inC/groups, kh, kw]
	b                    []float64 // [outC]; nil means zero
	m                    []float64 // [outC, outH, outW]; nil means zero
}

func (l *lin) cpg() int { return l.inC / l.groups }
func (l *lin) kpg() int { return l.outC / l.groups }

func (l *lin) widx(o, i, y, x int) int { return ((o*l.cpg()+i)*l.kh+y)*l.kw + x }

// macs returns the multiply-accumulates per image of the convolution.
func (l *lin) macs() int64 {
	return int64(l.outC) * int64(l.outH*l.outW) * int64(l.cpg()*l.kh*l.kw)
}

// params returns the number of parameter values of the convolution as emitted.
func (l *lin) params() int64 {
	n := int64(len(l.w))
	if l.b != nil {
		n += int64(l.outC)
	}
	n += int64(len(l.m))
	return n
}

func (l *lin) hasBias() bool {
	for _, v := range l.b {
		if v != 0 {
			return true
		}
	}
	return false
}

func (l *lin) kernelString() string {
	s := fmt.Sprintf("%dx%d", l.kh, l.kw)
	if l.sh != 1 || l.sw != 1 {
		if l.sh == l.sw {
			s += fmt.Sprintf("/s%d", l.sh)
		} else {
			s += fmt.Sprintf("/s%dx%d", l.sh, l.sw)
		}
	}
	switch {
	case l.groups == l.inC && l.groups == l.outC && l.groups > 1:
		s += " dw"
	case l.groups > 1:
		s += fmt.Sprintf(" g%d", l.groups)
	}
	return s
}

// linFromConv reads a Conv node with input shape in ([N, C, H, W]).
func linFromConv(g *graph.Graph, n *graph.Node, in []int) (*lin, error) {
	a := n.Conv
	l := &lin{inC: a.InC, outC: a.OutC, groups: a.Groups, kh: a.KH, kw: a.KW, sh: a.StrideH, sw: a.StrideW, pads: a.Pads,
		inH: in[2], inW: in[3]}
	l.outH = graph.ConvOut(l.inH, l.kh, l.sh, l.pads[0], l.pads[2])
	l.outW = graph.ConvOut(l.inW, l.kw, l.sw, l.pads[1], l.pads[3])
	w := g.Param(n, 0)
	if w == nil || len(w.Data) != l.outC*l.cpg()*l.kh*l.kw {
		return nil, fmt.Errorf("conv %s: weight missing or of the wrong size", n.Name)
	}
	l.w = to64(w.Data)
	k := 1
	if a.Bias {
		b := g.Param(n, k)
		if b == nil || len(b.Data) != l.outC {
			return nil, fmt.Errorf("conv %s: bias missing or of the wrong size", n.Name)
		}
		l.b = to64(b.Data)
		k++
	}
	if a.BiasMap {
		m := g.Param(n, k)
		if m == nil || len(m.Data) != l.outC*l.outH*l.outW {
			return nil, fmt.Errorf("conv %s: bias map missing or of the wrong size", n.Name)
		}
		l.m = to64(m.Data)
	}
	return l, nil
}

// linPad is zero padding as a 1x1 depthwise identity convolution.
func linPad(c, h, w int, pads [4]int) *lin {
	l := &lin{inC: c, outC: c, groups: c, kh: 1, kw: 1, sh: 1, sw: 1, pads: pads, inH: h, inW: w,
		outH: h + pads[0] + pads[2], outW: w + pads[1] + pads[3], w: make([]float64, c)}
	for i := range l.w {
		l.w[i] = 1
	}
	return l
}

// linIdentity is the identity as a 1x1 depthwise convolution.
func linIdentity(c, h, w int) *lin { return linPad(c, h, w, [4]int{}) }

// linAffine is a per-channel affine map (an eval-mode BatchNorm) as a 1x1
// depthwise convolution with bias.
func linAffine(c, h, w int, scale, shift []float64) *lin {
	l := linIdentity(c, h, w)
	copy(l.w, scale)
	l.b = append([]float64(nil), shift...)
	return l
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// errInexact is returned when a composition would be exact only away from
// the border.
type errInexact struct{ msg string }

func (e errInexact) Error() string { return e.msg }

// compose returns the single convolution equal to a followed by b, exactly,
// including at the border: the part of a's output that b reads from its zero
// padding is accounted for in the bias map. It fails when b pads a tensor that
// a computes with a spatial kernel (then b's zero padding is not a zero
// padding of a's input and no single convolution is exact at the border).
func compose(a, b *lin) (*lin, error) { return composeChecked(a, b, true) }

// composeChecked is compose; with check false it composes even where the
// result is not exact at the border (tests use it to show the difference).
func composeChecked(a, b *lin, check bool) (*lin, error) {
	if b.inC != a.outC || b.inH != a.outH || b.inW != a.outW {
		return nil, fmt.Errorf("compose: shapes do not chain (%dx%dx%d into %dx%dx%d)", a.outC, a.outH, a.outW, b.inC, b.inH, b.inW)
	}
	// Exactness of the linear part: every position of b's padding must map,
	// through a, onto input positions outside x only.
	if check && (b.pads[0] > 0 && a.kh > a.sh+a.pads[0] ||
		b.pads[1] > 0 && a.kw > a.sw+a.pads[1] ||
		b.pads[2] > 0 && a.outH*a.sh-a.pads[0] < a.inH ||
		b.pads[3] > 0 && a.outW*a.sw-a.pads[1] < a.inW) {
		return nil, errInexact{fmt.Sprintf("a padded %s conv after a spatial %s conv is exact only away from the border (the zero padding of the intermediate tensor is not a zero padding of the input, and no bias map makes up for it: docs/merge.md#no-single-conv); merge it in the pad-first form (merge.PadFirst)",
			b.kernelString(), a.kernelString())}
	}
	c := &lin{inC: a.inC, outC: b.outC, groups: gcd(a.groups, b.groups),
		kh: a.kh + (b.kh-1)*a.sh, kw: a.kw + (b.kw-1)*a.sw, sh: a.sh * b.sh, sw: a.sw * b.sw,
		inH: a.inH, inW: a.inW, outH: b.outH, outW: b.outW}
	c.pads[0] = a.pads[0] + b.pads[0]*a.sh
	c.pads[1] = a.pads[1] + b.pads[1]*a.sw
	c.pads[2] = max(0, (c.outH-1)*c.sh-c.pads[0]+c.kh-c.inH)
	c.pads[3] = max(0, (c.outW-1)*c.sw-c.pads[1]+c.kw-c.inW)
	if graph.ConvOut(c.inH, c.kh, c.sh, c.pads[0], c.pads[2]) != c.outH || graph.ConvOut(c.inW, c.kw, c.sw, c.pads[1], c.pads[3]) != c.outW {
		return nil, fmt.Errorf("compose: no padding of a %dx%d/s%d kernel gives the %dx%d output", c.kh, c.kw, c.sh, c.outH, c.outW)
	}
	cpgA, kpgA, cpgB, kpgB := a.cpg(), a.kpg(), b.cpg(), b.kpg()
	cpgC, kpgC := c.cpg(), c.kpg()
	if err := checkWeight(c.outC, cpgC, c.kh, c.kw); err != nil {
		return nil, err
	}
	c.w = make([]float64, c.outC*cpgC*c.kh*c.kw)
	if b.kh == 1 && b.kw == 1 && a.groups == 1 {
		// A pointwise b after a dense a: c's rows are combinations of a's
		// rows (same layout), one axpy per weight of b.
		per := cpgC * c.kh * c.kw
		for o := 0; o < b.outC; o++ {
			gb := o / kpgB
			dst := c.w[o*per : (o+1)*per]
			for el := 0; el < cpgB; el++ {
				wb := b.w[o*cpgB+el]
				if wb == 0 {
					continue
				}
				e := gb*cpgB + el
				for i, v := range a.w[e*per : (e+1)*per] {
					dst[i] += wb * v
				}
			}
		}
	}
	for o := 0; o < b.outC && !(b.kh == 1 && b.kw == 1 && a.groups == 1); o++ {
		gb, gc := o/kpgB, o/kpgC
		for el := 0; el < cpgB; el++ {
			e := gb*cpgB + el
			ga := e / kpgA
			for ky := 0; ky < b.kh; ky++ {
				for kx := 0; kx < b.kw; kx++ {
					wb := b.w[b.widx(o, el, ky, kx)]
					if wb == 0 {
						continue
					}
					for il := 0; il < cpgA; il++ {
						ic := ga*cpgA + il - gc*cpgC
						if ic < 0 || ic >= cpgC {
							return nil, fmt.Errorf("compose: group structure %d then %d does not nest", a.groups, b.groups)
						}
						src := a.w[a.widx(e, il, 0, 0):]
						for y := 0; y < a.kh; y++ {
							dst := c.w[c.widx(o, ic, ky*a.sh+y, kx*a.sw):]
							row := src[y*a.kw : (y+1)*a.kw]
							for x, v := range row {
								dst[x] += wb * v
							}
						}
					}
				}
			}
		}
	}
	// Constant bias: b's bias plus b's full kernel applied to a's bias.
	c.b = make([]float64, c.outC)
	for o := range c.b {
		s := 0.0
		if b.b != nil {
			s = b.b[o]
		}
		if a.b != nil {
			gb := o / kpgB
			for el := 0; el < cpgB; el++ {
				e := gb*cpgB + el
				if a.b[e] == 0 {
					continue
				}
				for t := 0; t < b.kh*b.kw; t++ {
					s += b.w[b.widx(o, el, 0, 0)+t] * a.b[e]
				}
			}
		}
		c.b[o] = s
	}
	// Bias map: b's map, b applied to a's map, minus a's bias over the taps
	// that fall into b's padding.
	aBias := a.b != nil && a.hasBias()
	if b.m != nil || a.m != nil || (aBias && b.pads != [4]int{}) {
		c.m = make([]float64, c.outC*c.outH*c.outW)
		if b.m != nil {
			copy(c.m, b.m)
		}
		nonzero := false
		for o := 0; o < c.outC; o++ {
			gb := o / kpgB
			for oy := 0; oy < c.outH; oy++ {
				for ox := 0; ox < c.outW; ox++ {
					s := 0.0
					for el := 0; el < cpgB; el++ {
						e := gb*cpgB + el
						for ky := 0; ky < b.kh; ky++ {
							iy := oy*b.sh - b.pads[0] + ky
							for kx := 0; kx < b.kw; kx++ {
								ix := ox*b.sw - b.pads[1] + kx
								wb := b.w[b.widx(o, el, ky, kx)]
								if iy < 0 || iy >= b.inH || ix < 0 || ix >= b.inW {
									if aBias {
										s -= wb * a.b[e]
									}
								} else if a.m != nil {
									s += wb * a.m[(e*a.outH+iy)*a.outW+ix]
								}
							}
						}
					}
					i := (o*c.outH+oy)*c.outW + ox
					c.m[i] += s
					if c.m[i] != 0 {
						nonzero = true
					}
				}
			}
		}
		if !nonzero {
			c.m = nil
		}
	}
	return c, nil
}

// sum returns the single convolution equal to a(x) + b(x), exactly: both read
// the same input with the same stride and produce the same output size; their
// kernels are aligned by their padding.
func sum(a, b *lin) (*lin, error) {
	if a.inC != b.inC || a.outC != b.outC || a.inH != b.inH || a.inW != b.inW || a.outH != b.outH || a.outW != b.outW {
		return nil, fmt.Errorf("add: branches differ in shape (%dx%dx%d vs %dx%dx%d)", a.outC, a.outH, a.outW, b.outC, b.outH, b.outW)
	}
	if a.sh != b.sh || a.sw != b.sw {
		return nil, fmt.Errorf("add: branches have strides %dx%d and %dx%d", a.sh, a.sw, b.sh, b.sw)
	}
	c := &lin{inC: a.inC, outC: a.outC, groups: gcd(a.groups, b.groups), sh: a.sh, sw: a.sw,
		inH: a.inH, inW: a.inW, outH: a.outH, outW: a.outW}
	c.pads[0] = max(a.pads[0], b.pads[0])
	c.pads[1] = max(a.pads[1], b.pads[1])
	c.kh = c.pads[0] + max(a.kh-a.pads[0], b.kh-b.pads[0])
	c.kw = c.pads[1] + max(a.kw-a.pads[1], b.kw-b.pads[1])
	c.pads[2] = max(0, (c.outH-1)*c.sh-c.pads[0]+c.kh-c.inH)
	c.pads[3] = max(0, (c.outW-1)*c.sw-c.pads[1]+c.kw-c.inW)
	if graph.ConvOut(c.inH, c.kh, c.sh, c.pads[0], c.pads[2]) != c.outH || graph.ConvOut(c.inW, c.kw, c.sw, c.pads[1], c.pads[3]) != c.outW {
		return nil, fmt.Errorf("add: no padding of a %dx%d kernel gives the %dx%d output", c.kh, c.kw, c.outH, c.outW)
	}
	if err := checkWeight(c.outC, c.cpg(), c.kh, c.kw); err != nil {
		return nil, err
	}
	c.w = make([]float64, c.outC*c.cpg()*c.kh*c.kw)
	for _, l := range []*lin{a, b} {
		dy, dx := c.pads[0]-l.pads[0], c.pads[1]-l.pads[1]
		cpgL, kpgL, cpgC, kpgC := l.cpg(), l.kpg(), c.cpg(), c.kpg()
		for o := 0; o < l.outC; o++ {
			for il := 0; il < cpgL; il++ {
				ic := (o/kpgL)*cpgL + il - (o/kpgC)*cpgC
				if ic < 0 || ic >= cpgC {
					return nil, fmt.Errorf("add: group structures %d and %d do not nest", a.groups, b.groups)
				}
				for y := 0; y < l.kh; y++ {
					for x := 0; x < l.kw; x++ {
						c.w[c.widx(o, ic, y+dy, x+dx)] += l.w[l.widx(o, il, y, x)]
					}
				}
			}
		}
		if l.b != nil {
			if c.b == nil {
				c.b = make([]float64, c.outC)
			}
			for o, v := range l.b {
				c.b[o] += v
			}
		}
		if l.m != nil {
			if c.m == nil {
				c.m = make([]float64, len(l.m))
			}
			for i, v := range l.m {
				c.m[i] += v
			}
		}
	}
	return c, nil
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// checkWeight refuses, before it is allocated, a merged weight of shape
// [outC, cpg, kh, kw] beyond graph.MaxParamElems or the memory limit: the
// chain then stops there instead of the merge running out of memory.
func checkWeight(outC, cpg, kh, kw int) error {
	e := memlimit.Mul(int64(outC), int64(cpg), int64(kh), int64(kw))
	if e > graph.MaxParamElems {
		return fmt.Errorf("the merged weight [%d %d %d %d] would have more than %d elements", outC, cpg, kh, kw, graph.MaxParamElems)
	}
	return memlimit.Check(fmt.Sprintf("the merged weight [%d %d %d %d]", outC, cpg, kh, kw), memlimit.Mul(e, 8))
}
