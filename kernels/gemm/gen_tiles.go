//go:build ignore

// gen_tiles writes the amd64 micro-kernels (tiles_amd64.s) and the arm64
// NEON ones (tiles_arm64.s) and their Go declarations (tiles_amd64.go,
// tiles_arm64.go) with the kernels/internal/asmgen toolkit.
// Run it with `go generate` in this directory (-dir writes elsewhere; the
// tests use it to check that the committed files are up to date); the
// output is committed, so building needs nothing extra.
//
// Every generated kernel has the signature func(p *tileArgs) and computes a
// tile of C from a packed A micro-panel (MR floats per k step) and a B panel
// (W floats per k step, bstride bytes apart), then applies the epilogue the
// flags in p ask for. One kernel is emitted per (row count, panel width), so
// a partial tile in the M direction does no wasted arithmetic, and the panel
// width is always chosen so that no vector of the tile is entirely masked.
package main

import (
	"flag"
	"fmt"
	"log"
	"path/filepath"

	"github.com/dshrink/dshrink/kernels/internal/asmgen"
)

// Offsets of tileArgs fields; TestTileArgsLayout checks them against the Go
// struct.
const (
	offA       = 0
	offB       = 8
	offC       = 16
	offK       = 24
	offBStride = 32
	offLdc     = 40
	offFlags   = 48
	offMask    = 56
	offMaskP   = 64
	offBias    = 72
	offRes     = 80
	offLdr     = 88
	offBeta    = 96
	offMin     = 100
	offMax     = 104
	offLda     = 112
)

// Flag bits; they mirror the flag constants in kernel.go.
const (
	flagLoadC   = 1
	flagBias    = 2
	flagRes     = 4
	flagClamp   = 8
	flagPartial = 16
)

// family is one kernel family: an ISA and its register allocation.
type family struct {
	*asmgen.ISA
	mr   int    // rows of the packed A panel
	maxH int    // vectors per row in the wide kernel
	bReg int    // first register holding B
	tmp  [2]int // scratch registers for the broadcasts and the epilogue
	// prefetchC makes the kernels prefetch their tile of C before the k
	// loop (AVX2 on Zen 4: 256x1152x1024 0.94x -> 1.00x OpenBLAS,
	// 96x16x12544 1.01x -> 1.13x at one thread; the AVX-512 kernels lose
	// 1-2% with it, so they do without).
	prefetchC bool
}

var (
	avx512 = family{ISA: asmgen.AVX512, mr: 12, maxH: 2, bReg: 28, tmp: [2]int{30, 31}}
	avx2   = family{ISA: asmgen.AVX2, mr: 6, maxH: 2, bReg: 12, tmp: [2]int{14, 15}, prefetchC: true}
)

// tile returns the accumulators of an mr x h kernel: row r, vector v in
// register r*maxH + v.
func (x family) tile(mr, h int) asmgen.Tile {
	return asmgen.Tile{ISA: x.ISA, Rows: mr, Vecs: h, Acc: func(r, v int) asmgen.VReg { return asmgen.VReg(r*x.maxH + v) }}
}

func (x family) b(v int) asmgen.VReg { return asmgen.VReg(x.bReg + v) }

func kname(x family, mr, h int, direct bool) string {
	d := ""
	if direct {
		d = "D"
	}
	return fmt.Sprintf("tile%s%sM%dN%d", x.Name, d, mr, h*x.Lanes())
}

// aAddr returns the address of A's element in row r at the current k step.
// Packed A keeps the mr rows of a step together; direct A (read in place)
// addresses rows 0-5 from SI and rows 6-11 from R13 = SI + 6*lda, with
// R10 = lda, R11 = 3*lda and R12 = 5*lda in bytes.
func aAddr(r int, direct bool) string {
	if !direct {
		return fmt.Sprintf("%d(SI)", 4*r)
	}
	base := "SI"
	if r >= 6 {
		base, r = "R13", r-6
	}
	return fmt.Sprintf([6]string{"(%s)", "(%s)(R10*1)", "(%s)(R10*2)", "(%s)(R11*1)", "(%s)(R10*4)", "(%s)(R12*1)"}[r], base)
}

