//go:build arm64 && !purego

#include "textflag.h"

// NEON tiny-plane kernels (planes of at most 16 positions, see dwtiny.go).

// func tinyMVNEON(a *tinyArgs)
//
// y = b + M x for each image, all 16 output lanes computed (M's columns
// are 16 wide, zero past nout) and nout of them stored: four images a step
// hold 16 accumulators (V0-V15); per input position one 64-byte row of M
// (V16-V19) and four broadcast inputs (V20-V23) feed 16 FMLAs. Partial
// output planes go through the frame, so nothing is written past nout.
TEXT ·tinyMVNEON(SB), NOSPLIT, $64-8
	MOVD  a+0(FP), R0
	MOVD  0(R0), R1  // y
	MOVD  8(R0), R2  // x
	MOVD  16(R0), R3 // m
	MOVD  24(R0), R4 // ys (bytes)
	MOVD  32(R0), R5 // xs (bytes)
	MOVD  40(R0), R6 // nin
	MOVD  48(R0), R7 // n
	MOVD  64(R0), R8 // nout
	FMOVS 60(R0), F24
	VDUP  V24.S[0], V24.S4
	MOVD  $tmp-64(SP), R9
mv4:
	CMP  $4, R7
	BLT  mv1
	VMOV V24.B16, V0.B16
	VMOV V24.B16, V1.B16
	VMOV V24.B16, V2.B16
	VMOV V24.B16, V3.B16
	VMOV V24.B16, V4.B16
	VMOV V24.B16, V5.B16
	VMOV V24.B16, V6.B16
	VMOV V24.B16, V7.B16
	VMOV V24.B16, V8.B16
	VMOV V24.B16, V9.B16
	VMOV V24.B16, V10.B16
	VMOV V24.B16, V11.B16
	VMOV V24.B16, V12.B16
	VMOV V24.B16, V13.B16
	VMOV V24.B16, V14.B16
	VMOV V24.B16, V15.B16
	MOVD R2, R10
	ADD  R5, R10, R11
	ADD  R5, R11, R12
	ADD  R5, R12, R13
	MOVD R3, R14
	MOVD R6, R15
mv4r:
	VLD1.P  64(R14), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1R.P 4(R10), [V20.S4]
	VLD1R.P 4(R11), [V21.S4]
	VLD1R.P 4(R12), [V22.S4]
	VLD1R.P 4(R13), [V23.S4]
	VFMLA   V20.S4, V16.S4, V0.S4
	VFMLA   V20.S4, V17.S4, V1.S4
	VFMLA   V20.S4, V18.S4, V2.S4
	VFMLA   V20.S4, V19.S4, V3.S4
	VFMLA   V21.S4, V16.S4, V4.S4
	VFMLA   V21.S4, V17.S4, V5.S4
	VFMLA   V21.S4, V18.S4, V6.S4
	VFMLA   V21.S4, V19.S4, V7.S4
	VFMLA   V22.S4, V16.S4, V8.S4
	VFMLA   V22.S4, V17.S4, V9.S4
	VFMLA   V22.S4, V18.S4, V10.S4
	VFMLA   V22.S4, V19.S4, V11.S4
	VFMLA   V23.S4, V16.S4, V12.S4
	VFMLA   V23.S4, V17.S4, V13.S4
	VFMLA   V23.S4, V18.S4, V14.S4
	VFMLA   V23.S4, V19.S4, V15.S4
	SUBS    $1, R15, R15
	BNE     mv4r
	MOVD R1, R16
	CMP    $16, R8
	BNE    part1
	VST1   [V0.S4, V1.S4, V2.S4, V3.S4], (R16)
	B      stored1
part1:
	VST1   [V0.S4, V1.S4, V2.S4, V3.S4], (R9)
	MOVD   R9, R19
	MOVD   R16, R20
	MOVD   R8, R21
lane1:
	FMOVS.P 4(R19), F31
	FMOVS.P F31, 4(R20)
	SUBS   $1, R21, R21
	BNE    lane1
stored1:
	ADD  R4, R16
	CMP    $16, R8
	BNE    part2
	VST1   [V4.S4, V5.S4, V6.S4, V7.S4], (R16)
	B      stored2
part2:
	VST1   [V4.S4, V5.S4, V6.S4, V7.S4], (R9)
	MOVD   R9, R19
	MOVD   R16, R20
	MOVD   R8, R21
lane2:
	FMOVS.P 4(R19), F31
	FMOVS.P F31, 4(R20)
	SUBS   $1, R21, R21
	BNE    lane2
stored2:
	ADD  R4, R16
	CMP    $16, R8
	BNE    part3
	VST1   [V8.S4, V9.S4, V10.S4, V11.S4], (R16)
	B      stored3
