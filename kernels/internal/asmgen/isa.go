package asmgen

import (
	"fmt"
	"strings"
)

// VReg is a vector register number, spelt by an ISA in context.
type VReg int

// BcastStyle is how a kernel multiplies a vector by a scalar from memory.
type BcastStyle int

const (
	// BcastEmbedded folds the broadcast into the FMA's memory operand
	// (AVX-512 {1to16}, Go's .BCST suffix): no register is needed.
	BcastEmbedded BcastStyle = iota
	// BcastLoad loads the scalar into all lanes of a register first
	// (AVX2 VBROADCASTSS), then multiplies register by register.
	BcastLoad
	// BcastLane multiplies by one lane of a register holding several
	// scalars (NEON FMLA by element).
	BcastLane
)

// TailStyle is how a kernel loads and stores a vector with fewer valid
// lanes than the register holds, without touching memory past the end.
type TailStyle int

const (
	// TailKMask uses an AVX-512 opmask register (K1-K7): masked-off lanes
	// are neither read (zeroed with .Z) nor written.
	TailKMask TailStyle = iota
	// TailMaskVector uses VMASKMOVPS with a vector whose lanes' sign bits
	// select the valid lanes (AVX2); masked-off lanes are neither read
	// (loaded as zero) nor written, and do not fault.
	TailMaskVector
	// TailNone has no masked moves (NEON): generators handle partial vectors
	// with lane-wise or scalar code of their own.
	TailNone
)

// ISA describes one vector instruction set and spells its instructions.
// Every method returns one line of Go assembler without the leading tab.
type ISA struct {
	// Name is the part of kernel names that tells the family apart
	// ("AVX512", "AVX2", "NEON").
	Name string
	// Level is the kernels/isa level name the family runs at.
	Level string
	// Arch is the GOARCH the instructions are for.
	Arch string
	// VecBytes is the width of a vector register in bytes; NumRegs the
	// number of vector registers.
	VecBytes, NumRegs int
	// Bcast and Tail choose how scalars are broadcast and tails masked.
	Bcast BcastStyle
	Tail  TailStyle

	prefix string // register name prefix ("Z", "Y", "V")
	suffix string // arrangement suffix in arithmetic (".S4" on NEON)
}

// The instruction sets dshrink generates kernels for.
var (
	// AVX512 is x86-64 AVX-512F: 32 zmm registers of 16 floats, embedded
	// broadcasts and opmask tails.
	AVX512 = &ISA{Name: "AVX512", Level: "avx512", Arch: "amd64", VecBytes: 64, NumRegs: 32,
		Bcast: BcastEmbedded, Tail: TailKMask, prefix: "Z"}
	// AVX2 is x86-64 AVX2 with FMA3: 16 ymm registers of 8 floats,
	// VBROADCASTSS and VMASKMOVPS tails.
	AVX2 = &ISA{Name: "AVX2", Level: "avx2", Arch: "amd64", VecBytes: 32, NumRegs: 16,
		Bcast: BcastLoad, Tail: TailMaskVector, prefix: "Y"}
	// NEON is arm64 Advanced SIMD: 32 registers of 4 floats, by-element
	// FMLA, no masked moves.
	NEON = &ISA{Name: "NEON", Level: "neon", Arch: "arm64", VecBytes: 16, NumRegs: 32,
		Bcast: BcastLane, Tail: TailNone, prefix: "V", suffix: ".S4"}
)

// Lanes returns the number of float32 lanes of a vector.
func (x *ISA) Lanes() int { return x.VecBytes / 4 }

// R spells vector register v as an operand of a lane-wise float32
// instruction ("Z3", "Y3", "V3.S4"). It panics when the ISA has no such
// register.
func (x *ISA) R(v VReg) string {
	if v < 0 || int(v) >= x.NumRegs {
		panic(fmt.Sprintf("asmgen: %s has no vector register %d", x.Name, v))
	}
	return fmt.Sprintf("%s%d%s", x.prefix, int(v), x.suffix)
}

