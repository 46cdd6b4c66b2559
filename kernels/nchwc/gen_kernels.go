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
// 16-channel block is V = Block/Lanes vectors (1 zmm, 2 ymm), the register
// tiles come from the register budget (NumRegs), and scalars reach the lanes
// the way the ISA broadcasts (Bcast: an embedded broadcast in the FMA, or a
// broadcast into a scratch register that the V FMAs of a pixel share).
//
//   - conv, the dense direct convolution: R pixels x V vectors of
//     accumulators, V weight vectors, and (with a load broadcast) two
//     alternating broadcast registers; fused epilogue (bias, residual, border
//     bias map, clamp).
//   - dw, the general depthwise convolution: R x V accumulators, V weights.
//   - dwReuse, the k x k (3, 5) stride 1 or 2 depthwise convolution that
//     loads each input vector once per kernel row: one vector of the block at
//     a time, R accumulators, k weights and two input registers.
//   - winoGemm, the Winograd product: conv's tile without the epilogue,
//     weights prefetched.
//   - winoIn and winoOut, the Winograd F(2x2, 3x3) transforms: with 32
//     registers a whole tile stays in registers (the input transform reuses
//     the two columns that neighbouring tiles share); with 16, one vector of
//     the block at a time streams through 8 registers.
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
var families = []*asmgen.ISA{asmgen.AVX512, asmgen.AVX2}

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

// bcastRegs is the number of scratch registers a pixel's broadcast scalar
// needs in the dense kernels: none with embedded broadcasts, two
// (alternating, so consecutive pixels do not wait on each other) otherwise.
func (x *fam) bcastRegs() int {
	if x.Bcast == asmgen.BcastEmbedded {
		return 0
	}
	return 2
}

// Register tiles: the dense kernels (and the product) keep R x V
// accumulators, V weight vectors and the broadcast registers; the general
// depthwise kernel R x V accumulators and V weights; the row-reuse kernel,
// one vector at a time, R accumulators, k weights and two inputs.
func (x *fam) convMaxR() int { return min(maxR, (x.NumRegs-x.bcastRegs()-x.V)/x.V) }
func (x *fam) winoMaxR() int { return min(winoMaxR, (x.NumRegs-x.bcastRegs()-x.V)/x.V) }
func (x *fam) dwMaxR() int   { return min(maxR, (x.NumRegs-x.V)/x.V) }
func (x *fam) reuseMaxR(k int) int {
	return min(maxR, x.NumRegs-2-k)
}

// acc is the accumulator of pixel r, vector v.
func (x *fam) acc(r, v int) asmgen.VReg { return asmgen.VReg(x.V*r + v) }

func (x *fam) tile(rows int) asmgen.Tile {
	return asmgen.Tile{ISA: x.ISA, Rows: rows, Vecs: x.V, Acc: x.acc}
}

// clampRegs are the registers the epilogue broadcasts lo and hi into: the
// last two, free once the accumulation is done.
func (x *fam) clampRegs() (lo, hi asmgen.VReg) {
	return asmgen.VReg(x.NumRegs - 2), asmgen.VReg(x.NumRegs - 1)
}

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

func (x *fam) begin(name string) *asmgen.Asm {
	a := x.f.Func(name, "a *Args", 8)
	a.I("MOVQ a+0(FP), DI")
	return a
}

func (x *fam) end(a *asmgen.Asm) {
	a.Ins(x.Return()...)
	x.f.EndFunc()
}