// kernel emits one micro-kernel with mr rows and h vectors per row, reading
// A packed or (direct) in place.
func kernel(f *asmgen.File, x family, mr, h int, direct bool) string {
	name := kname(x, mr, h, direct)
	a := f.Func(name, "p *tileArgs", 8)
	a.I("MOVQ p+0(FP), DI")
	a.I("MOVQ %d(DI), SI", offA)
	a.I("MOVQ %d(DI), DX", offB)
	a.I("MOVQ %d(DI), CX", offK)
	a.I("MOVQ %d(DI), R8", offBStride)
	if direct {
		a.I("MOVQ %d(DI), R10", offLda)
		a.I("LEAQ (R10)(R10*2), R11")
		a.I("LEAQ (R10)(R10*4), R12")
		a.I("LEAQ (SI)(R11*2), R13")
	}
	// The accumulators start at the bias when there is one, else at zero.
	t := x.tile(mr, h)
	a.I("MOVQ %d(DI), BX", offFlags)
	a.Ins(x.SkipUnless("BX", flagBias, name+"_zero")...)
	a.I("MOVQ %d(DI), AX", offBias)
	t.BroadcastRows(a, "AX")
	a.I("JMP %s_init", name)
	a.Label(name + "_zero")
	t.Zero(a)
	a.Label(name + "_init")
	if x.prefetchC {
		// Prefetch the tile of C (every line it spans), written or read
		// and written in the epilogue, so that its misses overlap the k
		// loop.
		a.I("MOVQ %d(DI), AX", offC)
		a.I("MOVQ %d(DI), R9", offLdc)
		w := h * x.VecBytes
		for r := 0; r < mr; r++ {
			for off := 0; off < w; off += 64 {
				a.I("PREFETCHT0 %d(AX)", off)
			}
			a.I("PREFETCHT0 %d(AX)", w-4)
			if r < mr-1 {
				a.I("ADDQ R9, AX")
			}
		}
	}
	loop, epi := name+"_loop", name+"_epi"
	a.I("TESTQ CX, CX")
	a.I("JEQ %s", epi)
	a.Label(loop)
	bs := make([]asmgen.VReg, h)
	for v := range bs {
		bs[v] = x.b(v)
		a.Ins(x.Load(fmt.Sprintf("%d(DX)", v*x.VecBytes), bs[v]))
	}
	accs := make([]asmgen.VReg, h)
	for r := 0; r < mr; r++ {
		for v := range accs {
			accs[v] = t.Acc(r, v)
		}
		x.RowFMA(a, aAddr(r, direct), bs, accs, asmgen.VReg(x.tmp[r%2]))
	}
	if direct {
		a.I("ADDQ $4, SI")
		if mr > 6 {
			a.I("ADDQ $4, R13")
		}
	} else {
		a.I("ADDQ $%d, SI", 4*x.mr)
	}
	a.I("ADDQ R8, DX")
	a.I("DECQ CX")
	a.I("JNZ %s", loop)
	a.Label(epi)
	a.I("MOVQ %d(DI), AX", offC)
	a.I("MOVQ %d(DI), R9", offLdc)
	part := name + "_part"
	a.I("TESTQ $%d, BX", flagPartial)
	a.I("JNE %s", part)
	epilogue(a, x, t, name+"_full", false)
	a.Label(part)
	if x.Tail == asmgen.TailKMask {
		a.I("MOVQ %d(DI), R10", offMask)
		a.I("KMOVW R10, K1")
		a.I("SHRQ $16, R10")
		a.I("KMOVW R10, K2")
	}
	epilogue(a, x, t, name+"_part", true)
	f.EndFunc()
	return name
}

// epilogue emits C = acc (+ beta*C) (+ residual), clamped, for a full tile
// or one whose last vector per row is partial.
func epilogue(a *asmgen.Asm, x family, t asmgen.Tile, pre string, partial bool) {
	e := asmgen.Epilogue{Tile: t, Partial: partial, Flags: "BX",
		Tmp: [2]asmgen.VReg{asmgen.VReg(x.tmp[0]), asmgen.VReg(x.tmp[1])}}
	if partial {
		switch x.Tail {
		case asmgen.TailKMask:
			e.Mask = x.KMask(t.Vecs) // K1 masks vector 0, K2 vector 1
		case asmgen.TailMaskVector:
			// The AVX2 mask of the last vector comes from a table (maskp
			// points at the lanes of the first vector); it lives in a B
			// register now.
			m := x.b(t.Vecs - 1)
			a.I("MOVQ %d(DI), R10", offMaskP)
			a.Ins(x.Load(fmt.Sprintf("%d(R10)", x.VecBytes*(t.Vecs-1)), m))
			e.Mask = x.R(m)
		}
	}
	c := asmgen.Mem{Ptr: "AX", Stride: "R9"}
	e.ScaleAdd(a, flagLoadC, pre+"_nobeta", fmt.Sprintf("%d(DI)", offBeta),
		asmgen.Mem{Setup: []string{"MOVQ AX, R11"}, Ptr: "R11", Stride: "R9"})
	e.Add(a, flagRes, pre+"_nores", asmgen.Mem{
		Setup: []string{fmt.Sprintf("MOVQ %d(DI), R11", offRes), fmt.Sprintf("MOVQ %d(DI), R12", offLdr)},
		Ptr:   "R11", Stride: "R12"})
	e.Clamp(a, flagClamp, pre+"_noclamp", fmt.Sprintf("%d(DI)", offMin), fmt.Sprintf("%d(DI)", offMax))
	e.Store(a, c)
	a.Ins(x.Return()...)
}

