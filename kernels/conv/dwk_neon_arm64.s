//go:build arm64 && !purego

#include "textflag.h"

// Dedicated NEON 3x3 and 5x5 depthwise kernels: the weights live in vector
// registers (V20-V26) and every tap is one FMLA by element per four outputs.
// Go's arm64 assembler has no by-element FMLA nor vector add, max or min:
// they are spelt as instruction words; d, n, m are register numbers and i
// the lane of Vm.
#define FMLAE(d, n, m, i) WORD $(0x4f801000|(((i)&1)<<21)|((m)<<16)|(((i)>>1)<<11)|((n)<<5)|(d))
#define FADD4(d, n, m) WORD $(0x4e20d400|((m)<<16)|((n)<<5)|(d))
#define FMAX4(d, n, m) WORD $(0x4e20f400|((m)<<16)|((n)<<5)|(d))
#define FMIN4(d, n, m) WORD $(0x4ea0f400|((m)<<16)|((n)<<5)|(d))

// func dw3x3NEON(a *dwArgs)
//
// 3x3 taps of input rows ld bytes apart at columns +0, +c1, +c2 bytes
// (4 and 8 at stride 1; the odd-column plane and 4 on the even/odd column
// planes of a stride-2 row): 16 outputs a step (V0-V3), nine 64-byte loads
// alternating between V4-V7 and V8-V11, 36 FMLAs by element; then 4, then
// one output at a time (a scalar load: the upper lanes compute zeros that
// are never stored).
TEXT ·dw3x3NEON(SB), NOSPLIT, $0-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1        // y row
	MOVD  8(R0), R2        // x row
	MOVD  16(R0), R3       // residual row or nil
	MOVD  24(R0), R5       // weights
	MOVD  32(R0), R7       // ys
	MOVD  40(R0), R8       // xs
	MOVD  56(R0), R9       // rows
	MOVD  64(R0), R10      // n
	MOVD  48(R0), R21      // ld (bytes)
	MOVD  104(R0), R22     // c1 (bytes)
	MOVD  112(R0), R23     // c2 (bytes)
	FMOVS 72(R0), F16
	FMOVS 76(R0), F17
	FMOVS 80(R0), F18
	VDUP  V16.S[0], V16.S4 // bias
	VDUP  V17.S[0], V17.S4 // lo
	VDUP  V18.S[0], V18.S4 // hi
	VLD1.P 32(R5), [V20.S4, V21.S4]
	FMOVS (R5), F22
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
	MOVD R13, R19
	VLD1 (R19), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 20, 0)
	FMLAE(1, 5, 20, 0)
	FMLAE(2, 6, 20, 0)
	FMLAE(3, 7, 20, 0)
	ADD  R22, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 20, 1)
	FMLAE(1, 9, 20, 1)
	FMLAE(2, 10, 20, 1)
	FMLAE(3, 11, 20, 1)
	ADD  R23, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 20, 2)
	FMLAE(1, 5, 20, 2)
	FMLAE(2, 6, 20, 2)
	FMLAE(3, 7, 20, 2)
	ADD  R21, R19
	VLD1 (R19), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 20, 3)
	FMLAE(1, 9, 20, 3)
	FMLAE(2, 10, 20, 3)
	FMLAE(3, 11, 20, 3)
	ADD  R22, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 21, 0)
	FMLAE(1, 5, 21, 0)
	FMLAE(2, 6, 21, 0)
	FMLAE(3, 7, 21, 0)
	ADD  R23, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 21, 1)
	FMLAE(1, 9, 21, 1)
	FMLAE(2, 10, 21, 1)
	FMLAE(3, 11, 21, 1)
	ADD  R21, R19
	VLD1 (R19), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 21, 2)
	FMLAE(1, 5, 21, 2)
	FMLAE(2, 6, 21, 2)
	FMLAE(3, 7, 21, 2)
	ADD  R22, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 21, 3)
	FMLAE(1, 9, 21, 3)
	FMLAE(2, 10, 21, 3)
	FMLAE(3, 11, 21, 3)
	ADD  R23, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 22, 0)
	FMLAE(1, 5, 22, 0)
	FMLAE(2, 6, 22, 0)
	FMLAE(3, 7, 22, 0)
	CBZ  R14, b16c
	VLD1.P 64(R14), [V4.S4, V5.S4, V6.S4, V7.S4]
	FADD4(0, 0, 4)
	FADD4(1, 1, 5)
	FADD4(2, 2, 6)
	FADD4(3, 3, 7)