// initBias starts every pixel's accumulators at the bias block.
func (x *fam) initBias(a *asmgen.Asm, rows int) {
	a.I("MOVQ A_BIAS(DI), AX")
	for v := 0; v < x.V; v++ {
		a.Ins(x.Load(mem(v*x.vecBytes(), "AX"), x.acc(0, v)))
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
	e := asmgen.Epilogue{Tile: t}
	for _, s := range []struct{ field, skip string }{{"A_RES", "nores"}, {"A_BMAP", "nobmap"}} {
		a.I("MOVQ %s(DI), AX", s.field)
		a.I("TESTQ AX, AX")
		a.I("JZ %s%s", s.skip, sfx)
		e.Add(a, 0, "", asmgen.Mem{Ptr: "AX", Offset: off})
		a.Label(s.skip + sfx)
	}
	lo, hi := x.clampRegs()
	a.Ins(x.Broadcast("A_LO(DI)", lo), x.Broadcast("A_HI(DI)", hi))
	a.I("MOVQ A_OUT(DI), AX")
	for r := 0; r < t.Rows; r++ {
		for v := 0; v < t.Vecs; v++ {
			acc := t.Acc(r, v)
			a.Ins(x.Max(x.R(lo), acc, acc), x.Min(x.R(hi), acc, acc), x.Store(acc, fmt.Sprintf("%d(AX)", off(r, v))))
		}
	}
}

func (x *fam) blockOff(r, v int) int { return blockBytes*r + x.vecBytes()*v }

// weights loads the V vectors of one weight block at (BX) into ws.
func (x *fam) weights(a *asmgen.Asm, first asmgen.VReg) []asmgen.VReg {
	ws := make([]asmgen.VReg, x.V)
	for v := range ws {
		ws[v] = first + asmgen.VReg(v)
		a.Ins(x.Load(mem(v*x.vecBytes(), "BX"), ws[v]))
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

// conv is the dense kernel for rows pixels pix bytes apart (see Args).
func (x *fam) conv(pix, rows int) string {
	name := x.name(fmt.Sprintf("convP%dR%d", pix, rows))
	a := x.begin(name)
	x.initBias(a, rows)
	a.Raw(`	MOVQ A_IN(DI), SI
	MOVQ A_W(DI), BX
	MOVQ A_CB(DI), R8
cbloop:
	MOVQ SI, R10
	MOVQ A_KH(DI), R9
khloop:
	MOVQ R10, R11
	MOVQ A_KW(DI), R12
kwloop:
	MOVQ R11, R13
	MOVQ A_CNT(DI), R14
	CMPQ R8, $1
	JNE cloop
	MOVQ A_CNTLAST(DI), R14
cloop:
`)
	ws := x.weights(a, asmgen.VReg(x.NumRegs-x.bcastRegs()-x.V))
	x.rowFMAs(a, rows, pix, ws)
	a.Raw(`	ADDQ $4, R13
	ADDQ $64, BX
	DECQ R14
	JNZ cloop
	ADDQ A_KWSTEP(DI), R11
	DECQ R12
	JNZ kwloop
	ADDQ A_ROWSTRIDE(DI), R10
	DECQ R9
	JNZ khloop
	ADDQ A_CBSTRIDE(DI), SI
	DECQ R8
	JNZ cbloop
`)
	x.epilogue(a, x.tile(rows), x.blockOff, "")
	x.end(a)
	return name
}

// dw is the general depthwise kernel for rows pixels pix bytes apart.
func (x *fam) dw(pix, rows int) string {
	name := x.name(fmt.Sprintf("dwP%dR%d", pix, rows))
	a := x.begin(name)
	x.initBias(a, rows)
	a.Raw(`	MOVQ A_IN(DI), SI
	MOVQ A_W(DI), BX
	MOVQ A_KH(DI), R9
khloop:
	MOVQ SI, R11
	MOVQ A_KW(DI), R12
kwloop:
`)
	ws := x.weights(a, asmgen.VReg(x.NumRegs-x.V))
	for r := 0; r < rows; r++ {
		for v := 0; v < x.V; v++ {
			a.Ins(x.FMA(fmt.Sprintf("%d(R11)", pix*r+x.vecBytes()*v), ws[v], x.acc(r, v)))
		}
	}
	a.Raw(`	ADDQ A_KWSTEP(DI), R11
	ADDQ $64, BX
	DECQ R12
	JNZ kwloop
	ADDQ A_ROWSTRIDE(DI), SI
	DECQ R9
	JNZ khloop
`)
	x.epilogue(a, x.tile(rows), x.blockOff, "")
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
		a.I("MOVQ A_BIAS(DI), AX")
		a.Ins(x.Load(fmt.Sprintf("%d(AX)", x.vecBytes()*h), 0))
		for r := 1; r < rows; r++ {
			a.Ins(x.Mov(0, asmgen.VReg(r)))
		}
		a.I("MOVQ A_IN(DI), SI")
		a.I("MOVQ A_W(DI), BX")
		a.I("MOVQ A_KH(DI), R9")
		a.Label("khloop" + sfx)
		for kw := 0; kw < k; kw++ {
			a.Ins(x.Load(fmt.Sprintf("%d(BX)", blockBytes*kw+x.vecBytes()*h), asmgen.VReg(wb+kw)))
		}
		n := (rows-1)*s + k
		for i := 0; i < n; i++ {
			in := asmgen.VReg(wb - 2 + i%2)
			a.Ins(x.Load(fmt.Sprintf("%d(SI)", blockBytes*i+x.vecBytes()*h), in))
			for kw := 0; kw < k; kw++ {
				if d := i - kw; d >= 0 && d%s == 0 && d/s < rows {
					a.Ins(x.FMA(x.R(in), asmgen.VReg(wb+kw), asmgen.VReg(d/s)))
				}
			}
		}
		a.I("ADDQ A_ROWSTRIDE(DI), SI")
		a.I("ADDQ $%d, BX", blockBytes*k)
		a.I("DECQ R9")
		a.I("JNZ khloop%s", sfx)
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
	a.Raw(`	MOVQ A_IN(DI), SI
	MOVQ A_W(DI), BX
	MOVQ A_CB(DI), R8
	MOVQ A_CBSTRIDE(DI), R9
gcbloop:
	MOVQ SI, R13
	MOVQ A_CNT(DI), R14
	CMPQ R8, $1
	JNE gcloop
	MOVQ A_CNTLAST(DI), R14
gcloop:
`)
	ws := x.weights(a, asmgen.VReg(x.NumRegs-x.bcastRegs()-x.V))
	a.I("PREFETCHT0 %d(BX)", prefetch)
	x.rowFMAs(a, rows, blockBytes, ws)
	a.Raw(`	ADDQ $4, R13
	ADDQ $64, BX
	DECQ R14
	JNZ gcloop
	ADDQ R9, SI
	DECQ R8
	JNZ gcbloop
	MOVQ A_OUT(DI), AX
`)
	(&asmgen.Epilogue{Tile: t}).Store(a, asmgen.Mem{Ptr: "AX", Offset: x.blockOff})
	x.end(a)
	return name
}

// Planes of the Winograd transforms: plane pos = 4i+j is at (base of row
// i)(index of column j), the bases DI + 4*i*Pos and the indices multiples of
// Pos (R9 = Pos, R10 = 3*Pos).
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

// inColumn emits the vertical input transform (B^T d) of the column at
// byte offset off of the tile at SI into registers r..r+3, loading the rows
// into 16..19.
func (x *fam) inColumn(a *asmgen.Asm, off int, r asmgen.VReg) {
	rows := []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R12*1)"}
	for i, m := range rows {
		a.Ins(x.Load(fmt.Sprintf("%d%s", off, m), asmgen.VReg(16+i)))
	}
	a.I("VSUBPS %s, %s, %s", x.R(18), x.R(16), x.R(r))   // d0 - d2
	a.I("VADDPS %s, %s, %s", x.R(18), x.R(17), x.R(r+1)) // d1 + d2
	a.I("VSUBPS %s, %s, %s", x.R(17), x.R(18), x.R(r+2)) // d2 - d1
	a.I("VSUBPS %s, %s, %s", x.R(19), x.R(17), x.R(r+3)) // d1 - d3
}

// winoIn is the input transform (see WinoIn).
func (x *fam) winoIn() string {
	name := x.name("winoIn")
	a := x.f.Func(name, "a *WinoArgs", 8)
	a.Raw(`	MOVQ a+0(FP), AX
	MOVQ W_SRC(AX), SI
	MOVQ W_DST(AX), DI
	MOVQ W_SRCROW(AX), R8
	LEAQ (R8)(R8*2), R12
` + planeSetup)
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
		if h > 0 {
			a.Raw(`	MOVQ a+0(FP), AX
	MOVQ W_SRC(AX), SI
	MOVQ W_DST(AX), DI
` + planeSetup)
		}
		a.I("MOVQ W_N(AX), CX")
		x.inColumn(a, o, 0)
		x.inColumn(a, blockBytes+o, 4)
		a.Label("inloop" + sfx)
		body := func(cols [4]int) {
			x.inColumn(a, 2*blockBytes+o, asmgen.VReg(cols[2]))
			x.inColumn(a, 3*blockBytes+o, asmgen.VReg(cols[3]))
			for i := 0; i < 4; i++ {
				a0, a1, a2, a3 := x.R(asmgen.VReg(cols[0]+i)), x.R(asmgen.VReg(cols[1]+i)), x.R(asmgen.VReg(cols[2]+i)), x.R(asmgen.VReg(cols[3]+i))
				a.I("VSUBPS %s, %s, %s", a2, a0, x.R(20)) // a0 - a2
				a.I("VADDPS %s, %s, %s", a2, a1, x.R(21)) // a1 + a2
				a.I("VSUBPS %s, %s, %s", a1, a2, x.R(22)) // a2 - a1
				a.I("VSUBPS %s, %s, %s", a3, a1, x.R(23)) // a1 - a3
				for j := 0; j < 4; j++ {
					a.Ins(x.Store(asmgen.VReg(20+j), plane(i, j, offStr(o))))
				}
			}
			a.I("ADDQ $%d, SI", 2*blockBytes)
			a.Raw(planeNext)
		}
		body([4]int{0, 4, 8, 12})
		a.I("DECQ CX")
		a.I("JZ indone%s", sfx)
		body([4]int{8, 12, 0, 4})
		a.I("DECQ CX")
		a.I("JNZ inloop%s", sfx)
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
// then the horizontal transform, in the Go reference's order.
func (x *fam) winoInStream(a *asmgen.Asm) {
	a.I("MOVQ W_N(AX), CX")
	a.Label("inloop")
	rows := []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R12*1)"}
	vert := []struct {
		a, c int
		op   string
	}{{0, 2, "VSUBPS"}, {1, 2, "VADDPS"}, {2, 1, "VSUBPS"}, {1, 3, "VSUBPS"}}
	for h := 0; h < x.V; h++ {
		for i, v := range vert {
			for j := 0; j < 4; j++ {
				off := blockBytes*j + x.vecBytes()*h
				a.Ins(x.Load(fmt.Sprintf("%d%s", off, rows[v.a]), asmgen.VReg(j)))
				a.I("%s %d%s, %s, %s", v.op, off, rows[v.c], x.R(asmgen.VReg(j)), x.R(asmgen.VReg(j)))
			}
			a.I("VSUBPS %s, %s, %s", x.R(2), x.R(0), x.R(4))
			a.I("VADDPS %s, %s, %s", x.R(2), x.R(1), x.R(5))
			a.I("VSUBPS %s, %s, %s", x.R(1), x.R(2), x.R(6))
			a.I("VSUBPS %s, %s, %s", x.R(3), x.R(1), x.R(7))
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
	if x.NumRegs >= 32 {
		x.winoOutTiles(a)
	} else {
		x.winoOutStream(a)
	}
	x.end(a)
	return name
}

// outPix spells output pixel k (y = k/2, x = k%2) of a tile at base, rows
// row bytes apart, plus off bytes.
func outPix(k, off int, base, row string) string {
	o := off + blockBytes*(k%2)
	if k < 2 {
		return mem(o, base)
	}
	return fmt.Sprintf("%s(%s)(%s*1)", offStr(o), base, row)
}

// winoOutTiles loads a tile's 16 planes into registers 0-15, the vertical
// transform into 16-23, the 2x2 outputs into 24-27; bias in 31, lo and hi
// in 30 and 29.
func (x *fam) winoOutTiles(a *asmgen.Asm) {
	if x.V != 1 {
		panic("gen_kernels: the 32-register output transform takes a block per vector")
	}
	r := func(v int) string { return x.R(asmgen.VReg(v)) }
	a.Ins(x.Load("(CX)", 31), x.Broadcast("W_LO(AX)", 30), x.Broadcast("W_HI(AX)", 29))
	a.I("MOVQ W_N(AX), CX")
	a.Label("outloop")
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			a.Ins(x.Load(plane(i, j, ""), asmgen.VReg(4*i+j)))
		}
	}
	for j := 0; j < 4; j++ {
		a.I("VADDPS %s, %s, %s", r(4+j), r(j), r(16+j))     // m0 + m1
		a.I("VADDPS %s, %s, %s", r(8+j), r(16+j), r(16+j))  // + m2
		a.I("VSUBPS %s, %s, %s", r(8+j), r(4+j), r(20+j))   // m1 - m2
		a.I("VSUBPS %s, %s, %s", r(12+j), r(20+j), r(20+j)) // - m3
	}
	for k := 0; k < 2; k++ {
		s, y := 16+4*k, 24+2*k
		a.I("VADDPS %s, %s, %s", r(s+1), r(s), r(y))
		a.I("VADDPS %s, %s, %s", r(s+2), r(y), r(y))
		a.I("VSUBPS %s, %s, %s", r(s+2), r(s+1), r(y+1))
		a.I("VSUBPS %s, %s, %s", r(s+3), r(y+1), r(y+1))
	}
	for y := 24; y < 28; y++ {
		a.I("VADDPS %s, %s, %s", r(31), r(y), r(y))
	}
	for _, s := range []struct{ ptr, row, skip string }{{"BX", "R11", "nores"}, {"DX", "R12", "nobmap"}} {
		a.I("TESTQ %s, %s", s.ptr, s.ptr)
		a.I("JZ %s", s.skip)
		for k := 0; k < 4; k++ {
			a.I("VADDPS %s, %s, %s", outPix(k, 0, s.ptr, s.row), r(24+k), r(24+k))
		}
		a.I("ADDQ $%d, %s", 2*blockBytes, s.ptr)
		a.Label(s.skip)
	}
	for k := 0; k < 4; k++ {
		a.Ins(x.Max(r(30), asmgen.VReg(24+k), asmgen.VReg(24+k)), x.Min(r(29), asmgen.VReg(24+k), asmgen.VReg(24+k)),
			x.Store(asmgen.VReg(24+k), outPix(k, 0, "SI", "R8")))
	}
	a.I("ADDQ $%d, SI", 2*blockBytes)
	a.Raw(planeNext)
	a.I("DECQ CX")
	a.I("JNZ outloop")
}

// winoOutStream transforms one tile and one vector of the block at a time:
// the vertical transform of the four columns into 0-7 (reading the planes
// as memory operands), the 2x2 outputs into 8-11; the bias vectors in
// 12.., lo and hi in the last two registers.
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

// outPixFull is outPix with the offset always spelt.
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
	for _, p := range dwPix {
		for r := 1; r <= x.dwMaxR(); r++ {
			dw = append(dw, x.dw(p, r))
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
	x.winoIn()
	x.winoOut()

	ints := func(s []int) string { return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(s)), ", "), "[]") }
	f.Go(fmt.Sprintf(`// family%s describes the %s family: its pixel strides and register tiles.
var family%s = &family{level: isa.%s, name: %q,
	pix: []int{%s}, dwPix: []int{%s},
	convMaxR: %d, dwMaxR: %d, winoMaxR: %d,
	reuseMaxR: func(k int) int { return min(MaxR, %d-k) }}

`, x.Name, x.Name, x.Name, x.Name, x.Level, ints(convPix), ints(dwPix), x.convMaxR(), x.dwMaxR(), x.winoMaxR(), x.NumRegs-2))

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
	sw(fmt.Sprintf("%s runs the k x k (3 or 5) stride s (1 or 2) row-reuse depthwise\n// kernel with r pixels.", x.name("dwReuse")),
		x.name("dwReuse"), "k, s, r int", "(k*10+s)*100 + r", reuseCase, reuse)
	sw(fmt.Sprintf("%s runs the product kernel for r tiles.", x.name("winoGemm")), x.name("winoGemm"), "r int", "r",
		pixCases([]int{0}, x.winoMaxR()), gemm)
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
