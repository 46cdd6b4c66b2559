//go:build ignore

// gen_kernels writes every assembly family of the NCHWc kernels with the
// kernels/internal/asmgen toolkit: for each instruction set in families,
// <isa>_<arch>.s (the kernels) and <isa>_<arch>.go (their declarations, the
// family's description and the dispatch functions the family_<arch>.go
// switches call). Run it with `go generate` in this directory (-dir writes
// elsewhere; TestGeneratedUpToDate uses it to check that the committed files
// are what it writes).
//
// There is one skeleton per kernel, parameterised by the asmgen.ISA: a
// 16-channel block is V = Block/Lanes vectors (1 zmm, 2 ymm, 4 NEON q
// registers), the register tiles come from the register budget (NumRegs),
// and scalars reach the lanes the way the ISA broadcasts (Bcast): an
// embedded broadcast in the FMA (AVX-512), a broadcast into a scratch
// register that the V FMAs of a pixel share (AVX2), or Lanes input channels
// loaded as one vector and FMAs by lane (NEON).
//
//   - conv, the dense direct convolution: R pixels x V vectors of
//     accumulators, V weight vectors, and the broadcast registers (two
//     alternating) or input vectors (R); fused epilogue (bias, residual,
//     border bias map, clamp).
//   - dw, the general depthwise convolution: R x V accumulators, V weights
//     (and two input registers where arithmetic cannot read memory).
//   - maxPool, max pooling: dw's skeleton with a max for the multiply-add,
//     no weights.
//   - permute, lane permutations of blocks from several sources (the
//     runtime's channel gathers: Concat, Slice, ChannelShuffle).
//   - act, element-wise sigmoid, SiLU, hardsigmoid and hardswish over
//     blocks (exp by a polynomial and the exponent bits).
//   - dwReuse, the k x k (3, 5) stride 1 or 2 depthwise convolution that
//     loads each input vector once per kernel row: one vector of the block at
//     a time, R accumulators, k weights and two input registers.
//   - winoGemm, the Winograd product: conv's tile without the epilogue,
//     weights prefetched.
//   - winoIn and winoOut, the Winograd F(2x2, 3x3) transforms: with 32
//     registers a whole tile stays in registers (the input transform reuses
//     the two columns that neighbouring tiles share), one vector of the block
//     after the other; with 16, one tile and one vector at a time stream
//     through 8 registers.
//
// The skeletons spell general registers and scalar code through a small
// per-architecture layer (fam.ld, fam.loop, ...: amd64 names, mapped on
// arm64), and vector arithmetic through asmgen.ISA where it spells it;
// what the Go arm64 assembler lacks (FADD, FSUB, FMAX, FMIN, FMLA by
// element) is emitted here as instruction words. Adding a family is adding
// its ISA to families and writing family_<arch>.go.
package main

import (
	"flag"
	"fmt"
	"log"
	"path/filepath"
	"strings"

	"github.com/dshrink/dshrink/kernels/internal/asmgen"
)

const (
	block      = 16        // channels of an NCHWc block (nchwc.Block)
	blockBytes = 4 * block // nchwc.BlockBytes
	maxR       = 14        // pixels of the Go reference (nchwc.MaxR)
	winoMaxR   = 16        // tiles of the Go reference product (nchwc.WinoMaxR)
	prefetch   = 1024      // how far ahead (bytes) the product prefetches weights
)

// Pixel strides (bytes between consecutive output pixels' input windows) of
// the multi-pixel dense and depthwise kernels.
var (
	convPix = []int{16, 32, 64, 128}
	dwPix   = []int{64, 128}
)

// Offsets of the Args and WinoArgs fields (TestArgsLayout and
// TestWinoArgsLayout check them against the Go structs).
var defines = []struct {
	name string
	off  int
}{
	{"A_IN", 0}, {"A_W", 8}, {"A_OUT", 16}, {"A_BIAS", 24}, {"A_RES", 32}, {"A_BMAP", 40},
	{"A_CB", 48}, {"A_CBSTRIDE", 56}, {"A_KH", 64}, {"A_ROWSTRIDE", 72}, {"A_KW", 80},
	{"A_KWSTEP", 88}, {"A_CNT", 96}, {"A_LO", 104}, {"A_HI", 108}, {"A_CNTLAST", 112},
	{"W_SRC", 0}, {"W_DST", 8}, {"W_SRCROW", 16}, {"W_POS", 24}, {"W_N", 32}, {"W_DSTROW", 40},
	{"W_BIAS", 48}, {"W_RES", 56}, {"W_BMAP", 64}, {"W_RESROW", 72}, {"W_BMAPROW", 80},
	{"W_LO", 88}, {"W_HI", 92},
}

// families lists the instruction sets a family is generated for.
var families = []*asmgen.ISA{asmgen.AVX512, asmgen.AVX2, asmgen.NEON}

// fam is one family being generated: its ISA and the shapes derived from it.
type fam struct {
	*asmgen.ISA
	f *asmgen.File
	V int // vectors per block
}

func newFam(x *asmgen.ISA) *fam {
	return &fam{ISA: x, V: block / x.Lanes()}
}

func (x *fam) vecBytes() int { return x.VecBytes }

// arm reports whether the family is for arm64 (the skeletons are written
// with amd64's scalar register names, which reg maps).
func (x *fam) arm() bool { return x.Arch == "arm64" }

// bcastRegs is the number of scratch registers a pixel's broadcast scalar
// needs in the dense kernels: none with embedded broadcasts, two
// (alternating, so consecutive pixels do not wait on each other) otherwise.
func (x *fam) bcastRegs() int {
	switch x.Bcast {
	case asmgen.BcastEmbedded:
		return 0
	case asmgen.BcastLane:
		return 0 // the inputs' registers: see denseRows
	}
	return 2
}

// loadRegs is the number of registers the general depthwise kernel loads
// its inputs into: none where arithmetic takes memory operands (amd64), a
// block's V otherwise.
func (x *fam) loadRegs() int {
	if x.arm() {
		return x.V
	}
	return 0
}

// vlist spells the V consecutive registers from first as a NEON register
// list ("V28.S4, V29.S4, V30.S4, V31.S4").
func (x *fam) vlist(first int) string {
	l := make([]string, x.V)
	for v := range l {
		l[v] = fmt.Sprintf("V%d.S4", first+v)
	}
	return strings.Join(l, ", ")
}

// Register tiles: the dense kernels (and the product) keep R x V
// accumulators, V weight vectors and the broadcast registers; the general
// depthwise kernel R x V accumulators, V weights and the load registers; the
// row-reuse kernel, one vector at a time, R accumulators, k weights and two
// inputs.
func (x *fam) convMaxR() int { return min(maxR, x.denseRows()) }
func (x *fam) winoMaxR() int { return min(winoMaxR, x.denseRows()) }

// denseRows is the pixel count the register budget allows the dense
// kernels: R x V accumulators and V weights, plus two broadcast registers
// (BcastLoad) or, with by-element FMAs (BcastLane), R input registers of
// Lanes channels each.
func (x *fam) denseRows() int {
	if x.Bcast == asmgen.BcastLane {
		return (x.NumRegs - x.V) / (x.V + 1)
	}
	return (x.NumRegs - x.bcastRegs() - x.V) / x.V
}
func (x *fam) dwMaxR() int { return min(maxR, (x.NumRegs-x.loadRegs()-x.V)/x.V) }
func (x *fam) reuseMaxR(k int) int {
	return min(maxR, x.NumRegs-2-k)
}

// acc is the accumulator of pixel r, vector v.
func (x *fam) acc(r, v int) asmgen.VReg { return asmgen.VReg(x.V*r + v) }

func (x *fam) tile(rows int) asmgen.Tile {
	return asmgen.Tile{ISA: x.ISA, Rows: rows, Vecs: x.V, Acc: x.acc}
}

