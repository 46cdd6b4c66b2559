//go:build ignore

// gen_tiles writes the amd64 micro-kernels (tiles_amd64.s) and their Go
// declarations (tiles_amd64.go). Run it with `go generate` in this directory;
// the output is committed, so building needs nothing extra.
//
// Every generated kernel has the signature func(p *tileArgs) and computes a
// tile of C from a packed A micro-panel (MR floats per k step) and a B panel
// (W floats per k step, bstride bytes apart), then applies the epilogue the
// flags in p ask for. One kernel is emitted per (row count, panel width), so
// a partial tile in the M direction does no wasted arithmetic, and the panel
// width is always chosen so that no vector of the tile is entirely masked.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"strings"
)

// Offsets of tileArgs fields; tile_test.go checks them against the Go struct.
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

type isa struct {
	name   string // kernel name prefix
	reg    string // "Z" or "Y"
	vbytes int    // bytes per vector
	mr     int    // rows of the packed A panel
	maxH   int    // vectors per row in the wide kernel
	bReg   int    // first register holding B
	tmp    [2]int // scratch registers for the epilogue
}

var (
	avx512 = isa{name: "AVX512", reg: "Z", vbytes: 64, mr: 12, maxH: 2, bReg: 28, tmp: [2]int{30, 31}}
	avx2   = isa{name: "AVX2", reg: "Y", vbytes: 32, mr: 6, maxH: 2, bReg: 12, tmp: [2]int{14, 15}}
)

type gen struct {
	s     bytes.Buffer
	label int
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.s, "\t"+format+"\n", args...)
}

func (g *gen) lbl(name string) { fmt.Fprintf(&g.s, "%s:\n", name) }

func acc(x isa, r, h int) string { return fmt.Sprintf("%s%d", x.reg, r*x.maxH+h) }
func vr(x isa, i int) string     { return fmt.Sprintf("%s%d", x.reg, i) }

