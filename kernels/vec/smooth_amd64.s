//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 smooth activation kernels (sigmoid, SiLU and their gradients):
// smoothGo in smooth.go is the same computation lane by lane. They walk
// a.n values 16 at a time, the last n%16 under the lane mask K2 (masked
// loads read zeros, masked stores write nothing past the end). See
// smoothArgs in smooth.go.

// SMLOAD512 loads a into AX and the pointers, the count and the constants
// of smoothTab: Z17 sign bit, Z18 -104, Z19 log2 e, Z20 1.5*2^23, Z21 -C1,
// Z22 -C2, Z23-Z28 the polynomial (P5 first), Z29 1, Z30 exponent bits of
// 2^64, Z31 2^-64. R9 = full vectors, K2 = tail lanes, DX = 0.
#define SMLOAD512 \
	MOVQ a+0(FP), AX; \
	MOVQ 0(AX), SI; \
	MOVQ 8(AX), DI; \
	MOVQ 16(AX), BX; \
	MOVQ 24(AX), R8; \
	MOVQ 32(AX), R9; \
	VBROADCASTSS 0(R8), Z17; \
	VBROADCASTSS 32(R8), Z18; \
	VBROADCASTSS 64(R8), Z19; \
	VBROADCASTSS 96(R8), Z20; \
	VBROADCASTSS 128(R8), Z21; \
	VBROADCASTSS 160(R8), Z22; \
	VBROADCASTSS 192(R8), Z23; \
	VBROADCASTSS 224(R8), Z24; \
	VBROADCASTSS 256(R8), Z25; \
	VBROADCASTSS 288(R8), Z26; \
	VBROADCASTSS 320(R8), Z27; \
	VBROADCASTSS 352(R8), Z28; \
	VBROADCASTSS 384(R8), Z29; \
	VBROADCASTSS 416(R8), Z30; \
	VBROADCASTSS 448(R8), Z31; \
	MOVQ R9, CX; \
	ANDQ $15, CX; \
	MOVL $1, DX; \
	SHLL CX, DX; \
	DECL DX; \
	KMOVW DX, K2; \
	SHRQ $4, R9; \
	XORQ DX, DX

// SMCORE512: from x in Z0, t = max(-|x|, -104) in Z1, e = exp(t) in Z5,
// d = 1/(1+e) in Z6, K1 = lanes with the sign bit of x set. VMAXPS returns
// its first (Go order) operand when either is NaN, so NaN stays NaN.
#define SMCORE512 \
	VPORD Z17, Z0, Z1; \
	VMAXPS Z1, Z18, Z1; \
	VMOVAPS Z20, Z2; \
	VFMADD231PS Z19, Z1, Z2; \
	VSUBPS Z20, Z2, Z3; \
	VMOVAPS Z1, Z4; \
	VFMADD231PS Z21, Z3, Z4; \
	VFMADD231PS Z22, Z3, Z4; \
	VMOVAPS Z23, Z5; \
	VFMADD213PS Z24, Z4, Z5; \
	VFMADD213PS Z25, Z4, Z5; \
	VFMADD213PS Z26, Z4, Z5; \
	VFMADD213PS Z27, Z4, Z5; \
	VFMADD213PS Z28, Z4, Z5; \
	VFMADD213PS Z29, Z4, Z5; \
	VFMADD213PS Z29, Z4, Z5; \
	VPSLLD $23, Z2, Z2; \
	VPADDD Z30, Z2, Z2; \
	VMULPS Z2, Z5, Z5; \
	VMULPS Z31, Z5, Z5; \
	VADDPS Z29, Z5, Z6; \
	VDIVPS Z6, Z29, Z6; \
	VPMOVD2M Z0, K1

// func sigmoidAVX512(a *smoothArgs): y = d, or e*d where x < 0.
TEXT ·sigmoidAVX512(SB), NOSPLIT, $0-8
	SMLOAD512
sgloop:
	TESTQ R9, R9
	JZ sgtail
	VMOVUPS (SI)(DX*1), Z0
	SMCORE512
	VMULPS Z5, Z6, K1, Z6
	VMOVUPS Z6, (DI)(DX*1)
	ADDQ $64, DX
	DECQ R9
	JMP sgloop
sgtail:
	KTESTW K2, K2
	JZ sgdone
	VMOVUPS.Z (SI)(DX*1), K2, Z0
	SMCORE512
	VMULPS Z5, Z6, K1, Z6
	VMOVUPS Z6, K2, (DI)(DX*1)