// clampRegs are the registers the epilogue broadcasts lo and hi into: the
// last two, free once the accumulation is done; tmpReg is the one below
// them, which the epilogue loads memory operands into where arithmetic
// cannot read memory.
func (x *fam) clampRegs() (lo, hi asmgen.VReg) {
	return asmgen.VReg(x.NumRegs - 2), asmgen.VReg(x.NumRegs - 1)
}

func (x *fam) tmpReg() asmgen.VReg { return asmgen.VReg(x.NumRegs - 3) }

// sfx makes the labels of the v-th pass over the block unique when there is
// more than one.
func (x *fam) sfx(v int) string {
	if x.V == 1 {
		return ""
	}
	return fmt.Sprint(v)
}

// mem spells byte offset off from base register base.
func mem(off int, base string) string {
	if off == 0 {
		return "(" + base + ")"
	}
	return fmt.Sprintf("%d(%s)", off, base)
}

func (x *fam) name(kernel string) string { return kernel + x.Name }

// Scalar code. The skeletons name general registers as on amd64; on arm64
// DI, SI, BX, AX, CX and DX are R0-R5 and R8-R15 keep their names. R6, R7,
// R16, R17 and R19-R21 are arm64 scratch registers of the arm64-only paths.
var arm64Regs = map[string]string{"DI": "R0", "SI": "R1", "BX": "R2", "AX": "R3", "CX": "R4", "DX": "R5"}

func (x *fam) reg(r string) string {
	if n, ok := arm64Regs[r]; ok && x.arm() {
		return n
	}
	return r
}

// field spells a field (A_* or W_*) of the argument block at base.
func (x *fam) field(f, base string) string { return fmt.Sprintf("%s(%s)", f, x.reg(base)) }

// ld loads field f of the argument block at base into dst.
func (x *fam) ld(a *asmgen.Asm, f, base, dst string) {
	if x.arm() {
		a.I("MOVD %s, %s", x.field(f, base), x.reg(dst))
		return
	}
	a.I("MOVQ %s, %s", x.field(f, base), dst)
}

func (x *fam) arg(a *asmgen.Asm, dst string) {
	if x.arm() {
		a.I("MOVD a+0(FP), %s", x.reg(dst))
		return
	}
	a.I("MOVQ a+0(FP), %s", dst)
}

func (x *fam) mov(a *asmgen.Asm, src, dst string) {
	if x.arm() {
		a.I("MOVD %s, %s", x.reg(src), x.reg(dst))
		return
	}
	a.I("MOVQ %s, %s", src, dst)
}

// addField adds field f of the argument block at DI to dst.
func (x *fam) addField(a *asmgen.Asm, f, dst string) {
	if x.arm() {
		a.I("MOVD %s, R6", x.field(f, "DI"))
		a.I("ADD R6, %s", x.reg(dst))
		return
	}
	a.I("ADDQ %s(DI), %s", f, dst)
}

func (x *fam) addImm(a *asmgen.Asm, n int, dst string) {
	if x.arm() {
		a.I("ADD $%d, %s", n, x.reg(dst))
		return
	}
	a.I("ADDQ $%d, %s", n, dst)
}

func (x *fam) addReg(a *asmgen.Asm, src, dst string) {
	if x.arm() {
		a.I("ADD %s, %s", x.reg(src), x.reg(dst))
		return
	}
	a.I("ADDQ %s, %s", src, dst)
}

// loop decrements ctr and jumps to label while it is not zero.
func (x *fam) loop(a *asmgen.Asm, ctr, label string) {
	if x.arm() {
		a.I("SUBS $1, %s", x.reg(ctr))
		a.I("BNE %s", label)
		return
	}
	a.I("DECQ %s", ctr)
	a.I("JNZ %s", label)
}

// decJZ decrements ctr and jumps to label when it reaches zero.
func (x *fam) decJZ(a *asmgen.Asm, ctr, label string) {
	if x.arm() {
		a.I("SUBS $1, %s", x.reg(ctr))
		a.I("BEQ %s", label)
		return
	}
	a.I("DECQ %s", ctr)
	a.I("JZ %s", label)
}

// jne1 jumps to label unless reg holds 1.
func (x *fam) jne1(a *asmgen.Asm, reg, label string) {
	if x.arm() {
		a.I("CMP $1, %s", x.reg(reg))
		a.I("BNE %s", label)
		return
	}
	a.I("CMPQ %s, $1", reg)
	a.I("JNE %s", label)
}

// jnil jumps to label when reg is zero.
func (x *fam) jnil(a *asmgen.Asm, reg, label string) {
	if x.arm() {
		a.I("CBZ %s, %s", x.reg(reg), label)
		return
	}
	a.I("TESTQ %s, %s", reg, reg)
	a.I("JZ %s", label)
}

// Vector arithmetic. The Go arm64 assembler has no floating-point vector
// add, subtract, max, min or by-element multiply-add; they are spelt as
// instruction words (A64 "Advanced SIMD three same" and "by element"
// encodings, .4S arrangement).
var neonOps = map[string]uint32{
	"ADD": 0x4e20d400, // FADD Vd.4S, Vn.4S, Vm.4S
	"SUB": 0x4ea0d400, // FSUB: Vd = Vn - Vm
	"MUL": 0x6e20dc00, // FMUL
	"MAX": 0x4e20f400, // FMAX
	"MIN": 0x4ea0f400, // FMIN
	"DIV": 0x6e20fc00, // FDIV: Vd = Vn / Vm
}

func neonWord(op string, code uint32, d, n, m asmgen.VReg) string {
	code |= uint32(m)<<16 | uint32(n)<<5 | uint32(d)
	return fmt.Sprintf("WORD $0x%08x // f%s v%d.4s, v%d.4s, v%d.4s", code, strings.ToLower(op), d, n, m)
}

// op emits d = y op s for op ADD, SUB, MUL, MAX, MIN (amd64 operand order:
// VSUBPS s, y, d); s is a register.
func (x *fam) op(a *asmgen.Asm, op string, s, y, d asmgen.VReg) {
	if x.arm() {
		a.I("%s", neonWord(op, neonOps[op], d, y, s))
		return
	}
	a.I("V%sPS %s, %s, %s", op, x.R(s), x.R(y), x.R(d))
}

// opMem is op with the operand s in memory, loaded into tmp first where
// arithmetic cannot read memory.
func (x *fam) opMem(a *asmgen.Asm, op, m string, y, d, tmp asmgen.VReg) {
	if x.arm() {
		a.Ins(x.Load(m, tmp))
		x.op(a, op, tmp, y, d)
		return
	}
	a.I("V%sPS %s, %s, %s", op, m, x.R(y), x.R(d))
}

// bcast loads the float32 at m into every lane of d.
func (x *fam) bcast(a *asmgen.Asm, m string, d asmgen.VReg) {
	if x.arm() {
		a.I("FMOVS %s, F%d", m, d)
		a.I("VDUP V%d.S[0], V%d.S4", d, d)
		return
	}
	a.Ins(x.Broadcast(m, d))
}

func (x *fam) prefetch(a *asmgen.Asm, off int, base string) {
	if x.arm() {
		a.I("PRFM %d(%s), PLDL1KEEP", off, x.reg(base))
		return
	}
	a.I("PREFETCHT0 %d(%s)", off, base)
}

func (x *fam) begin(name string) *asmgen.Asm {
	a := x.f.Func(name, "a *Args", 8)
	x.arg(a, "DI")
	return a
}

func (x *fam) end(a *asmgen.Asm) {
	a.Ins(x.Return()...)
	x.f.EndFunc()
}

// initBias starts every pixel's accumulators at the bias block.
func (x *fam) initBias(a *asmgen.Asm, rows int) {
	x.ld(a, "A_BIAS", "DI", "AX")
	for v := 0; v < x.V; v++ {
		a.Ins(x.Load(mem(v*x.vecBytes(), x.reg("AX")), x.acc(0, v)))
	}
	for r := 1; r < rows; r++ {
		for v := 0; v < x.V; v++ {
			a.Ins(x.Mov(x.acc(0, v), x.acc(r, v)))
		}
	}
}

