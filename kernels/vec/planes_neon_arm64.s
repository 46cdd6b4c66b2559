//go:build arm64 && !purego

#include "textflag.h"

// NEON plane kernels (BatchNorm statistics, apply, gradient sums and
// gradient apply, fused with a clamp activation). Go's arm64 assembler has
// no floating-point vector add, subtract, multiply, max, min, compare or
// pairwise add: they are spelt as instruction words (A64 "Advanced SIMD
// three same" encodings, .4S arrangement); d, n, m are register numbers.
#define FADD4(d, n, m) WORD $(0x4e20d400|((m)<<16)|((n)<<5)|(d))
#define FSUB4(d, n, m) WORD $(0x4ea0d400|((m)<<16)|((n)<<5)|(d))
#define FMUL4(d, n, m) WORD $(0x6e20dc00|((m)<<16)|((n)<<5)|(d))
#define FMAX4(d, n, m) WORD $(0x4e20f400|((m)<<16)|((n)<<5)|(d))
#define FMIN4(d, n, m) WORD $(0x4ea0f400|((m)<<16)|((n)<<5)|(d))
#define FCMGT4(d, n, m) WORD $(0x6ea0e400|((m)<<16)|((n)<<5)|(d))
#define FADDP4(d, n, m) WORD $(0x6e20d400|((m)<<16)|((n)<<5)|(d))
// FADDP Sd, Vn.2S: Sd = Vn.S[0] + Vn.S[1].
#define FADDP2S(d, n) WORD $(0x7e30d800|((n)<<5)|(d))

// Each kernel walks n planes of hw values, stride bytes apart. The
// reductions run in chunks of at most 1024 values, each summed in float32
// lanes and added to float64 totals (as the other levels do). Tails are
// handled one value at a time with scalar loads and stores (FMOVS), which
// zero the upper lanes, so the vector arithmetic on them adds zeros to the
// other lanes and nothing is read or written past a plane.

// func planeStatsNEON(a *planeArgs)
//
// s += x-shift and ss += (x-shift)^2: eight values a step in two sets of
// accumulators (V0, V1 and V4, V5).
TEXT ·planeStatsNEON(SB), NOSPLIT, $0-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1  // x
	MOVD  32(R0), R2 // n
	MOVD  40(R0), R3 // hw
	MOVD  48(R0), R4 // stride (bytes)
	FMOVS 72(R0), F16
	VDUP  V16.S[0], V16.S4 // shift
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	MOVD  $1024, R6
splane:
	MOVD R1, R12
	MOVD R3, R11
schunk:
	CBZ  R11, snext
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	CMP  R6, R11
	CSEL GT, R6, R11, R15 // values in this chunk
	SUB  R15, R11, R11
s8:
	CMP    $8, R15
	BLT    s1
	VLD1.P 32(R12), [V8.S4, V9.S4]
	FSUB4(8, 8, 16)
	FSUB4(9, 9, 16)
	FADD4(0, 0, 8)
	FADD4(1, 1, 9)
	VFMLA  V8.S4, V8.S4, V4.S4
	VFMLA  V9.S4, V9.S4, V5.S4
	SUB    $8, R15
	B      s8
s1:
	CBZ     R15, sred
	FMOVS.P 4(R12), F8
	FSUBS   F16, F8, F8
	FADD4(0, 0, 8)
	VFMLA   V8.S4, V8.S4, V4.S4
	SUB     $1, R15
	B       s1
sred:
	FADD4(0, 0, 1)
	FADD4(4, 4, 5)
	FADDP4(0, 0, 0)
	FADDP2S(0, 0)
	FCVTSD F0, F0
	FADDD F0, F24, F24
	FADDP4(4, 4, 4)
	FADDP2S(4, 4)
	FCVTSD F4, F4
	FADDD F4, F25, F25
	B schunk
snext:
	ADD  R4, R1
	SUBS $1, R2, R2
	BNE  splane
	FMOVD F24, 96(R0)
	FMOVD F25, 104(R0)
	RET

