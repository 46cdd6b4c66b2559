//go:build arm64 && !purego

#include "textflag.h"

// NEON smooth activation kernels (sigmoid, SiLU and their gradients), the
// computation of smoothGo in smooth.go lane by lane. They walk a.n values
// four at a time, then one at a time with scalar loads and stores (FMOVS
// zeroes the upper lanes, which compute harmlessly), so nothing past the
// end is touched. Go's arm64 assembler lacks the floating-point vector
// arithmetic: it is spelt as instruction words (A64 "Advanced SIMD three
// same" encodings, .4S arrangement; d, n, m are register numbers), as in
// planes_neon_arm64.s.
#define SFADD4(d, n, m) WORD $(0x4e20d400|((m)<<16)|((n)<<5)|(d))
#define SFSUB4(d, n, m) WORD $(0x4ea0d400|((m)<<16)|((n)<<5)|(d))
#define SFMUL4(d, n, m) WORD $(0x6e20dc00|((m)<<16)|((n)<<5)|(d))
#define SFDIV4(d, n, m) WORD $(0x6e20fc00|((m)<<16)|((n)<<5)|(d))
#define SFMAX4(d, n, m) WORD $(0x4e20f400|((m)<<16)|((n)<<5)|(d))
#define SFMIN4(d, n, m) WORD $(0x4ea0f400|((m)<<16)|((n)<<5)|(d))
#define SFCMGT4(d, n, m) WORD $(0x6ea0e400|((m)<<16)|((n)<<5)|(d))

// SMCONST loads the constant at byte offset off of smoothTab (R4) into all
// lanes of Vr.
#define SMCONST(off, F, V) FMOVS off(R4), F; VDUP V.S[0], V.S4

// SMLOADNEON loads the pointers (R1 x, R2 y, R3 dy), the count (R5) and the
// constants: V16 sign bit, V17 -104, V18 log2 e, V19 1.5*2^23, V20 -C1,
// V21 -C2, V22-V27 the polynomial (P5 first), V28 1, V29 exponent bits of
// 2^64, V30 2^-64, V31 0.
#define SMLOADNEON \
	MOVD a+0(FP), R0; \
	MOVD 0(R0), R1; \
	MOVD 8(R0), R2; \
	MOVD 16(R0), R3; \
	MOVD 24(R0), R4; \
	MOVD 32(R0), R5; \
	SMCONST(0, F16, V16); \
	SMCONST(32, F17, V17); \
	SMCONST(64, F18, V18); \
	SMCONST(96, F19, V19); \
	SMCONST(128, F20, V20); \
	SMCONST(160, F21, V21); \
	SMCONST(192, F22, V22); \
	SMCONST(224, F23, V23); \
	SMCONST(256, F24, V24); \
	SMCONST(288, F25, V25); \
	SMCONST(320, F26, V26); \
	SMCONST(352, F27, V27); \
	SMCONST(384, F28, V28); \
	SMCONST(416, F29, V29); \
	SMCONST(448, F30, V30); \
	VEOR V31.B16, V31.B16, V31.B16