// epilogue adds the residual and the border bias map (each skipped when its
// pointer is nil), clamps and stores the tile, whose element (r, v) belongs
// at byte offset off(r, v) of Out, Res and Bmap.
func (x *fam) epilogue(a *asmgen.Asm, t asmgen.Tile, off func(r, v int) int, sfx string) {
	ax := x.reg("AX")
	for _, s := range []struct{ field, skip string }{{"A_RES", "nores"}, {"A_BMAP", "nobmap"}} {
		x.ld(a, s.field, "DI", "AX")
		x.jnil(a, "AX", s.skip+sfx)
		for r := 0; r < t.Rows; r++ {
			for v := 0; v < t.Vecs; v++ {
				x.opMem(a, "ADD", fmt.Sprintf("%d(%s)", off(r, v), ax), t.Acc(r, v), t.Acc(r, v), x.tmpReg())
			}
		}
		a.Label(s.skip + sfx)
	}
	lo, hi := x.clampRegs()
	x.bcast(a, x.field("A_LO", "DI"), lo)
	x.bcast(a, x.field("A_HI", "DI"), hi)
	x.ld(a, "A_OUT", "DI", "AX")
	for r := 0; r < t.Rows; r++ {
		for v := 0; v < t.Vecs; v++ {
			acc := t.Acc(r, v)
			x.op(a, "MAX", lo, acc, acc)
			x.op(a, "MIN", hi, acc, acc)
			a.Ins(x.Store(acc, fmt.Sprintf("%d(%s)", off(r, v), ax)))
		}
	}
}

func (x *fam) blockOff(r, v int) int { return blockBytes*r + x.vecBytes()*v }

// weights loads the V vectors of one weight block at (BX) into ws.
func (x *fam) weights(a *asmgen.Asm, first asmgen.VReg) []asmgen.VReg {
	ws := make([]asmgen.VReg, x.V)
	for v := range ws {
		ws[v] = first + asmgen.VReg(v)
		a.Ins(x.Load(mem(v*x.vecBytes(), x.reg("BX")), ws[v]))
	}
	return ws
}

// rowFMAs emits, for every pixel r, acc(r, .) += broadcast(float32 at
// r*stride(R13)) * ws.
func (x *fam) rowFMAs(a *asmgen.Asm, rows, stride int, ws []asmgen.VReg) {
	for r := 0; r < rows; r++ {
		accs := make([]asmgen.VReg, x.V)
		for v := range accs {
			accs[v] = x.acc(r, v)
		}
		x.RowFMA(a, fmt.Sprintf("%d(R13)", stride*r), ws, accs, asmgen.VReg(x.NumRegs-2+r%2))
	}
}

// channels emits the loop over the channels of the input blocks' current
// position: R13 walks the input from register from, R14 counts the channels
// (A_CNTLAST in the last block, R8 counting the blocks down), BX walks the
// weights, Block floats per channel, prefetched ahead when pf is set. Each
// channel adds broadcast(input of pixel r) * weights to pixel r's
// accumulators, pixels stride bytes apart.
func (x *fam) channels(a *asmgen.Asm, rows, stride int, from, label string, pf bool) {
	x.mov(a, from, "R13")
	x.ld(a, "A_CNT", "DI", "R14")
	x.jne1(a, "R8", label)
	x.ld(a, "A_CNTLAST", "DI", "R14")
	a.Label(label)
	if x.Bcast == asmgen.BcastLane {
		x.laneChannels(a, rows, stride, label, pf)
		return
	}
	ws := x.weights(a, asmgen.VReg(x.NumRegs-x.bcastRegs()-x.V))
	if pf {
		x.prefetch(a, prefetch, "BX")
	}
	x.rowFMAs(a, rows, stride, ws)
	x.addImm(a, 4, "R13")
	x.addImm(a, blockBytes, "BX")
	x.loop(a, "R14", label)
}

// laneChannels is channels for by-element FMAs (arm64): Lanes channels at a
// time, each pixel's Lanes inputs loaded as one vector (registers
// NumRegs-V-rows..) and the weights of each channel with one VLD1 (the last
// V registers), then the remaining channels one at a time with a scalar
// load into lane 0.
func (x *fam) laneChannels(a *asmgen.Asm, rows, stride int, label string, pf bool) {
	lanes := x.Lanes()
	w := asmgen.VReg(x.NumRegs - x.V)
	in := func(r int) asmgen.VReg { return w - asmgen.VReg(rows-r) }
	loadW := func() {
		if pf {
			x.prefetch(a, prefetch, "BX")
		}
		a.I("VLD1.P %d(%s), [%s]", blockBytes, x.reg("BX"), x.vlist(int(w)))
	}
	fmla := func(acc, y, m asmgen.VReg, lane int) {
		// FMLA Vd.4S, Vn.4S, Vm.S[lane]: index H:L, register M:Rm.
		code := 0x4f801000 | uint32(lane>>1)<<11 | uint32(lane&1)<<21 | uint32(m)<<16 | uint32(y)<<5 | uint32(acc)
		a.I("WORD $0x%08x // fmla v%d.4s, v%d.4s, v%d.s[%d]", code, acc, y, m, lane)
	}
	a.I("CMP $%d, R14", lanes)
	a.I("BLT %s1", label)
	a.Label(label + "4")
	for r := 0; r < rows; r++ {
		a.Ins(x.Load(fmt.Sprintf("%d(R13)", stride*r), in(r)))
	}
	for l := 0; l < lanes; l++ {
		loadW()
		for r := 0; r < rows; r++ {
			for v := 0; v < x.V; v++ {
				fmla(x.acc(r, v), w+asmgen.VReg(v), in(r), l)
			}
		}
	}
	a.I("ADD $%d, R13", 4*lanes)
	a.I("SUB $%d, R14", lanes)
	a.I("CMP $%d, R14", lanes)
	a.I("BGE %s4", label)
	a.Label(label + "1")
	a.I("CBZ R14, %sdone", label)
	a.Label(label + "1loop")
	loadW()
	for r := 0; r < rows; r++ {
		a.I("FMOVS %d(R13), F%d", stride*r, in(r))
		for v := 0; v < x.V; v++ {
			fmla(x.acc(r, v), w+asmgen.VReg(v), in(r), 0)
		}
	}
	a.I("ADD $4, R13")
	x.loop(a, "R14", label+"1loop")
	a.Label(label + "done")
}

// conv is the dense kernel for rows pixels pix bytes apart (see Args).
func (x *fam) conv(pix, rows int) string {
	name := x.name(fmt.Sprintf("convP%dR%d", pix, rows))
	a := x.begin(name)
	x.initBias(a, rows)
	x.ld(a, "A_IN", "DI", "SI")
	x.ld(a, "A_W", "DI", "BX")
	x.ld(a, "A_CB", "DI", "R8")
	a.Label("cbloop")
	x.mov(a, "SI", "R10")
	x.ld(a, "A_KH", "DI", "R9")
	a.Label("khloop")
	x.mov(a, "R10", "R11")
	x.ld(a, "A_KW", "DI", "R12")
	a.Label("kwloop")
	x.channels(a, rows, pix, "R11", "cloop", false)
	x.addField(a, "A_KWSTEP", "R11")
	x.loop(a, "R12", "kwloop")
	x.addField(a, "A_ROWSTRIDE", "R10")
	x.loop(a, "R9", "khloop")
	x.addField(a, "A_CBSTRIDE", "SI")
	x.loop(a, "R8", "cbloop")
	x.epilogue(a, x.tile(rows), x.blockOff, "")
	x.end(a)
	return name
}