// func affineClampNEON(a *planeArgs)
//
// pre = x*sc + sh (when pre is not nil), y = min(max(pre, lo), hi):
// sixteen values a step, then one at a time.
TEXT ·affineClampNEON(SB), NOSPLIT, $0-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1  // x
	MOVD  8(R0), R2  // y
	MOVD  16(R0), R3 // pre or nil
	MOVD  32(R0), R5 // n
	MOVD  40(R0), R6 // hw
	MOVD  48(R0), R4 // stride (bytes)
	FMOVS 56(R0), F17
	VDUP  V17.S[0], V17.S4
	FMOVS 60(R0), F16
	VDUP  V16.S[0], V16.S4
	FMOVS 64(R0), F18
	VDUP  V18.S[0], V18.S4
	FMOVS 68(R0), F19
	VDUP  V19.S[0], V19.S4
aplane:
	MOVD R1, R12
	MOVD R2, R13
	MOVD R3, R14
	MOVD R6, R11
a16:
	CMP    $16, R11
	BLT    a1
	VLD1.P 64(R12), [V8.S4, V9.S4, V10.S4, V11.S4]
	VMOV   V16.B16, V0.B16
	VMOV   V16.B16, V1.B16
	VMOV   V16.B16, V2.B16
	VMOV   V16.B16, V3.B16
	VFMLA  V17.S4, V8.S4, V0.S4
	VFMLA  V17.S4, V9.S4, V1.S4
	VFMLA  V17.S4, V10.S4, V2.S4
	VFMLA  V17.S4, V11.S4, V3.S4
	CBZ    R14, a16c
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R14)
a16c:
	FMAX4(0, 0, 18)
	FMAX4(1, 1, 18)
	FMAX4(2, 2, 18)
	FMAX4(3, 3, 18)
	FMIN4(0, 0, 19)
	FMIN4(1, 1, 19)
	FMIN4(2, 2, 19)
	FMIN4(3, 3, 19)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R13)
	SUB    $16, R11
	B      a16
a1:
	CBZ     R11, anext
	FMOVS.P 4(R12), F8
	FMOVS   F16, F0
	FMADDS  F17, F0, F8, F0
	CBZ     R14, a1c
	FMOVS.P F0, 4(R14)
a1c:
	FMAXS   F18, F0, F0
	FMINS   F19, F0, F0
	FMOVS.P F0, 4(R13)
	SUB     $1, R11
	B       a1
anext:
	ADD  R4, R1
	ADD  R4, R2
	CBZ  R3, anopre
	ADD  R4, R3
anopre:
	SUBS $1, R5, R5
	BNE  aplane
	RET

// func gradSumsNEON(a *planeArgs)
//
// g = dy where lo < x*sc+sh < hi (every dy when not masked: V23 all ones);
// sg += g and sgx += g*(x-mean), eight values a step.
TEXT ·gradSumsNEON(SB), NOSPLIT, $0-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1  // x
	MOVD  24(R0), R2 // dy
	MOVD  32(R0), R5 // n
	MOVD  40(R0), R3 // hw
	MOVD  48(R0), R4 // stride (bytes)
	FMOVS 56(R0), F17
	VDUP  V17.S[0], V17.S4
	FMOVS 60(R0), F16
	VDUP  V16.S[0], V16.S4
	FMOVS 64(R0), F18
	VDUP  V18.S[0], V18.S4
	FMOVS 68(R0), F19
	VDUP  V19.S[0], V19.S4
	FMOVS 72(R0), F22
	VDUP  V22.S[0], V22.S4
	MOVD  88(R0), R7
	MVN   R7, R7
	VDUP  R7, V23.S4 // all ones when not masked
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	MOVD  $1024, R6
gplane:
	MOVD R1, R12
	MOVD R2, R13
	MOVD R3, R11
gchunk:
	CBZ  R11, gnext
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	CMP  R6, R11
	CSEL GT, R6, R11, R15
	SUB  R15, R11, R11
