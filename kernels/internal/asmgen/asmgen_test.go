package asmgen

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa"
)

func TestSpelling(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{AVX512.R(31), "Z31"}, {AVX2.R(15), "Y15"}, {NEON.R(3), "V3.S4"},
		{AVX512.Zero(1), "VPXORD Z1, Z1, Z1"}, {AVX2.Zero(1), "VXORPS Y1, Y1, Y1"}, {NEON.Zero(1), "VEOR V1.B16, V1.B16, V1.B16"},
		{AVX2.Load("32(DX)", 12), "VMOVUPS 32(DX), Y12"}, {NEON.Load("16(R1)", 2), "FMOVQ 16(R1), F2"},
		{AVX2.Store(3, "(AX)"), "VMOVUPS Y3, (AX)"}, {NEON.Store(2, "(R0)"), "FMOVQ F2, (R0)"},
		{AVX512.LoadMasked("64(R11)", AVX512.KMask(2), 30), "VMOVUPS.Z 64(R11), K2, Z30"},
		{AVX2.LoadMasked("32(R11)", AVX2.R(13), 14), "VMASKMOVPS 32(R11), Y13, Y14"},
		{AVX512.StoreMasked(1, "K1", "(AX)"), "VMOVUPS Z1, K1, (AX)"},
		{AVX2.StoreMasked(1, "Y12", "(AX)"), "VMASKMOVPS Y1, Y12, (AX)"},
		{AVX2.Broadcast("4(SI)", 15), "VBROADCASTSS 4(SI), Y15"},
		{AVX2.FMA("Y12", 14, 0), "VFMADD231PS Y12, Y14, Y0"}, {NEON.FMA("V1.S4", 2, 3), "VFMLA V1.S4, V2.S4, V3.S4"},
		{AVX512.FMABcast("8(SI)", 28, 4), "VFMADD231PS.BCST 8(SI), Z28, Z4"},
		{AVX2.Add("(R11)", 2, 2), "VADDPS (R11), Y2, Y2"}, {AVX2.Max("Y14", 2, 2), "VMAXPS Y14, Y2, Y2"},
		{AVX2.Min("Y15", 2, 2), "VMINPS Y15, Y2, Y2"}, {AVX2.Mul("Y15", 2, 3), "VMULPS Y15, Y2, Y3"},
		{AVX2.Mov(0, 1), "VMOVAPS Y0, Y1"}, {NEON.Mov(0, 1), "VMOV V0.B16, V1.B16"},
		{AVX2.AddPtr("R9", "AX"), "ADDQ R9, AX"}, {NEON.AddPtr("R9", "R0"), "ADD R9, R0"},
		{strings.Join(AVX2.SkipUnless("BX", 4, "l"), "; "), "TESTQ $4, BX; JEQ l"},
		{strings.Join(NEON.SkipUnless("R3", 4, "l"), "; "), "TST $4, R3; BEQ l"},
		{strings.Join(AVX512.Return(), "; "), "VZEROUPPER; RET"}, {strings.Join(NEON.Return(), "; "), "RET"},
		{NEON.Add("V1.S4", 2, 3), "WORD $0x4e21d443 // fadd v3.4s, v2.4s, v1.4s"},
		{NEON.Mul("V31.S4", 0, 30), "WORD $0x6e3fdc1e // fmul v30.4s, v0.4s, v31.4s"},
		{NEON.Max("V29.S4", 5, 5), "WORD $0x4e3df4a5 // fmax v5.4s, v5.4s, v29.4s"},
		{NEON.Min("V30.S4", 5, 5), "WORD $0x4ebef4a5 // fmin v5.4s, v5.4s, v30.4s"},
		{NEON.FMALane(26, 24, 0, 0), "WORD $0x4f981340 // fmla v0.4s, v26.4s, v24.s[0]"},
		{NEON.FMALane(2, 25, 3, 4), "WORD $0x4fb91844 // fmla v4.4s, v2.4s, v25.s[3]"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if AVX512.Lanes() != 16 || AVX2.Lanes() != 8 || NEON.Lanes() != 4 {
		t.Error("wrong lane counts")
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"register 16 on AVX2":  func() { AVX2.R(16) },
		"opmask on AVX2":       func() { AVX2.KMask(1) },
		"K0":                   func() { AVX512.KMask(0) },
		"masked load on NEON":  func() { NEON.LoadMasked("(R0)", "", 1) },
		"embedded bcast AVX2":  func() { AVX2.FMABcast("(SI)", 1, 2) },
		"add from memory NEON": func() { NEON.Add("(R0)", 1, 2) },
		"max of a misspelling": func() { NEON.Max("V1.S4x", 1, 2) },
		"lane 4 on NEON":       func() { NEON.FMALane(1, 2, 4, 3) },
		"lane FMA on AVX2":     func() { AVX2.FMALane(1, 2, 0, 3) },
		"RowFMA length":        func() { AVX2.RowFMA(new(Asm), "(SI)", []VReg{1}, nil, 2) },
		"ReduceAdd of Z16":     func() { AVX512.ReduceAdd(new(Asm), 16, 1) },
		"table of ragged rows": func() { NewFile("g", "p", "").Table("d", "t", "int", [][]string{{"1"}, {"1", "2"}}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestRowFMA(t *testing.T) {
	var a Asm
	AVX2.RowFMA(&a, "8(SI)", []VReg{12, 13}, []VReg{4, 5}, 14)
	AVX512.RowFMA(&a, "8(SI)", []VReg{28, 29}, []VReg{4, 5}, 30)
	want := "\tVBROADCASTSS 8(SI), Y14\n\tVFMADD231PS Y12, Y14, Y4\n\tVFMADD231PS Y13, Y14, Y5\n" +
		"\tVFMADD231PS.BCST 8(SI), Z28, Z4\n\tVFMADD231PS.BCST 8(SI), Z29, Z5\n"
	if got := string(a.Bytes()); got != want {
		t.Errorf("RowFMA:\n%s\nwant\n%s", got, want)
	}
}

// TestEpilogue checks the full sequence for a 2 x 2 AVX2 tile with a
// partial last vector, every step guarded.
func TestReduceAdd(t *testing.T) {
	var a Asm
	AVX512.ReduceAdd(&a, 2, 5)
	want := "\tVEXTRACTF64X4 $1, Z2, Y5\n\tVADDPS Y5, Y2, Y2\n" +
		"\tVEXTRACTF32X4 $1, Y2, X5\n\tVADDPS X5, X2, X2\n\tVHADDPS X2, X2, X2\n\tVHADDPS X2, X2, X2\n"
	if got := string(a.Bytes()); got != want {
		t.Errorf("ReduceAdd:\n%s\nwant\n%s", got, want)
	}
	if got := AVX2.StoreLane0(3, "8(AX)"); got != "VMOVSS X3, 8(AX)" {
		t.Errorf("StoreLane0 = %q", got)
	}
}

func TestEpilogue(t *testing.T) {
	var a Asm
	tile := Tile{ISA: AVX2, Rows: 2, Vecs: 2, Acc: func(r, v int) VReg { return VReg(2*r + v) }}
	e := Epilogue{Tile: tile, Partial: true, Mask: AVX2.R(13), Tmp: [2]VReg{14, 15}, Flags: "BX"}
	e.ScaleAdd(&a, 1, "nobeta", "96(DI)", Mem{Setup: []string{"MOVQ AX, R11"}, Ptr: "R11", Stride: "R9"})
	e.Add(&a, 0, "", Mem{Ptr: "R8", Offset: func(r, v int) int { return 32 * v }})
	e.Clamp(&a, 8, "noclamp", "100(DI)", "104(DI)")
	e.Store(&a, Mem{Ptr: "AX", Stride: "R9"})
	want := `	TESTQ $1, BX
	JEQ nobeta
	VBROADCASTSS 96(DI), Y15
	MOVQ AX, R11
	VFMADD231PS 0(R11), Y15, Y0
	VMASKMOVPS 32(R11), Y13, Y14
	VFMADD231PS Y14, Y15, Y1
	ADDQ R9, R11
	VFMADD231PS 0(R11), Y15, Y2
	VMASKMOVPS 32(R11), Y13, Y14
	VFMADD231PS Y14, Y15, Y3
nobeta:
	VADDPS 0(R8), Y0, Y0
	VMASKMOVPS 32(R8), Y13, Y14
	VADDPS Y14, Y1, Y1
	VADDPS 0(R8), Y2, Y2
	VMASKMOVPS 32(R8), Y13, Y14
	VADDPS Y14, Y3, Y3
	TESTQ $8, BX
	JEQ noclamp
	VBROADCASTSS 100(DI), Y14
	VBROADCASTSS 104(DI), Y15
	VMAXPS Y14, Y0, Y0
	VMINPS Y15, Y0, Y0
	VMAXPS Y14, Y1, Y1
	VMINPS Y15, Y1, Y1
	VMAXPS Y14, Y2, Y2
	VMINPS Y15, Y2, Y2
	VMAXPS Y14, Y3, Y3
	VMINPS Y15, Y3, Y3
noclamp:
	VMOVUPS Y0, 0(AX)
	VMASKMOVPS Y1, Y13, 32(AX)
	ADDQ R9, AX
	VMOVUPS Y2, 0(AX)
	VMASKMOVPS Y3, Y13, 32(AX)
`
	if got := string(a.Bytes()); got != want {
		t.Errorf("epilogue:\n%s\nwant\n%s", got, want)
	}
}

func TestFileSource(t *testing.T) {
	f := NewFile("gen_x.go", "x", "amd64")
	a := f.Func("k1", "p *int", 8)
	a.Comment("body")
	a.Ins(AVX2.Return()...)
	f.EndFunc()
	f.Table("tab[i] is a kernel.\nSecond line.", "tab", "func(*int)", [][]string{{"nil", "k1"}})
	f.List("list[i] is a kernel.", "list", "func(*int)", []string{"nil", "k1"})
	asm, src, err := f.Source()
	if err != nil {
		t.Fatal(err)
	}
	wantAsm := "// Code generated by gen_x.go; DO NOT EDIT.\n\n//go:build amd64\n\n#include \"textflag.h\"\n\n" +
		"// func k1(p *int)\nTEXT ·k1(SB), NOSPLIT, $0-8\n// body\n\tVZEROUPPER\n\tRET\n\n"
	if string(asm) != wantAsm {
		t.Errorf("asm:\n%s\nwant\n%s", asm, wantAsm)
	}
	wantGo := "// Code generated by gen_x.go; DO NOT EDIT.\n\n//go:build amd64\n\npackage x\n\n" +
		"//go:noescape\nfunc k1(p *int)\n\n// tab[i] is a kernel.\n// Second line.\nvar tab = [1][2]func(*int){\n\t{nil, k1},\n}\n\n// list[i] is a kernel.\nvar list = [2]func(*int){nil, k1}\n"
	if string(src) != wantGo {
		t.Errorf("go:\n%s\nwant\n%s", src, wantGo)
	}
}

// TestAssembles builds a package of generated kernels with the Go toolchain
// for amd64 (every spelling the amd64 ISAs have) and arm64 (the NEON ones),
// so a misspelt instruction fails here rather than in a generator's user.
func TestAssembles(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	if testing.Short() {
		t.Skip("builds a package with the go tool")
	}
	for _, c := range []struct {
		arch string
		isas []*ISA
	}{{"amd64", []*ISA{AVX512, AVX2}}, {"arm64", []*ISA{NEON}}} {
		dir := t.TempDir()
		f := NewFile("asmgen_test.go", "k", c.arch)
		var names []string
		for _, x := range c.isas {
			name := "k" + x.Name
			names = append(names, name)
			a := f.Func(name, "p *[64]float32", 8)
			ptr, stride, flags := "AX", "BX", "CX"
			if c.arch == "arm64" {
				ptr, stride, flags = "R0", "R1", "R2"
				a.I("MOVD p+0(FP), R0")
				a.I("MOVD $64, R1")
				a.I("MOVD $0, R2")
			} else {
				a.I("MOVQ p+0(FP), AX")
				a.I("MOVQ $64, BX")
				a.I("MOVQ $0, CX")
			}
			tile := Tile{ISA: x, Rows: 2, Vecs: 1, Acc: func(r, v int) VReg { return VReg(r) }}
			tile.Zero(a)
			a.Ins(x.Load("0("+ptr+")", 2), x.FMA(x.R(2), 2, 0), x.Mov(0, 1))
			a.Ins(x.SkipUnless(flags, 1, name+"_skip")...)
			a.Ins(x.AddPtr(stride, ptr))
			a.Label(name + "_skip")
			mem := Mem{Ptr: ptr, Stride: stride}
			if x.amd64() {
				tile.BroadcastRows(a, ptr)
				x.RowFMA(a, "4("+ptr+")", []VReg{2}, []VReg{0}, 3)
				a.Ins(x.Mul(x.R(2), 1, 1))
				mask := x.R(4)
				if x.Tail == TailKMask {
					mask = x.KMask(1)
					a.I("MOVQ $255, DX")
					a.I("KMOVW DX, K1")
				} else {
					a.Ins(x.Load("0("+ptr+")", 4))
				}
				e := Epilogue{Tile: tile, Partial: true, Mask: mask, Tmp: [2]VReg{5, 6}, Flags: flags}
				e.ScaleAdd(a, 1, name+"_nobeta", "0("+ptr+")", mem)
				a.I("MOVQ p+0(FP), AX")
				e.Add(a, 0, "", Mem{Ptr: ptr, Offset: func(r, v int) int { return 0 }})
				e.Clamp(a, 2, name+"_noclamp", "4("+ptr+")", "8("+ptr+")")
				a.I("MOVQ p+0(FP), AX")
				e.Store(a, mem)
			} else {
				a.Ins(x.Add(x.R(2), 1, 1), x.Mul(x.R(2), 1, 1), x.Max(x.R(31), 1, 1), x.Min(x.R(30), 1, 1))
				for lane := 0; lane < x.Lanes(); lane++ {
					a.Ins(x.FMALane(2, VReg(24+lane), lane, 0))
				}
				a.I("MOVD p+0(FP), R0")
				(&Epilogue{Tile: tile}).Store(a, mem)
			}
			if x.amd64() {
				x.ReduceAdd(a, 0, VReg(x.NumRegs-1))
			}
			a.Ins(x.StoreLane0(0, "4("+ptr+")"))
			a.Ins(x.Return()...)
			f.EndFunc()
		}
		f.Table("kernels", "kernels", "func(*[64]float32)", [][]string{names})
		asm, src, err := f.Source()
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{"go.mod": []byte("module k\n\ngo 1.22\n"), "k.s": asm, "k.go": src} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, verb := range []string{"build", "vet"} {
			cmd := exec.Command(goTool, verb, ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+c.arch, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: go %s: %v\n%s\n%s", c.arch, verb, err, out, asm)
			}
		}
	}
}

func TestLevels(t *testing.T) {
	for _, x := range []*ISA{AVX512, AVX2, NEON} {
		l, err := isa.Parse(x.Level)
		if err != nil || l.String() != x.Level {
			t.Errorf("%s: level %q is not a kernels/isa level (%v)", x.Name, x.Level, err)
		}
	}
}