// dw is the general depthwise kernel for rows pixels pix bytes apart.
func (x *fam) dw(pix, rows int) string {
	name := x.name(fmt.Sprintf("dwP%dR%d", pix, rows))
	a := x.begin(name)
	x.initBias(a, rows)
	x.ld(a, "A_IN", "DI", "SI")
	x.ld(a, "A_W", "DI", "BX")
	x.ld(a, "A_KH", "DI", "R9")
	a.Label("khloop")
	x.mov(a, "SI", "R11")
	x.ld(a, "A_KW", "DI", "R12")
	if x.arm() {
		a.I("MOVD $%d, R7", pix)
	}
	a.Label("kwloop")
	if x.arm() {
		// Weights and each pixel's input block by one VLD1 each, the
		// pixels walked by R6 (post-incremented by pix, R7).
		w, in := x.NumRegs-x.V, x.NumRegs-2*x.V
		a.I("VLD1.P %d(%s), [%s]", blockBytes, x.reg("BX"), x.vlist(w))
		a.I("MOVD R11, R6")
		for r := 0; r < rows; r++ {
			a.I("VLD1.P (R6)(R7), [%s]", x.vlist(in))
			for v := 0; v < x.V; v++ {
				a.Ins(x.FMA(x.R(asmgen.VReg(in+v)), asmgen.VReg(w+v), x.acc(r, v)))
			}
		}
	} else {
		ws := x.weights(a, asmgen.VReg(x.NumRegs-x.V))
		for r := 0; r < rows; r++ {
			for v := 0; v < x.V; v++ {
				a.Ins(x.FMA(fmt.Sprintf("%d(R11)", pix*r+x.vecBytes()*v), ws[v], x.acc(r, v)))
			}
		}
	}
	x.addField(a, "A_KWSTEP", "R11")
	if !x.arm() { // VLD1.P advanced it
		x.addImm(a, blockBytes, "BX")
	}
	x.loop(a, "R12", "kwloop")
	x.addField(a, "A_ROWSTRIDE", "SI")
	x.loop(a, "R9", "khloop")
	x.epilogue(a, x.tile(rows), x.blockOff, "")
	x.end(a)
	return name
}

// maxPool is the max-pooling kernel for rows pixels pix bytes apart: the
// general depthwise skeleton with a max in place of the multiply-add and no
// weights (the accumulators start at the Bias block).
func (x *fam) maxPool(pix, rows int) string {
	name := x.name(fmt.Sprintf("maxP%dR%d", pix, rows))
	a := x.begin(name)
	x.initBias(a, rows)
	x.ld(a, "A_IN", "DI", "SI")
	x.ld(a, "A_KH", "DI", "R9")
	a.Label("khloop")
	x.mov(a, "SI", "R11")
	x.ld(a, "A_KW", "DI", "R12")
	if x.arm() {
		a.I("MOVD $%d, R7", pix)
	}
	a.Label("kwloop")
	if x.arm() {
		// Each pixel's input block by one VLD1, the pixels walked by R6
		// (post-incremented by pix, R7).
		in := asmgen.VReg(x.NumRegs - 2*x.V)
		a.I("MOVD R11, R6")
		for r := 0; r < rows; r++ {
			a.I("VLD1.P (R6)(R7), [%s]", x.vlist(int(in)))
			for v := 0; v < x.V; v++ {
				x.op(a, "MAX", in+asmgen.VReg(v), x.acc(r, v), x.acc(r, v))
			}
		}
	} else {
		for r := 0; r < rows; r++ {
			for v := 0; v < x.V; v++ {
				x.opMem(a, "MAX", fmt.Sprintf("%d(R11)", pix*r+x.vecBytes()*v), x.acc(r, v), x.acc(r, v), x.tmpReg())
			}
		}
	}
	x.addField(a, "A_KWSTEP", "R11")
	x.loop(a, "R12", "kwloop")
	x.addField(a, "A_ROWSTRIDE", "SI")
	x.loop(a, "R9", "khloop")
	x.epilogue(a, x.tile(rows), x.blockOff, "")
	x.end(a)
	return name
}

// Activation kernels (act): kind indices as in actKinds and Go's Act*
// constants; the constant table (Args.W, actConsts in act.go) holds each
// constant as one 64-byte block.
var actKinds = []string{"sigmoid", "silu", "hardsigmoid", "hardswish"}

// Constant table indices.
const (
	acXHi, acXLo, acNegLog2e, acNegOne, acNegLn2Hi, acNegLn2Lo, acBias = 0, 1, 2, 3, 4, 5, 6
	acPoly, acOne, acZero, acSixth, acHalf                             = 7, 14, 15, 10, 11
)

// act is the element-wise activation kernel kind over KW blocks from In to
// Out (which may be In). Sigmoid and SiLU compute e = exp(-x) as 2^n p(r)
// (n = round(-x log2e), r = -x - n ln2 in two parts, p the degree-6 Taylor
// polynomial of exp by Horner, 2^n from the exponent bits), then 1/(1+e)
// (times x for SiLU), with x clamped to [-88, 87.3] so that every value is
// a normal float32; hardsigmoid is min(max(x/6 + 1/2, 0), 1) (times x for
// hardswish). Each vector of the block uses four registers (x, r, n, p);
// the constants are memory operands on amd64 and registers V16-V31 on
// arm64.
func (x *fam) act(kind int) string {
	name := x.name(actKinds[kind])
	a := x.begin(name)
	x.ld(a, "A_IN", "DI", "SI")
	x.ld(a, "A_OUT", "DI", "DX")
	x.ld(a, "A_W", "DI", "BX")
	x.ld(a, "A_KW", "DI", "CX")
	const cbase = 16
	if x.arm() {
		for i := 0; i < 16; i++ {
			a.Ins(x.Load(mem(blockBytes*i, x.reg("BX")), asmgen.VReg(cbase+i)))
		}
	}
	// cop: d = y op constant i.
	cop := func(op string, i int, y, d asmgen.VReg) {
		if x.arm() {
			x.op(a, op, asmgen.VReg(cbase+i), y, d)
			return
		}
		a.I("V%sPS %d(BX), %s, %s", op, blockBytes*i, x.R(y), x.R(d))
	}
	// cfma: d += y * constant i.
	cfma := func(i int, y, d asmgen.VReg) {
		if x.arm() {
			a.Ins(x.FMA(x.R(asmgen.VReg(cbase+i)), y, d))
			return
		}
		a.Ins(x.FMA(fmt.Sprintf("%d(BX)", blockBytes*i), y, d))
	}
	// word spells a two-register A64 instruction.
	word := func(code uint32, d, n asmgen.VReg, text string) {
		a.I("WORD $0x%08x // %s v%d.4s, v%d.4s", code|uint32(n)<<5|uint32(d), text, d, n)
	}
	a.Label("loop")
	for v := 0; v < x.V; v++ {
		X, R, N, P := asmgen.VReg(4*v), asmgen.VReg(4*v+1), asmgen.VReg(4*v+2), asmgen.VReg(4*v+3)
		off := mem(v*x.vecBytes(), x.reg("SI"))
		a.Ins(x.Load(off, X))
		if kind >= 2 { // hardsigmoid, hardswish
			cop("MUL", acSixth, X, R)
			cop("ADD", acHalf, R, R)
			cop("MAX", acZero, R, R)
			cop("MIN", acOne, R, R)
		} else {
			cop("MIN", acXHi, X, R)
			cop("MAX", acXLo, R, R)
			cop("MUL", acNegLog2e, R, N)
			if x.arm() {
				word(0x4e21a800, N, N, "fcvtns") // to int, nearest
				word(0x4e21d800, P, N, "scvtf")
			} else {
				a.I("VCVTPS2DQ %s, %s", x.R(N), x.R(N)) // to int, nearest (MXCSR)
				a.I("VCVTDQ2PS %s, %s", x.R(N), x.R(P))
			}
			cop("MUL", acNegOne, R, R) // r = -x
			cfma(acNegLn2Hi, P, R)     // r -= n ln2
			cfma(acNegLn2Lo, P, R)
			if x.arm() {
				a.I("WORD $0x%08x // add v%d.4s, v%d.4s, v%d.4s", 0x4ea08400|uint32(cbase+acBias)<<16|uint32(N)<<5|uint32(N), N, N, cbase+acBias)
				word(0x4f375400, N, N, "shl #23,")
			} else {
				a.I("VPADDD %d(BX), %s, %s", blockBytes*acBias, x.R(N), x.R(N))
				a.I("VPSLLD $23, %s, %s", x.R(N), x.R(N))
			}
			cop("MUL", acPoly, R, P)
			cop("ADD", acPoly+1, P, P)
			for i := acPoly + 2; i < acPoly+7; i++ {
				if x.arm() {
					x.op(a, "MUL", R, P, P)
					cop("ADD", i, P, P)
				} else {
					a.I("VFMADD213PS %d(BX), %s, %s", blockBytes*i, x.R(R), x.R(P)) // p = p r + c
				}
			}
			x.op(a, "MUL", N, P, P) // e = 2^n p(r)
			cop("ADD", acOne, P, P)
			if x.arm() {
				x.op(a, "DIV", P, asmgen.VReg(cbase+acOne), R)
			} else {
				a.Ins(x.Load(fmt.Sprintf("%d(BX)", blockBytes*acOne), R))
				x.op(a, "DIV", P, R, R) // 1 / (1 + e)
			}
		}
		if kind%2 == 1 { // silu, hardswish
			x.op(a, "MUL", X, R, R)
		}
		a.Ins(x.Store(R, mem(v*x.vecBytes(), x.reg("DX"))))
	}
	x.addImm(a, blockBytes, "SI")
	x.addImm(a, blockBytes, "DX")
	x.loop(a, "CX", "loop")
	x.end(a)
	return name
}

