//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA versions of the plane kernels of planes_amd64.s (same planeArgs).
// They walk a.n planes of a.hw floats, plane p at byte offset p*a.stride of
// every pointer, 8 floats at a time; the last hw%8 floats of a plane are
// read with VMASKMOVPS under a lane mask taken from vecTailMask (masked
// lanes never fault) and written with STORETAIL, so nothing past a plane's
// end is touched. Sums run in
// float32 lanes over blocks of at most 512 values, then in float64.

// STORETAIL stores the low C (1-7) floats of Y (X is its low half) at P,
// 4, 2 and 1 at a time; it clobbers Y and P. AMD cores run VMASKMOVPS
// stores as slow microcode, so the tails are written this way.
#define STORETAIL(Y, X, P, C, L2, L1, LD) \
	TESTQ $4, C; JZ L2; VMOVUPS X, (P); VEXTRACTF128 $1, Y, X; ADDQ $16, P; \
L2:	TESTQ $2, C; JZ L1; VMOVLPS X, (P); VMOVHLPS X, X, X; ADDQ $8, P; \
L1:	TESTQ $1, C; JZ LD; VMOVSS X, (P); \
LD:

// vecTailMask<>+32-4k holds the lane mask of the first k lanes (k <= 8).
DATA vecTailMask<>+0(SB)/4, $-1
DATA vecTailMask<>+4(SB)/4, $-1
DATA vecTailMask<>+8(SB)/4, $-1
DATA vecTailMask<>+12(SB)/4, $-1
DATA vecTailMask<>+16(SB)/4, $-1
DATA vecTailMask<>+20(SB)/4, $-1
DATA vecTailMask<>+24(SB)/4, $-1
DATA vecTailMask<>+28(SB)/4, $-1
DATA vecTailMask<>+32(SB)/4, $0
DATA vecTailMask<>+36(SB)/4, $0
DATA vecTailMask<>+40(SB)/4, $0
DATA vecTailMask<>+44(SB)/4, $0
DATA vecTailMask<>+48(SB)/4, $0
DATA vecTailMask<>+52(SB)/4, $0
DATA vecTailMask<>+56(SB)/4, $0
DATA vecTailMask<>+60(SB)/4, $0
GLOBL vecTailMask<>(SB), RODATA|NOPTR, $64

// func planeStatsAVX2(a *planeArgs): s = sum(x-mean), ss = sum((x-mean)^2).
TEXT ·planeStatsAVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 48(AX), R10
	VBROADCASTSS 72(AX), Y15
	MOVQ R9, CX
	ANDQ $7, CX
	SHLQ $2, CX
	LEAQ vecTailMask<>+32(SB), DX
	SUBQ CX, DX
	VMOVDQU (DX), Y14
	SHRQ $3, R9
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	XORQ R12, R12

stplane:
	MOVQ R12, DX
	MOVQ R9, CX

stblk:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ CX, R11
	CMPQ R11, $64
	JLE  stcnt
	MOVQ $64, R11

stcnt:
	SUBQ R11, CX
	CMPQ R11, $2
	JLT  stone

stpair:
	VMOVUPS (SI)(DX*1), Y8
	VMOVUPS 32(SI)(DX*1), Y9
	VSUBPS Y15, Y8, Y8
	VSUBPS Y15, Y9, Y9
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y1, Y1
	VFMADD231PS Y8, Y8, Y2
	VFMADD231PS Y9, Y9, Y3
	ADDQ $64, DX
	SUBQ $2, R11
	CMPQ R11, $2
	JGE  stpair

stone:
	TESTQ R11, R11
	JZ    stendblk
	VMOVUPS (SI)(DX*1), Y8
	VSUBPS Y15, Y8, Y8
	VADDPS Y8, Y0, Y0
	VFMADD231PS Y8, Y8, Y2
	ADDQ $32, DX

