//go:build amd64 && !purego

#include "textflag.h"

// Lane indices selecting the even / odd elements of a 32-float pair.
DATA dwEvenIdx<>+0(SB)/4, $0
DATA dwEvenIdx<>+4(SB)/4, $2
DATA dwEvenIdx<>+8(SB)/4, $4
DATA dwEvenIdx<>+12(SB)/4, $6
DATA dwEvenIdx<>+16(SB)/4, $8
DATA dwEvenIdx<>+20(SB)/4, $10
DATA dwEvenIdx<>+24(SB)/4, $12
DATA dwEvenIdx<>+28(SB)/4, $14
DATA dwEvenIdx<>+32(SB)/4, $16
DATA dwEvenIdx<>+36(SB)/4, $18
DATA dwEvenIdx<>+40(SB)/4, $20
DATA dwEvenIdx<>+44(SB)/4, $22
DATA dwEvenIdx<>+48(SB)/4, $24
DATA dwEvenIdx<>+52(SB)/4, $26
DATA dwEvenIdx<>+56(SB)/4, $28
DATA dwEvenIdx<>+60(SB)/4, $30
GLOBL dwEvenIdx<>(SB), RODATA|NOPTR, $64

// func dw3x3s1AVX512(a *dwArgs)
//
// For each of a.rows output rows, y[j] = clamp(b + sum_{r,s<3} w[3r+s] *
// x[r*ld + j + s] + res[j], lo, hi) for j < a.n; then y += ys, x += xs,
// res += ys.
TEXT ·dw3x3s1AVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI          // y
	MOVQ 8(AX), SI          // x
	MOVQ 16(AX), BX         // res (may be nil)
	MOVQ 24(AX), DX         // w
	MOVQ 32(AX), R8         // ys (bytes)
	MOVQ 40(AX), R9         // xs (bytes)
	MOVQ 48(AX), R10        // ld (bytes)
	MOVQ 56(AX), R11        // rows
	MOVQ 64(AX), R12        // n
	VBROADCASTSS 72(AX), Z31 // bias
	VBROADCASTSS 76(AX), Z29 // lo
	VBROADCASTSS 80(AX), Z30 // hi
	VBROADCASTSS 0(DX), Z0
	VBROADCASTSS 4(DX), Z1
	VBROADCASTSS 8(DX), Z2
	VBROADCASTSS 12(DX), Z3
	VBROADCASTSS 16(DX), Z4
	VBROADCASTSS 20(DX), Z5
	VBROADCASTSS 24(DX), Z6
	VBROADCASTSS 28(DX), Z7
	VBROADCASTSS 32(DX), Z8
	MOVQ R12, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	SHRQ $4, R12

s1row:
	TESTQ R11, R11
	JZ    s1done
	MOVQ SI, R13
	LEAQ (R13)(R10*1), R14
	LEAQ (R14)(R10*1), R15
	MOVQ DI, DX
	MOVQ BX, CX
	MOVQ R12, AX

s1block:
	TESTQ AX, AX
	JZ    s1tail
	VMOVAPS Z31, Z9
	VMULPS  0(R14), Z3, Z10
	VMULPS  0(R15), Z6, Z11
	VFMADD231PS 0(R13), Z0, Z9
	VFMADD231PS 4(R14), Z4, Z10
	VFMADD231PS 4(R15), Z7, Z11
	VFMADD231PS 4(R13), Z1, Z9
	VFMADD231PS 8(R14), Z5, Z10
	VFMADD231PS 8(R15), Z8, Z11
	VFMADD231PS 8(R13), Z2, Z9
	VADDPS Z10, Z9, Z9
	VADDPS Z11, Z9, Z9
	TESTQ CX, CX
	JZ    s1nores
	VADDPS (CX), Z9, Z9
	ADDQ  $64, CX

s1nores:
	VMAXPS Z29, Z9, Z9
	VMINPS Z30, Z9, Z9
	VMOVUPS Z9, (DX)
	ADDQ $64, R13
	ADDQ $64, R14
	ADDQ $64, R15
	ADDQ $64, DX
	DECQ AX
	JMP  s1block

