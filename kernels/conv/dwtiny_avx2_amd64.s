//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA tiny-plane kernels (see dwtiny.go): a plane of up to 16 values
// is two ymm registers ("wide") or, up to 8 values, one ("narrow").

// STORETAIL stores the low C (1-7) floats of Y (X is its low half) at P,
// 4, 2 and 1 at a time; it clobbers Y and P. AMD cores run VMASKMOVPS
// stores as slow microcode, so the tails are written this way.
#define STORETAIL(Y, X, P, C, L2, L1, LD) \
	TESTQ $4, C; JZ L2; VMOVUPS X, (P); VEXTRACTF128 $1, Y, X; ADDQ $16, P; \
L2:	TESTQ $2, C; JZ L1; VMOVLPS X, (P); VMOVHLPS X, X, X; ADDQ $8, P; \
L1:	TESTQ $1, C; JZ LD; VMOVSS X, (P); \
LD:

// tinyTailMask<>+32-4k holds the lane mask of the first k lanes (k <= 8).
DATA tinyTailMask<>+0(SB)/4, $-1
DATA tinyTailMask<>+4(SB)/4, $-1
DATA tinyTailMask<>+8(SB)/4, $-1
DATA tinyTailMask<>+12(SB)/4, $-1
DATA tinyTailMask<>+16(SB)/4, $-1
DATA tinyTailMask<>+20(SB)/4, $-1
DATA tinyTailMask<>+24(SB)/4, $-1
DATA tinyTailMask<>+28(SB)/4, $-1
DATA tinyTailMask<>+32(SB)/4, $0
DATA tinyTailMask<>+36(SB)/4, $0
DATA tinyTailMask<>+40(SB)/4, $0
DATA tinyTailMask<>+44(SB)/4, $0
DATA tinyTailMask<>+48(SB)/4, $0
DATA tinyTailMask<>+52(SB)/4, $0
DATA tinyTailMask<>+56(SB)/4, $0
DATA tinyTailMask<>+60(SB)/4, $0
GLOBL tinyTailMask<>(SB), RODATA|NOPTR, $64

// func tinyMV16AVX2(a *tinyArgs)
//
// For each of a.n images: y[q] = b + sum_{r<nin} x[r] * m[16r+q] for
// q < a.nout (8 < nout <= 16); then y += ys, x += xs. Four images at a time
// share each column of m.
TEXT ·tinyMV16AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI           // y
	MOVQ 8(AX), SI           // x
	MOVQ 16(AX), DX          // m
	MOVQ 24(AX), R8          // ys
	MOVQ 32(AX), R9          // xs
	MOVQ 40(AX), R10         // nin
	MOVQ 48(AX), R11         // n
	VBROADCASTSS 60(AX), Y15
	MOVQ 64(AX), CX
	SUBQ $8, CX
	SHLQ $2, CX
	LEAQ tinyTailMask<>+32(SB), R12
	SUBQ CX, R12
	VMOVDQU (R12), Y14       // mask of the upper half
	MOVQ 64(AX), R15
	SUBQ $8, R15             // floats in the upper half
	CMPQ R11, $4
	JLT  w16single

w16quad:
	VMOVAPS Y15, Y0
	VMOVAPS Y15, Y1
	VMOVAPS Y15, Y2
	VMOVAPS Y15, Y3
	VMOVAPS Y15, Y4
	VMOVAPS Y15, Y5
	VMOVAPS Y15, Y6
	VMOVAPS Y15, Y7
	MOVQ SI, R12             // images 0-1
	LEAQ (SI)(R9*2), R13     // images 2-3
	MOVQ DX, BX
	MOVQ R10, CX