stendblk:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	TESTQ CX, CX
	JZ    sttail
	VCVTPS2PD X0, Y8
	VEXTRACTF128 $1, Y0, X9
	VCVTPS2PD X9, Y9
	VADDPD Y8, Y4, Y4
	VADDPD Y9, Y5, Y5
	VCVTPS2PD X2, Y8
	VEXTRACTF128 $1, Y2, X9
	VCVTPS2PD X9, Y9
	VADDPD Y8, Y6, Y6
	VADDPD Y9, Y7, Y7
	JMP  stblk

sttail:
	VPTEST Y14, Y14
	JZ     stflush
	VMASKMOVPS (SI)(DX*1), Y14, Y8
	VSUBPS Y15, Y8, Y8
	VANDPS Y14, Y8, Y8
	VADDPS Y8, Y0, Y0
	VFMADD231PS Y8, Y8, Y2

stflush:
	VCVTPS2PD X0, Y8
	VEXTRACTF128 $1, Y0, X9
	VCVTPS2PD X9, Y9
	VADDPD Y8, Y4, Y4
	VADDPD Y9, Y5, Y5
	VCVTPS2PD X2, Y8
	VEXTRACTF128 $1, Y2, X9
	VCVTPS2PD X9, Y9
	VADDPD Y8, Y6, Y6
	VADDPD Y9, Y7, Y7
	ADDQ R10, R12
	DECQ R8
	JNZ  stplane
	VADDPD Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X0
	VADDPD X0, X4, X4
	VPERMILPD $1, X4, X0
	VADDSD X0, X4, X4
	VMOVSD X4, 96(AX)
	VADDPD Y7, Y6, Y6
	VEXTRACTF128 $1, Y6, X0
	VADDPD X0, X6, X6
	VPERMILPD $1, X6, X0
	VADDSD X0, X6, X6
	VMOVSD X6, 104(AX)
	VZEROUPPER
	RET

// func affineClampAVX2(a *planeArgs): v = x*sc + sh; pre = v when pre is not
// nil; y = min(max(v, lo), hi), NaN passing through.
TEXT ·affineClampAVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI
	MOVQ 8(AX), DI
	MOVQ 16(AX), BX
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 48(AX), R10
	VBROADCASTSS 56(AX), Y12
	VBROADCASTSS 60(AX), Y13
	VBROADCASTSS 64(AX), Y14
	VBROADCASTSS 68(AX), Y15
	MOVQ R9, CX
	ANDQ $7, CX
	SHLQ $2, CX
	LEAQ vecTailMask<>+32(SB), DX
	SUBQ CX, DX
	VMOVDQU (DX), Y11
	MOVQ R9, R11
	ANDQ $7, R11
	SHRQ $3, R9
	XORQ R12, R12
	TESTQ BX, BX
	JNZ   acpre

acplane:
	MOVQ R12, DX
	MOVQ R9, CX
	TESTQ CX, CX
	JZ    actail

acloop:
	VMOVUPS (SI)(DX*1), Y0
	VFMADD213PS Y13, Y12, Y0
	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y15, Y0
	VMOVUPS Y0, (DI)(DX*1)
	ADDQ $32, DX
	DECQ CX
	JNZ  acloop

actail:
	VPTEST Y11, Y11
	JZ     acnext
	VMASKMOVPS (SI)(DX*1), Y11, Y0
	VFMADD213PS Y13, Y12, Y0
	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y15, Y0
	LEAQ (DI)(DX*1), R14
	STORETAIL(Y0, X0, R14, R11, ac2, ac1, acd)

acnext:
	ADDQ R10, R12
	DECQ R8
	JNZ  acplane
	VZEROUPPER
	RET

acpre:
	MOVQ R12, DX
	MOVQ R9, CX
	TESTQ CX, CX
	JZ    aptail

aploop:
	VMOVUPS (SI)(DX*1), Y0
	VFMADD213PS Y13, Y12, Y0
	VMOVUPS Y0, (BX)(DX*1)
	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y15, Y0
	VMOVUPS Y0, (DI)(DX*1)
	ADDQ $32, DX
	DECQ CX
	JNZ  aploop