// SMCORENEON: from x in V0, t = max(-|x|, -104) in V1, e = exp(t) in V5,
// d = 1/(1+e) in V6, V7 = lanes where 0 > x (V2-V4 clobbered). FMAX
// returns NaN when either operand is NaN.
#define SMCORENEON \
	VORR V16.B16, V0.B16, V1.B16; \
	SFMAX4(1, 1, 17); \
	VMOV V19.B16, V2.B16; \
	VFMLA V18.S4, V1.S4, V2.S4; \
	SFSUB4(3, 2, 19); \
	VMOV V1.B16, V4.B16; \
	VFMLA V20.S4, V3.S4, V4.S4; \
	VFMLA V21.S4, V3.S4, V4.S4; \
	VMOV V23.B16, V5.B16; \
	VFMLA V22.S4, V4.S4, V5.S4; \
	VMOV V24.B16, V6.B16; \
	VFMLA V5.S4, V4.S4, V6.S4; \
	VMOV V25.B16, V5.B16; \
	VFMLA V6.S4, V4.S4, V5.S4; \
	VMOV V26.B16, V6.B16; \
	VFMLA V5.S4, V4.S4, V6.S4; \
	VMOV V27.B16, V5.B16; \
	VFMLA V6.S4, V4.S4, V5.S4; \
	VMOV V28.B16, V6.B16; \
	VFMLA V5.S4, V4.S4, V6.S4; \
	VMOV V28.B16, V5.B16; \
	VFMLA V6.S4, V4.S4, V5.S4; \
	VSHL $23, V2.S4, V2.S4; \
	VADD V29.S4, V2.S4, V2.S4; \
	SFMUL4(5, 5, 2); \
	SFMUL4(5, 5, 30); \
	SFADD4(6, 5, 28); \
	SFDIV4(6, 28, 6); \
	SFCMGT4(7, 31, 0)

// SIGMOIDNEON: V6 = sigmoid(x): e*d where 0 > x, else d.
#define SIGMOIDNEON \
	SMCORENEON; \
	SFMUL4(8, 5, 6); \
	VBIT V7.B16, V8.B16, V6.B16

// SILUNEON: V6 = max(x, -104) * sigmoid(x).
#define SILUNEON \
	SIGMOIDNEON; \
	SFMAX4(9, 0, 17); \
	SFMUL4(6, 6, 9)

// SIGMOIDGRADNEON: V6 = (e*d)*d * dy (dy in V10).
#define SIGMOIDGRADNEON \
	SMCORENEON; \
	SFMUL4(8, 5, 6); \
	SFMUL4(8, 8, 6); \
	SFMUL4(6, 8, 10)

// SILUGRADNEON: V6 = (xc*om + 1) * s * dy with s = sigmoid(x) (V9), om =
// 1-s (V8), xc = x clamped to [-104, 104] (t with the sign of x, V11) and
// dy in V10.
#define SILUGRADNEON \
	SMCORENEON; \
	SFMUL4(8, 5, 6); \
	VMOV V6.B16, V9.B16; \
	VBIT V7.B16, V8.B16, V9.B16; \
	VBIT V7.B16, V6.B16, V8.B16; \
	VAND V16.B16, V0.B16, V11.B16; \
	VEOR V16.B16, V11.B16, V11.B16; \
	VEOR V1.B16, V11.B16, V11.B16; \
	VMOV V28.B16, V12.B16; \
	VFMLA V11.S4, V8.S4, V12.S4; \
	SFMUL4(12, 12, 9); \
	SFMUL4(6, 12, 10)

// SMFWD defines a forward kernel NAME: LOAD loads the arguments and
// constants, OP maps x in V0 to V6; labels L4, L1, LD.
#define SMFWD(NAME, LOAD, OP, L4, L1, LD) \
TEXT NAME(SB), NOSPLIT, $0-8; \
	LOAD; \
L4:	CMP $4, R5; \
	BLT L1; \
	VLD1.P 16(R1), [V0.S4]; \
	OP; \
	VST1.P [V6.S4], 16(R2); \
	SUB $4, R5; \
	B L4; \
L1:	CBZ R5, LD; \
	FMOVS.P 4(R1), F0; \
	OP; \
	FMOVS.P F6, 4(R2); \
	SUB $1, R5; \
	B L1; \
LD:	RET

// SMBWD defines a backward kernel NAME: OP maps x in V0 and dy in V10 to
// V6.
#define SMBWD(NAME, LOAD, OP, L4, L1, LD) \
TEXT NAME(SB), NOSPLIT, $0-8; \
	LOAD; \
L4:	CMP $4, R5; \
	BLT L1; \
	VLD1.P 16(R1), [V0.S4]; \
	VLD1.P 16(R3), [V10.S4]; \
	OP; \
	VST1.P [V6.S4], 16(R2); \
	SUB $4, R5; \
	B L4; \