part3:
	VST1   [V8.S4, V9.S4, V10.S4, V11.S4], (R9)
	MOVD   R9, R19
	MOVD   R16, R20
	MOVD   R8, R21
lane3:
	FMOVS.P 4(R19), F31
	FMOVS.P F31, 4(R20)
	SUBS   $1, R21, R21
	BNE    lane3
stored3:
	ADD  R4, R16
	CMP    $16, R8
	BNE    part4
	VST1   [V12.S4, V13.S4, V14.S4, V15.S4], (R16)
	B      stored4
part4:
	VST1   [V12.S4, V13.S4, V14.S4, V15.S4], (R9)
	MOVD   R9, R19
	MOVD   R16, R20
	MOVD   R8, R21
lane4:
	FMOVS.P 4(R19), F31
	FMOVS.P F31, 4(R20)
	SUBS   $1, R21, R21
	BNE    lane4
stored4:
	ADD  R4, R16
	MOVD R16, R1
	ADD  R5<<2, R2
	SUB  $4, R7
	B    mv4
mv1:
	CBZ  R7, mvdone
	VMOV V24.B16, V0.B16
	VMOV V24.B16, V1.B16
	VMOV V24.B16, V2.B16
	VMOV V24.B16, V3.B16
	MOVD R2, R10
	MOVD R3, R14
	MOVD R6, R15
mv1r:
	VLD1.P  64(R14), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1R.P 4(R10), [V20.S4]
	VFMLA   V20.S4, V16.S4, V0.S4
	VFMLA   V20.S4, V17.S4, V1.S4
	VFMLA   V20.S4, V18.S4, V2.S4
	VFMLA   V20.S4, V19.S4, V3.S4
	SUBS    $1, R15, R15
	BNE     mv1r
	CMP    $16, R8
	BNE    part5
	VST1   [V0.S4, V1.S4, V2.S4, V3.S4], (R1)
	B      stored5
part5:
	VST1   [V0.S4, V1.S4, V2.S4, V3.S4], (R9)
	MOVD   R9, R19
	MOVD   R1, R20
	MOVD   R8, R21
lane5:
	FMOVS.P 4(R19), F31
	FMOVS.P F31, 4(R20)
	SUBS   $1, R21, R21
	BNE    lane5
stored5:
	ADD  R4, R1
	ADD  R5, R2
	SUB  $1, R7
	B    mv1
mvdone:
	RET

// func tinyOuterNEON(a *outerArgs)
//
// Four rows of g (g[q*16+r], q < 4 from a.g, a.dy) in 16 accumulators
// (V0-V15) over n images: per image 16 x values (V16-V19) and four
// broadcast dy values (V20-V23) feed 16 FMLAs. The caller makes sure 16 x
// values and 4 dy values of every image lie inside its slices.
TEXT ·tinyOuterNEON(SB), NOSPLIT, $0-8
	MOVD   a+0(FP), R0
	MOVD   0(R0), R1  // g
	MOVD   16(R0), R3 // dy
	MOVD   24(R0), R4 // x
	MOVD   32(R0), R5 // ds (bytes)
	MOVD   40(R0), R6 // xs (bytes)
	MOVD   48(R0), R7 // n
	MOVD   R1, R2
	VLD1.P 64(R2), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R2), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 64(R2), [V12.S4, V13.S4, V14.S4, V15.S4]
op:
	VLD1    (R4), [V16.S4, V17.S4, V18.S4, V19.S4]
	MOVD    R3, R10
	VLD1R.P 4(R10), [V20.S4]
	VLD1R.P 4(R10), [V21.S4]
	VLD1R.P 4(R10), [V22.S4]
	VLD1R.P 4(R10), [V23.S4]
	VFMLA   V20.S4, V16.S4, V0.S4
	VFMLA   V20.S4, V17.S4, V1.S4
	VFMLA   V20.S4, V18.S4, V2.S4
	VFMLA   V20.S4, V19.S4, V3.S4
	VFMLA   V21.S4, V16.S4, V4.S4
	VFMLA   V21.S4, V17.S4, V5.S4
	VFMLA   V21.S4, V18.S4, V6.S4
	VFMLA   V21.S4, V19.S4, V7.S4
	VFMLA   V22.S4, V16.S4, V8.S4
	VFMLA   V22.S4, V17.S4, V9.S4
	VFMLA   V22.S4, V18.S4, V10.S4
	VFMLA   V22.S4, V19.S4, V11.S4
	VFMLA   V23.S4, V16.S4, V12.S4
	VFMLA   V23.S4, V17.S4, V13.S4
	VFMLA   V23.S4, V18.S4, V14.S4
	VFMLA   V23.S4, V19.S4, V15.S4
	ADD     R5, R3
	ADD     R6, R4
	SUBS    $1, R7, R7
	BNE     op
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R1)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R1)
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R1)
	VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], 64(R1)
	RET