// colKernel emits the one-column kernel of a family: out[0:lanes] =
// sum over k of the packed A step (mr floats, read as a whole vector whose
// lanes past mr belong to the next step and are ignored) times B[k] (one
// float, bstride bytes apart). p.c points at the lanes-float output; the
// caller applies the epilogue. Four k steps per iteration go to four
// accumulators, so the FMA latency does not bound it.
func colKernel(f *asmgen.File, x family) string {
	name := "col" + x.Name
	a := f.Func(name, "p *tileArgs", 8)
	a.I("MOVQ p+0(FP), DI")
	a.I("MOVQ %d(DI), SI", offA)
	a.I("MOVQ %d(DI), DX", offB)
	a.I("MOVQ %d(DI), CX", offK)
	a.I("MOVQ %d(DI), R8", offBStride)
	a.I("MOVQ %d(DI), AX", offC)
	a.I("LEAQ (R8)(R8*2), R11")
	for u := 0; u < 4; u++ {
		a.Ins(x.Zero(asmgen.VReg(u)))
	}
	a.I("MOVQ CX, BX")
	a.I("SHRQ $2, CX")
	a.I("JEQ %s_rem", name)
	a.Label(name + "_loop")
	for u, b := range []string{"(DX)", "(DX)(R8*1)", "(DX)(R8*2)", "(DX)(R11*1)"} {
		a.Ins(x.Broadcast(b, asmgen.VReg(4+u)))
	}
	for u := 0; u < 4; u++ {
		a.Ins(x.FMA(fmt.Sprintf("%d(SI)", 4*x.mr*u), asmgen.VReg(4+u), asmgen.VReg(u)))
	}
	a.I("ADDQ $%d, SI", 16*x.mr)
	a.I("LEAQ (DX)(R8*4), DX")
	a.I("DECQ CX")
	a.I("JNZ %s_loop", name)
	a.Label(name + "_rem")
	a.I("ANDQ $3, BX")
	a.I("JEQ %s_sum", name)
	a.Label(name + "_rloop")
	a.Ins(x.Broadcast("(DX)", 4), x.FMA("(SI)", 4, 0))
	a.I("ADDQ $%d, SI", 4*x.mr)
	a.I("ADDQ R8, DX")
	a.I("DECQ BX")
	a.I("JNZ %s_rloop", name)
	a.Label(name + "_sum")
	a.Ins(x.Add(x.R(1), 0, 0), x.Add(x.R(3), 2, 2), x.Add(x.R(2), 0, 0), x.Store(0, "(AX)"))
	a.Ins(x.Return()...)
	f.EndFunc()
	return name
}