// permute is the lane-permutation kernel (Perm.Apply): it clears KW
// pixels of output blocks (Block floats apart in the output and in every
// source), then for each of CB terms ORs into one output vector of every
// pixel the lanes of one source vector that the term selects, permuted
// (term after term over the whole run, so that no pixel waits on the store
// of the previous term). In points at the terms' source pointers (for pixel
// 0); W at the term table, permEntry(VecBytes) bytes per term: the output
// vector's byte offset, the index vector (lane indices; on arm64 the TBL
// byte indices, 0xFF for an unselected lane, which TBL zeroes) and the
// lane mask (amd64: all ones on selected lanes). amd64: VPERMPS, integer
// AND and OR (AVX-512F has no VANDPS); arm64: TBL on one register and ORR.
func (x *fam) permute() string {
	name := x.name("permute")
	a := x.begin(name)
	x.ld(a, "A_OUT", "DI", "DX")
	entry := 8 + 2*x.vecBytes()
	vb := x.vecBytes()
	and, or := "VPAND", "VPOR"
	if x.Tail == asmgen.TailKMask {
		and, or = "VPANDD", "VPORD"
	}
	// clear the output blocks
	a.Ins(x.Zero(0))
	x.ld(a, "A_KW", "DI", "CX")
	x.mov(a, "DX", "R13")
	a.Label("clear")
	for v := 0; v < x.V; v++ {
		a.Ins(x.Store(0, mem(v*vb, x.reg("R13"))))
	}
	x.addImm(a, blockBytes, "R13")
	x.loop(a, "CX", "clear")
	x.ld(a, "A_IN", "DI", "SI")
	x.ld(a, "A_W", "DI", "R8")
	x.ld(a, "A_CB", "DI", "R9")
	a.Label("term")
	if x.arm() {
		a.I("MOVD (R1), R12")
		a.I("MOVD (R8), R13")
		a.I("ADD R5, R13, R13")
		a.Ins(x.Load("8(R8)", 2))
	} else {
		a.I("MOVQ (SI), R12")
		a.I("MOVQ (R8), R13")
		a.I("ADDQ DX, R13")
		a.Ins(x.Load("8(R8)", 1))
		a.Ins(x.Load(fmt.Sprintf("%d(R8)", 8+vb), 3))
	}
	x.ld(a, "A_KW", "DI", "CX")
	a.Label("pixel")
	if x.arm() {
		a.Ins(x.Load("(R12)", 1))
		a.I("VTBL V2.B16, [V1.B16], V3.B16")
		a.Ins(x.Load("(R13)", 4))
		a.I("VORR V3.B16, V4.B16, V4.B16")
		a.Ins(x.Store(4, "(R13)"))
	} else {
		a.I("VPERMPS (R12), %s, %s", x.R(1), x.R(2))
		a.I("%s %s, %s, %s", and, x.R(3), x.R(2), x.R(2))
		a.I("%s (R13), %s, %s", or, x.R(2), x.R(2))
		a.Ins(x.Store(2, "(R13)"))
	}
	x.addImm(a, blockBytes, "R12")
	x.addImm(a, blockBytes, "R13")
	x.loop(a, "CX", "pixel")
	x.addImm(a, entry, "R8")
	x.addImm(a, 8, "SI")
	x.loop(a, "R9", "term")
	x.end(a)
	return name
}

// dwReuse is the k x k stride s depthwise kernel for rows pixels: one vector
// of the block at a time, each input vector is loaded once per kernel row
// and used by every output pixel whose window covers it.
func (x *fam) dwReuse(k, s, rows int) string {
	name := x.name(fmt.Sprintf("dw%dS%dR%d", k, s, rows))
	a := x.begin(name)
	wb := x.NumRegs - k // first weight register; inputs in wb-2, wb-1
	acc := func(r, v int) asmgen.VReg { return asmgen.VReg(r) }
	for h := 0; h < x.V; h++ {
		sfx := x.sfx(h)
		x.ld(a, "A_BIAS", "DI", "AX")
		a.Ins(x.Load(fmt.Sprintf("%d(%s)", x.vecBytes()*h, x.reg("AX")), 0))
		for r := 1; r < rows; r++ {
			a.Ins(x.Mov(0, asmgen.VReg(r)))
		}
		x.ld(a, "A_IN", "DI", "SI")
		x.ld(a, "A_W", "DI", "BX")
		x.ld(a, "A_KH", "DI", "R9")
		a.Label("khloop" + sfx)
		for kw := 0; kw < k; kw++ {
			a.Ins(x.Load(fmt.Sprintf("%d(%s)", blockBytes*kw+x.vecBytes()*h, x.reg("BX")), asmgen.VReg(wb+kw)))
		}
		n := (rows-1)*s + k
		for i := 0; i < n; i++ {
			in := asmgen.VReg(wb - 2 + i%2)
			a.Ins(x.Load(fmt.Sprintf("%d(%s)", blockBytes*i+x.vecBytes()*h, x.reg("SI")), in))
			for kw := 0; kw < k; kw++ {
				if d := i - kw; d >= 0 && d%s == 0 && d/s < rows {
					a.Ins(x.FMA(x.R(in), asmgen.VReg(wb+kw), asmgen.VReg(d/s)))
				}
			}
		}
		x.addField(a, "A_ROWSTRIDE", "SI")
		x.addImm(a, blockBytes*k, "BX")
		x.loop(a, "R9", "khloop"+sfx)
		t := asmgen.Tile{ISA: x.ISA, Rows: rows, Vecs: 1, Acc: acc}
		x.epilogue(a, t, func(r, _ int) int { return blockBytes*r + x.vecBytes()*h }, sfx)
	}
	x.end(a)
	return name
}