b16c:
	FMAX4(0, 0, 17)
	FMAX4(1, 1, 17)
	FMAX4(2, 2, 17)
	FMAX4(3, 3, 17)
	FMIN4(0, 0, 18)
	FMIN4(1, 1, 18)
	FMIN4(2, 2, 18)
	FMIN4(3, 3, 18)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R12)
	ADD  $64, R13
	SUB  $16, R11
	B    b16
b4:
	CMP  $4, R11
	BLT  b1
	VMOV V16.B16, V0.B16
	MOVD R13, R19
	VLD1 (R19), [V4.S4]
	FMLAE(0, 4, 20, 0)
	ADD  R22, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 20, 1)
	ADD  R23, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 20, 2)
	ADD  R21, R19
	VLD1 (R19), [V8.S4]
	FMLAE(0, 8, 20, 3)
	ADD  R22, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 21, 0)
	ADD  R23, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 21, 1)
	ADD  R21, R19
	VLD1 (R19), [V4.S4]
	FMLAE(0, 4, 21, 2)
	ADD  R22, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 21, 3)
	ADD  R23, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 22, 0)
	CBZ  R14, b4c
	VLD1.P 16(R14), [V4.S4]
	FADD4(0, 0, 4)
b4c:
	FMAX4(0, 0, 17)
	FMIN4(0, 0, 18)
	VST1.P [V0.S4], 16(R12)
	ADD  $16, R13
	SUB  $4, R11
	B    b4
b1:
	CBZ  R11, next
	VMOV V16.B16, V0.B16
	MOVD R13, R19
	FMOVS (R19), F4
	FMLAE(0, 4, 20, 0)
	ADD  R22, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 20, 1)
	ADD  R23, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 20, 2)
	ADD  R21, R19
	FMOVS (R19), F8
	FMLAE(0, 8, 20, 3)
	ADD  R22, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 21, 0)
	ADD  R23, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 21, 1)
	ADD  R21, R19
	FMOVS (R19), F4
	FMLAE(0, 4, 21, 2)
	ADD  R22, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 21, 3)
	ADD  R23, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 22, 0)
	CBZ  R14, b1c
	FMOVS.P 4(R14), F4
	FADD4(0, 0, 4)
b1c:
	FMAX4(0, 0, 17)
	FMIN4(0, 0, 18)
	FMOVS.P F0, 4(R12)
	ADD  $4, R13
	SUB  $1, R11
	B    b1
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

