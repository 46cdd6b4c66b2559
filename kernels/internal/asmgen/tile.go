package asmgen

import "fmt"

// Tile is a Rows x Vecs block of accumulator registers: row r, vector v is
// held in Acc(r, v). A "row" is whatever the kernel keeps apart in memory by
// a stride (a row of C in GEMM, a pixel in an NCHWc convolution); its
// vectors are consecutive in memory.
type Tile struct {
	ISA        *ISA
	Rows, Vecs int
	Acc        func(r, v int) VReg
}

// Zero clears every accumulator.
func (t Tile) Zero(a *Asm) {
	for r := 0; r < t.Rows; r++ {
		for v := 0; v < t.Vecs; v++ {
			a.Ins(t.ISA.Zero(t.Acc(r, v)))
		}
	}
}

// BroadcastRows starts every vector of row r at the float32 at byte offset
// 4*r from the pointer register base (a per-row bias: GEMM's bias per row
// of C).
func (t Tile) BroadcastRows(a *Asm, base string) {
	x := t.ISA
	for r := 0; r < t.Rows; r++ {
		a.Ins(x.Broadcast(fmt.Sprintf("%d(%s)", 4*r, base), t.Acc(r, 0)))
		for v := 1; v < t.Vecs; v++ {
			a.Ins(x.Mov(t.Acc(r, 0), t.Acc(r, v)))
		}
	}
}

// Mem is a tile-shaped operand in memory: element (r, v) (a whole vector)
// is at byte offset Offset(r, v) from the pointer register Ptr, where Ptr
// is advanced by the byte count in register Stride after each row but the
// last when Stride is set. A nil Offset means v*VecBytes (rows Stride apart,
// vectors contiguous). Setup instructions (loading Ptr and Stride) are
// emitted before the first access.
//
// GEMM's C is Mem{Ptr: "AX", Stride: "R9"}; an NCHWc output block whose
// pixels sit at fixed offsets from DI is Mem{Ptr: "DI", Offset: off}; a
// per-channel bias vector shared by all rows is
// Mem{Ptr: "R8", Offset: func(r, v int) int { return 32 * v }}.
type Mem struct {
	Setup  []string
	Ptr    string
	Stride string
	Offset func(r, v int) int
}

func (m Mem) addr(x *ISA, r, v int) string {
	off := v * x.VecBytes
	if m.Offset != nil {
		off = m.Offset(r, v)
	}
	return fmt.Sprintf("%d(%s)", off, m.Ptr)
}

// Epilogue emits the fused epilogue of a Tile. Each step may be guarded by
// a flag: when flag is not zero, the step is skipped at run time unless one
// of its bits is set in the general register Flags, jumping to the label
// skip (which the step defines after itself). With flag 0 the step always
// runs and skip is unused.
//
// When Partial is set the last vector of each row is partial: it is loaded
// and stored through Mask (an opmask from ISA.KMask on AVX-512, a lane-mask
// vector register spelt with ISA.R on AVX2), so memory past the valid lanes
// is neither read nor written. Tmp are two scratch vector registers that no
// accumulator uses.
type Epilogue struct {
	Tile
	Partial bool
	Mask    string
	Tmp     [2]VReg
	Flags   string
}

func (e *Epilogue) masked(v int) bool { return e.Partial && v == e.Vecs-1 }

func (e *Epilogue) guard(a *Asm, flag int, skip string) {
	if flag != 0 {
		a.Ins(e.ISA.SkipUnless(e.Flags, flag, skip)...)
	}
}

func (e *Epilogue) end(a *Asm, flag int, skip string) {
	if flag != 0 {
		a.Label(skip)
	}
}

// each emits body for every element of m's shape, loading the masked
// vectors into Tmp[0] first (operand is then that register) and advancing
// m's pointer between rows.
func (e *Epilogue) each(a *Asm, m Mem, body func(operand string, acc VReg)) {
	x := e.ISA
	a.Ins(m.Setup...)
	for r := 0; r < e.Rows; r++ {
		for v := 0; v < e.Vecs; v++ {
			if e.masked(v) {
				a.Ins(x.LoadMasked(m.addr(x, r, v), e.Mask, e.Tmp[0]))
				body(x.R(e.Tmp[0]), e.Acc(r, v))
			} else {
				body(m.addr(x, r, v), e.Acc(r, v))
			}
		}
		if m.Stride != "" && r < e.Rows-1 {
			a.Ins(x.AddPtr(m.Stride, m.Ptr))
		}
	}
}

// ScaleAdd emits acc += s * m, where s is the float32 at memory operand
// scale (broadcast into Tmp[1]): C = acc + beta*C.
func (e *Epilogue) ScaleAdd(a *Asm, flag int, skip, scale string, m Mem) {
	e.guard(a, flag, skip)
	x := e.ISA
	a.Ins(x.Broadcast(scale, e.Tmp[1]))
	e.each(a, m, func(op string, acc VReg) { a.Ins(x.FMA(op, e.Tmp[1], acc)) })
	e.end(a, flag, skip)
}

// Add emits acc += m: a residual, a border bias map, or (with an Offset
// independent of the row) a per-lane bias vector.
func (e *Epilogue) Add(a *Asm, flag int, skip string, m Mem) {
	e.guard(a, flag, skip)
	x := e.ISA
	e.each(a, m, func(op string, acc VReg) { a.Ins(x.Add(op, acc, acc)) })
	e.end(a, flag, skip)
}

// Clamp emits acc = min(max(acc, lo), hi) with lo and hi the float32s at
// memory operands min and max (broadcast into Tmp[0] and Tmp[1]).
func (e *Epilogue) Clamp(a *Asm, flag int, skip, min, max string) {
	e.guard(a, flag, skip)
	x := e.ISA
	a.Ins(x.Broadcast(min, e.Tmp[0]), x.Broadcast(max, e.Tmp[1]))
	for r := 0; r < e.Rows; r++ {
		for v := 0; v < e.Vecs; v++ {
			acc := e.Acc(r, v)
			a.Ins(x.Max(x.R(e.Tmp[0]), acc, acc), x.Min(x.R(e.Tmp[1]), acc, acc))
		}
	}
	e.end(a, flag, skip)
}

// Store emits the stores of the accumulators to m, masking the partial
// vectors.
func (e *Epilogue) Store(a *Asm, m Mem) {
	x := e.ISA
	a.Ins(m.Setup...)
	for r := 0; r < e.Rows; r++ {
		for v := 0; v < e.Vecs; v++ {
			if e.masked(v) {
				a.Ins(x.StoreMasked(e.Acc(r, v), e.Mask, m.addr(x, r, v)))
			} else {
				a.Ins(x.Store(e.Acc(r, v), m.addr(x, r, v)))
			}
		}
		if m.Stride != "" && r < e.Rows-1 {
			a.Ins(x.AddPtr(m.Stride, m.Ptr))
		}
	}
}