aptail:
	VPTEST Y11, Y11
	JZ     apnext
	VMASKMOVPS (SI)(DX*1), Y11, Y0
	VFMADD213PS Y13, Y12, Y0
	VMOVAPS Y0, Y1
	LEAQ (BX)(DX*1), R14
	STORETAIL(Y1, X1, R14, R11, ap2, ap1, apd)
	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y15, Y0
	LEAQ (DI)(DX*1), R14
	STORETAIL(Y0, X0, R14, R11, ay2, ay1, ayd)

apnext:
	ADDQ R10, R12
	DECQ R8
	JNZ  acpre
	VZEROUPPER
	RET

// func gradSumsAVX2(a *planeArgs): g = dy where lo < x*sc+sh < hi (or
// everywhere when not a.masked); s = sum g, ss = sum g*(x-mean). Two
// vectors per step in separate float32 sums (the chains of dependent adds
// bound this kernel); the float64 sums live in the frame: 0(SP) and 32(SP)
// for s, 64(SP) and 96(SP) for ss; the tail mask at 128(SP).
TEXT ·gradSumsAVX2(SB), NOSPLIT, $160-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI
	MOVQ 24(AX), R13
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 48(AX), R10
	VBROADCASTSS 56(AX), Y15
	VBROADCASTSS 60(AX), Y14
	VBROADCASTSS 64(AX), Y13
	VBROADCASTSS 68(AX), Y12
	VBROADCASTSS 72(AX), Y11
	MOVQ 88(AX), DX
	NOTQ DX
	MOVQ DX, X10
	VPBROADCASTD X10, Y10 // all ones when not masked
	MOVQ R9, CX
	ANDQ $7, CX
	SHLQ $2, CX
	LEAQ vecTailMask<>+32(SB), DX
	SUBQ CX, DX
	VMOVDQU (DX), Y9
	VMOVDQU Y9, 128(SP)
	SHRQ $3, R9
	VXORPD Y0, Y0, Y0
	VMOVUPD Y0, 0(SP)
	VMOVUPD Y0, 32(SP)
	VMOVUPD Y0, 64(SP)
	VMOVUPD Y0, 96(SP)
	XORQ R12, R12

gsplane:
	MOVQ R12, DX
	MOVQ R9, CX

gsblk:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ CX, R11
	CMPQ R11, $64
	JLE  gscnt
	MOVQ $64, R11

gscnt:
	SUBQ R11, CX
	CMPQ R11, $2
	JLT  gsone

gspair:
	VMOVUPS (SI)(DX*1), Y4
	VMOVUPS 32(SI)(DX*1), Y7
	VMOVAPS Y14, Y5
	VFMADD231PS Y15, Y4, Y5
	VMOVAPS Y14, Y8
	VFMADD231PS Y15, Y7, Y8
	VCMPPS $0x1e, Y13, Y5, Y6
	VCMPPS $0x11, Y12, Y5, Y5
	VCMPPS $0x1e, Y13, Y8, Y9
	VCMPPS $0x11, Y12, Y8, Y8
	VANDPS Y6, Y5, Y5
	VANDPS Y9, Y8, Y8
	VORPS  Y10, Y5, Y5
	VORPS  Y10, Y8, Y8
	VANDPS (R13)(DX*1), Y5, Y5
	VANDPS 32(R13)(DX*1), Y8, Y8
	VSUBPS Y11, Y4, Y4
	VSUBPS Y11, Y7, Y7
	VADDPS Y5, Y0, Y0
	VADDPS Y8, Y1, Y1
	VFMADD231PS Y5, Y4, Y2
	VFMADD231PS Y8, Y7, Y3
	ADDQ $64, DX
	SUBQ $2, R11
	CMPQ R11, $2
	JGE  gspair