// dotKernel emits the kernel computing one column for mr rows of A read in
// place: out[i] = sum over k of A[i*lda+k] * bt[k], with bt the column packed
// contiguously and zero-padded to a whole vector. A vector of k steps per
// row and iteration; the last partial vector of A is loaded under the tail
// mask (p.maskp on AVX2, p.mask on AVX-512), so A is never read past row i's
// k-th element.
func dotKernel(f *asmgen.File, x family, mr int) string {
	name := fmt.Sprintf("dot%sM%d", x.Name, mr)
	bv, mask, tmp := x.b(0), asmgen.VReg(x.bReg+1), asmgen.VReg(x.tmp[0])
	a := f.Func(name, "p *tileArgs", 8)
	a.I("MOVQ p+0(FP), DI")
	a.I("MOVQ %d(DI), SI", offA)
	a.I("MOVQ %d(DI), DX", offB)
	a.I("MOVQ %d(DI), CX", offK)
	a.I("MOVQ %d(DI), AX", offC)
	a.I("MOVQ %d(DI), R10", offLda)
	a.I("LEAQ (R10)(R10*2), R11")
	a.I("LEAQ (R10)(R10*4), R12")
	a.I("LEAQ (SI)(R11*2), R13")
	t := asmgen.Tile{ISA: x.ISA, Rows: mr, Vecs: 1, Acc: func(r, v int) asmgen.VReg { return asmgen.VReg(r) }}
	t.Zero(a)
	shift := map[int]int{8: 3, 16: 4}[x.Lanes()]
	a.I("MOVQ CX, BX")
	a.I("SHRQ $%d, CX", shift)
	a.I("JEQ %s_tail", name)
	a.Label(name + "_loop")
	a.Ins(x.Load("(DX)", bv))
	for r := 0; r < mr; r++ {
		a.Ins(x.FMA(aAddr(r, true), bv, t.Acc(r, 0)))
	}
	a.I("ADDQ $%d, SI", x.VecBytes)
	if mr > 6 {
		a.I("ADDQ $%d, R13", x.VecBytes)
	}
	a.I("ADDQ $%d, DX", x.VecBytes)
	a.I("DECQ CX")
	a.I("JNZ %s_loop", name)
	a.Label(name + "_tail")
	a.I("ANDQ $%d, BX", x.Lanes()-1)
	a.I("JEQ %s_sum", name)
	m := x.R(mask)
	if x.Tail == asmgen.TailKMask {
		a.I("MOVQ %d(DI), R9", offMask)
		a.I("KMOVW R9, K1")
		m = x.KMask(1)
	} else {
		a.I("MOVQ %d(DI), R9", offMaskP)
		a.Ins(x.Load("(R9)", mask))
	}
	a.Ins(x.Load("(DX)", bv))
	for r := 0; r < mr; r++ {
		a.Ins(x.LoadMasked(aAddr(r, true), m, tmp), x.FMA(x.R(tmp), bv, t.Acc(r, 0)))
	}
	a.Label(name + "_sum")
	for r := 0; r < mr; r++ {
		x.ReduceAdd(a, t.Acc(r, 0), tmp)
		a.Ins(x.StoreLane0(t.Acc(r, 0), fmt.Sprintf("%d(AX)", 4*r)))
	}
	a.Ins(x.Return()...)
	f.EndFunc()
	return name
}

// packBKernel emits the B packer of a family, for B not transposed:
//
//	packB<Name>(dst, src *float32, ldb, kc, panels, pstride int)
//
// copies, for each of kc rows of B (ldb bytes apart from src), the first
// panels panel widths (maxH vectors each) of the row into row kk of each
// panel: panel p, row kk at dst + p*pstride + kk*width bytes. Rows are read
// in order, each once and sequentially, whatever their stride.
func packBKernel(f *asmgen.File, x family) string {
	name := "packB" + x.Name
	width := x.maxH * x.VecBytes
	a := f.Func(name, "dst, src *float32, ldb, kc, panels, pstride int", 48)
	a.I("MOVQ dst+0(FP), DI")
	a.I("MOVQ src+8(FP), SI")
	a.I("MOVQ ldb+16(FP), R8")
	a.I("MOVQ kc+24(FP), CX")
	a.I("MOVQ panels+32(FP), R9")
	a.I("MOVQ pstride+40(FP), R10")
	a.I("TESTQ CX, CX")
	a.I("JEQ %s_done", name)
	a.I("TESTQ R9, R9")
	a.I("JEQ %s_done", name)
	a.Label(name + "_row")
	a.I("MOVQ SI, AX")
	a.I("MOVQ DI, DX")
	a.I("MOVQ R9, BX")
	a.Label(name + "_panel")
	for v := 0; v < x.maxH; v++ {
		a.Ins(x.Load(fmt.Sprintf("%d(AX)", v*x.VecBytes), asmgen.VReg(v)))
	}
	for v := 0; v < x.maxH; v++ {
		a.Ins(x.Store(asmgen.VReg(v), fmt.Sprintf("%d(DX)", v*x.VecBytes)))
	}
	a.I("ADDQ $%d, AX", width)
	a.I("ADDQ R10, DX")
	a.I("DECQ BX")
	a.I("JNZ %s_panel", name)
	a.I("ADDQ R8, SI")
	a.I("ADDQ $%d, DI", width)
	a.I("DECQ CX")
	a.I("JNZ %s_row", name)
	a.Label(name + "_done")
	a.Ins(x.Return()...)
	f.EndFunc()
	return name
}

