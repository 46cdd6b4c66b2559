//go:build arm64 && !purego

#include "textflag.h"

// NEON depthwise kernels. Go's arm64 assembler has no floating-point vector
// add, max or min: they are spelt as instruction words (A64 "Advanced SIMD
// three same", .4S arrangement); d, n, m are register numbers.
#define FADD4(d, n, m) WORD $(0x4e20d400|((m)<<16)|((n)<<5)|(d))
#define FMAX4(d, n, m) WORD $(0x4e20f400|((m)<<16)|((n)<<5)|(d))
#define FMIN4(d, n, m) WORD $(0x4ea0f400|((m)<<16)|((n)<<5)|(d))

// func dwTapsNEON(a *dwArgs)
//
// Rows of outputs in blocks of 16 (four accumulators), then 4, then one at
// a time: every tap adds w[t] (broadcast by VLD1R) times the input at the
// tap's offset. Every load is of an input the block's outputs need, so
// nothing is read past the padded plane.
TEXT ·dwTapsNEON(SB), NOSPLIT, $0-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1        // y row
	MOVD  8(R0), R2        // x row
	MOVD  16(R0), R3       // residual row or nil
	MOVD  120(R0), R4      // tap byte offsets
	MOVD  24(R0), R5       // weights
	MOVD  128(R0), R6      // nt
	MOVD  32(R0), R7       // ys
	MOVD  40(R0), R8       // xs
	MOVD  56(R0), R9       // rows
	MOVD  64(R0), R10      // n
	FMOVS 72(R0), F16
	FMOVS 76(R0), F17
	FMOVS 80(R0), F18
	VDUP  V16.S[0], V16.S4 // bias
	VDUP  V17.S[0], V17.S4 // lo
	VDUP  V18.S[0], V18.S4 // hi
	CBZ   R9, done

row:
	MOVD R1, R12
	MOVD R2, R13
	MOVD R3, R14
	MOVD R10, R11

b16:
	CMP  $16, R11
	BLT  b4
	VMOV V16.B16, V0.B16
	VMOV V16.B16, V1.B16
	VMOV V16.B16, V2.B16
	VMOV V16.B16, V3.B16
	MOVD R4, R16
	MOVD R5, R17
	MOVD R6, R15

t16:
	MOVD.P  8(R16), R20
	ADD     R13, R20, R19
	VLD1    (R19), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1R.P 4(R17), [V8.S4]
	VFMLA   V8.S4, V4.S4, V0.S4
	VFMLA   V8.S4, V5.S4, V1.S4
	VFMLA   V8.S4, V6.S4, V2.S4
	VFMLA   V8.S4, V7.S4, V3.S4
	SUBS    $1, R15, R15
	BNE     t16
	CBZ     R14, c16
	VLD1.P  64(R14), [V4.S4, V5.S4, V6.S4, V7.S4]
	FADD4(0, 0, 4)
	FADD4(1, 1, 5)
	FADD4(2, 2, 6)
	FADD4(3, 3, 7)

c16:
	FMAX4(0, 0, 17)
	FMAX4(1, 1, 17)
	FMAX4(2, 2, 17)
	FMAX4(3, 3, 17)
	FMIN4(0, 0, 18)
	FMIN4(1, 1, 18)
	FMIN4(2, 2, 18)
	FMIN4(3, 3, 18)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R12)
	ADD    $64, R13
	SUB    $16, R11
	B      b16

b4:
	CMP  $4, R11
	BLT  b1
	VMOV V16.B16, V0.B16
	MOVD R4, R16
	MOVD R5, R17
	MOVD R6, R15

t4:
	MOVD.P  8(R16), R20
	ADD     R13, R20, R19
	VLD1    (R19), [V4.S4]
	VLD1R.P 4(R17), [V8.S4]
	VFMLA   V8.S4, V4.S4, V0.S4
	SUBS    $1, R15, R15
	BNE     t4
	CBZ     R14, c4
	VLD1.P  16(R14), [V4.S4]
	FADD4(0, 0, 4)

c4:
	FMAX4(0, 0, 17)
	FMIN4(0, 0, 18)
	VST1.P [V0.S4], 16(R12)
	ADD    $16, R13
	SUB    $4, R11
	B      b4

b1:
	CBZ   R11, next
	FMOVS F16, F0
	MOVD  R4, R16
	MOVD  R5, R17
	MOVD  R6, R15

