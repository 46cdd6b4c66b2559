// Package nchwc holds the inference kernels of the runtime: direct dense and
// depthwise convolutions with a fused epilogue (bias, residual, border bias
// map, clamp), max pooling (Max, the depthwise kernel's skeleton with a max
// for the multiply-add), element-wise sigmoid, SiLU, hardsigmoid and
// hardswish (Act), lane permutations of blocks (Perm: channel gathers) and
// the Winograd F(2x2, 3x3) transforms and products, on
// tensors in the blocked NCHWc layout with Block channels per block.
//
// Each kernel has a portable Go reference (ref.go) and one family per
// instruction-set level (AVX-512, AVX2+FMA, arm64 NEON), all written by one
// generator (gen_kernels.go, on kernels/internal/asmgen) from one skeleton
// per kernel parameterised by the ISA. The family is chosen at every call
// from isa.Active, the one selection point of dshrink; callers never see
// the choice.
//
// The block width is 16 channels for every family: AVX-512 holds a block in
// one zmm register, AVX2 in two ymm registers, NEON in four (the register
// tile of the AVX2 dense kernel, 2 x 8 output channels by 6 pixels, is the
// tile MLAS's FMA3 convolution kernel uses with its 8-channel blocks and two
// filter sets). One width keeps one tensor layout, one weight packing and
// one set of runtime plans for every CPU; its cost is padding channel
// counts to a multiple of 16 (24 -> 32 in MobileNetV2-1.0) where an
// 8-channel block would not.
package nchwc

import (
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
)

// Block is the number of channels of one NCHWc block; BlockBytes its size.
const (
	Block      = 16
	BlockBytes = 4 * Block
)

// MaxR is the largest number of output pixels the Go reference computes in
// one call; assembly families may compute fewer (Conv and DW split longer
// runs). WinoMaxR is the same for the Winograd product.
const (
	MaxR     = 14
	WinoMaxR = 16
)

// Args is the argument block of the direct-convolution kernels. Field
// offsets are fixed (the generators' A_* constants; TestArgsLayout).
//
// Dense kernel: for r in [0, R): Out[r*BlockBytes : +Block floats] =
// clamp(Bias + sum over cb < CB, kh < KH, kw < KW, c < Cnt (CntLast in the
// last block) of w[...] * In[r*pix + cb*CBStride + kh*RowStride + kw*KWStep +
// 4c] (+ Res[r]) (+ Bmap[r]), Lo, Hi), where w advances Block floats per
// (cb, kh, kw, c) step.
//
// Depthwise kernel: Out[r] = clamp(Bias + sum over kh, kw of w[kh,kw] (*)
// In[r*pix + kh*RowStride + kw*KWStep] ...), element-wise over Block lanes.
type Args struct {
	In, W, Out, Bias, Res, Bmap unsafe.Pointer
	CB, CBStride                int
	KH, RowStride               int
	KW, KWStep                  int
	Cnt                         int
	Lo, Hi                      float32
	CntLast                     int // channels of the last block
}

// WinoArgs is the argument block of the Winograd transforms. Field offsets
// are fixed (the generators' W_* constants; TestWinoArgsLayout).
type WinoArgs struct {
	Src, Dst        unsafe.Pointer
	SrcRow          int // input transform: bytes between input rows
	Pos             int // bytes between the 16 planes of V (input) or M (output)
	N               int // tiles (of one tile row)
	DstRow          int // output transform: bytes between output rows
	Bias, Res, Bmap unsafe.Pointer
	ResRow, BmapRow int
	Lo, Hi          float32
}

// family describes one instruction-set level's kernels: the tile sizes and
// which kernels exist. The calls go through the switches of family_*.go
// (direct calls, so that the argument blocks do not escape to the heap).
type family struct {
	level isa.Level
	name  string
	// pix lists the pixel strides (bytes) of the multi-pixel dense kernels,
	// dwPix those of the depthwise kernels; any other stride runs one pixel
	// per call through index 0.
	pix, dwPix []int
	// convMaxR, dwMaxR, winoMaxR: pixels (tiles) per call.
	convMaxR, dwMaxR, winoMaxR int
	// reuseMaxR is the pixel count of the k x k (3 or 5) row-reuse
	// depthwise kernel, which loads each input vector once per kernel row.
	reuseMaxR func(k int) int
	// hasPoolAct: the family has the max-pooling kernels (callMax, with the
	// depthwise kernels' pixel strides and tile) and the activation
	// kernels (callAct).
	hasPoolAct bool
	// lanes is the vector width in floats (the permute kernel's tables
	// depend on it).
	lanes int
}

var generic = &family{level: isa.Generic, name: "go"}

// families lists this build's assembly families, best first (family_*.go).
var families []*family

// active returns the best family at or below isa.Active (generic if none).
func active() *family {
	l := isa.Active()
	for _, f := range families {
		if f.level <= l {
			return f
		}
	}
	return generic
}

// ISA names the kernel family in use: "avx512", "avx2", "neon" or "go".
func ISA() string { return active().name }

func pixIndex(tab []int, pix int) int {
	for i, p := range tab {
		if p == pix {
			return i
		}
	}
	return -1
}