s1tail:
	KTESTW K1, K1
	JZ     s1next
	VMOVAPS Z31, Z9
	VMOVUPS.Z 0(R13), K1, Z12
	VFMADD231PS Z12, Z0, Z9
	VMOVUPS.Z 4(R13), K1, Z12
	VFMADD231PS Z12, Z1, Z9
	VMOVUPS.Z 8(R13), K1, Z12
	VFMADD231PS Z12, Z2, Z9
	VMOVUPS.Z 0(R14), K1, Z12
	VFMADD231PS Z12, Z3, Z9
	VMOVUPS.Z 4(R14), K1, Z12
	VFMADD231PS Z12, Z4, Z9
	VMOVUPS.Z 8(R14), K1, Z12
	VFMADD231PS Z12, Z5, Z9
	VMOVUPS.Z 0(R15), K1, Z12
	VFMADD231PS Z12, Z6, Z9
	VMOVUPS.Z 4(R15), K1, Z12
	VFMADD231PS Z12, Z7, Z9
	VMOVUPS.Z 8(R15), K1, Z12
	VFMADD231PS Z12, Z8, Z9
	TESTQ CX, CX
	JZ    s1tnores
	VMOVUPS.Z (CX), K1, Z12
	VADDPS Z12, Z9, Z9

s1tnores:
	VMAXPS Z29, Z9, Z9
	VMINPS Z30, Z9, Z9
	VMOVUPS Z9, K1, (DX)

s1next:
	ADDQ R8, DI
	ADDQ R9, SI
	TESTQ BX, BX
	JZ    s1nr
	ADDQ R8, BX

s1nr:
	DECQ R11
	JMP  s1row

s1done:
	VZEROUPPER
	RET

// func dw3x3s2AVX512(a *dwArgs)
//
// As dw3x3s1AVX512 with horizontal stride 2: y[j] uses x[r*ld + 2j + s].
// a.m2 and a.m3 are the load masks of the tail (2*(n%16)+1 input lanes).
TEXT ·dw3x3s2AVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI          // y
	MOVQ 8(AX), SI          // x
	MOVQ 16(AX), BX         // res (may be nil)
	MOVQ 24(AX), DX         // w
	MOVQ 32(AX), R8         // ys (bytes)
	MOVQ 40(AX), R9         // xs (bytes)
	MOVQ 48(AX), R10        // ld (bytes)
	MOVQ 56(AX), R11        // rows
	MOVQ 64(AX), R12        // n
	VBROADCASTSS 72(AX), Z31 // bias
	VBROADCASTSS 76(AX), Z29 // lo
	VBROADCASTSS 80(AX), Z30 // hi
	KMOVW 84(AX), K2
	KMOVW 86(AX), K3
	VBROADCASTSS 0(DX), Z0
	VBROADCASTSS 4(DX), Z1
	VBROADCASTSS 8(DX), Z2
	VBROADCASTSS 12(DX), Z3
	VBROADCASTSS 16(DX), Z4
	VBROADCASTSS 20(DX), Z5
	VBROADCASTSS 24(DX), Z6
	VBROADCASTSS 28(DX), Z7
	VBROADCASTSS 32(DX), Z8
	VMOVDQU32 dwEvenIdx<>(SB), Z27
	VPTERNLOGD $0xff, Z28, Z28, Z28 // all ones
	VPSUBD Z28, Z27, Z28           // odd indices = even + 1
	MOVQ R12, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	SHRQ $4, R12

s2row:
	TESTQ R11, R11
	JZ    s2done
	MOVQ SI, R13
	LEAQ (R13)(R10*1), R14
	LEAQ (R14)(R10*1), R15
	MOVQ DI, DX
	MOVQ BX, CX
	MOVQ R12, AX

