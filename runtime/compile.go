// Package runtime is dshrink's inference executor for deployable models in
// eval mode.
//
// Compile turns a graph.Graph into a Program: BatchNorm is folded into the
// preceding convolution (the graph is not modified), each convolution is fused
// with its bias, border bias map, residual add and activation into one step,
// Dropout and identities disappear, Pad nodes fold into the convolutions that
// read them, and every activation tensor gets a place in one float32 arena
// planned by liveness. Tensors are kept in the blocked NCHWc layout of the
// kernel layer, nchwc.Block (16) channels per block ([N][C/Block][H+2P]
// [W+2P][Block], with a zero halo of P pixels so that padded convolutions
// need no bounds checks); dense and depthwise convolutions of any kernel size
// and stride run on the register-blocked micro-kernels of kernels/nchwc
// (AVX-512 or AVX2+FMA as kernels/isa selects, portable Go elsewhere), and
// dense 3x3 stride-1 convolutions run as Winograd F(2x2, 3x3) where that is
// faster (Options.Winograd, winograd.go).
//
// The ops of imported compact CNNs run as steps of their own (ops.go): max
// and average pooling on the same vector kernels (nchwc.Max; the depthwise
// kernel with weights 1/divisor), with windows clipped to the input so that
// ceil mode, padding that never wins a max and both PyTorch divisors need
// no special halo; Mul by a squeeze-and-excitation gate as a 1x1 depthwise
// convolution whose weights are the gate (a GlobalAvgPool feeding a gate
// stays a spatial 1x1 value, computed image by image with its 1x1 convs);
// Concat, Slice and ChannelShuffle as one channel gather (whole-block
// copies, or lane permutations on the vector kernels: nchwc.Perm), chains
// of them composed at compile time (a ShuffleNetV2 unit copies once, not
// three times); Softmax on the flat output; sigmoid, SiLU, hardsigmoid and
// hardswish by the vector activation kernels (nchwc.Act: exp by a
// polynomial) on each row the conv kernel has just written. A grouped
// convolution (RegNet) runs on the dense kernel with, for each block of
// output channels, only the input blocks its groups read (zeros within
// them), and as Winograd on the dense expansion where those blocks are
// most of the input (BenchmarkGroupedConv).
// This package holds no assembly. Program.Run allocates nothing.
package runtime

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/dshrink/dshrink/graph"
)

// Options configures Compile.
type Options struct {
	// Batch is the largest batch size Run accepts (default 1).
	Batch int
	// Threads is the number of threads Run uses (default 1).
	Threads int
	// Winograd selects when dense 3x3 stride-1 convolutions run with the
	// Winograd F(2x2, 3x3) algorithm (default WinogradAuto).
	Winograd WinogradMode
}

// value is one tensor of the program.
type value struct {
	name       string
	n, c, h, w int  // logical shape [N, C, H, W] (H = W = 1 for [N, F])
	flat       bool // stored as one 1 x N image: [C/16][1][N][16]
	pad        int  // zero halo in pixels (spatial values only)
	cbs        int  // channel block size: 16, or 4 for a small graph input
	slots      int  // stored images (spatial values run image by image)
	imgStride  int  // floats between the slots of a spatial value (the slot plan size)
	def, last  int  // first and last step index using it
	off, size  int  // arena offset and size in floats
	isInput    bool
	isOutput   bool
}

// cb returns the number of channel blocks.
func (v *value) cb() int { return (v.c + v.cbs - 1) / v.cbs }

// geometry returns the stored image count, padded height and width, for the
// compiled batch.
func (v *value) geometry() (imgs, hp, wp int) {
	if v.flat {
		return 1, 1, v.n
	}
	return v.slots, v.h + 2*v.pad, v.w + 2*v.pad
}

// floats returns the storage size of v.
func (v *value) floats() int {
	imgs, hp, wp := v.geometry()
	return imgs * v.cb() * hp * wp * v.cbs
}

// Program is a compiled model ready to run. A Program is not safe for
// concurrent use: Run uses one arena.
type Program struct {
	name     string
	batch    int
	threads  int
	inShape  [3]int // C, H, W
	outShape []int  // per-sample output shape
	outPer   int
	values   []*value
	in, out  *value
	steps    []step
	arena    []float32
	infos    []StepInfo
	nSpatial int           // steps[:nSpatial] run image by image
	slotBusy []atomic.Bool // per-slot claim flags for image-parallel runs
	imgTask  imgTask
	curX     []float32 // input and output of the Run in progress
	curOut   []float32
	// per-thread scratch of the Winograd steps: Threads() buffers of
	// scratchPer floats, claimed with scratchBusy
	scratch     []float32
	scratchPer  int
	scratchBusy []atomic.Bool
}

