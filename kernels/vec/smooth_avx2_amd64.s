//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA versions of the smooth activation kernels of smooth_amd64.s
// (same smoothArgs, same computation as smoothGo). They walk a.n values 8
// at a time; the last n%8 are read with VMASKMOVPS under the lane mask
// Y10 from smoothTab (masked lanes never fault) and written with
// SMSTORETAIL, so nothing past the end is touched.

// SMSTORETAIL stores the low C (1-7) floats of Y (X is its low half) at P,
// 4, 2 and 1 at a time (as STORETAIL in planes_avx2_amd64.s: AMD cores run
// VMASKMOVPS stores as slow microcode); it clobbers Y and P.
#define SMSTORETAIL(Y, X, P, C, L2, L1, LD) \
	TESTQ $4, C; JZ L2; VMOVUPS X, (P); VEXTRACTF128 $1, Y, X; ADDQ $16, P; \
L2:	TESTQ $2, C; JZ L1; VMOVLPS X, (P); VMOVHLPS X, X, X; ADDQ $8, P; \
L1:	TESTQ $1, C; JZ LD; VMOVSS X, (P); \
LD:

// SMLOAD2 loads a into AX, the pointers and the count, and the constants
// kept in registers: Y15 -104, Y14 1, Y13 1.5*2^23, Y12 sign bit, Y11
// log2 e (the others are read from smoothTab at R8). R9 = full vectors,
// CX = tail length, Y10 = its lane mask, DX = 0.
#define SMLOAD2 \
	MOVQ a+0(FP), AX; \
	MOVQ 0(AX), SI; \
	MOVQ 8(AX), DI; \
	MOVQ 16(AX), BX; \
	MOVQ 24(AX), R8; \
	MOVQ 32(AX), R9; \
	VMOVUPS 32(R8), Y15; \
	VMOVUPS 384(R8), Y14; \
	VMOVUPS 96(R8), Y13; \
	VMOVUPS 0(R8), Y12; \
	VMOVUPS 64(R8), Y11; \
	MOVQ R9, CX; \
	ANDQ $7, CX; \
	LEAQ 512(R8), R10; \
	MOVQ CX, R11; \
	SHLQ $2, R11; \
	SUBQ R11, R10; \
	VMOVUPS (R10), Y10; \
	SHRQ $3, R9; \
	XORQ DX, DX

// SMCORE2: from x in Y0, t = max(-|x|, -104) in Y1, e = exp(t) in Y5,
// d = 1/(1+e) in Y6 (Y2-Y4 clobbered). VMAXPS returns its first (Go order)
// operand when either is NaN, so NaN stays NaN.
#define SMCORE2 \
	VORPS Y12, Y0, Y1; \
	VMAXPS Y1, Y15, Y1; \
	VMOVAPS Y13, Y2; \
	VFMADD231PS Y11, Y1, Y2; \
	VSUBPS Y13, Y2, Y3; \
	VMOVAPS Y1, Y4; \
	VFMADD231PS 128(R8), Y3, Y4; \
	VFMADD231PS 160(R8), Y3, Y4; \
	VMOVUPS 192(R8), Y5; \
	VFMADD213PS 224(R8), Y4, Y5; \
	VFMADD213PS 256(R8), Y4, Y5; \
	VFMADD213PS 288(R8), Y4, Y5; \
	VFMADD213PS 320(R8), Y4, Y5; \
	VFMADD213PS 352(R8), Y4, Y5; \
	VFMADD213PS Y14, Y4, Y5; \
	VFMADD213PS Y14, Y4, Y5; \
	VPSLLD $23, Y2, Y2; \
	VPADDD 416(R8), Y2, Y2; \
	VMULPS Y2, Y5, Y5; \
	VMULPS 448(R8), Y5, Y5; \
	VADDPS Y14, Y5, Y6; \
	VDIVPS Y6, Y14, Y6

// SIGMOID2: Y6 = sigmoid(x): e*d where x has its sign bit set, else d.
#define SIGMOID2 \
	VMULPS Y5, Y6, Y7; \
	VBLENDVPS Y0, Y7, Y6, Y6

// func sigmoidAVX2(a *smoothArgs)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-8
	SMLOAD2
sgloop:
	TESTQ R9, R9
	JZ sgtail
	VMOVUPS (SI)(DX*1), Y0
	SMCORE2
	SIGMOID2
	VMOVUPS Y6, (DI)(DX*1)
	ADDQ $32, DX
	DECQ R9
	JMP sgloop
sgtail:
	TESTQ CX, CX
	JZ sgdone
	VMASKMOVPS (SI)(DX*1), Y10, Y0
	SMCORE2
	SIGMOID2
	LEAQ (DI)(DX*1), R11
	SMSTORETAIL(Y6, X6, R11, CX, sg2, sg1, sgdone)
	VZEROUPPER
	RET