// KMask spells opmask register k (AVX-512 only).
func (x *ISA) KMask(k int) string {
	if x.Tail != TailKMask || k < 1 || k > 7 {
		panic(fmt.Sprintf("asmgen: %s has no opmask register K%d", x.Name, k))
	}
	return fmt.Sprintf("K%d", k)
}

func (x *ISA) amd64() bool { return x.Arch == "amd64" }

func (x *ISA) unsupported(what string) string {
	panic(fmt.Sprintf("asmgen: %s: %s is not spelt for this ISA yet", x.Name, what))
}

// Zero sets d to all zero bits.
func (x *ISA) Zero(d VReg) string {
	switch {
	case x.Tail == TailKMask:
		return fmt.Sprintf("VPXORD %s, %s, %s", x.R(d), x.R(d), x.R(d))
	case x.amd64():
		return fmt.Sprintf("VXORPS %s, %s, %s", x.R(d), x.R(d), x.R(d))
	default:
		r := fmt.Sprintf("V%d.B16", int(d))
		return fmt.Sprintf("VEOR %s, %s, %s", r, r, r)
	}
}

// Load loads the vector at mem into d (unaligned).
func (x *ISA) Load(mem string, d VReg) string {
	if x.amd64() {
		return fmt.Sprintf("VMOVUPS %s, %s", mem, x.R(d))
	}
	return fmt.Sprintf("FMOVQ %s, F%d", mem, int(d))
}

// Store stores s to the vector at mem (unaligned).
func (x *ISA) Store(s VReg, mem string) string {
	if x.amd64() {
		return fmt.Sprintf("VMOVUPS %s, %s", x.R(s), mem)
	}
	return fmt.Sprintf("FMOVQ F%d, %s", int(s), mem)
}

// LoadMasked loads the lanes of mem that mask selects into d, zeroing the
// others; mask is an opmask (KMask) or a vector register spelt with R,
// according to Tail.
func (x *ISA) LoadMasked(mem, mask string, d VReg) string {
	switch x.Tail {
	case TailKMask:
		return fmt.Sprintf("VMOVUPS.Z %s, %s, %s", mem, mask, x.R(d))
	case TailMaskVector:
		return fmt.Sprintf("VMASKMOVPS %s, %s, %s", mem, mask, x.R(d))
	}
	return x.unsupported("a masked load")
}

// StoreMasked stores the lanes of s that mask selects to mem.
func (x *ISA) StoreMasked(s VReg, mask, mem string) string {
	switch x.Tail {
	case TailKMask:
		return fmt.Sprintf("VMOVUPS %s, %s, %s", x.R(s), mask, mem)
	case TailMaskVector:
		return fmt.Sprintf("VMASKMOVPS %s, %s, %s", x.R(s), mask, mem)
	}
	return x.unsupported("a masked store")
}

// Broadcast loads the float32 at mem into every lane of d.
func (x *ISA) Broadcast(mem string, d VReg) string {
	if x.amd64() {
		return fmt.Sprintf("VBROADCASTSS %s, %s", mem, x.R(d))
	}
	return x.unsupported("a broadcast from memory")
}

// FMA computes acc += src * y, where src is a vector register spelt with R
// or (on amd64) a memory operand.
func (x *ISA) FMA(src string, y, acc VReg) string {
	if x.amd64() {
		return fmt.Sprintf("VFMADD231PS %s, %s, %s", src, x.R(y), x.R(acc))
	}
	return fmt.Sprintf("VFMLA %s, %s, %s", src, x.R(y), x.R(acc))
}

// FMABcast computes acc += broadcast(float32 at mem) * y in one
// instruction (BcastEmbedded ISAs only).
func (x *ISA) FMABcast(mem string, y, acc VReg) string {
	if x.Bcast != BcastEmbedded {
		return x.unsupported("an FMA with an embedded broadcast")
	}
	return fmt.Sprintf("VFMADD231PS.BCST %s, %s, %s", mem, x.R(y), x.R(acc))
}