w16loop:
	VMOVUPS (BX), Y8
	VMOVUPS 32(BX), Y9
	VBROADCASTSS (R12), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y1
	VBROADCASTSS (R12)(R9*1), Y11
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y9, Y11, Y3
	VBROADCASTSS (R13), Y12
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y9, Y12, Y5
	VBROADCASTSS (R13)(R9*1), Y13
	VFMADD231PS Y8, Y13, Y6
	VFMADD231PS Y9, Y13, Y7
	ADDQ $64, BX
	ADDQ $4, R12
	ADDQ $4, R13
	DECQ CX
	JNZ  w16loop

	VMOVUPS Y0, (DI)
	VMOVUPS Y2, (DI)(R8*1)
	LEAQ (DI)(R8*2), R12
	VMOVUPS Y4, (R12)
	VMOVUPS Y6, (R12)(R8*1)
	CMPQ R15, $8
	JLT  w16qtail
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y3, 32(DI)(R8*1)
	VMOVUPS Y5, 32(R12)
	VMOVUPS Y7, 32(R12)(R8*1)
	JMP  w16qnext

w16qtail:
	LEAQ 32(DI), R13
	STORETAIL(Y1, X1, R13, R15, w16a2, w16a1, w16ad)
	LEAQ 32(DI)(R8*1), R13
	STORETAIL(Y3, X3, R13, R15, w16b2, w16b1, w16bd)
	LEAQ 32(R12), R13
	STORETAIL(Y5, X5, R13, R15, w16c2, w16c1, w16cd)
	LEAQ 32(R12)(R8*1), R13
	STORETAIL(Y7, X7, R13, R15, w16d2, w16d1, w16dd)

w16qnext:
	LEAQ (DI)(R8*4), DI
	LEAQ (SI)(R9*4), SI
	SUBQ $4, R11
	CMPQ R11, $4
	JGE  w16quad

w16single:
	TESTQ R11, R11
	JEQ   w16done

w16one:
	VMOVAPS Y15, Y0
	VMOVAPS Y15, Y1
	MOVQ SI, R12
	MOVQ DX, BX
	MOVQ R10, CX

w16oneloop:
	VBROADCASTSS (R12), Y10
	VFMADD231PS (BX), Y10, Y0
	VFMADD231PS 32(BX), Y10, Y1
	ADDQ $64, BX
	ADDQ $4, R12
	DECQ CX
	JNZ  w16oneloop
	VMOVUPS Y0, (DI)
	CMPQ R15, $8
	JLT  w16otail
	VMOVUPS Y1, 32(DI)
	JMP  w16onext

w16otail:
	LEAQ 32(DI), R13
	STORETAIL(Y1, X1, R13, R15, w16e2, w16e1, w16ed)

w16onext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ R11
	JNZ  w16one

w16done:
	VZEROUPPER
	RET

// func tinyMV8AVX2(a *tinyArgs)
//
// As tinyMV16AVX2 for nout <= 8, eight images at a time.
TEXT ·tinyMV8AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI           // y
	MOVQ 8(AX), SI           // x
	MOVQ 16(AX), DX          // m
	MOVQ 24(AX), R8          // ys
	MOVQ 32(AX), R9          // xs
	MOVQ 40(AX), R10         // nin
	MOVQ 48(AX), R11         // n
	VBROADCASTSS 60(AX), Y15
	MOVQ 64(AX), CX
	SHLQ $2, CX
	LEAQ tinyTailMask<>+32(SB), R12
	SUBQ CX, R12
	VMOVDQU (R12), Y14       // output lanes
	LEAQ (R9)(R9*2), R15     // 3*xs
	CMPQ R11, $8
	JLT  w8single

w8oct:
	VMOVAPS Y15, Y0
	VMOVAPS Y15, Y1
	VMOVAPS Y15, Y2
	VMOVAPS Y15, Y3
	VMOVAPS Y15, Y4
	VMOVAPS Y15, Y5
	VMOVAPS Y15, Y6
	VMOVAPS Y15, Y7
	MOVQ SI, R12             // images 0-2
	LEAQ (SI)(R15*1), R13    // images 3-5
	LEAQ (R13)(R15*1), R14   // images 6-7
	MOVQ DX, BX
	MOVQ R10, CX