// func siluAVX2(a *smoothArgs): y = max(x, -104) * sigmoid(x).
TEXT ·siluAVX2(SB), NOSPLIT, $0-8
	SMLOAD2
slloop:
	TESTQ R9, R9
	JZ sltail
	VMOVUPS (SI)(DX*1), Y0
	SMCORE2
	SIGMOID2
	VMAXPS Y0, Y15, Y7
	VMULPS Y7, Y6, Y6
	VMOVUPS Y6, (DI)(DX*1)
	ADDQ $32, DX
	DECQ R9
	JMP slloop
sltail:
	TESTQ CX, CX
	JZ sldone
	VMASKMOVPS (SI)(DX*1), Y10, Y0
	SMCORE2
	SIGMOID2
	VMAXPS Y0, Y15, Y7
	VMULPS Y7, Y6, Y6
	LEAQ (DI)(DX*1), R11
	SMSTORETAIL(Y6, X6, R11, CX, sl2, sl1, sldone)
	VZEROUPPER
	RET

// func sigmoidGradAVX2(a *smoothArgs): dx = (e*d)*d * dy.
TEXT ·sigmoidGradAVX2(SB), NOSPLIT, $0-8
	SMLOAD2
sdloop:
	TESTQ R9, R9
	JZ sdtail
	VMOVUPS (SI)(DX*1), Y0
	SMCORE2
	VMULPS Y5, Y6, Y7
	VMULPS Y6, Y7, Y7
	VMULPS (BX)(DX*1), Y7, Y7
	VMOVUPS Y7, (DI)(DX*1)
	ADDQ $32, DX
	DECQ R9
	JMP sdloop
sdtail:
	TESTQ CX, CX
	JZ sddone
	VMASKMOVPS (SI)(DX*1), Y10, Y0
	SMCORE2
	VMASKMOVPS (BX)(DX*1), Y10, Y8
	VMULPS Y5, Y6, Y7
	VMULPS Y6, Y7, Y7
	VMULPS Y8, Y7, Y7
	LEAQ (DI)(DX*1), R11
	SMSTORETAIL(Y7, X7, R11, CX, sd2, sd1, sddone)
	VZEROUPPER
	RET

// SILUGRAD2: from SMCORE2's results and dy in Y3, Y9 = dx: s = sigmoid(x)
// (Y8), om = 1-s (Y9), xc = x clamped to [-104, 104] (t with the sign of
// x, Y2), dx = (xc*om + 1) * s * dy.
#define SILUGRAD2 \
	VMULPS Y5, Y6, Y7; \
	VBLENDVPS Y0, Y7, Y6, Y8; \
	VBLENDVPS Y0, Y6, Y7, Y9; \
	VANDNPS Y12, Y0, Y2; \
	VXORPS Y1, Y2, Y2; \
	VFMADD213PS Y14, Y2, Y9; \
	VMULPS Y8, Y9, Y9; \
	VMULPS Y3, Y9, Y9

// func siluGradAVX2(a *smoothArgs): dx = dy * (s + x*s*(1-s)).
TEXT ·siluGradAVX2(SB), NOSPLIT, $0-8
	SMLOAD2
sxloop:
	TESTQ R9, R9
	JZ sxtail
	VMOVUPS (SI)(DX*1), Y0
	SMCORE2
	VMOVUPS (BX)(DX*1), Y3
	SILUGRAD2
	VMOVUPS Y9, (DI)(DX*1)
	ADDQ $32, DX
	DECQ R9
	JMP sxloop
sxtail:
	TESTQ CX, CX
	JZ sxdone
	VMASKMOVPS (SI)(DX*1), Y10, Y0
	SMCORE2
	VMASKMOVPS (BX)(DX*1), Y10, Y3
	SILUGRAD2
	LEAQ (DI)(DX*1), R11
	SMSTORETAIL(Y9, X9, R11, CX, sx2, sx1, sxdone)
	VZEROUPPER
	RET

// The hard (piecewise-linear) activation kernels do the Go loops' operations
// of vec.go in the same order, without fused multiply-adds, so they give
// the same bits. HLOAD2 loads the pointers, the count (R9 full vectors, CX
// tail length, Y10 its lane mask, DX = 0) and Y11 3, Y12 -3, Y13 6,
// Y14 1/6, Y15 0.
#define HLOAD2 \
	MOVQ a+0(FP), AX; \
	MOVQ 0(AX), SI; \
	MOVQ 8(AX), DI; \
	MOVQ 16(AX), BX; \
	MOVQ 24(AX), R8; \
	MOVQ 32(AX), R9; \
	VMOVUPS 544(R8), Y11; \
	VMOVUPS 576(R8), Y12; \
	VMOVUPS 608(R8), Y13; \
	VMOVUPS 640(R8), Y14; \
	VXORPS Y15, Y15, Y15; \
	MOVQ R9, CX; \
	ANDQ $7, CX; \
	LEAQ 512(R8), R10; \
	MOVQ CX, R11; \
	SHLQ $2, R11; \
	SUBQ R11, R10; \
	VMOVUPS (R10), Y10; \
	SHRQ $3, R9; \
	XORQ DX, DX