// claimScratch claims a free scratch buffer and returns its index. At most
// Threads() goroutines run steps at a time, so one is always free soon.
func (p *Program) claimScratch() int {
	for {
		for i := range p.scratchBusy {
			if p.scratchBusy[i].CompareAndSwap(false, true) {
				return i
			}
		}
	}
}

func (p *Program) releaseScratch(i int) { p.scratchBusy[i].Store(false) }

// StepInfo describes one step of a compiled program.
type StepInfo struct {
	Kind   string // "conv", "dwconv", "linear", "gap", "add", "act", "bn", "pad", "flatten", "maxpool", "avgpool", "mul", "gather", "softmax"
	Name   string // the graph node (the first of a fused chain)
	Fused  string // what was fused into it, e.g. "bn+add+relu6"
	Output string // the value it writes
	Kernel string // for convolutions: "direct", "winograd" (F(2x2, 3x3)) or "depthwise"
	MACs   int64  // multiply-accumulates at the compiled batch (0 for element-wise steps)
}

// Batch returns the largest batch size Run accepts.
func (p *Program) Batch() int { return p.batch }

// Threads returns the number of threads Run uses.
func (p *Program) Threads() int { return p.threads }

// InputShape returns the per-sample input shape [C, H, W].
func (p *Program) InputShape() []int { return p.inShape[:] }

// OutputShape returns the per-sample output shape ([F] or [C, H, W]).
func (p *Program) OutputShape() []int { return append([]int(nil), p.outShape...) }

// InputLen returns the number of floats of one input sample.
func (p *Program) InputLen() int { return p.inShape[0] * p.inShape[1] * p.inShape[2] }

// OutputLen returns the number of floats of one output sample.
func (p *Program) OutputLen() int { return p.outPer }

// ArenaBytes returns the size of the activation arena in bytes, the
// Winograd steps' per-thread scratch included.
func (p *Program) ArenaBytes() int { return 4 * (len(p.arena) + len(p.scratch)) }

// Steps describes the compiled steps in execution order.
func (p *Program) Steps() []StepInfo { return append([]StepInfo(nil), p.infos...) }

// MACs returns the multiply-accumulates of one Run at the compiled batch.
func (p *Program) MACs() int64 {
	var s int64
	for _, i := range p.infos {
		s += i.MACs
	}
	return s
}

// errUnsupported marks graphs the runtime cannot execute.
var errUnsupported = errors.New("runtime: unsupported")

// actRange returns the clamp bounds implementing k in the kernel epilogue,
// and whether k needs an extra element-wise pass after the kernel
// (hardswish, hardsigmoid, sigmoid, silu: applyAct).
func actRange(k graph.ActKind) (lo, hi float32, post bool, err error) {
	inf := float32(math.Inf(1))
	switch k {
	case graph.ActIdentity, "":
		return -inf, inf, false, nil
	case graph.ActReLU:
		return 0, inf, false, nil
	case graph.ActReLU6:
		return 0, 6, false, nil
	case graph.ActHardSwish, graph.ActHardSigmoid, graph.ActSigmoid, graph.ActSiLU:
		return -inf, inf, true, nil
	}
	return 0, 0, false, fmt.Errorf("%w: activation %q", errUnsupported, k)
}

// Compile builds a Program for g in eval mode. g is only read.
func Compile(g *graph.Graph, opts Options) (*Program, error) {
	if g == nil {
		return nil, errors.New("runtime: nil graph")
	}
	if opts.Batch == 0 {
		opts.Batch = 1
	}
	if opts.Threads == 0 {
		opts.Threads = 1
	}
	if opts.Batch < 1 || opts.Threads < 1 {
		return nil, fmt.Errorf("runtime: batch %d and threads %d must be positive", opts.Batch, opts.Threads)
	}
	if opts.Winograd < WinogradAuto || opts.Winograd > WinogradOff {
		return nil, fmt.Errorf("runtime: unknown Winograd mode %d", opts.Winograd)
	}
	c := &compiler{g: g, batch: opts.Batch, threads: opts.Threads, wino: opts.Winograd, vals: map[string]*value{}, alias: map[string]string{}}
	p, err := c.compile()
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", g.Name, err)
	}
	p.threads = opts.Threads
	return p, nil
}
