//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA tiny-plane kernels (see dwtiny.go): a plane of up to 16 values
// is two ymm registers ("wide") or, up to 8 values, one ("narrow").

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
	VMASKMOVPS Y1, Y14, 32(DI)
	VMOVUPS Y2, (DI)(R8*1)
	VMASKMOVPS Y3, Y14, 32(DI)(R8*1)
	LEAQ (DI)(R8*2), DI
	VMOVUPS Y4, (DI)
	VMASKMOVPS Y5, Y14, 32(DI)
	VMOVUPS Y6, (DI)(R8*1)
	VMASKMOVPS Y7, Y14, 32(DI)(R8*1)
	LEAQ (DI)(R8*2), DI
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
	VMASKMOVPS Y1, Y14, 32(DI)
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

	LEAQ (R8)(R8*2), BX      // 3*ys
	VMASKMOVPS Y0, Y14, (DI)
	VMASKMOVPS Y1, Y14, (DI)(R8*1)
	VMASKMOVPS Y2, Y14, (DI)(R8*2)
	ADDQ BX, DI
	VMASKMOVPS Y3, Y14, (DI)
	VMASKMOVPS Y4, Y14, (DI)(R8*1)
	VMASKMOVPS Y5, Y14, (DI)(R8*2)
	ADDQ BX, DI
	VMASKMOVPS Y6, Y14, (DI)
	VMASKMOVPS Y7, Y14, (DI)(R8*1)
	LEAQ (DI)(R8*2), DI
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
	VMASKMOVPS Y0, Y14, (DI)
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