// RowFMA emits accs[i] += broadcast(float32 at mem) * ys[i] for every i, the
// inner step of an outer-product kernel, the best way the ISA has: one
// embedded-broadcast FMA each (AVX-512), or one VBROADCASTSS into tmp and
// register FMAs (AVX2). tmp is unused with embedded broadcasts.
func (x *ISA) RowFMA(a *Asm, mem string, ys, accs []VReg, tmp VReg) {
	if len(ys) != len(accs) {
		panic("asmgen: RowFMA needs one accumulator per vector")
	}
	switch x.Bcast {
	case BcastEmbedded:
		for i := range ys {
			a.Ins(x.FMABcast(mem, ys[i], accs[i]))
		}
	case BcastLoad:
		a.Ins(x.Broadcast(mem, tmp))
		for i := range ys {
			a.Ins(x.FMA(x.R(ys[i]), tmp, accs[i]))
		}
	default:
		x.unsupported("RowFMA (use by-element FMLA on a loaded vector of scalars)")
	}
}

func (x *ISA) op3(amd, what, src string, y, d VReg) string {
	if x.amd64() {
		return fmt.Sprintf("%s %s, %s, %s", amd, src, x.R(y), x.R(d))
	}
	code, ok := neonThreeSame[amd]
	if !ok {
		return x.unsupported(what)
	}
	var m VReg
	if _, err := fmt.Sscanf(src, "V%d.S4", &m); err != nil || x.R(m) != src {
		panic(fmt.Sprintf("asmgen: %s: %s needs a register operand, not %q", x.Name, what, src))
	}
	return neonWord(strings.ToLower(amd[1:4]), code, d, y, m)
}

// neonThreeSame holds the A64 "Advanced SIMD three same" encodings (.4S
// arrangement, Q=1) of the float32 vector instructions that the Go arm64
// assembler does not spell, by the amd64 mnemonic they stand in for.
// Each computes Vd = Vn op Vm.
var neonThreeSame = map[string]uint32{
	"VADDPS": 0x4e20d400, // FADD
	"VMULPS": 0x6e20dc00, // FMUL
	"VMAXPS": 0x4e20f400, // FMAX
	"VMINPS": 0x4ea0f400, // FMIN
}

// neonWord spells an A64 three-register instruction as a WORD, with its
// assembler text in a comment: op vd.4s, vn.4s, vm.4s.
func neonWord(op string, code uint32, d, n, m VReg) string {
	code |= uint32(m)<<16 | uint32(n)<<5 | uint32(d)
	return fmt.Sprintf("WORD $0x%08x // f%s v%d.4s, v%d.4s, v%d.4s", code, op, d, n, m)
}

// FMALane computes acc += y * (lane of m), the by-element FMLA of NEON
// (FMLA Vacc.4S, Vy.4S, Vm.S[lane]), spelt as a WORD since the Go arm64
// assembler has only the vector form.
func (x *ISA) FMALane(y, m VReg, lane int, acc VReg) string {
	if x.Bcast != BcastLane {
		return x.unsupported("a by-element FMA")
	}
	x.R(y)
	x.R(m)
	x.R(acc)
	if lane < 0 || lane >= x.Lanes() {
		panic(fmt.Sprintf("asmgen: %s has no lane %d", x.Name, lane))
	}
	// Index H:L in bits 11 and 21, register M:Rm in bits 20-16.
	code := 0x4f801000 | uint32(lane>>1)<<11 | uint32(lane&1)<<21 |
		uint32(m)<<16 | uint32(y)<<5 | uint32(acc)
	return fmt.Sprintf("WORD $0x%08x // fmla v%d.4s, v%d.4s, v%d.s[%d]", code, acc, y, m, lane)
}

// Add computes d = src + y (src: a register spelt with R, or memory on amd64).
func (x *ISA) Add(src string, y, d VReg) string { return x.op3("VADDPS", "a vector add", src, y, d) }

// Mul computes d = src * y.
func (x *ISA) Mul(src string, y, d VReg) string {
	return x.op3("VMULPS", "a vector multiply", src, y, d)
}