w8loop:
	VMOVUPS (BX), Y8
	VBROADCASTSS (R12), Y9
	VFMADD231PS Y8, Y9, Y0
	VBROADCASTSS (R12)(R9*1), Y10
	VFMADD231PS Y8, Y10, Y1
	VBROADCASTSS (R12)(R9*2), Y11
	VFMADD231PS Y8, Y11, Y2
	VBROADCASTSS (R13), Y12
	VFMADD231PS Y8, Y12, Y3
	VBROADCASTSS (R13)(R9*1), Y13
	VFMADD231PS Y8, Y13, Y4
	VBROADCASTSS (R13)(R9*2), Y9
	VFMADD231PS Y8, Y9, Y5
	VBROADCASTSS (R14), Y10
	VFMADD231PS Y8, Y10, Y6
	VBROADCASTSS (R14)(R9*1), Y11
	VFMADD231PS Y8, Y11, Y7
	ADDQ $64, BX
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ $4, R14
	DECQ CX
	JNZ  w8loop

	MOVQ 64(AX), CX          // output floats
	CMPQ CX, $8
	JLT  w8otail
	LEAQ (R8)(R8*2), BX      // 3*ys
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(R8*1)
	VMOVUPS Y2, (DI)(R8*2)
	ADDQ BX, DI
	VMOVUPS Y3, (DI)
	VMOVUPS Y4, (DI)(R8*1)
	VMOVUPS Y5, (DI)(R8*2)
	ADDQ BX, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, (DI)(R8*1)
	LEAQ (DI)(R8*2), DI
	JMP  w8onext

w8otail:
	MOVQ DI, R12
	STORETAIL(Y0, X0, R12, CX, w8a2, w8a1, w8ad)
	ADDQ R8, DI
	MOVQ DI, R12
	STORETAIL(Y1, X1, R12, CX, w8b2, w8b1, w8bd)
	ADDQ R8, DI
	MOVQ DI, R12
	STORETAIL(Y2, X2, R12, CX, w8c2, w8c1, w8cd)
	ADDQ R8, DI
	MOVQ DI, R12
	STORETAIL(Y3, X3, R12, CX, w8d2, w8d1, w8dd)
	ADDQ R8, DI
	MOVQ DI, R12
	STORETAIL(Y4, X4, R12, CX, w8e2, w8e1, w8ed)
	ADDQ R8, DI
	MOVQ DI, R12
	STORETAIL(Y5, X5, R12, CX, w8f2, w8f1, w8fd)
	ADDQ R8, DI
	MOVQ DI, R12
	STORETAIL(Y6, X6, R12, CX, w8g2, w8g1, w8gd)
	ADDQ R8, DI
	MOVQ DI, R12
	STORETAIL(Y7, X7, R12, CX, w8h2, w8h1, w8hd)
	ADDQ R8, DI

w8onext:
	LEAQ (SI)(R9*8), SI
	SUBQ $8, R11
	CMPQ R11, $8
	JGE  w8oct

w8single:
	TESTQ R11, R11
	JEQ   w8done

w8one:
	VMOVAPS Y15, Y0
	MOVQ SI, R12
	MOVQ DX, BX
	MOVQ R10, CX

w8oneloop:
	VBROADCASTSS (R12), Y10
	VFMADD231PS (BX), Y10, Y0
	ADDQ $64, BX
	ADDQ $4, R12
	DECQ CX
	JNZ  w8oneloop
	MOVQ 64(AX), CX
	MOVQ DI, R12
	CMPQ CX, $8
	JLT  w8stail
	VMOVUPS Y0, (DI)
	JMP  w8snext

w8stail:
	STORETAIL(Y0, X0, R12, CX, w8s2, w8s1, w8sd)

w8snext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ R11
	JNZ  w8one

w8done:
	VZEROUPPER
	RET