sgdone:
	VZEROUPPER
	RET

// func siluAVX512(a *smoothArgs): y = max(x, -104) * sigmoid(x).
TEXT ·siluAVX512(SB), NOSPLIT, $0-8
	SMLOAD512
slloop:
	TESTQ R9, R9
	JZ sltail
	VMOVUPS (SI)(DX*1), Z0
	SMCORE512
	VMULPS Z5, Z6, K1, Z6
	VMAXPS Z0, Z18, Z7
	VMULPS Z7, Z6, Z6
	VMOVUPS Z6, (DI)(DX*1)
	ADDQ $64, DX
	DECQ R9
	JMP slloop
sltail:
	KTESTW K2, K2
	JZ sldone
	VMOVUPS.Z (SI)(DX*1), K2, Z0
	SMCORE512
	VMULPS Z5, Z6, K1, Z6
	VMAXPS Z0, Z18, Z7
	VMULPS Z7, Z6, Z6
	VMOVUPS Z6, K2, (DI)(DX*1)
sldone:
	VZEROUPPER
	RET

// func sigmoidGradAVX512(a *smoothArgs): dx = (e*d)*d * dy.
TEXT ·sigmoidGradAVX512(SB), NOSPLIT, $0-8
	SMLOAD512
sdloop:
	TESTQ R9, R9
	JZ sdtail
	VMOVUPS (SI)(DX*1), Z0
	SMCORE512
	VMULPS Z5, Z6, Z7
	VMULPS Z6, Z7, Z7
	VMULPS (BX)(DX*1), Z7, Z7
	VMOVUPS Z7, (DI)(DX*1)
	ADDQ $64, DX
	DECQ R9
	JMP sdloop
sdtail:
	KTESTW K2, K2
	JZ sddone
	VMOVUPS.Z (SI)(DX*1), K2, Z0
	SMCORE512
	VMOVUPS.Z (BX)(DX*1), K2, Z8
	VMULPS Z5, Z6, Z7
	VMULPS Z6, Z7, Z7
	VMULPS Z8, Z7, Z7
	VMOVUPS Z7, K2, (DI)(DX*1)
sddone:
	VZEROUPPER
	RET

// SILUGRAD512: from SMCORE512's results and dy in Z11, Z9 = dx:
// s = sigmoid(x) (Z8), om = 1-s (Z9), xc = x clamped to [-104, 104] (t
// with the sign of x, Z10), dx = (xc*om + 1) * s * dy.
#define SILUGRAD512 \
	VMULPS Z5, Z6, Z7; \
	VMOVAPS Z6, Z8; \
	VMOVAPS Z7, K1, Z8; \
	VMOVAPS Z7, Z9; \
	VMOVAPS Z6, K1, Z9; \
	VPANDND Z17, Z0, Z10; \
	VPXORD Z1, Z10, Z10; \
	VFMADD213PS Z29, Z10, Z9; \
	VMULPS Z8, Z9, Z9; \
	VMULPS Z11, Z9, Z9

// func siluGradAVX512(a *smoothArgs): dx = dy * (s + x*s*(1-s)).
TEXT ·siluGradAVX512(SB), NOSPLIT, $0-8
	SMLOAD512
sxloop:
	TESTQ R9, R9
	JZ sxtail
	VMOVUPS (SI)(DX*1), Z0
	VMOVUPS (BX)(DX*1), Z11
	SMCORE512
	SILUGRAD512
	VMOVUPS Z9, (DI)(DX*1)
	ADDQ $64, DX
	DECQ R9
	JMP sxloop
sxtail:
	KTESTW K2, K2
	JZ sxdone
	VMOVUPS.Z (SI)(DX*1), K2, Z0
	VMOVUPS.Z (BX)(DX*1), K2, Z11
	SMCORE512
	SILUGRAD512
	VMOVUPS Z9, K2, (DI)(DX*1)
sxdone:
	VZEROUPPER
	RET

// The hard (piecewise-linear) activation kernels do the Go loops' operations
// of vec.go in the same order, without fused multiply-adds, so they give
// the same bits. HLOAD512 loads the pointers, the count (R9 full vectors,
// K2 tail lanes, DX = 0) and Z20 3, Z21 -3, Z22 6, Z23 1/6, Z24 0.
#define HLOAD512 \
	MOVQ a+0(FP), AX; \
	MOVQ 0(AX), SI; \
	MOVQ 8(AX), DI; \
	MOVQ 16(AX), BX; \
	MOVQ 24(AX), R8; \
	MOVQ 32(AX), R9; \
	VBROADCASTSS 544(R8), Z20; \
	VBROADCASTSS 576(R8), Z21; \
	VBROADCASTSS 608(R8), Z22; \
	VBROADCASTSS 640(R8), Z23; \
	VPXORD Z24, Z24, Z24; \
	MOVQ R9, CX; \
	ANDQ $15, CX; \
	MOVL $1, DX; \
	SHLL CX, DX; \
	DECL DX; \
	KMOVW DX, K2; \
	SHRQ $4, R9; \
	XORQ DX, DX

