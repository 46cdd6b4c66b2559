// Package asmgen is the toolkit of dshrink's kernel generators: the
// `go generate` programs (kernels/gemm/gen_tiles.go, and the NCHWc
// convolution generators) that write Go assembly for each instruction-set
// level and the Go declarations and kernel tables that go with it.
//
// It has four parts:
//
//   - ISA describes a vector instruction set (AVX512, AVX2, NEON): register
//     count and width, how a scalar reaches all lanes (Bcast), how a partial
//     vector is loaded and stored (Tail), and spells the instructions the
//     kernels need for it: Zero, Load, Store, LoadMasked, StoreMasked,
//     Broadcast, FMA, FMABcast, RowFMA, Add, Mul, Max, Min, Mov, ReduceAdd,
//     StoreLane0, SkipUnless, AddPtr, Return, and FMALane (NEON).
//     Vector registers are numbers (VReg) that the ISA spells in context, so
//     an arm64 backend can write V3.S4 in arithmetic and F3 in a 128-bit
//     FMOVQ load without the generators knowing.
//   - Asm collects the text of an assembly file: instructions (I, Ins),
//     labels and comments.
//   - Tile and Epilogue emit the code around a block of accumulators: zero
//     or per-row broadcast initialisation, and the fused epilogue every
//     kernel ends with (C = acc + beta*C, + bias vector, + residual or border
//     bias map, clamp to [min, max], store), each step optionally skipped at
//     run time by a flag bit and each partial last vector masked the way the
//     ISA masks.
//   - File writes a generated pair: the .s file (header, build constraint,
//     textflag.h) and the .go file (one //go:noescape declaration per
//     kernel, and kernel tables indexed by shape: Table, List), gofmt'ed.
//
// A generator typically reads:
//
//	f := asmgen.NewFile("gen_foo.go", "foo", "amd64 && !purego")
//	for _, x := range []*asmgen.ISA{asmgen.AVX512, asmgen.AVX2} {
//		name := "kern" + x.Name
//		a := f.Func(name, "p *args", 8)
//		a.I("MOVQ p+0(FP), DI")
//		tile := asmgen.Tile{ISA: x, Rows: 4, Vecs: 2, Acc: func(r, v int) asmgen.VReg { return asmgen.VReg(2*r + v) }}
//		tile.Zero(a)
//		// ... the loop: a.Ins(x.Load("0(DX)", b)), x.RowFMA(a, "0(SI)", bs, accs, tmp) ...
//		e := asmgen.Epilogue{Tile: tile, Tmp: [2]asmgen.VReg{14, 15}, Flags: "BX"}
//		e.Add(a, flagRes, name+"_nores", asmgen.Mem{Setup: []string{"MOVQ 16(DI), R11"}, Ptr: "R11", Stride: "R12"})
//		e.Clamp(a, flagClamp, name+"_noclamp", "24(DI)", "28(DI)")
//		e.Store(a, asmgen.Mem{Ptr: "AX", Stride: "R9"})
//		a.Ins(x.Return()...)
//		f.EndFunc()
//	}
//	f.Table("kernels[v][r] is the kernel for r rows of v vectors.", "kernels", "func(*args)", rows)
//	err := f.WriteFiles("foo_amd64.s", "foo_amd64.go")
//
// In the ISA, memory operands are Go assembler strings ("32(R11)",
// "(SI)(R10*4)"); registers other than vectors (pointers, strides, flags)
// are spelt by the generator, since their names are per architecture anyway.
//
// The NEON description (arm64) names registers and spells what the Go arm64
// assembler has (VEOR, FMOVQ and FMOVS loads and stores, VFMLA, VMOV, ADD,
// TST/BEQ) and, as WORD encodings with the instruction in a comment, what it
// lacks: FADD, FMUL, FMAX, FMIN (.4S, register operands only) and the
// by-element FMLA (FMALane), the inner step of NEON outer-product kernels
// (kernels/gemm's 8 x 12 tile). TestAssembles builds them for arm64.
// Broadcasts from memory, horizontal adds and masked moves still panic with a
// message saying so; tails are left to the generator (TailNone).
package asmgen