t1:
	MOVD.P  8(R16), R20
	ADD     R13, R20, R19
	FMOVS   (R19), F4
	FMOVS.P 4(R17), F8
	FMADDS  F8, F0, F4, F0
	SUBS    $1, R15, R15
	BNE     t1
	CBZ     R14, c1
	FMOVS.P 4(R14), F4
	FADDS   F4, F0, F0

c1:
	FMAXS   F17, F0, F0
	FMINS   F18, F0, F0
	FMOVS.P F0, 4(R12)
	ADD     $4, R13
	SUB     $1, R11
	B       b1

next:
	ADD  R7, R1
	ADD  R8, R2
	CBZ  R3, nores
	ADD  R7, R3

nores:
	SUBS $1, R9, R9
	BNE  row

done:
	RET

// func dwDots5NEON(a *dotArgs)
//
// Five taps at a time: the 16 dy values of a block (V20-V23) are loaded
// once and multiplied into five sets of four accumulators (V0-V19).
TEXT ·dwDots5NEON(SB), NOSPLIT, $0-8
	MOVD   a+0(FP), R0
	MOVD   0(R0), R1
	MOVD   8(R0), R2
	MOVD   16(R0), R3
	MOVD   24(R0), R4
	MOVD   32(R0), R5
	MOVD   40(R0), R6
	MOVD   48(R0), R7
	MOVD   56(R0), R8
	MOVD   R7, R9
	VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R9), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R9), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 64(R9), [V12.S4, V13.S4, V14.S4, V15.S4]
	VLD1   (R9), [V16.S4, V17.S4, V18.S4, V19.S4]

dots:
	VLD1.P 64(R1), [V20.S4, V21.S4, V22.S4, V23.S4]
	VLD1.P 64(R2), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1.P 64(R3), [V28.S4, V29.S4, V30.S4, V31.S4]
	VFMLA  V24.S4, V20.S4, V0.S4
	VFMLA  V25.S4, V21.S4, V1.S4
	VFMLA  V26.S4, V22.S4, V2.S4
	VFMLA  V27.S4, V23.S4, V3.S4
	VLD1.P 64(R4), [V24.S4, V25.S4, V26.S4, V27.S4]
	VFMLA  V28.S4, V20.S4, V4.S4
	VFMLA  V29.S4, V21.S4, V5.S4
	VFMLA  V30.S4, V22.S4, V6.S4
	VFMLA  V31.S4, V23.S4, V7.S4
	VLD1.P 64(R5), [V28.S4, V29.S4, V30.S4, V31.S4]
	VFMLA  V24.S4, V20.S4, V8.S4
	VFMLA  V25.S4, V21.S4, V9.S4
	VFMLA  V26.S4, V22.S4, V10.S4
	VFMLA  V27.S4, V23.S4, V11.S4
	VLD1.P 64(R6), [V24.S4, V25.S4, V26.S4, V27.S4]
	VFMLA  V28.S4, V20.S4, V12.S4
	VFMLA  V29.S4, V21.S4, V13.S4
	VFMLA  V30.S4, V22.S4, V14.S4
	VFMLA  V31.S4, V23.S4, V15.S4
	VFMLA  V24.S4, V20.S4, V16.S4
	VFMLA  V25.S4, V21.S4, V17.S4
	VFMLA  V26.S4, V22.S4, V18.S4
	VFMLA  V27.S4, V23.S4, V19.S4
	SUBS   $1, R8, R8
	BNE    dots

	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R7)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R7)
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R7)
	VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], 64(R7)
	VST1   [V16.S4, V17.S4, V18.S4, V19.S4], (R7)
	RET

// func dwGatherNEON(a *gatherArgs)
//
// 64 outputs a block in sixteen accumulators (V0-V15); per tap one
// broadcast weight and four 64-byte loads feed sixteen FMLAs.
TEXT ·dwGatherNEON(SB), NOSPLIT, $0-8
	MOVD a+0(FP), R0
	MOVD 0(R0), R1  // out
	MOVD 8(R0), R2  // tap pointers
	MOVD 16(R0), R3 // weights
	MOVD 24(R0), R4 // nt
	MOVD 32(R0), R5 // nb
	MOVD $0, R6     // byte offset of the block

block:
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	MOVD R2, R7
	MOVD R3, R8
	MOVD R4, R9