// HFWD512 defines the forward kernel NAME: OP maps x in Z0 to Z1.
#define HFWD512(NAME, OP, LV, LT, LD) \
TEXT NAME(SB), NOSPLIT, $0-8; \
	HLOAD512; \
LV:	TESTQ R9, R9; \
	JZ LT; \
	VMOVUPS (SI)(DX*1), Z0; \
	OP; \
	VMOVUPS Z1, (DI)(DX*1); \
	ADDQ $64, DX; \
	DECQ R9; \
	JMP LV; \
LT:	KTESTW K2, K2; \
	JZ LD; \
	VMOVUPS.Z (SI)(DX*1), K2, Z0; \
	OP; \
	VMOVUPS Z1, K2, (DI)(DX*1); \
LD:	VZEROUPPER; \
	RET

// HBWD512 defines the backward kernel NAME: OP maps x in Z0 and dy in Z8
// to Z1.
#define HBWD512(NAME, OP, LV, LT, LD) \
TEXT NAME(SB), NOSPLIT, $0-8; \
	HLOAD512; \
LV:	TESTQ R9, R9; \
	JZ LT; \
	VMOVUPS (SI)(DX*1), Z0; \
	VMOVUPS (BX)(DX*1), Z8; \
	OP; \
	VMOVUPS Z1, (DI)(DX*1); \
	ADDQ $64, DX; \
	DECQ R9; \
	JMP LV; \
LT:	KTESTW K2, K2; \
	JZ LD; \
	VMOVUPS.Z (SI)(DX*1), K2, Z0; \
	VMOVUPS.Z (BX)(DX*1), K2, Z8; \
	OP; \
	VMOVUPS Z1, K2, (DI)(DX*1); \
LD:	VZEROUPPER; \
	RET

// HRELU6_512: Z1 = min(max(x+3, 0), 6), NaN staying NaN.
#define HRELU6_512 \
	VADDPS Z20, Z0, Z1; \
	VMAXPS Z1, Z24, Z1; \
	VMINPS Z1, Z22, Z1

// hard sigmoid: v*(1/6).
#define HSIG512 \
	HRELU6_512; \
	VMULPS Z23, Z1, Z1

// hard swish: (x*v)*(1/6).
#define HSWISH512 \
	HRELU6_512; \
	VMULPS Z1, Z0, Z1; \
	VMULPS Z23, Z1, Z1

// hard sigmoid gradient: dy*(1/6) where -3 < x < 3, else 0.
#define HSIGGRAD512 \
	VCMPPS $0x1e, Z21, Z0, K1; \
	VCMPPS $0x11, Z20, Z0, K1, K1; \
	VMULPS.Z Z23, Z8, K1, Z1

// hard swish gradient: 0 where x < -3, dy where x > 3, else
// (dy*(2x+3))*(1/6) (NaN for NaN).
#define HSWISHGRAD512 \
	VADDPS Z0, Z0, Z1; \
	VADDPS Z20, Z1, Z1; \
	VMULPS Z8, Z1, Z1; \
	VMULPS Z23, Z1, Z1; \
	VCMPPS $0x1e, Z20, Z0, K1; \
	VMOVAPS Z8, K1, Z1; \
	VCMPPS $0x11, Z21, Z0, K1; \
	VMOVAPS Z24, K1, Z1

// func hardSigmoidAVX512(a *smoothArgs)
HFWD512(·hardSigmoidAVX512, HSIG512, hgloop, hgtail, hgdone)

// func hardSwishAVX512(a *smoothArgs)
HFWD512(·hardSwishAVX512, HSWISH512, hwloop, hwtail, hwdone)

// func hardSigmoidGradAVX512(a *smoothArgs)
HBWD512(·hardSigmoidGradAVX512, HSIGGRAD512, hdloop, hdtail, hddone)

// func hardSwishGradAVX512(a *smoothArgs)
HBWD512(·hardSwishGradAVX512, HSWISHGRAD512, hxloop, hxtail, hxdone)
