// Package vec provides element-wise float32 kernels: activations and their
// gradients, vector arithmetic, per-channel bias and scale/shift on NCHW
// tensors, and reductions.
//
// All functions write into caller-provided slices and allocate nothing.
// Unless stated otherwise dst may alias a source. Large inputs are split
// across the threads of package parallel.
//
// The plane kernels (planes.go) and the activations (ReLU and ReLU6 through
// the clamp kernel; sigmoid, SiLU, hard sigmoid and hard swish with their
// gradients, smooth.go) run hand-written AVX-512, AVX2+FMA or NEON assembly
// chosen through package isa on every call, beside a Go reference that
// runs otherwise and that the tests compare every level with.
package vec

import (
	"math"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// parGrain is the number of elements below which work runs on one thread.
const parGrain = 1 << 15

type opKind int

const (
	opReLU opKind = iota
	opReLU6
	opHardSwish
	opHardSigmoid
	opReLUGrad
	opReLU6Grad
	opHardSwishGrad
	opHardSigmoidGrad
	opAdd
	opAxpy
	opScale
	opSigmoid
	opSiLU
	opSigmoidGrad
	opSiLUGrad
)

// vtask is a reusable description of one element-wise job; it implements the
// Run(lo, hi) task shape of package parallel.
type vtask struct {
	op        opKind
	dst, a, b []float32
	alpha     float32
}

// taskPool keeps task descriptions for reuse (a steady state allocates nothing).
var taskPool parallel.FreeList[vtask]

func (t *vtask) Run(lo, hi int) {
	dst, a, b := t.dst[lo:hi], t.a[lo:hi], t.b
	if b != nil {
		b = b[lo:hi]
	}
	switch t.op {
	case opReLU:
		relu(dst, a)
	case opReLU6:
		relu6(dst, a)
	case opHardSwish:
		smoothSlice(smHardSwish, dst, a, nil)
	case opHardSigmoid:
		smoothSlice(smHardSigmoid, dst, a, nil)
	case opReLUGrad:
		reluGrad(dst, a, b)
	case opReLU6Grad:
		relu6Grad(dst, a, b)
	case opHardSwishGrad:
		smoothSlice(smHardSwishGrad, dst, b, a)
	case opHardSigmoidGrad:
		smoothSlice(smHardSigmoidGrad, dst, b, a)
	case opAdd:
		add(dst, a, b)
	case opAxpy:
		axpy(t.alpha, a, dst)
	case opScale:
		scale(dst, t.alpha, a)
	case opSigmoid:
		smoothSlice(smSigmoid, dst, a, nil)
	case opSiLU:
		smoothSlice(smSiLU, dst, a, nil)
	case opSigmoidGrad:
		smoothSlice(smSigmoidGrad, dst, b, a)
	case opSiLUGrad:
		smoothSlice(smSiLUGrad, dst, b, a)
	}
}

// dispatch runs op over len(dst) elements, in parallel when large.
func dispatch(op opKind, dst, a, b []float32, alpha float32) {
	n := len(dst)
	if len(a) < n || (b != nil && len(b) < n) {
		panic("vec: slice length mismatch")
	}
	if n < 2*parGrain || parallel.Threads() <= 1 {
		t := vtask{op: op, dst: dst, a: a, b: b, alpha: alpha}
		t.Run(0, n)
		return
	}
	t := taskPool.Get()
	*t = vtask{op: op, dst: dst, a: a, b: b, alpha: alpha}
	parallel.Do(t, n, max(parGrain, (n+4*parallel.Threads()-1)/(4*parallel.Threads())))
	*t = vtask{}
	taskPool.Put(t)
}

// ReLU sets dst[i] = max(src[i], 0).
func ReLU(dst, src []float32) { dispatch(opReLU, dst, src, nil, 0) }

// ReLU6 sets dst[i] = min(max(src[i], 0), 6).
func ReLU6(dst, src []float32) { dispatch(opReLU6, dst, src, nil, 0) }

// HardSwish sets dst[i] = x * ReLU6(x+3) / 6 with x = src[i] (PyTorch's Hardswish).
func HardSwish(dst, src []float32) { dispatch(opHardSwish, dst, src, nil, 0) }

// HardSigmoid sets dst[i] = ReLU6(x+3) / 6 with x = src[i] (PyTorch's Hardsigmoid).
func HardSigmoid(dst, src []float32) { dispatch(opHardSigmoid, dst, src, nil, 0) }

// ReLUBackward sets dx[i] = dy[i] where the forward input x[i] > 0, else 0.
func ReLUBackward(dx, dy, x []float32) { dispatch(opReLUGrad, dx, dy, x, 0) }

// ReLU6Backward sets dx[i] = dy[i] where 0 < x[i] < 6, else 0 (x is the forward input).
func ReLU6Backward(dx, dy, x []float32) { dispatch(opReLU6Grad, dx, dy, x, 0) }

// HardSwishBackward sets dx[i] = dy[i] * d/dx HardSwish(x[i]): 0 below -3,
// 1 above 3, (2x+3)/6 in between (x is the forward input).
func HardSwishBackward(dx, dy, x []float32) { dispatch(opHardSwishGrad, dx, dy, x, 0) }

// HardSigmoidBackward sets dx[i] = dy[i]/6 where -3 < x[i] < 3, else 0 (x is
// the forward input).
func HardSigmoidBackward(dx, dy, x []float32) { dispatch(opHardSigmoidGrad, dx, dy, x, 0) }

// Add sets dst[i] = a[i] + b[i].
func Add(dst, a, b []float32) { dispatch(opAdd, dst, a, b, 0) }

// Axpy sets y[i] += alpha * x[i].
func Axpy(alpha float32, x, y []float32) { dispatch(opAxpy, y, x, nil, alpha) }

// Scale sets dst[i] = alpha * src[i].
func Scale(dst []float32, alpha float32, src []float32) { dispatch(opScale, dst, src, nil, alpha) }

func relu(dst, a []float32) { clampSlice(dst, a, 0, float32(math.Inf(1))) }

func relu6(dst, a []float32) { clampSlice(dst, a, 0, 6) }

func hardSigmoidGo(dst, a []float32) {
	a = a[:len(dst)]
	for i, v := range a {
		v += 3
		if v < 0 {
			v = 0
		}
		if v > 6 {
			v = 6
		}
		dst[i] = v * (1.0 / 6)
	}
}

func hardSwishGo(dst, a []float32) {
	a = a[:len(dst)]
	for i, x := range a {
		v := x + 3
		if v < 0 {
			v = 0
		}
		if v > 6 {
			v = 6
		}
		dst[i] = x * v * (1.0 / 6)
	}
}

func reluGrad(dx, dy, x []float32) {
	dy = dy[:len(dx)]
	x = x[:len(dx)]
	for i, g := range dy {
		if !(x[i] > 0) {
			g = 0
		}
		dx[i] = g
	}
}

func relu6Grad(dx, dy, x []float32) { clampGradSlice(dx, dy, x, 0, 6) }

func hardSigmoidGradGo(dx, dy, x []float32) {
	dy = dy[:len(dx)]
	x = x[:len(dx)]
	for i, g := range dy {
		if v := x[i]; v > -3 && v < 3 {
			dx[i] = g * (1.0 / 6)
		} else {
			dx[i] = 0
		}
	}
}

func hardSwishGradGo(dx, dy, x []float32) {
	dy = dy[:len(dx)]
	x = x[:len(dx)]
	for i, g := range dy {
		v := x[i]
		switch {
		case v < -3:
			dx[i] = 0
		case v > 3:
			dx[i] = g
		default:
			dx[i] = g * (2*v + 3) * (1.0 / 6)
		}
	}
}

func add(dst, a, b []float32) {
	a = a[:len(dst)]
	b = b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func axpy(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func scale(dst []float32, alpha float32, a []float32) {
	a = a[:len(dst)]
	for i, v := range a {
		dst[i] = alpha * v
	}
}

// AddBias adds bias[c] to every element of channel c of the NCHW tensor x
// (n images, c channels, hw elements per plane), in place.
func AddBias(x, bias []float32, n, c, hw int) {
	if len(x) < n*c*hw || len(bias) < c {
		panic("vec: AddBias size mismatch")
	}
	for i := 0; i < n*c; i++ {
		b := bias[i%c]
		p := x[i*hw : (i+1)*hw]
		for j := range p {
			p[j] += b
		}
	}
}

// ScaleShift sets dst = src*scale[c] + shift[c] per channel c of an NCHW
// tensor (n images, c channels, hw elements per plane): a BatchNorm apply.
// shift may be nil (no shift).
func ScaleShift(dst, src, scale, shift []float32, n, c, hw int) {
	if len(dst) < n*c*hw || len(src) < n*c*hw || len(scale) < c || (shift != nil && len(shift) < c) {
		panic("vec: ScaleShift size mismatch")
	}
	for i := 0; i < n*c; i++ {
		ch := i % c
		s := scale[ch]
		var b float32
		if shift != nil {
			b = shift[ch]
		}
		d := dst[i*hw : (i+1)*hw]
		x := src[i*hw : (i+1)*hw]
		x = x[:len(d)]
		for j, v := range x {
			d[j] = v*s + b
		}
	}
}

// ChannelSum sets out[c] = sum of channel c over all n images of the NCHW
// tensor x (the bias gradient of a convolution), overwriting out.
func ChannelSum(out, x []float32, n, c, hw int) {
	if len(x) < n*c*hw || len(out) < c {
		panic("vec: ChannelSum size mismatch")
	}
	for ch := 0; ch < c; ch++ {
		var s float64
		for i := 0; i < n; i++ {
			s += float64(Sum(x[(i*c+ch)*hw : (i*c+ch+1)*hw]))
		}
		out[ch] = float32(s)
	}
}

// Sum returns the sum of x, accumulated in float64 blocks.
func Sum(x []float32) float32 {
	var total float64
	for len(x) >= 4 {
		var s0, s1, s2, s3 float32
		blk := x
		if len(blk) > 256 {
			blk = blk[:256]
		}
		x = x[len(blk)&^3:]
		for len(blk) >= 4 {
			s0 += blk[0]
			s1 += blk[1]
			s2 += blk[2]
			s3 += blk[3]
			blk = blk[4:]
		}
		total += float64(s0) + float64(s1) + float64(s2) + float64(s3)
	}
	for _, v := range x {
		total += float64(v)
	}
	return float32(total)
}

// Dot returns sum_i a[i]*b[i] over len(a) elements, accumulated in float64
// blocks. b must be at least as long as a.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var total float64
	for len(a) >= 4 {
		var s0, s1, s2, s3 float32
		n := len(a)
		if n > 256 {
			n = 256
		}
		n &^= 3
		x, y := a[:n], b[:n]
		for len(x) >= 4 && len(y) >= 4 {
			s0 += x[0] * y[0]
			s1 += x[1] * y[1]
			s2 += x[2] * y[2]
			s3 += x[3] * y[3]
			x, y = x[4:], y[4:]
		}
		a, b = a[n:], b[n:]
		total += float64(s0) + float64(s1) + float64(s2) + float64(s3)
	}
	for i, v := range a {
		total += float64(v) * float64(b[i])
	}
	return float32(total)
}