// winoGemm is the Winograd product for rows tiles (see WinoGemm): conv's
// register tile over the channels of the input blocks, the weights
// prefetched ahead (the next weights in memory are the next ones read).
func (x *fam) winoGemm(rows int) string {
	name := x.name(fmt.Sprintf("winoGemmR%d", rows))
	a := x.begin(name)
	t := x.tile(rows)
	t.Zero(a)
	x.ld(a, "A_IN", "DI", "SI")
	x.ld(a, "A_W", "DI", "BX")
	x.ld(a, "A_CB", "DI", "R8")
	x.ld(a, "A_CBSTRIDE", "DI", "R9")
	a.Label("gcbloop")
	x.channels(a, rows, blockBytes, "SI", "gcloop", true)
	x.addReg(a, "R9", "SI")
	x.loop(a, "R8", "gcbloop")
	x.ld(a, "A_OUT", "DI", "AX")
	(&asmgen.Epilogue{Tile: t}).Store(a, asmgen.Mem{Ptr: x.reg("AX"), Offset: x.blockOff})
	x.end(a)
	return name
}

// Planes of the Winograd transforms on amd64: plane pos = 4i+j is at (base
// of row i)(index of column j), the bases DI + 4*i*Pos and the indices
// multiples of Pos (R9 = Pos, R10 = 3*Pos). On arm64 a pointer walks the
// planes in order (post-incremented by Pos, R9) and steps back by R17 =
// 16*Pos - 64 to the next tile's.
var (
	planeBase = [4]string{"DI", "R13", "R14", "R15"}
	planeIdx  = [4]string{"", "(R9*1)", "(R9*2)", "(R10*1)"}
)

func plane(i, j int, off string) string {
	return fmt.Sprintf("%s(%s)%s", off, planeBase[i], planeIdx[j])
}

// planeSetup points DI, R13, R14, R15 at the planes of the four rows (DI
// already at plane 0) and sets R9 = Pos, R10 = 3*Pos.
const planeSetup = `	MOVQ W_POS(AX), R9
	LEAQ (R9)(R9*2), R10
	LEAQ (DI)(R9*4), R13
	LEAQ (R13)(R9*4), R14
	LEAQ (R14)(R9*4), R15
`

const planeNext = `	ADDQ $64, DI
	ADDQ $64, R13
	ADDQ $64, R14
	ADDQ $64, R15
`

// armPlanes sets the arm64 plane walker R13 to the field f (W_DST or W_SRC)
// plus off, R9 to Pos and R17 to 16*Pos - 64.
func (x *fam) armPlanes(a *asmgen.Asm, f string, off int) {
	a.I("MOVD %s(R3), R13", f)
	a.I("ADD $%d, R13", off)
	a.I("MOVD W_POS(R3), R9")
	a.I("LSL $4, R9, R17")
	a.I("SUB $%d, R17, R17", blockBytes)
}

// inRow spells input row i of the tile at SI plus off: (SI)(R8*i) on amd64,
// off(R1, R6, R7 or R16) on arm64.
func (x *fam) inRow(i, off int) string {
	if x.arm() {
		return fmt.Sprintf("%d(%s)", off, []string{"R1", "R6", "R7", "R16"}[i])
	}
	return fmt.Sprintf("%d%s", off, []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R12*1)"}[i])
}

// inColumn emits the vertical input transform (B^T d) of the column at
// byte offset off of the tile at SI into registers r..r+3, loading the rows
// into 16..19.
func (x *fam) inColumn(a *asmgen.Asm, off int, r asmgen.VReg) {
	for i := 0; i < 4; i++ {
		a.Ins(x.Load(x.inRow(i, off), asmgen.VReg(16+i)))
	}
	x.op(a, "SUB", 18, 16, r)   // d0 - d2
	x.op(a, "ADD", 18, 17, r+1) // d1 + d2
	x.op(a, "SUB", 17, 18, r+2) // d2 - d1
	x.op(a, "SUB", 19, 17, r+3) // d1 - d3
}

// winoIn is the input transform (see WinoIn).
func (x *fam) winoIn() string {
	name := x.name("winoIn")
	a := x.f.Func(name, "a *WinoArgs", 8)
	if !x.arm() {
		a.Raw(`	MOVQ a+0(FP), AX
	MOVQ W_SRC(AX), SI
	MOVQ W_DST(AX), DI
	MOVQ W_SRCROW(AX), R8
	LEAQ (R8)(R8*2), R12
` + planeSetup)
	}
	if x.NumRegs >= 32 {
		x.winoInTiles(a)
	} else {
		x.winoInStream(a)
	}
	x.end(a)
	return name
}

// winoInTiles keeps the vertical transforms of a tile's four columns in 16
// registers, so that the two a tile shares with the next are computed once:
// the vectors of the block one after the other, for all the tiles.
func (x *fam) winoInTiles(a *asmgen.Asm) {
	for h := 0; h < x.V; h++ {
		sfx, o := x.sfx(h), x.vecBytes()*h
		if x.arm() {
			// Row pointers R1, R6, R7, R16; o is folded into them.
			a.I("MOVD a+0(FP), R3")
			a.I("MOVD W_SRC(R3), R1")
			a.I("ADD $%d, R1", o)
			a.I("MOVD W_SRCROW(R3), R8")
			a.I("ADD R8, R1, R6")
			a.I("ADD R8, R6, R7")
			a.I("ADD R8, R7, R16")
			x.armPlanes(a, "W_DST", o)
			o = 0
		} else if h > 0 {
			panic("gen_kernels: the amd64 input transform takes a block per vector")
		}
		x.ld(a, "W_N", "AX", "CX")
		x.inColumn(a, o, 0)
		x.inColumn(a, blockBytes+o, 4)
		a.Label("inloop" + sfx)
		body := func(cols [4]int) {
			x.inColumn(a, 2*blockBytes+o, asmgen.VReg(cols[2]))
			x.inColumn(a, 3*blockBytes+o, asmgen.VReg(cols[3]))
			for i := 0; i < 4; i++ {
				a0, a1, a2, a3 := asmgen.VReg(cols[0]+i), asmgen.VReg(cols[1]+i), asmgen.VReg(cols[2]+i), asmgen.VReg(cols[3]+i)
				x.op(a, "SUB", a2, a0, 20) // a0 - a2
				x.op(a, "ADD", a2, a1, 21) // a1 + a2
				x.op(a, "SUB", a1, a2, 22) // a2 - a1
				x.op(a, "SUB", a3, a1, 23) // a1 - a3
				for j := 0; j < 4; j++ {
					if x.arm() {
						a.I("VST1.P [V%d.S4], (R13)(R9)", 20+j)
					} else {
						a.Ins(x.Store(asmgen.VReg(20+j), plane(i, j, offStr(o))))
					}
				}
			}
			if x.arm() {
				for _, r := range []string{"R1", "R6", "R7", "R16"} {
					a.I("ADD $%d, %s", 2*blockBytes, r)
				}
				a.I("SUB R17, R13")
			} else {
				a.I("ADDQ $%d, SI", 2*blockBytes)
				a.Raw(planeNext)
			}
		}
		body([4]int{0, 4, 8, 12})
		x.decJZ(a, "CX", "indone"+sfx)
		body([4]int{8, 12, 0, 4})
		x.loop(a, "CX", "inloop"+sfx)
		a.Label("indone" + sfx)
	}
}

func offStr(off int) string {
	if off == 0 {
		return ""
	}
	return fmt.Sprint(off)
}

// winoInStream transforms one tile and one vector of the block at a time:
// for each row i of B^T, the four columns' combination of two input rows,
// then the horizontal transform, in the Go reference's order (amd64: it
// reads memory operands).
func (x *fam) winoInStream(a *asmgen.Asm) {
	a.I("MOVQ W_N(AX), CX")
	a.Label("inloop")
	rows := []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R12*1)"}
	vert := []struct {
		a, c int
		op   string
	}{{0, 2, "SUB"}, {1, 2, "ADD"}, {2, 1, "SUB"}, {1, 3, "SUB"}}
	for h := 0; h < x.V; h++ {
		for i, v := range vert {
			for j := 0; j < 4; j++ {
				off := blockBytes*j + x.vecBytes()*h
				a.Ins(x.Load(fmt.Sprintf("%d%s", off, rows[v.a]), asmgen.VReg(j)))
				x.opMem(a, v.op, fmt.Sprintf("%d%s", off, rows[v.c]), asmgen.VReg(j), asmgen.VReg(j), 0)
			}
			x.op(a, "SUB", 2, 0, 4)
			x.op(a, "ADD", 2, 1, 5)
			x.op(a, "SUB", 1, 2, 6)
			x.op(a, "SUB", 3, 1, 7)
			for j := 0; j < 4; j++ {
				a.Ins(x.Store(asmgen.VReg(4+j), plane(i, j, fmt.Sprint(x.vecBytes()*h))))
			}
		}
	}
	a.I("ADDQ $%d, SI", 2*blockBytes)
	a.Raw(planeNext)
	a.I("DECQ CX")
	a.I("JNZ inloop")
}