s2block:
	TESTQ AX, AX
	JZ    s2tail
	VMOVAPS Z31, Z9
	// row 0
	VMOVUPS 0(R13), Z12
	VMOVUPS 64(R13), Z13
	VMOVAPS Z12, Z14
	VPERMT2PS Z13, Z27, Z14       // even
	VPERMT2PS Z13, Z28, Z12       // odd
	VBROADCASTSS 128(R13), Z15
	VALIGND $1, Z14, Z15, Z15     // even shifted by one
	VFMADD231PS Z14, Z0, Z9
	VMULPS Z12, Z1, Z10
	VMULPS Z15, Z2, Z11
	// row 1
	VMOVUPS 0(R14), Z12
	VMOVUPS 64(R14), Z13
	VMOVAPS Z12, Z14
	VPERMT2PS Z13, Z27, Z14
	VPERMT2PS Z13, Z28, Z12
	VBROADCASTSS 128(R14), Z15
	VALIGND $1, Z14, Z15, Z15
	VFMADD231PS Z14, Z3, Z9
	VFMADD231PS Z12, Z4, Z10
	VFMADD231PS Z15, Z5, Z11
	// row 2
	VMOVUPS 0(R15), Z12
	VMOVUPS 64(R15), Z13
	VMOVAPS Z12, Z14
	VPERMT2PS Z13, Z27, Z14
	VPERMT2PS Z13, Z28, Z12
	VBROADCASTSS 128(R15), Z15
	VALIGND $1, Z14, Z15, Z15
	VFMADD231PS Z14, Z6, Z9
	VFMADD231PS Z12, Z7, Z10
	VFMADD231PS Z15, Z8, Z11
	VADDPS Z10, Z9, Z9
	VADDPS Z11, Z9, Z9
	TESTQ CX, CX
	JZ    s2nores
	VADDPS (CX), Z9, Z9
	ADDQ  $64, CX

s2nores:
	VMAXPS Z29, Z9, Z9
	VMINPS Z30, Z9, Z9
	VMOVUPS Z9, (DX)
	ADDQ $128, R13
	ADDQ $128, R14
	ADDQ $128, R15
	ADDQ $64, DX
	DECQ AX
	JMP  s2block

s2tail:
	KTESTW K1, K1
	JZ     s2next
	VMOVAPS Z31, Z9
	VMOVUPS.Z 0(R13), K2, Z12
	VMOVUPS.Z 64(R13), K3, Z13
	VMOVAPS Z12, Z14
	VPERMT2PS Z13, Z27, Z14
	VPERMT2PS Z13, Z28, Z12
	VALIGND $1, Z14, Z14, Z15
	VFMADD231PS Z14, Z0, Z9
	VFMADD231PS Z12, Z1, Z9
	VFMADD231PS Z15, Z2, Z9
	VMOVUPS.Z 0(R14), K2, Z12
	VMOVUPS.Z 64(R14), K3, Z13
	VMOVAPS Z12, Z14
	VPERMT2PS Z13, Z27, Z14
	VPERMT2PS Z13, Z28, Z12
	VALIGND $1, Z14, Z14, Z15
	VFMADD231PS Z14, Z3, Z9
	VFMADD231PS Z12, Z4, Z9
	VFMADD231PS Z15, Z5, Z9
	VMOVUPS.Z 0(R15), K2, Z12
	VMOVUPS.Z 64(R15), K3, Z13
	VMOVAPS Z12, Z14
	VPERMT2PS Z13, Z27, Z14
	VPERMT2PS Z13, Z28, Z12
	VALIGND $1, Z14, Z14, Z15
	VFMADD231PS Z14, Z6, Z9
	VFMADD231PS Z12, Z7, Z9
	VFMADD231PS Z15, Z8, Z9
	TESTQ CX, CX
	JZ    s2tnores
	VMOVUPS.Z (CX), K1, Z12
	VADDPS Z12, Z9, Z9

s2tnores:
	VMAXPS Z29, Z9, Z9
	VMINPS Z30, Z9, Z9
	VMOVUPS Z9, K1, (DX)

s2next:
	ADDQ R8, DI
	ADDQ R9, SI
	TESTQ BX, BX
	JZ    s2nr
	ADDQ R8, BX

s2nr:
	DECQ R11
	JMP  s2row

s2done:
	VZEROUPPER
	RET

// func dwKxKs1AVX512(a *dwArgs)
//
// Any kh x kw kernel at horizontal stride 1: y[j] = clamp(b + sum_{r<kh,s<kw}
// w[r*kw+s] * x[r*ld + j + s] + res[j], lo, hi).
TEXT ·dwKxKs1AVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI          // y
	MOVQ 8(AX), SI          // x
	MOVQ 16(AX), BX         // res (may be nil)
	MOVQ 56(AX), R11        // rows
	VBROADCASTSS 72(AX), Z31 // bias
	VBROADCASTSS 76(AX), Z29 // lo
	VBROADCASTSS 80(AX), Z30 // hi
	MOVQ 64(AX), CX
	ANDQ $15, CX
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1