func kname(x isa, mr, h int, direct bool) string {
	d := ""
	if direct {
		d = "D"
	}
	return fmt.Sprintf("tile%s%sM%dN%d", x.name, d, mr, h*x.vbytes/4)
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
func (g *gen) kernel(x isa, mr, h int, direct bool) {
	name := kname(x, mr, h, direct)
	fmt.Fprintf(&g.s, "// func %s(p *tileArgs)\n", name)
	fmt.Fprintf(&g.s, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	g.p("MOVQ p+0(FP), DI")
	g.p("MOVQ %d(DI), SI", offA)
	g.p("MOVQ %d(DI), DX", offB)
	g.p("MOVQ %d(DI), CX", offK)
	g.p("MOVQ %d(DI), R8", offBStride)
	if direct {
		g.p("MOVQ %d(DI), R10", offLda)
		g.p("LEAQ (R10)(R10*2), R11")
		g.p("LEAQ (R10)(R10*4), R12")
		g.p("LEAQ (SI)(R11*2), R13")
	}
	// The accumulators start at the bias when there is one, else at zero.
	g.p("MOVQ %d(DI), BX", offFlags)
	g.p("TESTQ $%d, BX", flagBias)
	g.p("JEQ %s_zero", name)
	g.p("MOVQ %d(DI), AX", offBias)
	for r := 0; r < mr; r++ {
		g.p("VBROADCASTSS %d(AX), %s", 4*r, acc(x, r, 0))
		for v := 1; v < h; v++ {
			g.p("VMOVAPS %s, %s", acc(x, r, 0), acc(x, r, v))
		}
	}
	g.p("JMP %s_init", name)
	g.lbl(name + "_zero")
	for r := 0; r < mr; r++ {
		for v := 0; v < h; v++ {
			a := acc(x, r, v)
			if x.reg == "Z" {
				g.p("VPXORD %s, %s, %s", a, a, a)
			} else {
				g.p("VXORPS %s, %s, %s", a, a, a)
			}
		}
	}
	g.lbl(name + "_init")
	loop, epi := name+"_loop", name+"_epi"
	g.p("TESTQ CX, CX")
	g.p("JEQ %s", epi)
	g.lbl(loop)
	for v := 0; v < h; v++ {
		g.p("VMOVUPS %d(DX), %s", v*x.vbytes, vr(x, x.bReg+v))
	}
	for r := 0; r < mr; r++ {
		if x.reg == "Z" {
			for v := 0; v < h; v++ {
				g.p("VFMADD231PS.BCST %s, %s, %s", aAddr(r, direct), vr(x, x.bReg+v), acc(x, r, v))
			}
		} else {
			bc := vr(x, x.tmp[r%2])
			g.p("VBROADCASTSS %s, %s", aAddr(r, direct), bc)
			for v := 0; v < h; v++ {
				g.p("VFMADD231PS %s, %s, %s", vr(x, x.bReg+v), bc, acc(x, r, v))
			}
		}
	}
	if direct {
		g.p("ADDQ $4, SI")
		if mr > 6 {
			g.p("ADDQ $4, R13")
		}
	} else {
		g.p("ADDQ $%d, SI", 4*x.mr)
	}
	g.p("ADDQ R8, DX")
	g.p("DECQ CX")
	g.p("JNZ %s", loop)
	g.lbl(epi)
	g.p("MOVQ %d(DI), AX", offC)
	g.p("MOVQ %d(DI), R9", offLdc)
	part := name + "_part"
	g.p("TESTQ $%d, BX", flagPartial)
	g.p("JNE %s", part)
	g.epilogue(x, name+"_full", mr, h, false)
	g.lbl(part)
	if x.reg == "Z" {
		g.p("MOVQ %d(DI), R10", offMask)
		g.p("KMOVW R10, K1")
		g.p("SHRQ $16, R10")
		g.p("KMOVW R10, K2")
	}
	g.epilogue(x, name+"_part", mr, h, true)
	g.s.WriteString("\n")
}

// masked reports whether vector v of a row needs a mask in a partial tile:
// a partial tile always has more columns than the vectors before the last.
func masked(partial bool, v, h int) bool { return partial && v == h-1 }

// load emits a (possibly masked) load of vector v at off(base) into dst.
func (g *gen) load(x isa, partial bool, v, h int, base, dst string) {
	off := v * x.vbytes
	if !masked(partial, v, h) {
		g.p("VMOVUPS %d(%s), %s", off, base, dst)
		return
	}
	if x.reg == "Z" {
		g.p("VMOVUPS.Z %d(%s), K%d, %s", off, base, v+1, dst)
	} else {
		g.p("VMASKMOVPS %d(%s), %s, %s", off, base, vr(x, x.bReg+v), dst)
	}
}

func (g *gen) epilogue(x isa, pre string, mr, h int, partial bool) {
	t0, t1 := vr(x, x.tmp[0]), vr(x, x.tmp[1])
	if partial && x.reg == "Y" {
		// The AVX2 mask of the last vector comes from a table (maskp points at
		// the lanes of the first vector); it lives in a B register now.
		g.p("MOVQ %d(DI), R10", offMaskP)
		g.p("VMOVUPS %d(R10), %s", 32*(h-1), vr(x, x.bReg+h-1))
	}
	// C = acc + beta*C
	g.p("TESTQ $%d, BX", flagLoadC)
	g.p("JEQ %s_nobeta", pre)
	g.p("VBROADCASTSS %d(DI), %s", offBeta, t1)
	g.p("MOVQ AX, R11")
	for r := 0; r < mr; r++ {
		for v := 0; v < h; v++ {
			if masked(partial, v, h) {
				g.load(x, partial, v, h, "R11", t0)
				g.p("VFMADD231PS %s, %s, %s", t0, t1, acc(x, r, v))
			} else {
				g.p("VFMADD231PS %d(R11), %s, %s", v*x.vbytes, t1, acc(x, r, v))
			}
		}
		if r < mr-1 {
			g.p("ADDQ R9, R11")
		}
	}
	g.lbl(pre + "_nobeta")
	// + residual
	g.p("TESTQ $%d, BX", flagRes)
	g.p("JEQ %s_nores", pre)
	g.p("MOVQ %d(DI), R11", offRes)
	g.p("MOVQ %d(DI), R12", offLdr)
	for r := 0; r < mr; r++ {
		for v := 0; v < h; v++ {
			if masked(partial, v, h) {
				g.load(x, partial, v, h, "R11", t0)
				g.p("VADDPS %s, %s, %s", t0, acc(x, r, v), acc(x, r, v))
			} else {
				g.p("VADDPS %d(R11), %s, %s", v*x.vbytes, acc(x, r, v), acc(x, r, v))
			}
		}
		if r < mr-1 {
			g.p("ADDQ R12, R11")
		}
	}
	g.lbl(pre + "_nores")
	// clamp to [min, max]
	g.p("TESTQ $%d, BX", flagClamp)
	g.p("JEQ %s_noclamp", pre)
	g.p("VBROADCASTSS %d(DI), %s", offMin, t0)
	g.p("VBROADCASTSS %d(DI), %s", offMax, t1)
	for r := 0; r < mr; r++ {
		for v := 0; v < h; v++ {
			g.p("VMAXPS %s, %s, %s", t0, acc(x, r, v), acc(x, r, v))
			g.p("VMINPS %s, %s, %s", t1, acc(x, r, v), acc(x, r, v))
		}
	}
	g.lbl(pre + "_noclamp")
	// store
	for r := 0; r < mr; r++ {
		for v := 0; v < h; v++ {
			off := v * x.vbytes
			switch {
			case !masked(partial, v, h):
				g.p("VMOVUPS %s, %d(AX)", acc(x, r, v), off)
			case x.reg == "Z":
				g.p("VMOVUPS %s, K%d, %d(AX)", acc(x, r, v), v+1, off)
			default:
				g.p("VMASKMOVPS %s, %s, %d(AX)", acc(x, r, v), vr(x, x.bReg+v), off)
			}
		}
		if r < mr-1 {
			g.p("ADDQ R9, AX")
		}
	}
	g.p("VZEROUPPER")
	g.p("RET")
}

func main() {
	var g gen
	g.s.WriteString("// Code generated by gen_tiles.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	var decl strings.Builder
	decl.WriteString("// Code generated by gen_tiles.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\npackage gemm\n\n")
	for _, x := range []isa{avx512, avx2} {
		for _, direct := range []bool{false, true} {
			tables := make([]string, x.maxH)
			for h := 1; h <= x.maxH; h++ {
				var t strings.Builder
				fmt.Fprintf(&t, "\t{nil")
				for mr := 1; mr <= x.mr; mr++ {
					g.kernel(x, mr, h, direct)
					n := kname(x, mr, h, direct)
					fmt.Fprintf(&decl, "//go:noescape\nfunc %s(p *tileArgs)\n\n", n)
					fmt.Fprintf(&t, ", %s", n)
				}
				t.WriteString("},\n")
				tables[h-1] = t.String()
			}
			tn, what := "tiles"+x.name, "packed"
			if direct {
				tn, what = "tiles"+x.name+"Direct", "in-place"
			}
			fmt.Fprintf(&decl, "// %s[w][mr] is the kernel for mr rows of %s A and panel width index w (0 narrow, 1 wide).\nvar %s = [2][%d]func(*tileArgs){\n%s}\n\n", tn, what, tn, x.mr+1, strings.Join(tables, ""))
		}
	}
	if err := os.WriteFile("tiles_amd64.s", g.s.Bytes(), 0o644); err != nil {
		panic(err)
	}
	src, err := format.Source([]byte(decl.String()))
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile("tiles_amd64.go", src, 0o644); err != nil {
		panic(err)
	}
}