// Conv computes n output pixels of the dense kernel starting at a (whose In,
// Out, Res and Bmap point at the first pixel), pix bytes apart in the input
// and BlockBytes apart in the outputs. a's pointers are advanced as it goes.
func Conv(a *Args, pix, n int) {
	f := active()
	if f == generic {
		runs(a, f, kindConv, 0, pix, n, MaxR)
		return
	}
	pi, maxR := pixIndex(f.pix, pix), f.convMaxR
	if pi < 0 {
		pi, maxR = 0, 1 // index 0 with one pixel ignores the stride
	}
	runs(a, f, kindConv, pi, pix, n, maxR)
}

// DW is Conv for the depthwise kernel.
func DW(a *Args, pix, n int) {
	f := active()
	if f == generic {
		runs(a, f, kindDW, 0, pix, n, MaxR)
		return
	}
	pi := pixIndex(f.dwPix, pix)
	if k := a.KW; pi >= 0 && a.KW == a.KH && (k == 3 || k == 5) && a.KWStep == BlockBytes {
		runs(a, f, kindDWReuse, k, pix, n, f.reuseMaxR(k))
		return
	}
	maxR := f.dwMaxR
	if pi < 0 {
		pi, maxR = 0, 1
	}
	runs(a, f, kindDW, pi, pix, n, maxR)
}

// Kernel kinds of runs.
const (
	kindConv    = iota // dense; sel is the pixel-stride index
	kindDW             // depthwise; sel is the pixel-stride index
	kindDWReuse        // row-reuse depthwise; sel is the kernel size
	kindMax            // max pooling; sel is the pixel-stride index
)

// runs computes n output pixels with kernel kind of family f in balanced
// calls of at most maxR pixels, advancing a's pointers between calls (never
// past the tensor's end). The calls are direct, so a does not escape.
func runs(a *Args, f *family, kind, sel, pix, n, maxR int) {
	for n > 0 {
		r := part(n, maxR)
		switch {
		case f == generic && kind == kindConv:
			convGo(a, pix, r)
		case f == generic && kind == kindMax:
			maxGo(a, pix, r)
		case f == generic:
			dwGo(a, pix, r)
		case kind == kindMax:
			callMax(f, sel, r, a)
		case kind == kindConv:
			callConv(f, sel, r, a)
		case kind == kindDW:
			callDW(f, sel, r, a)
		default:
			callDWReuse(f, sel, pix/BlockBytes, r, a)
		}
		if n -= r; n > 0 {
			advance(a, pix, r)
		}
	}
}

// part returns the size of the next call when n pixels remain and a call
// takes at most maxR: the calls are balanced (7 pixels with maxR 6 run as
// 4 + 3, not 6 + 1), since a call of few pixels has too few independent
// accumulator chains to hide the FMA latency.
func part(n, maxR int) int {
	calls := (n + maxR - 1) / maxR
	return (n + calls - 1) / calls
}

func advance(a *Args, pix, r int) {
	a.In = unsafe.Add(a.In, pix*r)
	a.Out = unsafe.Add(a.Out, BlockBytes*r)
	if a.Res != nil {
		a.Res = unsafe.Add(a.Res, BlockBytes*r)
	}
	if a.Bmap != nil {
		a.Bmap = unsafe.Add(a.Bmap, BlockBytes*r)
	}
}

// WinoIn is the Winograd input transform: for N tiles of one tile row,
// V[pos][t] = (B^T d_t B)[pos] where d_t is the 4x4 patch at Src + t*2*BlockBytes,
// rows SrcRow bytes apart, and V[pos][t] is at Dst + pos*Pos + t*BlockBytes.
func WinoIn(a *WinoArgs) {
	if f := active(); f != generic {
		callWinoIn(f, a)
		return
	}
	winoInGo(a)
}

// WinoOut is the Winograd output transform: for N tiles of one tile row,
// out = clamp(A^T m_t A + Bias (+ Res) (+ Bmap), Lo, Hi), m_t[pos] at Src +
// pos*Pos + t*BlockBytes, output pixel (y, x) of tile t at Dst +
// t*2*BlockBytes + y*DstRow + x*BlockBytes (Res and Bmap likewise with their
// row strides).
func WinoOut(a *WinoArgs) {
	if f := active(); f != generic {
		callWinoOut(f, a)
		return
	}
	winoOutGo(a)
}

// WinoGemm is the Winograd product: for r tiles (r <= WinoMaxR), Out[t] =
// sum over cb < CB, c < Cnt (CntLast in the last block) of w[(cb, c)] *
// In[t*BlockBytes + cb*CBStride + 4c], Out BlockBytes per tile. a is not
// modified.
func WinoGemm(a *Args, r int) {
	f := active()
	if f == generic {
		winoGemmGo(a, r)
		return
	}
	if r <= f.winoMaxR {
		callWinoGemm(f, r, a)
		return
	}
	b := *a
	for r > 0 {
		n := part(r, f.winoMaxR)
		callWinoGemm(f, n, &b)
		if r -= n; r > 0 {
			b.In = unsafe.Add(b.In, BlockBytes*n)
			b.Out = unsafe.Add(b.Out, BlockBytes*n)
		}
	}
}