kkrow:
	TESTQ R11, R11
	JZ    kkdone
	MOVQ DI, DX             // y block ptr
	MOVQ BX, CX             // res block ptr
	MOVQ SI, R13            // x block ptr
	MOVQ 64(AX), R12
	SHRQ $4, R12            // full blocks

kkblock:
	TESTQ R12, R12
	JZ    kktail
	VMOVAPS Z31, Z9
	VXORPS Z10, Z10, Z10
	MOVQ R13, R14
	MOVQ 24(AX), R9
	MOVQ 88(AX), R15

kkr:
	MOVQ R14, R10
	MOVQ 96(AX), R8

kks:
	VMOVUPS (R10), Z12
	VFMADD231PS.BCST (R9), Z12, Z9
	ADDQ $4, R10
	ADDQ $4, R9
	DECQ R8
	JNZ  kks
	ADDQ 48(AX), R14
	DECQ R15
	JZ   kkrdone
	MOVQ R14, R10
	MOVQ 96(AX), R8

kks2:
	VMOVUPS (R10), Z12
	VFMADD231PS.BCST (R9), Z12, Z10
	ADDQ $4, R10
	ADDQ $4, R9
	DECQ R8
	JNZ  kks2
	ADDQ 48(AX), R14
	DECQ R15
	JNZ  kkr

kkrdone:
	VADDPS Z10, Z9, Z9
	TESTQ CX, CX
	JZ    kknores
	VADDPS (CX), Z9, Z9
	ADDQ  $64, CX

kknores:
	VMAXPS Z29, Z9, Z9
	VMINPS Z30, Z9, Z9
	VMOVUPS Z9, (DX)
	ADDQ $64, DX
	ADDQ $64, R13
	DECQ R12
	JMP  kkblock

kktail:
	KTESTW K1, K1
	JZ     kknext
	VMOVAPS Z31, Z9
	MOVQ R13, R14
	MOVQ 24(AX), R9
	MOVQ 88(AX), R15

kktr:
	MOVQ R14, R10
	MOVQ 96(AX), R8

kkts:
	VMOVUPS.Z (R10), K1, Z12
	VFMADD231PS.BCST (R9), Z12, Z9
	ADDQ $4, R10
	ADDQ $4, R9
	DECQ R8
	JNZ  kkts
	ADDQ 48(AX), R14
	DECQ R15
	JNZ  kktr
	TESTQ CX, CX
	JZ    kktnores
	VMOVUPS.Z (CX), K1, Z12
	VADDPS Z12, Z9, Z9

kktnores:
	VMAXPS Z29, Z9, Z9
	VMINPS Z30, Z9, Z9
	VMOVUPS Z9, K1, (DX)

kknext:
	ADDQ 32(AX), DI
	ADDQ 40(AX), SI
	TESTQ BX, BX
	JZ    kknr
	ADDQ 32(AX), BX

kknr:
	DECQ R11
	JMP  kkrow

kkdone:
	VZEROUPPER
	RET

// func dwDots5AVX512(a *dotArgs)
//
// For k < 5: acc[16k+l] += sum over blocks b of d[16b+l]*p[k][16b+l].
TEXT ·dwDots5AVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI          // d
	MOVQ 8(AX), R8          // p0..p4
	MOVQ 16(AX), R9
	MOVQ 24(AX), R10
	MOVQ 32(AX), R11
	MOVQ 40(AX), R12
	MOVQ 48(AX), DI         // acc
	MOVQ 56(AX), CX         // blocks
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	XORQ DX, DX

dotloop:
	TESTQ CX, CX
	JZ    dotdone
	VMOVUPS (SI)(DX*1), Z5
	VFMADD231PS (R8)(DX*1), Z5, Z0
	VFMADD231PS (R9)(DX*1), Z5, Z1
	VFMADD231PS (R10)(DX*1), Z5, Z2
	VFMADD231PS (R11)(DX*1), Z5, Z3
	VFMADD231PS (R12)(DX*1), Z5, Z4
	ADDQ $64, DX
	DECQ CX
	JMP  dotloop