// NEON (arm64) register allocation of the 8 x 12 tile: accumulator row r,
// vector v in V(3r+v) (V0-V23; a row's vectors are consecutive, so one VST1
// stores it), two packed A steps (two vectors each) in V24-V27, the three B
// vectors of a step in V28-V30; V24-V31 are the epilogue's scratch.
const (
	neonMR   = 8
	neonMaxH = 3
	neonA    = 24
	neonB    = 28
)

func neonAcc(r, v int) asmgen.VReg { return asmgen.VReg(r*neonMaxH + v) }

// vlist spells the register list of n consecutive vectors from v.
func vlist(v asmgen.VReg, n int) string {
	s := "["
	for i := 0; i < n; i++ {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("V%d.S4", int(v)+i)
	}
	return s + "]"
}

// neonKernel emits the NEON micro-kernel for mr rows of packed A (8 floats
// per k step) and h vectors (4h columns) of B. Per two k steps it loads both
// A steps as four vectors (one VLD1) and per k step the B row as h vectors
// (one VLD1, post-incremented by bstride), then does mr*h by-element FMLAs:
// acc(r, v) += B[v] * A[r/4].s[r%4]. For the full 8 x 12 tile that is 48
// FMLAs, 3 loads (160 bytes) and 2 loop instructions per iteration.
//
// It handles full tiles only: the driver runs a tile with fewer valid
// columns than 4h on a scratch copy (edgeScratch), so the kernel never
// reads or writes C or the residual past the tile's columns.
func neonKernel(f *asmgen.File, mr, h int) string {
	x := asmgen.NEON
	name := fmt.Sprintf("tileNEONM%dN%d", mr, 4*h)
	a := f.Func(name, "p *tileArgs", 8)
	// R0 args, R1 A, R2 B, R3 k, R4 bstride, R5 flags, R6 bias, R7 C,
	// R8 ldc, R9 beta*C / residual pointer, R10 ldr.
	a.I("MOVD p+0(FP), R0")
	a.I("MOVD %d(R0), R1", offA)
	a.I("MOVD %d(R0), R2", offB)
	a.I("MOVD %d(R0), R3", offK)
	a.I("MOVD %d(R0), R4", offBStride)
	a.I("MOVD %d(R0), R5", offFlags)
	t := asmgen.Tile{ISA: x, Rows: mr, Vecs: h, Acc: neonAcc}
	// The accumulators start at the bias when there is one, else at zero.
	a.Ins(x.SkipUnless("R5", flagBias, name+"_zero")...)
	a.I("MOVD %d(R0), R6", offBias)
	for r := 0; r < mr; r++ {
		acc := neonAcc(r, 0)
		a.I("FMOVS %d(R6), F%d", 4*r, acc)
		a.I("VDUP V%d.S[0], %s", acc, x.R(acc))
		for v := 1; v < h; v++ {
			a.Ins(x.Mov(acc, neonAcc(r, v)))
		}
	}
	a.I("B %s_init", name)
	a.Label(name + "_zero")
	t.Zero(a)
	a.Label(name + "_init")
	// One k step: B row into V28-V30, then the FMLAs by the A step in
	// the two vectors from va.
	step := func(va int) {
		a.I("VLD1.P (R2)(R4), %s", vlist(neonB, h))
		for v := 0; v < h; v++ {
			for r := 0; r < mr; r++ {
				a.Ins(x.FMALane(asmgen.VReg(neonB+v), asmgen.VReg(va+r/4), r%4, neonAcc(r, v)))
			}
		}
	}
	// Two k steps per iteration: their A steps by one VLD1 of four
	// vectors (V24-V27).
	a.I("LSR $1, R3, R11")
	a.I("CBZ R11, %s_odd", name)
	a.Label(name + "_loop")
	a.I("VLD1.P %d(R1), %s", 8*neonMR, vlist(neonA, 4))
	step(neonA)
	step(neonA + 2)
	a.I("SUBS $1, R11, R11")
	a.I("BNE %s_loop", name)
	a.Label(name + "_odd")
	a.I("TBZ $0, R3, %s_epi", name)
	a.I("VLD1.P %d(R1), %s", 4*neonMR, vlist(neonA, 2))
	step(neonA)
	a.Label(name + "_epi")
	a.I("MOVD %d(R0), R7", offC)
	a.I("MOVD %d(R0), R8", offLdc)
	tmp := asmgen.VReg(neonA) // V24-V26 hold a row of C or of the residual
	// C = acc + beta*C: beta in lane 0 of V29, by-element FMLA.
	a.Ins(x.SkipUnless("R5", flagLoadC, name+"_nobeta")...)
	a.I("FMOVS %d(R0), F29", offBeta)
	a.I("MOVD R7, R9")
	for r := 0; r < mr; r++ {
		a.I("VLD1.P (R9)(R8), %s", vlist(tmp, h))
		for v := 0; v < h; v++ {
			a.Ins(x.FMALane(tmp+asmgen.VReg(v), 29, 0, neonAcc(r, v)))
		}
	}
	a.Label(name + "_nobeta")
	a.Ins(x.SkipUnless("R5", flagRes, name+"_nores")...)
	a.I("MOVD %d(R0), R9", offRes)
	a.I("MOVD %d(R0), R10", offLdr)
	for r := 0; r < mr; r++ {
		a.I("VLD1.P (R9)(R10), %s", vlist(tmp, h))
		for v := 0; v < h; v++ {
			a.Ins(x.Add(x.R(tmp+asmgen.VReg(v)), neonAcc(r, v), neonAcc(r, v)))
		}
	}
	a.Label(name + "_nores")
	a.Ins(x.SkipUnless("R5", flagClamp, name+"_noclamp")...)
	a.I("FMOVS %d(R0), F30", offMin)
	a.I("VDUP V30.S[0], V30.S4")
	a.I("FMOVS %d(R0), F31", offMax)
	a.I("VDUP V31.S[0], V31.S4")
	for r := 0; r < mr; r++ {
		for v := 0; v < h; v++ {
			acc := neonAcc(r, v)
			a.Ins(x.Max(x.R(30), acc, acc), x.Min(x.R(31), acc, acc))
		}
	}
	a.Label(name + "_noclamp")
	for r := 0; r < mr; r++ {
		a.I("VST1.P %s, (R7)(R8)", vlist(neonAcc(r, 0), h))
	}
	a.Ins(x.Return()...)
	f.EndFunc()
	return name
}