// winoOut is the output transform (see WinoOut).
func (x *fam) winoOut() string {
	name := x.name("winoOut")
	a := x.f.Func(name, "a *WinoArgs", 8)
	if !x.arm() {
		a.Raw(`	MOVQ a+0(FP), AX
	MOVQ W_SRC(AX), DI
` + planeSetup + `	MOVQ W_DST(AX), SI
	MOVQ W_DSTROW(AX), R8
	MOVQ W_RES(AX), BX
	MOVQ W_RESROW(AX), R11
	MOVQ W_BMAP(AX), DX
	MOVQ W_BMAPROW(AX), R12
	MOVQ W_BIAS(AX), CX
`)
	}
	if x.NumRegs >= 32 {
		x.winoOutTiles(a)
	} else {
		x.winoOutStream(a)
	}
	x.end(a)
	return name
}

// outPix spells output pixel k (y = k/2, x = k%2) of a tile at base, rows
// row bytes apart, plus off bytes. On arm64, row is the register holding the
// second row's address.
func (x *fam) outPix(k, off int, base, row string) string {
	o := off + blockBytes*(k%2)
	if x.arm() {
		if k >= 2 {
			base = row
		}
		return fmt.Sprintf("%d(%s)", o, x.reg(base))
	}
	if k < 2 {
		return mem(o, base)
	}
	return fmt.Sprintf("%s(%s)(%s*1)", offStr(o), base, row)
}

// winoOutTiles loads a tile's 16 planes into registers 0-15, the vertical
// transform into 16-23, the 2x2 outputs into 24-27; bias in 31, lo and hi
// in 30 and 29: the vectors of the block one after the other, for all the
// tiles.
func (x *fam) winoOutTiles(a *asmgen.Asm) {
	// Output, residual and bias map: the first row's pointer and (amd64)
	// the row stride or (arm64) the second row's pointer.
	type ptrs struct{ ptr, row, skip string }
	res, bmap, out := ptrs{"BX", "R11", "nores"}, ptrs{"DX", "R12", "nobmap"}, ptrs{"SI", "R8", ""}
	if x.arm() {
		res.row, bmap.row, out.row = "R19", "R20", "R21"
	}
	for h := 0; h < x.V; h++ {
		sfx, o := x.sfx(h), x.vecBytes()*h
		if x.arm() {
			a.I("MOVD a+0(FP), R3")
			x.armPlanes(a, "W_SRC", o)
			a.I("MOVD W_DST(R3), R1")
			a.I("ADD $%d, R1", o)
			a.I("MOVD W_DSTROW(R3), R8")
			a.I("ADD R8, R1, R21")
			for _, p := range []struct{ f, fr, ptr, row string }{{"W_RES", "W_RESROW", "R2", "R19"}, {"W_BMAP", "W_BMAPROW", "R5", "R20"}} {
				a.I("MOVD %s(R3), %s", p.f, p.ptr)
				a.I("CBZ %s, nil%s%s", p.ptr, p.row, sfx)
				a.I("ADD $%d, %s", o, p.ptr)
				a.I("MOVD %s(R3), R8", p.fr)
				a.I("ADD R8, %s, %s", p.ptr, p.row)
				a.Label("nil" + p.row + sfx)
			}
			a.I("MOVD W_BIAS(R3), R4")
			o = 0
			a.Ins(x.Load(fmt.Sprintf("%d(R4)", x.vecBytes()*h), 31))
		} else {
			if h > 0 {
				panic("gen_kernels: the amd64 output transform takes a block per vector")
			}
			a.Ins(x.Load("(CX)", 31))
		}
		x.bcast(a, x.field("W_LO", "AX"), 30)
		x.bcast(a, x.field("W_HI", "AX"), 29)
		x.ld(a, "W_N", "AX", "CX")
		a.Label("outloop" + sfx)
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				if x.arm() {
					a.I("VLD1.P (R13)(R9), [V%d.S4]", 4*i+j)
				} else {
					a.Ins(x.Load(plane(i, j, ""), asmgen.VReg(4*i+j)))
				}
			}
		}
		for j := 0; j < 4; j++ {
			v := asmgen.VReg(j)
			x.op(a, "ADD", 4+v, v, 16+v)     // m0 + m1
			x.op(a, "ADD", 8+v, 16+v, 16+v)  // + m2
			x.op(a, "SUB", 8+v, 4+v, 20+v)   // m1 - m2
			x.op(a, "SUB", 12+v, 20+v, 20+v) // - m3
		}
		for k := 0; k < 2; k++ {
			s, y := asmgen.VReg(16+4*k), asmgen.VReg(24+2*k)
			x.op(a, "ADD", s+1, s, y)
			x.op(a, "ADD", s+2, y, y)
			x.op(a, "SUB", s+2, s+1, y+1)
			x.op(a, "SUB", s+3, y+1, y+1)
		}
		for y := asmgen.VReg(24); y < 28; y++ {
			x.op(a, "ADD", 31, y, y)
		}
		for _, s := range []ptrs{res, bmap} {
			x.jnil(a, s.ptr, s.skip+sfx)
			for k := 0; k < 4; k++ {
				y := asmgen.VReg(24 + k)
				x.opMem(a, "ADD", x.outPix(k, o, s.ptr, s.row), y, y, 0)
			}
			x.addImm(a, 2*blockBytes, s.ptr)
			if x.arm() {
				x.addImm(a, 2*blockBytes, s.row)
			}
			a.Label(s.skip + sfx)
		}
		for k := 0; k < 4; k++ {
			y := asmgen.VReg(24 + k)
			x.op(a, "MAX", 30, y, y)
			x.op(a, "MIN", 29, y, y)
			a.Ins(x.Store(y, x.outPix(k, o, out.ptr, out.row)))
		}
		x.addImm(a, 2*blockBytes, "SI")
		if x.arm() {
			x.addImm(a, 2*blockBytes, out.row)
			a.I("SUB R17, R13")
		} else {
			a.Raw(planeNext)
		}
		x.loop(a, "CX", "outloop"+sfx)
	}
}