dotdone:
	VADDPS 0(DI), Z0, Z0
	VADDPS 64(DI), Z1, Z1
	VADDPS 128(DI), Z2, Z2
	VADDPS 192(DI), Z3, Z3
	VADDPS 256(DI), Z4, Z4
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VZEROUPPER
	RET

// func dwGatherAVX512(a *gatherArgs)
//
// out[q] = sum_{t<nt} w[t]*ptrs[t][q] for q < 64*nb, four vectors at a time.
TEXT ·dwGatherAVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI          // out
	MOVQ 8(AX), SI          // ptrs
	MOVQ 16(AX), BX         // w
	MOVQ 24(AX), R8         // nt
	MOVQ 32(AX), CX         // blocks of 64
	XORQ DX, DX

gblk:
	TESTQ CX, CX
	JZ    gdone
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ R10, R10

gtap:
	VBROADCASTSS (BX)(R10*4), Z4
	MOVQ (SI)(R10*8), R11
	ADDQ DX, R11
	VFMADD231PS 0(R11), Z4, Z0
	VFMADD231PS 64(R11), Z4, Z1
	VFMADD231PS 128(R11), Z4, Z2
	VFMADD231PS 192(R11), Z4, Z3
	INCQ R10
	CMPQ R10, R8
	JLT  gtap
	VMOVUPS Z0, 0(DI)(DX*1)
	VMOVUPS Z1, 64(DI)(DX*1)
	VMOVUPS Z2, 128(DI)(DX*1)
	VMOVUPS Z3, 192(DI)(DX*1)
	ADDQ $256, DX
	DECQ CX
	JMP  gblk

gdone:
	VZEROUPPER
	RET

// Lane indices interleaving two vectors: lo half and hi half.
DATA dwIntlvLo<>+0(SB)/4, $0
DATA dwIntlvLo<>+4(SB)/4, $16
DATA dwIntlvLo<>+8(SB)/4, $1
DATA dwIntlvLo<>+12(SB)/4, $17
DATA dwIntlvLo<>+16(SB)/4, $2
DATA dwIntlvLo<>+20(SB)/4, $18
DATA dwIntlvLo<>+24(SB)/4, $3
DATA dwIntlvLo<>+28(SB)/4, $19
DATA dwIntlvLo<>+32(SB)/4, $4
DATA dwIntlvLo<>+36(SB)/4, $20
DATA dwIntlvLo<>+40(SB)/4, $5
DATA dwIntlvLo<>+44(SB)/4, $21
DATA dwIntlvLo<>+48(SB)/4, $6
DATA dwIntlvLo<>+52(SB)/4, $22
DATA dwIntlvLo<>+56(SB)/4, $7
DATA dwIntlvLo<>+60(SB)/4, $23
GLOBL dwIntlvLo<>(SB), RODATA|NOPTR, $64

// func dwCopyRowsAVX512(a *rowsArgs)
//
// Copies a.rows rows of a.n floats (strides a.ds / a.ss bytes).
TEXT ·dwCopyRowsAVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI
	MOVQ 16(AX), SI
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 56(AX), R11
	KMOVW 64(AX), K1

cprow:
	TESTQ R11, R11
	JZ    cpdone
	MOVQ 48(AX), CX
	XORQ DX, DX

cpblk:
	CMPQ CX, $16
	JLT  cptail
	VMOVUPS (SI)(DX*1), Z0
	VMOVUPS Z0, (DI)(DX*1)
	ADDQ $64, DX
	SUBQ $16, CX
	JMP  cpblk

cptail:
	TESTQ CX, CX
	JZ    cpnext
	VMOVUPS.Z (SI)(DX*1), K1, Z0
	VMOVUPS Z0, K1, (DI)(DX*1)

cpnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ R11
	JMP  cprow

cpdone:
	VZEROUPPER
	RET

// func dwDeintRowsAVX512(a *rowsArgs)
//
// d0[k] = s0[2k], d1[k] = s0[2k+1] over a.n source floats per row. Masks:
// m0/m1 source tail halves, m2/m3 tails of d0/d1.
TEXT ·dwDeintRowsAVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI
	MOVQ 8(AX), BX
	MOVQ 16(AX), SI
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 56(AX), R11
	KMOVW 64(AX), K1
	KMOVW 66(AX), K2
	KMOVW 68(AX), K3
	KMOVW 70(AX), K4
	VMOVDQU32 dwEvenIdx<>(SB), Z27
	VPTERNLOGD $0xff, Z28, Z28, Z28
	VPSUBD Z28, Z27, Z28            // odd indices