// neonFile writes the arm64 kernels: 1-8 rows, 8 (narrow) or 12 columns.
func neonFile(dir string) error {
	f := asmgen.NewFile("gen_tiles.go", "gemm", "arm64 && !purego")
	rows := make([][]string, 2)
	for i, h := range []int{2, neonMaxH} {
		rows[i] = []string{"nil"}
		for mr := 1; mr <= neonMR; mr++ {
			rows[i] = append(rows[i], neonKernel(f, mr, h))
		}
	}
	f.Table("tilesNEON[w][mr] is the kernel for mr rows of packed A and panel width index w (0: 8 columns, 1: 12).",
		"tilesNEON", "func(*tileArgs)", rows)
	return f.WriteFiles(filepath.Join(dir, "tiles_arm64.s"), filepath.Join(dir, "tiles_arm64.go"))
}

func main() {
	dir := flag.String("dir", ".", "directory to write tiles_amd64.s, tiles_amd64.go, tiles_arm64.s and tiles_arm64.go to")
	flag.Parse()
	f := asmgen.NewFile("gen_tiles.go", "gemm", "amd64 && !purego")
	for _, x := range []family{avx512, avx2} {
		for _, direct := range []bool{false, true} {
			rows := make([][]string, x.maxH)
			for h := 1; h <= x.maxH; h++ {
				rows[h-1] = []string{"nil"}
				for mr := 1; mr <= x.mr; mr++ {
					rows[h-1] = append(rows[h-1], kernel(f, x, mr, h, direct))
				}
			}
			tn, what := "tiles"+x.Name, "packed"
			if direct {
				tn, what = "tiles"+x.Name+"Direct", "in-place"
			}
			f.Table(fmt.Sprintf("%s[w][mr] is the kernel for mr rows of %s A and panel width index w (0 narrow, 1 wide).", tn, what),
				tn, "func(*tileArgs)", rows)
		}
		colKernel(f, x)
		dots := []string{"nil"}
		for mr := 1; mr <= x.mr; mr++ {
			dots = append(dots, dotKernel(f, x, mr))
		}
		f.List(fmt.Sprintf("dots%s[mr] is the one-column kernel for mr rows of in-place A.", x.Name), "dots"+x.Name, "func(*tileArgs)", dots)
		packBKernel(f, x)
	}
	if err := f.WriteFiles(filepath.Join(*dir, "tiles_amd64.s"), filepath.Join(*dir, "tiles_amd64.go")); err != nil {
		log.Fatal(err)
	}
	if err := neonFile(*dir); err != nil {
		log.Fatal(err)
	}
}