gsone:
	TESTQ R11, R11
	JZ    gsendblk
	VMOVUPS (SI)(DX*1), Y4
	VMOVAPS Y14, Y5
	VFMADD231PS Y15, Y4, Y5
	VCMPPS $0x1e, Y13, Y5, Y6
	VCMPPS $0x11, Y12, Y5, Y5
	VANDPS Y6, Y5, Y5
	VORPS  Y10, Y5, Y5
	VANDPS (R13)(DX*1), Y5, Y5
	VSUBPS Y11, Y4, Y4
	VADDPS Y5, Y0, Y0
	VFMADD231PS Y5, Y4, Y2
	ADDQ $32, DX

gsendblk:
	TESTQ CX, CX
	JZ    gstail
	CALL  gsFlush<>(SB)
	JMP   gsblk

gstail:
	VMOVDQU 128(SP), Y9
	VPTEST Y9, Y9
	JZ     gsflush
	VMASKMOVPS (SI)(DX*1), Y9, Y4
	VMOVAPS Y14, Y5
	VFMADD231PS Y15, Y4, Y5
	VCMPPS $0x1e, Y13, Y5, Y6
	VCMPPS $0x11, Y12, Y5, Y5
	VANDPS Y6, Y5, Y5
	VORPS  Y10, Y5, Y5
	VMASKMOVPS (R13)(DX*1), Y9, Y6
	VANDPS Y6, Y5, Y5
	VSUBPS Y11, Y4, Y4
	VADDPS Y5, Y0, Y0
	VFMADD231PS Y5, Y4, Y2

gsflush:
	CALL gsFlush<>(SB)
	ADDQ R10, R12
	DECQ R8
	JNZ  gsplane
	VMOVUPD 0(SP), Y4
	VADDPD 32(SP), Y4, Y4
	VEXTRACTF128 $1, Y4, X0
	VADDPD X0, X4, X4
	VPERMILPD $1, X4, X0
	VADDSD X0, X4, X4
	VMOVSD X4, 96(AX)
	VMOVUPD 64(SP), Y6
	VADDPD 96(SP), Y6, Y6
	VEXTRACTF128 $1, Y6, X0
	VADDPD X0, X6, X6
	VPERMILPD $1, X6, X0
	VADDSD X0, X6, X6
	VMOVSD X6, 104(AX)
	VZEROUPPER
	RET

// gsFlush adds the float32 sums Y0+Y1 (s) and Y2+Y3 (ss) of gradSumsAVX2
// into its float64 sums in the caller's frame (8 bytes up: the return
// address). It clobbers Y4-Y7.
TEXT gsFlush<>(SB), NOSPLIT|NOFRAME, $0-0
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VCVTPS2PD X0, Y4
	VEXTRACTF128 $1, Y0, X5
	VCVTPS2PD X5, Y5
	VADDPD 8(SP), Y4, Y4
	VADDPD 40(SP), Y5, Y5
	VMOVUPD Y4, 8(SP)
	VMOVUPD Y5, 40(SP)
	VCVTPS2PD X2, Y6
	VEXTRACTF128 $1, Y2, X7
	VCVTPS2PD X7, Y7
	VADDPD 72(SP), Y6, Y6
	VADDPD 104(SP), Y7, Y7
	VMOVUPD Y6, 72(SP)
	VMOVUPD Y7, 104(SP)
	RET

// func gradAffineAVX2(a *planeArgs): dx (a.y) = a*g - b - k*(x-mean), g as
// in gradSumsAVX2.
TEXT ·gradAffineAVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI
	MOVQ 8(AX), DI
	MOVQ 24(AX), R13
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 48(AX), R10
	VBROADCASTSS 56(AX), Y15
	VBROADCASTSS 60(AX), Y14
	VBROADCASTSS 64(AX), Y13
	VBROADCASTSS 68(AX), Y12
	VBROADCASTSS 72(AX), Y11
	VBROADCASTSS 76(AX), Y9
	VBROADCASTSS 80(AX), Y8
	VBROADCASTSS 84(AX), Y7
	MOVQ 88(AX), DX
	NOTQ DX
	MOVQ DX, X10
	VPBROADCASTD X10, Y10
	MOVQ R9, CX
	ANDQ $7, CX
	SHLQ $2, CX
	LEAQ vecTailMask<>+32(SB), DX
	SUBQ CX, DX
	VMOVDQU (DX), Y6
	MOVQ R9, R11
	ANDQ $7, R11
	SHRQ $3, R9
	XORQ R12, R12