g8:
	CMP    $8, R15
	BLT    g1
	VLD1.P 32(R12), [V8.S4, V9.S4]
	VLD1.P 32(R13), [V12.S4, V13.S4]
	VMOV   V16.B16, V10.B16
	VFMLA  V17.S4, V8.S4, V10.S4
	FCMGT4(14, 10, 18)
	FCMGT4(10, 19, 10)
	VAND   V10.B16, V14.B16, V14.B16
	VORR   V23.B16, V14.B16, V14.B16
	VAND   V14.B16, V12.B16, V12.B16
	VMOV   V16.B16, V11.B16
	VFMLA  V17.S4, V9.S4, V11.S4
	FCMGT4(15, 11, 18)
	FCMGT4(11, 19, 11)
	VAND   V11.B16, V15.B16, V15.B16
	VORR   V23.B16, V15.B16, V15.B16
	VAND   V15.B16, V13.B16, V13.B16
	FSUB4(8, 8, 22)
	FSUB4(9, 9, 22)
	FADD4(0, 0, 12)
	FADD4(1, 1, 13)
	VFMLA  V12.S4, V8.S4, V4.S4
	VFMLA  V13.S4, V9.S4, V5.S4
	SUB    $8, R15
	B      g8
g1:
	CBZ     R15, gred
	FMOVS.P 4(R12), F8
	FMOVS.P 4(R13), F12
	VMOV   V16.B16, V10.B16
	VFMLA  V17.S4, V8.S4, V10.S4
	FCMGT4(14, 10, 18)
	FCMGT4(10, 19, 10)
	VAND   V10.B16, V14.B16, V14.B16
	VORR   V23.B16, V14.B16, V14.B16
	VAND   V14.B16, V12.B16, V12.B16
	FSUBS   F22, F8, F8
	FADD4(0, 0, 12)
	VFMLA   V12.S4, V8.S4, V4.S4
	SUB     $1, R15
	B       g1
gred:
	FADD4(0, 0, 1)
	FADD4(4, 4, 5)
	FADDP4(0, 0, 0)
	FADDP2S(0, 0)
	FCVTSD F0, F0
	FADDD F0, F24, F24
	FADDP4(4, 4, 4)
	FADDP2S(4, 4)
	FCVTSD F4, F4
	FADDD F4, F25, F25
	B gchunk
gnext:
	ADD  R4, R1
	ADD  R4, R2
	SUBS $1, R5, R5
	BNE  gplane
	FMOVD F24, 96(R0)
	FMOVD F25, 104(R0)
	RET

// func gradAffineNEON(a *planeArgs)
//
// dx = a*g - b - k*(x-mean) with g as in gradSumsNEON, eight values a
// step; dx may alias dy (each step loads before it stores).
TEXT ·gradAffineNEON(SB), NOSPLIT, $0-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1  // x
	MOVD  8(R0), R8  // dx
	MOVD  24(R0), R2 // dy
	MOVD  32(R0), R5 // n
	MOVD  40(R0), R3 // hw
	MOVD  48(R0), R4 // stride (bytes)
	FMOVS 56(R0), F17
	VDUP  V17.S[0], V17.S4
	FMOVS 60(R0), F16
	VDUP  V16.S[0], V16.S4
	FMOVS 64(R0), F18
	VDUP  V18.S[0], V18.S4
	FMOVS 68(R0), F19
	VDUP  V19.S[0], V19.S4
	FMOVS 72(R0), F22
	VDUP  V22.S[0], V22.S4
	MOVD  88(R0), R7
	MVN   R7, R7
	VDUP  R7, V23.S4 // all ones when not masked
	FMOVS 76(R0), F20
	VDUP  V20.S[0], V20.S4
	FMOVS 80(R0), F21
	VDUP  V21.S[0], V21.S4
	FMOVS 84(R0), F24
	VDUP  V24.S[0], V24.S4
fplane:
	MOVD R1, R12
	MOVD R2, R13
	MOVD R8, R14
	MOVD R3, R11