L1:	CBZ R5, LD; \
	FMOVS.P 4(R1), F0; \
	FMOVS.P 4(R3), F10; \
	OP; \
	FMOVS.P F6, 4(R2); \
	SUB $1, R5; \
	B L1; \
LD:	RET

// func sigmoidNEON(a *smoothArgs)
SMFWD(·sigmoidNEON, SMLOADNEON, SIGMOIDNEON, sg4, sg1, sgdone)

// func siluNEON(a *smoothArgs)
SMFWD(·siluNEON, SMLOADNEON, SILUNEON, sl4, sl1, sldone)

// func sigmoidGradNEON(a *smoothArgs)
SMBWD(·sigmoidGradNEON, SMLOADNEON, SIGMOIDGRADNEON, sd4, sd1, sddone)

// func siluGradNEON(a *smoothArgs)
SMBWD(·siluGradNEON, SMLOADNEON, SILUGRADNEON, sx4, sx1, sxdone)

// The hard (piecewise-linear) activation kernels do the Go loops' operations
// of vec.go in the same order, without fused multiply-adds, so they give
// the same bits. HLOADNEON loads the pointers, the count and V12 3,
// V13 -3, V14 6, V15 1/6, V31 0.
#define HLOADNEON \
	MOVD a+0(FP), R0; \
	MOVD 0(R0), R1; \
	MOVD 8(R0), R2; \
	MOVD 16(R0), R3; \
	MOVD 24(R0), R4; \
	MOVD 32(R0), R5; \
	SMCONST(544, F12, V12); \
	SMCONST(576, F13, V13); \
	SMCONST(608, F14, V14); \
	SMCONST(640, F15, V15); \
	VEOR V31.B16, V31.B16, V31.B16

// HRELU6NEON: V6 = min(max(x+3, 0), 6), NaN staying NaN.
#define HRELU6NEON \
	SFADD4(6, 0, 12); \
	SFMAX4(6, 6, 31); \
	SFMIN4(6, 6, 14)

#define HSIGNEON \
	HRELU6NEON; \
	SFMUL4(6, 6, 15)

#define HSWISHNEON \
	HRELU6NEON; \
	SFMUL4(6, 0, 6); \
	SFMUL4(6, 6, 15)

// dy*(1/6) where x > -3 and 3 > x, else 0.
#define HSIGGRADNEON \
	SFMUL4(6, 10, 15); \
	SFCMGT4(2, 0, 13); \
	SFCMGT4(3, 12, 0); \
	VAND V3.B16, V2.B16, V2.B16; \
	VAND V2.B16, V6.B16, V6.B16

// 0 where -3 > x, dy where x > 3, else (dy*(2x+3))*(1/6).
#define HSWISHGRADNEON \
	SFADD4(6, 0, 0); \
	SFADD4(6, 6, 12); \
	SFMUL4(6, 10, 6); \
	SFMUL4(6, 6, 15); \
	SFCMGT4(2, 0, 12); \
	VBIT V2.B16, V10.B16, V6.B16; \
	SFCMGT4(2, 13, 0); \
	VBIT V2.B16, V31.B16, V6.B16

// func hardSigmoidNEON(a *smoothArgs)
SMFWD(·hardSigmoidNEON, HLOADNEON, HSIGNEON, hg4, hg1, hgdone)

// func hardSwishNEON(a *smoothArgs)
SMFWD(·hardSwishNEON, HLOADNEON, HSWISHNEON, hw4, hw1, hwdone)

// func hardSigmoidGradNEON(a *smoothArgs)
SMBWD(·hardSigmoidGradNEON, HLOADNEON, HSIGGRADNEON, hd4, hd1, hddone)

// func hardSwishGradNEON(a *smoothArgs)
SMBWD(·hardSwishGradNEON, HLOADNEON, HSWISHGRADNEON, hx4, hx1, hxdone)