gaplane:
	MOVQ R12, DX
	MOVQ R9, CX
	TESTQ CX, CX
	JZ    gatail

galoop:
	VMOVUPS (SI)(DX*1), Y0
	VMOVAPS Y14, Y1
	VFMADD231PS Y15, Y0, Y1
	VCMPPS $0x1e, Y13, Y1, Y2
	VCMPPS $0x11, Y12, Y1, Y1
	VANDPS Y2, Y1, Y1
	VORPS  Y10, Y1, Y1
	VANDPS (R13)(DX*1), Y1, Y1
	VSUBPS Y11, Y0, Y0
	VMULPS Y9, Y1, Y1
	VSUBPS Y8, Y1, Y1
	VFNMADD231PS Y7, Y0, Y1
	VMOVUPS Y1, (DI)(DX*1)
	ADDQ $32, DX
	DECQ CX
	JNZ  galoop

gatail:
	VPTEST Y6, Y6
	JZ     ganext
	VMASKMOVPS (SI)(DX*1), Y6, Y0
	VMOVAPS Y14, Y1
	VFMADD231PS Y15, Y0, Y1
	VCMPPS $0x1e, Y13, Y1, Y2
	VCMPPS $0x11, Y12, Y1, Y1
	VANDPS Y2, Y1, Y1
	VORPS  Y10, Y1, Y1
	VMASKMOVPS (R13)(DX*1), Y6, Y2
	VANDPS Y2, Y1, Y1
	VSUBPS Y11, Y0, Y0
	VMULPS Y9, Y1, Y1
	VSUBPS Y8, Y1, Y1
	VFNMADD231PS Y7, Y0, Y1
	LEAQ (DI)(DX*1), R14
	STORETAIL(Y1, X1, R14, R11, ga2, ga1, gad)

ganext:
	ADDQ R10, R12
	DECQ R8
	JNZ  gaplane
	VZEROUPPER
	RET

// func clampGradAVX2(a *planeArgs): dx (a.y) = dy where lo < x < hi, else 0.
TEXT ·clampGradAVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI
	MOVQ 8(AX), DI
	MOVQ 24(AX), R13
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 48(AX), R10
	VBROADCASTSS 64(AX), Y13
	VBROADCASTSS 68(AX), Y12
	MOVQ R9, CX
	ANDQ $7, CX
	SHLQ $2, CX
	LEAQ vecTailMask<>+32(SB), DX
	SUBQ CX, DX
	VMOVDQU (DX), Y6
	MOVQ R9, R11
	ANDQ $7, R11
	SHRQ $3, R9
	XORQ R12, R12

cgplane:
	MOVQ R12, DX
	MOVQ R9, CX
	TESTQ CX, CX
	JZ    cgtail

cgloop:
	VMOVUPS (SI)(DX*1), Y0
	VCMPPS $0x1e, Y13, Y0, Y1
	VCMPPS $0x11, Y12, Y0, Y0
	VANDPS Y1, Y0, Y0
	VANDPS (R13)(DX*1), Y0, Y0
	VMOVUPS Y0, (DI)(DX*1)
	ADDQ $32, DX
	DECQ CX
	JNZ  cgloop

cgtail:
	VPTEST Y6, Y6
	JZ     cgnext
	VMASKMOVPS (SI)(DX*1), Y6, Y0
	VCMPPS $0x1e, Y13, Y0, Y1
	VCMPPS $0x11, Y12, Y0, Y0
	VANDPS Y1, Y0, Y0
	VMASKMOVPS (R13)(DX*1), Y6, Y2
	VANDPS Y2, Y0, Y0
	LEAQ (DI)(DX*1), R14
	STORETAIL(Y0, X0, R14, R11, cg2, cg1, cgd)

cgnext:
	ADDQ R10, R12
	DECQ R8
	JNZ  cgplane
	VZEROUPPER
	RET