tap:
	MOVD.P  8(R7), R10
	ADD     R6, R10, R10
	VLD1R.P 4(R8), [V24.S4]
	VLD1.P  64(R10), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1.P  64(R10), [V20.S4, V21.S4, V22.S4, V23.S4]
	VFMLA   V24.S4, V16.S4, V0.S4
	VFMLA   V24.S4, V17.S4, V1.S4
	VFMLA   V24.S4, V18.S4, V2.S4
	VFMLA   V24.S4, V19.S4, V3.S4
	VLD1.P  64(R10), [V16.S4, V17.S4, V18.S4, V19.S4]
	VFMLA   V24.S4, V20.S4, V4.S4
	VFMLA   V24.S4, V21.S4, V5.S4
	VFMLA   V24.S4, V22.S4, V6.S4
	VFMLA   V24.S4, V23.S4, V7.S4
	VLD1    (R10), [V20.S4, V21.S4, V22.S4, V23.S4]
	VFMLA   V24.S4, V16.S4, V8.S4
	VFMLA   V24.S4, V17.S4, V9.S4
	VFMLA   V24.S4, V18.S4, V10.S4
	VFMLA   V24.S4, V19.S4, V11.S4
	VFMLA   V24.S4, V20.S4, V12.S4
	VFMLA   V24.S4, V21.S4, V13.S4
	VFMLA   V24.S4, V22.S4, V14.S4
	VFMLA   V24.S4, V23.S4, V15.S4
	SUBS    $1, R9, R9
	BNE     tap

	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R1)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R1)
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R1)
	VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], 64(R1)
	ADD    $256, R6
	SUBS   $1, R5, R5
	BNE    block
	RET

// func dwDeintRowsNEON(a *rowsArgs)
//
// d0 gets the even and d1 the odd elements of each source row of n: eight
// source elements a step (VLD2), then pairs and a last even one as scalars.
TEXT ·dwDeintRowsNEON(SB), NOSPLIT, $0-8
	MOVD a+0(FP), R0
	MOVD 0(R0), R1  // d0
	MOVD 8(R0), R2  // d1
	MOVD 16(R0), R3 // src
	MOVD 32(R0), R4 // ds
	MOVD 40(R0), R5 // ss
	MOVD 48(R0), R6 // n
	MOVD 56(R0), R7 // rows

drow:
	MOVD R1, R10
	MOVD R2, R11
	MOVD R3, R12
	MOVD R6, R13

d8:
	CMP    $8, R13
	BLT    d2
	VLD2.P 32(R12), [V0.S4, V1.S4]
	VST1.P [V0.S4], 16(R10)
	VST1.P [V1.S4], 16(R11)
	SUB    $8, R13
	B      d8

d2:
	CMP     $2, R13
	BLT     d1
	FMOVS.P 4(R12), F0
	FMOVS.P 4(R12), F1
	FMOVS.P F0, 4(R10)
	FMOVS.P F1, 4(R11)
	SUB     $2, R13
	B       d2

d1:
	CBZ   R13, dnext
	FMOVS (R12), F0
	FMOVS F0, (R10)

dnext:
	ADD  R4, R1
	ADD  R4, R2
	ADD  R5, R3
	SUBS $1, R7, R7
	BNE  drow
	RET

// func dwIntlvRowsNEON(a *rowsArgs)
//
// Each destination row of n gets s0 and s1 interleaved: eight elements a
// step (VST2), then pairs and a last even one as scalars.
TEXT ·dwIntlvRowsNEON(SB), NOSPLIT, $0-8
	MOVD a+0(FP), R0
	MOVD 0(R0), R1  // dst
	MOVD 16(R0), R2 // s0
	MOVD 24(R0), R3 // s1
	MOVD 32(R0), R4 // ds
	MOVD 40(R0), R5 // ss
	MOVD 48(R0), R6 // n
	MOVD 56(R0), R7 // rows

irow:
	MOVD R1, R10
	MOVD R2, R11
	MOVD R3, R12
	MOVD R6, R13

i8:
	CMP    $8, R13
	BLT    i2
	VLD1.P 16(R11), [V0.S4]
	VLD1.P 16(R12), [V1.S4]
	VST2.P [V0.S4, V1.S4], 32(R10)
	SUB    $8, R13
	B      i8

i2:
	CMP     $2, R13
	BLT     i1
	FMOVS.P 4(R11), F0
	FMOVS.P 4(R12), F1
	FMOVS.P F0, 4(R10)
	FMOVS.P F1, 4(R10)
	SUB     $2, R13
	B       i2

i1:
	CBZ   R13, inext
	FMOVS (R11), F0
	FMOVS F0, (R10)

inext:
	ADD  R4, R1
	ADD  R5, R2
	ADD  R5, R3
	SUBS $1, R7, R7
	BNE  irow
	RET
