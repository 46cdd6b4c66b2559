// Package conv implements 2-D convolution (float32, NCHW, dilation 1) forward
// and backward for dense, grouped and depthwise convolutions.
//
// Every entry point takes a caller-provided workspace of WorkspaceSize(p)
// floats, so that the steady state allocates nothing. The algorithm is chosen
// per shape:
//
//   - 1x1, stride 1, unpadded: one GEMM per image and group, no im2col; the
//     backward passes gather small planes of several images side by side so
//     that one GEMM covers them;
//   - depthwise (Groups == C == K): direct kernels. Forward has assembly
//     kernels for 3x3 (stride 1 and 2), 5x5 and any KxK at stride 1; other
//     strided shapes (5x5, 7x7 at stride 2) and both backward passes use the
//     "flat phase" formulation (see dwflat.go): the padded input is split
//     into stride phases and the planes of a channel are concatenated over
//     the batch, so that every tap is one long vector dot product or axpy.
//     Stride-1 backward data on larger planes runs the forward kernel on the
//     rotated weights;
//   - everything else (dense or grouped): im2col per image and group + GEMM.
//
// The depthwise assembly kernels (AVX-512 and AVX2 on amd64, NEON on arm64)
// are chosen through kernels/isa at run time, each beside its Go reference.
// Their argument blocks and the Go that fills them are shared by both
// architectures (dw_asm.go, dwtiny_asm.go); dw_<arch>.go and
// dwtiny_<arch>.go declare the kernels and say which one each level calls;
// dw_other.go is the build without them (other architectures, -tags purego).
//
// Inference code can pack the weights once with PackWeights and call
// ForwardPacked. Weights are laid out [K, C/Groups, KH, KW] as in PyTorch.
package conv

import (
	"errors"
	"fmt"
	"math"
)

// Params describes a 2-D convolution of an N x C x H x W input with K output
// channels, a KH x KW kernel, strides, asymmetric zero padding (top, left,
// bottom, right) and Groups groups.
type Params struct {
	N, C, H, W             int // input batch, channels, height, width
	K                      int // output channels
	KH, KW                 int // kernel height and width
	StrideH, StrideW       int // strides (>= 1)
	PadT, PadL, PadB, PadR int // zero padding on each side (>= 0)
	Groups                 int // number of groups (C and K divisible by it)
}

// OutH returns the output height.
func (p Params) OutH() int { return (p.H+p.PadT+p.PadB-p.KH)/p.StrideH + 1 }

// OutW returns the output width.
func (p Params) OutW() int { return (p.W+p.PadL+p.PadR-p.KW)/p.StrideW + 1 }

// MACs returns the number of multiply-accumulates of one forward pass
// (N * K * OutH * OutW * C/Groups * KH * KW).
func (p Params) MACs() int64 {
	return int64(p.N) * int64(p.K) * int64(p.OutH()) * int64(p.OutW()) *
		int64(p.C/p.Groups) * int64(p.KH) * int64(p.KW)
}

// IsDepthwise reports whether p is a depthwise convolution (Groups == C == K).
func (p Params) IsDepthwise() bool { return p.Groups == p.C && p.C == p.K }

// InputLen returns the number of elements of the input tensor.
func (p Params) InputLen() int { return p.N * p.C * p.H * p.W }

// OutputLen returns the number of elements of the output tensor.
func (p Params) OutputLen() int { return p.N * p.K * p.OutH() * p.OutW() }

// WeightLen returns the number of elements of the weight tensor.
func (p Params) WeightLen() int { return p.K * (p.C / p.Groups) * p.KH * p.KW }

// Validate reports whether p describes a valid convolution.
func (p Params) Validate() error {
	switch {
	case p.N < 1 || p.C < 1 || p.H < 1 || p.W < 1 || p.K < 1:
		return fmt.Errorf("conv: sizes must be positive: N=%d C=%d H=%d W=%d K=%d", p.N, p.C, p.H, p.W, p.K)
	case p.KH < 1 || p.KW < 1:
		return fmt.Errorf("conv: kernel must be positive: %dx%d", p.KH, p.KW)
	case p.StrideH < 1 || p.StrideW < 1:
		return fmt.Errorf("conv: strides must be positive: %dx%d", p.StrideH, p.StrideW)
	case p.PadT < 0 || p.PadL < 0 || p.PadB < 0 || p.PadR < 0:
		return fmt.Errorf("conv: negative padding %d,%d,%d,%d", p.PadT, p.PadL, p.PadB, p.PadR)
	case p.Groups < 1 || p.C%p.Groups != 0 || p.K%p.Groups != 0:
		return fmt.Errorf("conv: groups %d must divide C=%d and K=%d", p.Groups, p.C, p.K)
	case p.H+p.PadT+p.PadB < p.KH || p.W+p.PadL+p.PadR < p.KW:
		return fmt.Errorf("conv: kernel %dx%d larger than padded input %dx%d",
			p.KH, p.KW, p.H+p.PadT+p.PadB, p.W+p.PadL+p.PadR)
	}
	return nil
}

// Activation selects the activation applied by an Epilogue.
type Activation uint8

const (
	// ActNone applies no activation.
	ActNone Activation = iota
	// ActReLU applies max(v, 0).
	ActReLU
	// ActReLU6 applies min(max(v, 0), 6).
	ActReLU6
)

// Epilogue describes what Forward applies to each output value after the
// convolution and bias: first Residual (a tensor of the output's shape, or
// nil) is added, then Act.
type Epilogue struct {
	Residual []float32
	Act      Activation
}

var errShort = errors.New("conv: slice too short for the given Params")

// algo is an implementation strategy.
type algo uint8

const (
	algoAuto      algo = iota
	algoGEMM1x1        // 1x1 stride 1 unpadded: GEMM per image and group
	algoIm2col         // im2col + GEMM per image and group
	algoDepthwise      // direct depthwise, specialised kernels where available
	algoDWGeneric      // direct depthwise, generic kernel only
)

// choose returns the algorithm used for p.
func choose(p Params) algo {
	switch {
	case p.IsDepthwise():
		return algoDepthwise
	case p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadT == 0 && p.PadL == 0 && p.PadB == 0 && p.PadR == 0:
		return algoGEMM1x1
	default:
		return algoIm2col
	}
}

// colTarget is the preferred size in floats of the im2col buffer: the
// output rows are processed in chunks whose columns fit it, so that the
// buffer stays in the L2 cache between im2col and the GEMM.
var colTarget = 128 << 10

// chunkRows returns how many output rows one im2col chunk covers.
func chunkRows(p Params, a algo) int {
	if a != algoIm2col {
		return p.OutH()
	}
	kk := p.C / p.Groups * p.KH * p.KW
	return max(1, min(p.OutH(), colTarget/(kk*p.OutW())))
}

func workspaceFor(p Params, a algo) int {
	if a == algoIm2col {
		return p.C / p.Groups * p.KH * p.KW * chunkRows(p, a) * p.OutW()
	}
	return 0
}

// WorkspaceSize returns the number of float32 elements of workspace that
// Forward, BackwardData and BackwardWeight need for p (possibly 0).
func WorkspaceSize(p Params) int { return workspaceFor(p, choose(p)) }

// actBounds returns the clamp interval of an activation.
func actBounds(act Activation) (lo, hi float32) {
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	switch act {
	case ActReLU:
		lo = 0
	case ActReLU6:
		lo, hi = 0, 6
	}
	return lo, hi
}