// winoOutStream transforms one tile and one vector of the block at a time:
// the vertical transform of the four columns into 0-7 (reading the planes
// as memory operands: amd64), the 2x2 outputs into 8-11; the bias vectors
// in 12.., lo and hi in the last two registers.
func (x *fam) winoOutStream(a *asmgen.Asm) {
	r := func(v int) string { return x.R(asmgen.VReg(v)) }
	for v := 0; v < x.V; v++ {
		a.Ins(x.Load(mem(x.vecBytes()*v, "CX"), asmgen.VReg(12+v)))
	}
	lo, hi := x.clampRegs()
	a.Ins(x.Broadcast("W_LO(AX)", lo), x.Broadcast("W_HI(AX)", hi))
	a.I("MOVQ W_N(AX), CX")
	a.Label("outloop")
	for h := 0; h < x.V; h++ {
		o := x.vecBytes() * h
		p := func(i, j int) string { return plane(i, j, fmt.Sprint(o)) }
		for j := 0; j < 4; j++ {
			a.Ins(x.Load(p(0, j), asmgen.VReg(j)))
			a.I("VADDPS %s, %s, %s", p(1, j), r(j), r(j))
			a.I("VADDPS %s, %s, %s", p(2, j), r(j), r(j))
			a.Ins(x.Load(p(1, j), asmgen.VReg(4+j)))
			a.I("VSUBPS %s, %s, %s", p(2, j), r(4+j), r(4+j))
			a.I("VSUBPS %s, %s, %s", p(3, j), r(4+j), r(4+j))
		}
		for k := 0; k < 2; k++ {
			s, y := 4*k, 8+2*k
			a.I("VADDPS %s, %s, %s", r(s+1), r(s), r(y))
			a.I("VADDPS %s, %s, %s", r(s+2), r(y), r(y))
			a.I("VSUBPS %s, %s, %s", r(s+2), r(s+1), r(y+1))
			a.I("VSUBPS %s, %s, %s", r(s+3), r(y+1), r(y+1))
		}
		for y := 8; y < 12; y++ {
			a.I("VADDPS %s, %s, %s", r(12+h), r(y), r(y))
		}
		for _, s := range []struct{ ptr, row, skip string }{{"BX", "R11", "nores"}, {"DX", "R12", "nobmap"}} {
			a.I("TESTQ %s, %s", s.ptr, s.ptr)
			a.I("JZ %s%d", s.skip, h)
			for k := 0; k < 4; k++ {
				a.I("VADDPS %s, %s, %s", outPixFull(k, o, s.ptr, s.row), r(8+k), r(8+k))
			}
			a.Label(fmt.Sprintf("%s%d", s.skip, h))
		}
		for k := 0; k < 4; k++ {
			a.Ins(x.Max(x.R(lo), asmgen.VReg(8+k), asmgen.VReg(8+k)), x.Min(x.R(hi), asmgen.VReg(8+k), asmgen.VReg(8+k)),
				x.Store(asmgen.VReg(8+k), outPixFull(k, o, "SI", "R8")))
		}
	}
	for _, s := range []struct{ ptr, skip string }{{"BX", "nextres"}, {"DX", "nextbmap"}} {
		a.I("TESTQ %s, %s", s.ptr, s.ptr)
		a.I("JZ %s", s.skip)
		a.I("ADDQ $%d, %s", 2*blockBytes, s.ptr)
		a.Label(s.skip)
	}
	a.I("ADDQ $%d, SI", 2*blockBytes)
	a.Raw(planeNext)
	a.I("DECQ CX")
	a.I("JNZ outloop")
}

// outPixFull is outPix with the offset always spelt (amd64).
func outPixFull(k, off int, base, row string) string {
	o := off + blockBytes*(k%2)
	if k < 2 {
		return fmt.Sprintf("%d(%s)", o, base)
	}
	return fmt.Sprintf("%d(%s)(%s*1)", o, base, row)
}

// generate writes the family of x into f: every kernel, the family
// description and the dispatch functions.
func generate(f *asmgen.File, x *fam) {
	x.f = f
	var defs strings.Builder
	for _, d := range defines {
		fmt.Fprintf(&defs, "#define %s %d\n", d.name, d.off)
	}
	f.Raw(defs.String() + "\n")
	f.Go("import \"github.com/dshrink/dshrink/kernels/isa\"\n\n")

	var conv, dw, reuse, gemm []string
	for _, p := range convPix {
		for r := 1; r <= x.convMaxR(); r++ {
			conv = append(conv, x.conv(p, r))
		}
	}
	var maxp []string
	for _, p := range dwPix {
		for r := 1; r <= x.dwMaxR(); r++ {
			dw = append(dw, x.dw(p, r))
		}
	}
	for _, p := range dwPix {
		for r := 1; r <= x.dwMaxR(); r++ {
			maxp = append(maxp, x.maxPool(p, r))
		}
	}
	var reuseCase []int
	for _, k := range []int{3, 5} {
		for _, s := range []int{1, 2} {
			for r := 1; r <= x.reuseMaxR(k); r++ {
				reuse = append(reuse, x.dwReuse(k, s, r))
				reuseCase = append(reuseCase, (k*10+s)*100+r)
			}
		}
	}
	for r := 1; r <= x.winoMaxR(); r++ {
		gemm = append(gemm, x.winoGemm(r))
	}
	x.permute()
	var acts []string
	var actCases []int
	for k := range actKinds {
		acts = append(acts, x.act(k))
		actCases = append(actCases, k)
	}
	x.winoIn()
	x.winoOut()

	ints := func(s []int) string { return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(s)), ", "), "[]") }
	f.Go(fmt.Sprintf(`// family%s describes the %s family: its pixel strides and register tiles.
var family%s = &family{level: isa.%s, name: %q,
	pix: []int{%s}, dwPix: []int{%s},
	convMaxR: %d, dwMaxR: %d, winoMaxR: %d,
	reuseMaxR: func(k int) int { return min(MaxR, %d-k) }, hasPoolAct: true, lanes: %d}

`, x.Name, x.Name, x.Name, x.Name, x.Level, ints(convPix), ints(dwPix), x.convMaxR(), x.dwMaxR(), x.winoMaxR(), x.NumRegs-2, x.Lanes()))

	sw := func(doc, fn, params, expr string, cases []int, names []string) {
		var b strings.Builder
		fmt.Fprintf(&b, "// %s\nfunc %s(%s, a *Args) {\n\tswitch %s {\n", doc, fn, params, expr)
		for i, n := range names {
			fmt.Fprintf(&b, "\tcase %d:\n\t\t%s(a)\n", cases[i], n)
		}
		b.WriteString("\t}\n}\n\n")
		f.Go(b.String())
	}
	pixCases := func(pix []int, maxR int) []int {
		var c []int
		for i := range pix {
			for r := 1; r <= maxR; r++ {
				c = append(c, i*(maxR+1)+r)
			}
		}
		return c
	}
	sw(fmt.Sprintf("%s runs the dense kernel for pixel-stride index pi and r pixels.", x.name("conv")), x.name("conv"), "pi, r int",
		fmt.Sprintf("pi*%d + r", x.convMaxR()+1), pixCases(convPix, x.convMaxR()), conv)
	sw(fmt.Sprintf("%s runs the depthwise kernel for pixel-stride index pi and r pixels.", x.name("dw")), x.name("dw"), "pi, r int",
		fmt.Sprintf("pi*%d + r", x.dwMaxR()+1), pixCases(dwPix, x.dwMaxR()), dw)
	sw(fmt.Sprintf("%s runs the max-pooling kernel for pixel-stride index pi and r pixels.", x.name("maxPool")), x.name("maxPool"), "pi, r int",
		fmt.Sprintf("pi*%d + r", x.dwMaxR()+1), pixCases(dwPix, x.dwMaxR()), maxp)
	sw(fmt.Sprintf("%s runs the k x k (3 or 5) stride s (1 or 2) row-reuse depthwise\n// kernel with r pixels.", x.name("dwReuse")),
		x.name("dwReuse"), "k, s, r int", "(k*10+s)*100 + r", reuseCase, reuse)
	sw(fmt.Sprintf("%s runs the product kernel for r tiles.", x.name("winoGemm")), x.name("winoGemm"), "r int", "r",
		pixCases([]int{0}, x.winoMaxR()), gemm)
	sw(fmt.Sprintf("%s runs the activation kernel of kind k (Act*).", x.name("act")), x.name("act"), "k int", "k", actCases, acts)
}

func main() {
	dir := flag.String("dir", ".", "directory to write the generated files to")
	flag.Parse()
	for _, isa := range families {
		x := newFam(isa)
		base := strings.ToLower(isa.Name) + "_" + isa.Arch
		f := asmgen.NewFile("gen_kernels.go", "nchwc", isa.Arch+" && !purego")
		generate(f, x)
		if err := f.WriteFiles(filepath.Join(*dir, base+".s"), filepath.Join(*dir, base+".go")); err != nil {
			log.Fatal(err)
		}
	}
}