f8:
	CMP    $8, R11
	BLT    f1
	VLD1.P 32(R12), [V8.S4, V9.S4]
	VLD1.P 32(R13), [V12.S4, V13.S4]
	VMOV   V16.B16, V10.B16
	VFMLA  V17.S4, V8.S4, V10.S4
	FCMGT4(14, 10, 18)
	FCMGT4(10, 19, 10)
	VAND   V10.B16, V14.B16, V14.B16
	VORR   V23.B16, V14.B16, V14.B16
	VAND   V14.B16, V12.B16, V12.B16
	VMOV   V16.B16, V11.B16
	VFMLA  V17.S4, V9.S4, V11.S4
	FCMGT4(15, 11, 18)
	FCMGT4(11, 19, 11)
	VAND   V11.B16, V15.B16, V15.B16
	VORR   V23.B16, V15.B16, V15.B16
	VAND   V15.B16, V13.B16, V13.B16
	FSUB4(8, 8, 22)
	FSUB4(9, 9, 22)
	FMUL4(0, 12, 20)
	FMUL4(1, 13, 20)
	FSUB4(0, 0, 21)
	FSUB4(1, 1, 21)
	VFMLS  V24.S4, V8.S4, V0.S4
	VFMLS  V24.S4, V9.S4, V1.S4
	VST1.P [V0.S4, V1.S4], 32(R14)
	SUB    $8, R11
	B      f8
f1:
	CBZ     R11, fnext
	FMOVS.P 4(R12), F8
	FMOVS.P 4(R13), F12
	VMOV   V16.B16, V10.B16
	VFMLA  V17.S4, V8.S4, V10.S4
	FCMGT4(14, 10, 18)
	FCMGT4(10, 19, 10)
	VAND   V10.B16, V14.B16, V14.B16
	VORR   V23.B16, V14.B16, V14.B16
	VAND   V14.B16, V12.B16, V12.B16
	FSUB4(8, 8, 22)
	FMUL4(0, 12, 20)
	FSUB4(0, 0, 21)
	VFMLS   V24.S4, V8.S4, V0.S4
	FMOVS.P F0, 4(R14)
	SUB     $1, R11
	B       f1
fnext:
	ADD  R4, R1
	ADD  R4, R2
	ADD  R4, R8
	SUBS $1, R5, R5
	BNE  fplane
	RET

// func clampGradNEON(a *planeArgs)
//
// dx = dy where lo < x < hi, else 0, over hw values (n = 1): sixteen
// values a step, then one at a time.
TEXT ·clampGradNEON(SB), NOSPLIT, $0-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1  // x
	MOVD  8(R0), R8  // dx
	MOVD  24(R0), R2 // dy
	MOVD  40(R0), R11 // hw
	FMOVS 64(R0), F18
	VDUP  V18.S[0], V18.S4
	FMOVS 68(R0), F19
	VDUP  V19.S[0], V19.S4
c16:
	CMP    $16, R11
	BLT    c1
	VLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 64(R2), [V12.S4, V13.S4, V14.S4, V15.S4]
	FCMGT4(0, 8, 18)
	FCMGT4(4, 19, 8)
	FCMGT4(1, 9, 18)
	FCMGT4(5, 19, 9)
	FCMGT4(2, 10, 18)
	FCMGT4(6, 19, 10)
	FCMGT4(3, 11, 18)
	FCMGT4(7, 19, 11)
	VAND   V0.B16, V4.B16, V0.B16
	VAND   V0.B16, V12.B16, V0.B16
	VAND   V1.B16, V5.B16, V1.B16
	VAND   V1.B16, V13.B16, V1.B16
	VAND   V2.B16, V6.B16, V2.B16
	VAND   V2.B16, V14.B16, V2.B16
	VAND   V3.B16, V7.B16, V3.B16
	VAND   V3.B16, V15.B16, V3.B16
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R8)
	SUB    $16, R11
	B      c16
c1:
	CBZ     R11, cdone
	FMOVS.P 4(R1), F8
	FMOVS.P 4(R2), F12
	FCMGT4(0, 8, 18)
	FCMGT4(4, 19, 8)
	VAND    V0.B16, V4.B16, V0.B16
	VAND    V0.B16, V12.B16, V0.B16
	FMOVS.P F0, 4(R8)
	SUB     $1, R11
	B       c1
cdone:
	RET