// func dw5x5NEON(a *dwArgs)
//
// 5x5 taps at stride 1 (columns +0..+16 bytes, rows ld bytes apart): 16
// outputs a step, 25 64-byte loads and 100 FMLAs by element.
TEXT ·dw5x5NEON(SB), NOSPLIT, $0-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1        // y row
	MOVD  8(R0), R2        // x row
	MOVD  16(R0), R3       // residual row or nil
	MOVD  24(R0), R5       // weights
	MOVD  32(R0), R7       // ys
	MOVD  40(R0), R8       // xs
	MOVD  56(R0), R9       // rows
	MOVD  64(R0), R10      // n
	MOVD  48(R0), R21      // ld (bytes)
	FMOVS 72(R0), F16
	FMOVS 76(R0), F17
	FMOVS 80(R0), F18
	VDUP  V16.S[0], V16.S4 // bias
	VDUP  V17.S[0], V17.S4 // lo
	VDUP  V18.S[0], V18.S4 // hi
	VLD1.P 64(R5), [V20.S4, V21.S4, V22.S4, V23.S4]
	VLD1.P 32(R5), [V24.S4, V25.S4]
	FMOVS (R5), F26
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
	MOVD R13, R19
	VLD1 (R19), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 20, 0)
	FMLAE(1, 5, 20, 0)
	FMLAE(2, 6, 20, 0)
	FMLAE(3, 7, 20, 0)
	ADD  $4, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 20, 1)
	FMLAE(1, 9, 20, 1)
	FMLAE(2, 10, 20, 1)
	FMLAE(3, 11, 20, 1)
	ADD  $8, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 20, 2)
	FMLAE(1, 5, 20, 2)
	FMLAE(2, 6, 20, 2)
	FMLAE(3, 7, 20, 2)
	ADD  $12, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 20, 3)
	FMLAE(1, 9, 20, 3)
	FMLAE(2, 10, 20, 3)
	FMLAE(3, 11, 20, 3)
	ADD  $16, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 21, 0)
	FMLAE(1, 5, 21, 0)
	FMLAE(2, 6, 21, 0)
	FMLAE(3, 7, 21, 0)
	ADD  R21, R19
	VLD1 (R19), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 21, 1)
	FMLAE(1, 9, 21, 1)
	FMLAE(2, 10, 21, 1)
	FMLAE(3, 11, 21, 1)
	ADD  $4, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 21, 2)
	FMLAE(1, 5, 21, 2)
	FMLAE(2, 6, 21, 2)
	FMLAE(3, 7, 21, 2)
	ADD  $8, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 21, 3)
	FMLAE(1, 9, 21, 3)
	FMLAE(2, 10, 21, 3)
	FMLAE(3, 11, 21, 3)
	ADD  $12, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 22, 0)
	FMLAE(1, 5, 22, 0)
	FMLAE(2, 6, 22, 0)
	FMLAE(3, 7, 22, 0)
	ADD  $16, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 22, 1)
	FMLAE(1, 9, 22, 1)
	FMLAE(2, 10, 22, 1)
	FMLAE(3, 11, 22, 1)
	ADD  R21, R19
	VLD1 (R19), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 22, 2)
	FMLAE(1, 5, 22, 2)
	FMLAE(2, 6, 22, 2)
	FMLAE(3, 7, 22, 2)
	ADD  $4, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 22, 3)
	FMLAE(1, 9, 22, 3)
	FMLAE(2, 10, 22, 3)
	FMLAE(3, 11, 22, 3)
	ADD  $8, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 23, 0)
	FMLAE(1, 5, 23, 0)
	FMLAE(2, 6, 23, 0)
	FMLAE(3, 7, 23, 0)
	ADD  $12, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 23, 1)
	FMLAE(1, 9, 23, 1)
	FMLAE(2, 10, 23, 1)
	FMLAE(3, 11, 23, 1)
	ADD  $16, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 23, 2)
	FMLAE(1, 5, 23, 2)
	FMLAE(2, 6, 23, 2)
	FMLAE(3, 7, 23, 2)
	ADD  R21, R19
	VLD1 (R19), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 23, 3)
	FMLAE(1, 9, 23, 3)
	FMLAE(2, 10, 23, 3)
	FMLAE(3, 11, 23, 3)
	ADD  $4, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 24, 0)
	FMLAE(1, 5, 24, 0)
	FMLAE(2, 6, 24, 0)
	FMLAE(3, 7, 24, 0)
	ADD  $8, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 24, 1)
	FMLAE(1, 9, 24, 1)
	FMLAE(2, 10, 24, 1)
	FMLAE(3, 11, 24, 1)
	ADD  $12, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 24, 2)
	FMLAE(1, 5, 24, 2)
	FMLAE(2, 6, 24, 2)
	FMLAE(3, 7, 24, 2)
	ADD  $16, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 24, 3)
	FMLAE(1, 9, 24, 3)
	FMLAE(2, 10, 24, 3)
	FMLAE(3, 11, 24, 3)
	ADD  R21, R19
	VLD1 (R19), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 25, 0)
	FMLAE(1, 5, 25, 0)
	FMLAE(2, 6, 25, 0)
	FMLAE(3, 7, 25, 0)
	ADD  $4, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 25, 1)
	FMLAE(1, 9, 25, 1)
	FMLAE(2, 10, 25, 1)
	FMLAE(3, 11, 25, 1)
	ADD  $8, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 25, 2)
	FMLAE(1, 5, 25, 2)
	FMLAE(2, 6, 25, 2)
	FMLAE(3, 7, 25, 2)
	ADD  $12, R19, R20
	VLD1 (R20), [V8.S4, V9.S4, V10.S4, V11.S4]
	FMLAE(0, 8, 25, 3)
	FMLAE(1, 9, 25, 3)
	FMLAE(2, 10, 25, 3)
	FMLAE(3, 11, 25, 3)
	ADD  $16, R19, R20
	VLD1 (R20), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLAE(0, 4, 26, 0)
	FMLAE(1, 5, 26, 0)
	FMLAE(2, 6, 26, 0)
	FMLAE(3, 7, 26, 0)
	CBZ  R14, b16c
	VLD1.P 64(R14), [V4.S4, V5.S4, V6.S4, V7.S4]
	FADD4(0, 0, 4)
	FADD4(1, 1, 5)
	FADD4(2, 2, 6)
	FADD4(3, 3, 7)