// func tinyOuter16AVX2(a *outerArgs)
//
// For each of a.n images: g[16q:16q+16] += dy[q] * x (x has a.nx values,
// 8 < nx <= 16) for q < 4; then dy += ds, x += xs. a.g and a.dy point at
// the first of the four rows.
TEXT ·tinyOuter16AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DX           // g
	MOVQ 16(AX), DI          // dy
	MOVQ 24(AX), SI          // x
	MOVQ 32(AX), R8          // ds
	MOVQ 40(AX), R9          // xs
	MOVQ 48(AX), CX          // n
	MOVQ 64(AX), R10
	SUBQ $8, R10
	SHLQ $2, R10
	LEAQ tinyTailMask<>+32(SB), R12
	SUBQ R10, R12
	VMOVDQU (R12), Y13       // mask of the upper half of x
	VMOVUPS 0(DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	VMOVUPS 128(DX), Y4
	VMOVUPS 160(DX), Y5
	VMOVUPS 192(DX), Y6
	VMOVUPS 224(DX), Y7

o16loop:
	VMOVUPS (SI), Y8
	VMASKMOVPS 32(SI), Y13, Y9
	VBROADCASTSS 0(DI), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y1
	VBROADCASTSS 4(DI), Y11
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y9, Y11, Y3
	VBROADCASTSS 8(DI), Y12
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y9, Y12, Y5
	VBROADCASTSS 12(DI), Y10
	VFMADD231PS Y8, Y10, Y6
	VFMADD231PS Y9, Y10, Y7
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  o16loop

	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET

// func tinyOuter8AVX2(a *outerArgs)
//
// For each of a.n images: g[16q:16q+8] += dy[q] * x (x has a.nx <= 8
// values, the other lanes count as 0) for q < 8; then dy += ds, x += xs.
// a.g and a.dy point at the first of the eight rows.
TEXT ·tinyOuter8AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DX           // g
	MOVQ 16(AX), DI          // dy
	MOVQ 24(AX), SI          // x
	MOVQ 32(AX), R8          // ds
	MOVQ 40(AX), R9          // xs
	MOVQ 48(AX), CX          // n
	MOVQ 64(AX), R10
	SHLQ $2, R10
	LEAQ tinyTailMask<>+32(SB), R12
	SUBQ R10, R12
	VMOVDQU (R12), Y13       // x lanes
	VMOVUPS 0(DX), Y0
	VMOVUPS 64(DX), Y1
	VMOVUPS 128(DX), Y2
	VMOVUPS 192(DX), Y3
	VMOVUPS 256(DX), Y4
	VMOVUPS 320(DX), Y5
	VMOVUPS 384(DX), Y6
	VMOVUPS 448(DX), Y7

o8loop:
	VMASKMOVPS (SI), Y13, Y8
	VBROADCASTSS 0(DI), Y9
	VFMADD231PS Y8, Y9, Y0
	VBROADCASTSS 4(DI), Y10
	VFMADD231PS Y8, Y10, Y1
	VBROADCASTSS 8(DI), Y11
	VFMADD231PS Y8, Y11, Y2
	VBROADCASTSS 12(DI), Y12
	VFMADD231PS Y8, Y12, Y3
	VBROADCASTSS 16(DI), Y9
	VFMADD231PS Y8, Y9, Y4
	VBROADCASTSS 20(DI), Y10
	VFMADD231PS Y8, Y10, Y5
	VBROADCASTSS 24(DI), Y11
	VFMADD231PS Y8, Y11, Y6
	VBROADCASTSS 28(DI), Y12
	VFMADD231PS Y8, Y12, Y7
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  o8loop

	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 64(DX)
	VMOVUPS Y2, 128(DX)
	VMOVUPS Y3, 192(DX)
	VMOVUPS Y4, 256(DX)
	VMOVUPS Y5, 320(DX)
	VMOVUPS Y6, 384(DX)
	VMOVUPS Y7, 448(DX)
	VZEROUPPER
	RET