dirow:
	TESTQ R11, R11
	JZ    didone
	MOVQ 48(AX), CX
	XORQ DX, DX                     // source byte offset
	XORQ R10, R10                   // destination byte offset

diblk:
	CMPQ CX, $32
	JLT  ditail
	VMOVUPS (SI)(DX*1), Z0
	VMOVUPS 64(SI)(DX*1), Z1
	VMOVAPS Z0, Z2
	VPERMT2PS Z1, Z27, Z2
	VPERMT2PS Z1, Z28, Z0
	VMOVUPS Z2, (DI)(R10*1)
	VMOVUPS Z0, (BX)(R10*1)
	ADDQ $128, DX
	ADDQ $64, R10
	SUBQ $32, CX
	JMP  diblk

ditail:
	TESTQ CX, CX
	JZ    dinext
	VMOVUPS.Z (SI)(DX*1), K1, Z0
	VMOVUPS.Z 64(SI)(DX*1), K2, Z1
	VMOVAPS Z0, Z2
	VPERMT2PS Z1, Z27, Z2
	VPERMT2PS Z1, Z28, Z0
	VMOVUPS Z2, K3, (DI)(R10*1)
	VMOVUPS Z0, K4, (BX)(R10*1)

dinext:
	ADDQ R8, DI
	ADDQ R8, BX
	ADDQ R9, SI
	DECQ R11
	JMP  dirow

didone:
	VZEROUPPER
	RET

// func dwIntlvRowsAVX512(a *rowsArgs)
//
// d0[2k] = s0[k], d0[2k+1] = s1[k] over a.n destination floats per row.
// Masks: m0/m1 destination tail halves, m2/m3 tails of s0/s1.
TEXT ·dwIntlvRowsAVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI
	MOVQ 16(AX), SI
	MOVQ 24(AX), BX
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 56(AX), R11
	KMOVW 64(AX), K1
	KMOVW 66(AX), K2
	KMOVW 68(AX), K3
	KMOVW 70(AX), K4
	VMOVDQU32 dwIntlvLo<>(SB), Z27
	MOVL $8, CX
	VPBROADCASTD CX, Z28
	VPADDD Z28, Z27, Z28            // hi indices = lo + 8

ilrow:
	TESTQ R11, R11
	JZ    ildone
	MOVQ 48(AX), CX
	XORQ DX, DX                     // destination byte offset
	XORQ R10, R10                   // source byte offset

ilblk:
	CMPQ CX, $32
	JLT  iltail
	VMOVUPS (SI)(R10*1), Z0
	VMOVUPS (BX)(R10*1), Z1
	VMOVAPS Z0, Z2
	VPERMT2PS Z1, Z27, Z2
	VPERMT2PS Z1, Z28, Z0
	VMOVUPS Z2, (DI)(DX*1)
	VMOVUPS Z0, 64(DI)(DX*1)
	ADDQ $128, DX
	ADDQ $64, R10
	SUBQ $32, CX
	JMP  ilblk

iltail:
	TESTQ CX, CX
	JZ    ilnext
	VMOVUPS.Z (SI)(R10*1), K3, Z0
	VMOVUPS.Z (BX)(R10*1), K4, Z1
	VMOVAPS Z0, Z2
	VPERMT2PS Z1, Z27, Z2
	VPERMT2PS Z1, Z28, Z0
	VMOVUPS Z2, K1, (DI)(DX*1)
	VMOVUPS Z0, K2, 64(DI)(DX*1)

ilnext:
	ADDQ R8, DI
	ADDQ R9, SI
	ADDQ R9, BX
	DECQ R11
	JMP  ilrow

ildone:
	VZEROUPPER
	RET

// func dwPrefetch(p unsafe.Pointer, n int)
//
// Prefetches the n bytes at p (n > 0) into the cache, one line at a time.
TEXT ·dwPrefetch(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	LEAQ (SI)(CX*1), CX

pfloop:
	PREFETCHT0 (SI)
	ADDQ $64, SI
	CMPQ SI, CX
	JLT  pfloop
	RET