b16c:
	FMAX4(0, 0, 17)
	FMAX4(1, 1, 17)
	FMAX4(2, 2, 17)
	FMAX4(3, 3, 17)
	FMIN4(0, 0, 18)
	FMIN4(1, 1, 18)
	FMIN4(2, 2, 18)
	FMIN4(3, 3, 18)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R12)
	ADD  $64, R13
	SUB  $16, R11
	B    b16
b4:
	CMP  $4, R11
	BLT  b1
	VMOV V16.B16, V0.B16
	MOVD R13, R19
	VLD1 (R19), [V4.S4]
	FMLAE(0, 4, 20, 0)
	ADD  $4, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 20, 1)
	ADD  $8, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 20, 2)
	ADD  $12, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 20, 3)
	ADD  $16, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 21, 0)
	ADD  R21, R19
	VLD1 (R19), [V8.S4]
	FMLAE(0, 8, 21, 1)
	ADD  $4, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 21, 2)
	ADD  $8, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 21, 3)
	ADD  $12, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 22, 0)
	ADD  $16, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 22, 1)
	ADD  R21, R19
	VLD1 (R19), [V4.S4]
	FMLAE(0, 4, 22, 2)
	ADD  $4, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 22, 3)
	ADD  $8, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 23, 0)
	ADD  $12, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 23, 1)
	ADD  $16, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 23, 2)
	ADD  R21, R19
	VLD1 (R19), [V8.S4]
	FMLAE(0, 8, 23, 3)
	ADD  $4, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 24, 0)
	ADD  $8, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 24, 1)
	ADD  $12, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 24, 2)
	ADD  $16, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 24, 3)
	ADD  R21, R19
	VLD1 (R19), [V4.S4]
	FMLAE(0, 4, 25, 0)
	ADD  $4, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 25, 1)
	ADD  $8, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 25, 2)
	ADD  $12, R19, R20
	VLD1 (R20), [V8.S4]
	FMLAE(0, 8, 25, 3)
	ADD  $16, R19, R20
	VLD1 (R20), [V4.S4]
	FMLAE(0, 4, 26, 0)
	CBZ  R14, b4c
	VLD1.P 16(R14), [V4.S4]
	FADD4(0, 0, 4)
b4c:
	FMAX4(0, 0, 17)
	FMIN4(0, 0, 18)
	VST1.P [V0.S4], 16(R12)
	ADD  $16, R13
	SUB  $4, R11
	B    b4
b1:
	CBZ  R11, next
	VMOV V16.B16, V0.B16
	MOVD R13, R19
	FMOVS (R19), F4
	FMLAE(0, 4, 20, 0)
	ADD  $4, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 20, 1)
	ADD  $8, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 20, 2)
	ADD  $12, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 20, 3)
	ADD  $16, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 21, 0)
	ADD  R21, R19
	FMOVS (R19), F8
	FMLAE(0, 8, 21, 1)
	ADD  $4, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 21, 2)
	ADD  $8, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 21, 3)
	ADD  $12, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 22, 0)
	ADD  $16, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 22, 1)
	ADD  R21, R19
	FMOVS (R19), F4
	FMLAE(0, 4, 22, 2)
	ADD  $4, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 22, 3)
	ADD  $8, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 23, 0)
	ADD  $12, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 23, 1)
	ADD  $16, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 23, 2)
	ADD  R21, R19
	FMOVS (R19), F8
	FMLAE(0, 8, 23, 3)
	ADD  $4, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 24, 0)
	ADD  $8, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 24, 1)
	ADD  $12, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 24, 2)
	ADD  $16, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 24, 3)
	ADD  R21, R19
	FMOVS (R19), F4
	FMLAE(0, 4, 25, 0)
	ADD  $4, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 25, 1)
	ADD  $8, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 25, 2)
	ADD  $12, R19, R20
	FMOVS (R20), F8
	FMLAE(0, 8, 25, 3)
	ADD  $16, R19, R20
	FMOVS (R20), F4
	FMLAE(0, 4, 26, 0)
	CBZ  R14, b1c
	FMOVS.P 4(R14), F4
	FADD4(0, 0, 4)
b1c:
	FMAX4(0, 0, 17)
	FMIN4(0, 0, 18)
	FMOVS.P F0, 4(R12)
	ADD  $4, R13
	SUB  $1, R11
	B    b1
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