// HFWD2 defines the forward kernel NAME: OP maps x in Y0 to Y1.
#define HFWD2(NAME, OP, LV, LT, L2, L1, LD) \
TEXT NAME(SB), NOSPLIT, $0-8; \
	HLOAD2; \
LV:	TESTQ R9, R9; \
	JZ LT; \
	VMOVUPS (SI)(DX*1), Y0; \
	OP; \
	VMOVUPS Y1, (DI)(DX*1); \
	ADDQ $32, DX; \
	DECQ R9; \
	JMP LV; \
LT:	TESTQ CX, CX; \
	JZ LD; \
	VMASKMOVPS (SI)(DX*1), Y10, Y0; \
	OP; \
	LEAQ (DI)(DX*1), R11; \
	SMSTORETAIL(Y1, X1, R11, CX, L2, L1, LD); \
	VZEROUPPER; \
	RET

// HBWD2 defines the backward kernel NAME: OP maps x in Y0 and dy in Y8 to
// Y1.
#define HBWD2(NAME, OP, LV, LT, L2, L1, LD) \
TEXT NAME(SB), NOSPLIT, $0-8; \
	HLOAD2; \
LV:	TESTQ R9, R9; \
	JZ LT; \
	VMOVUPS (SI)(DX*1), Y0; \
	VMOVUPS (BX)(DX*1), Y8; \
	OP; \
	VMOVUPS Y1, (DI)(DX*1); \
	ADDQ $32, DX; \
	DECQ R9; \
	JMP LV; \
LT:	TESTQ CX, CX; \
	JZ LD; \
	VMASKMOVPS (SI)(DX*1), Y10, Y0; \
	VMASKMOVPS (BX)(DX*1), Y10, Y8; \
	OP; \
	LEAQ (DI)(DX*1), R11; \
	SMSTORETAIL(Y1, X1, R11, CX, L2, L1, LD); \
	VZEROUPPER; \
	RET

// HRELU6_2: Y1 = min(max(x+3, 0), 6), NaN staying NaN.
#define HRELU6_2 \
	VADDPS Y11, Y0, Y1; \
	VMAXPS Y1, Y15, Y1; \
	VMINPS Y1, Y13, Y1

#define HSIG2 \
	HRELU6_2; \
	VMULPS Y14, Y1, Y1

#define HSWISH2 \
	HRELU6_2; \
	VMULPS Y1, Y0, Y1; \
	VMULPS Y14, Y1, Y1

// dy*(1/6) where -3 < x < 3, else 0.
#define HSIGGRAD2 \
	VMULPS Y14, Y8, Y1; \
	VCMPPS $0x1e, Y12, Y0, Y2; \
	VCMPPS $0x11, Y11, Y0, Y3; \
	VANDPS Y3, Y2, Y2; \
	VANDPS Y2, Y1, Y1

// 0 where x < -3, dy where x > 3, else (dy*(2x+3))*(1/6).
#define HSWISHGRAD2 \
	VADDPS Y0, Y0, Y1; \
	VADDPS Y11, Y1, Y1; \
	VMULPS Y8, Y1, Y1; \
	VMULPS Y14, Y1, Y1; \
	VCMPPS $0x1e, Y11, Y0, Y2; \
	VBLENDVPS Y2, Y8, Y1, Y1; \
	VCMPPS $0x11, Y12, Y0, Y2; \
	VANDNPS Y1, Y2, Y1

// func hardSigmoidAVX2(a *smoothArgs)
HFWD2(·hardSigmoidAVX2, HSIG2, hgloop, hgtail, hg2, hg1, hgdone)

// func hardSwishAVX2(a *smoothArgs)
HFWD2(·hardSwishAVX2, HSWISH2, hwloop, hwtail, hw2, hw1, hwdone)

// func hardSigmoidGradAVX2(a *smoothArgs)
HBWD2(·hardSigmoidGradAVX2, HSIGGRAD2, hdloop, hdtail, hd2, hd1, hddone)

// func hardSwishGradAVX2(a *smoothArgs)
HBWD2(·hardSwishGradAVX2, HSWISHGRAD2, hxloop, hxtail, hx2, hx1, hxdone)