// Max computes d = max(y, src) lane by lane; where either is NaN it yields
// src's lane on amd64, as MAXPS does, and NaN on NEON (FMAX).
func (x *ISA) Max(src string, y, d VReg) string { return x.op3("VMAXPS", "a vector max", src, y, d) }

// Min computes d = min(y, src) lane by lane; where either is NaN it yields
// src's lane on amd64 and NaN on NEON (FMIN).
func (x *ISA) Min(src string, y, d VReg) string { return x.op3("VMINPS", "a vector min", src, y, d) }

// Mov copies vector s to d.
func (x *ISA) Mov(s, d VReg) string {
	if x.amd64() {
		return fmt.Sprintf("VMOVAPS %s, %s", x.R(s), x.R(d))
	}
	return fmt.Sprintf("VMOV V%d.B16, V%d.B16", int(s), int(d))
}

// SkipUnless returns the two instructions that jump to label when none of
// the bits of flag are set in the general register reg.
func (x *ISA) SkipUnless(reg string, flag int, label string) []string {
	if x.amd64() {
		return []string{fmt.Sprintf("TESTQ $%d, %s", flag, reg), "JEQ " + label}
	}
	return []string{fmt.Sprintf("TST $%d, %s", flag, reg), "BEQ " + label}
}

// AddPtr advances the pointer register ptr by the byte count in register
// stride.
func (x *ISA) AddPtr(stride, ptr string) string {
	if x.amd64() {
		return fmt.Sprintf("ADDQ %s, %s", stride, ptr)
	}
	return fmt.Sprintf("ADD %s, %s", stride, ptr)
}

// Return returns the instructions that end a kernel (clearing the upper
// halves of the vector registers first on amd64, which avoids the AVX-SSE
// transition penalty in the Go code that follows).
func (x *ISA) Return() []string {
	if x.amd64() {
		return []string{"VZEROUPPER", "RET"}
	}
	return []string{"RET"}
}

// half spells the lower half of vector register v ("Y3" for Z3, "X3" for
// Y3).
func (x *ISA) half(v VReg) string {
	switch x.VecBytes {
	case 64:
		return fmt.Sprintf("Y%d", int(v))
	case 32:
		return fmt.Sprintf("X%d", int(v))
	}
	return x.unsupported("a half register")
}

// ReduceAdd emits the horizontal sum of the lanes of v into lane 0 of v
// (the other lanes are left undefined), using tmp as scratch. v must be
// below 16 (VHADDPS has no EVEX form); tmp may be any register.
func (x *ISA) ReduceAdd(a *Asm, v, tmp VReg) {
	if !x.amd64() {
		x.unsupported("a horizontal add")
	}
	if v >= 16 {
		panic(fmt.Sprintf("asmgen: ReduceAdd of %s: VHADDPS needs a register below 16", x.R(v)))
	}
	xv, xt := fmt.Sprintf("X%d", int(v)), fmt.Sprintf("X%d", int(tmp))
	ext := "VEXTRACTF128"
	if x.VecBytes == 64 {
		a.I("VEXTRACTF64X4 $1, %s, %s", x.R(v), x.half(tmp))
		a.I("VADDPS %s, %s, %s", x.half(tmp), x.half(v), x.half(v))
		ext = "VEXTRACTF32X4" // EVEX: tmp may be above 15
	}
	a.I("%s $1, %s, %s", ext, fmt.Sprintf("Y%d", int(v)), xt)
	a.I("VADDPS %s, %s, %s", xt, xv, xv)
	a.I("VHADDPS %s, %s, %s", xv, xv, xv)
	a.I("VHADDPS %s, %s, %s", xv, xv, xv)
}

// StoreLane0 stores lane 0 of v (a float32) to mem.
func (x *ISA) StoreLane0(v VReg, mem string) string {
	if x.amd64() {
		return fmt.Sprintf("VMOVSS X%d, %s", int(v), mem)
	}
	return fmt.Sprintf("FMOVS F%d, %s", int(v), mem)
}
