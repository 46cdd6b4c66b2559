//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA depthwise kernels (16 ymm registers), the counterparts of the
// AVX-512 ones in dw_amd64.s; the Go references are in depthwise.go,
// dwflat.go and dwtiny.go. Tails of fewer than 8 floats are read with
// VMASKMOVPS under a lane mask from convTailMask (masked-out lanes never
// fault) and written with STORETAIL or a scalar loop, so nothing past a
// row's end is touched.

// STORETAIL stores the low C (1-7) floats of Y (X is its low half) at P,
// 4, 2 and 1 at a time; it clobbers Y and P. AMD cores run VMASKMOVPS
// stores as slow microcode, so the tails are written this way.
#define STORETAIL(Y, X, P, C, L2, L1, LD) \
	TESTQ $4, C; JZ L2; VMOVUPS X, (P); VEXTRACTF128 $1, Y, X; ADDQ $16, P; \
L2:	TESTQ $2, C; JZ L1; VMOVLPS X, (P); VMOVHLPS X, X, X; ADDQ $8, P; \
L1:	TESTQ $1, C; JZ LD; VMOVSS X, (P); \
LD:

// convTailMask<>+32-4k holds the lane mask of the first k lanes (k <= 8).
DATA convTailMask<>+0(SB)/4, $-1
DATA convTailMask<>+4(SB)/4, $-1
DATA convTailMask<>+8(SB)/4, $-1
DATA convTailMask<>+12(SB)/4, $-1
DATA convTailMask<>+16(SB)/4, $-1
DATA convTailMask<>+20(SB)/4, $-1
DATA convTailMask<>+24(SB)/4, $-1
DATA convTailMask<>+28(SB)/4, $-1
DATA convTailMask<>+32(SB)/4, $0
DATA convTailMask<>+36(SB)/4, $0
DATA convTailMask<>+40(SB)/4, $0
DATA convTailMask<>+44(SB)/4, $0
DATA convTailMask<>+48(SB)/4, $0
DATA convTailMask<>+52(SB)/4, $0
DATA convTailMask<>+56(SB)/4, $0
DATA convTailMask<>+60(SB)/4, $0
GLOBL convTailMask<>(SB), RODATA|NOPTR, $64

// func dw3x3AVX2(a *dwArgs)
//
// For each of a.rows output rows, y[j] = clamp(b + sum_{r,s<3} w[3r+s] *
// x[r*ld + j + c_s] + res[j], lo, hi) for j < a.n, with column byte offsets
// c_0 = 0, c_1 = a.c1 and c_2 = a.c2; then y += ys, x += xs, res += ys.
// Stride 1 is c1 = 4, c2 = 8; stride 2 runs on rows split into their even
// and odd columns (E, then O a.c1 bytes further): c1 = a.c1, c2 = 4.
TEXT ·dw3x3AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI          // y
	MOVQ 8(AX), SI          // x
	MOVQ 16(AX), BX         // res (may be nil)
	MOVQ 24(AX), DX         // w
	MOVQ 32(AX), R8         // ys (bytes)
	MOVQ 40(AX), R9         // xs (bytes)
	MOVQ 48(AX), R10        // ld (bytes)
	MOVQ 56(AX), R11        // rows
	VBROADCASTSS 0(DX), Y0
	VBROADCASTSS 4(DX), Y1
	VBROADCASTSS 8(DX), Y2
	VBROADCASTSS 12(DX), Y3
	VBROADCASTSS 16(DX), Y4
	VBROADCASTSS 20(DX), Y5
	VBROADCASTSS 24(DX), Y6
	VBROADCASTSS 28(DX), Y7
	VBROADCASTSS 32(DX), Y8
	VBROADCASTSS 72(AX), Y13 // bias
	VBROADCASTSS 76(AX), Y14 // lo
	VBROADCASTSS 80(AX), Y15 // hi
	MOVQ 64(AX), CX
	ANDQ $7, CX
	SHLQ $2, CX
	LEAQ convTailMask<>+32(SB), DX
	SUBQ CX, DX
	VMOVDQU (DX), Y12       // tail mask

d3row:
	TESTQ R11, R11
	JZ    d3done
	MOVQ SI, R13            // row 0, column 0
	MOVQ 104(AX), R14
	ADDQ SI, R14            // row 0, column c1
	MOVQ 112(AX), R15
	ADDQ SI, R15            // row 0, column c2
	MOVQ DI, DX
	MOVQ BX, CX
	MOVQ 64(AX), R12
	SHRQ $3, R12

d3block:
	TESTQ R12, R12
	JZ    d3tail
	VMOVAPS Y13, Y9
	VMULPS 0(R13)(R10*1), Y3, Y10
	VMULPS 0(R13)(R10*2), Y6, Y11
	VFMADD231PS 0(R13), Y0, Y9
	VFMADD231PS 0(R14)(R10*1), Y4, Y10
	VFMADD231PS 0(R14)(R10*2), Y7, Y11
	VFMADD231PS 0(R14), Y1, Y9
	VFMADD231PS 0(R15)(R10*1), Y5, Y10
	VFMADD231PS 0(R15)(R10*2), Y8, Y11
	VFMADD231PS 0(R15), Y2, Y9
	VADDPS Y10, Y9, Y9
	VADDPS Y11, Y9, Y9
	TESTQ CX, CX
	JZ    d3nores
	VADDPS (CX), Y9, Y9
	ADDQ  $32, CX

d3nores:
	VMAXPS Y14, Y9, Y9
	VMINPS Y15, Y9, Y9
	VMOVUPS Y9, (DX)
	ADDQ $32, R13
	ADDQ $32, R14
	ADDQ $32, R15
	ADDQ $32, DX
	DECQ R12
	JMP  d3block

d3tail:
	VPTEST Y12, Y12
	JZ     d3next
	VMOVAPS Y13, Y9
	VMASKMOVPS 0(R13), Y12, Y10
	VFMADD231PS Y10, Y0, Y9
	VMASKMOVPS 0(R14), Y12, Y11
	VFMADD231PS Y11, Y1, Y9
	VMASKMOVPS 0(R15), Y12, Y10
	VFMADD231PS Y10, Y2, Y9
	VMASKMOVPS 0(R13)(R10*1), Y12, Y11
	VFMADD231PS Y11, Y3, Y9
	VMASKMOVPS 0(R14)(R10*1), Y12, Y10
	VFMADD231PS Y10, Y4, Y9
	VMASKMOVPS 0(R15)(R10*1), Y12, Y11
	VFMADD231PS Y11, Y5, Y9
	VMASKMOVPS 0(R13)(R10*2), Y12, Y10
	VFMADD231PS Y10, Y6, Y9
	VMASKMOVPS 0(R14)(R10*2), Y12, Y11
	VFMADD231PS Y11, Y7, Y9
	VMASKMOVPS 0(R15)(R10*2), Y12, Y10
	VFMADD231PS Y10, Y8, Y9
	TESTQ CX, CX
	JZ    d3tnores
	VMASKMOVPS (CX), Y12, Y10
	VADDPS Y10, Y9, Y9

d3tnores:
	VMAXPS Y14, Y9, Y9
	VMINPS Y15, Y9, Y9
	MOVQ 64(AX), R12
	ANDQ $7, R12
	STORETAIL(Y9, X9, DX, R12, d3t2, d3t1, d3td)

d3next:
	ADDQ R8, DI
	ADDQ R9, SI
	TESTQ BX, BX
	JZ    d3nr
	ADDQ R8, BX

d3nr:
	DECQ R11
	JMP  d3row

d3done:
	VZEROUPPER
	RET

// func dwKxKs1AVX2(a *dwArgs)
//
// Any kh x kw kernel at horizontal stride 1: y[j] = clamp(b + sum_{r<kh,s<kw}
// w[r*kw+s] * x[r*ld + j + s] + res[j], lo, hi), 16 outputs at a time.
TEXT ·dwKxKs1AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI          // y
	MOVQ 8(AX), SI          // x
	MOVQ 16(AX), BX         // res (may be nil)
	MOVQ 56(AX), R11        // rows
	VBROADCASTSS 72(AX), Y13 // bias
	VBROADCASTSS 76(AX), Y14 // lo
	VBROADCASTSS 80(AX), Y15 // hi
	MOVQ 64(AX), CX
	ANDQ $7, CX
	SHLQ $2, CX
	LEAQ convTailMask<>+32(SB), DX
	SUBQ CX, DX
	VMOVDQU (DX), Y12       // tail mask

kkrow:
	TESTQ R11, R11
	JZ    kkdone
	MOVQ DI, DX             // y block ptr
	MOVQ BX, CX             // res block ptr
	MOVQ SI, R13            // x block ptr
	MOVQ 64(AX), R12        // outputs left

kkpair:
	CMPQ R12, $16
	JLT  kkone
	VMOVAPS Y13, Y0
	VMOVAPS Y13, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ R13, R14
	MOVQ 24(AX), R9
	MOVQ 88(AX), R15

kkpr:
	MOVQ R14, R10
	MOVQ 96(AX), R8

kkps:
	VBROADCASTSS (R9), Y4
	VFMADD231PS (R10), Y4, Y0
	VFMADD231PS 32(R10), Y4, Y1
	ADDQ $4, R10
	ADDQ $4, R9
	DECQ R8
	JZ   kkpsdone
	VBROADCASTSS (R9), Y4
	VFMADD231PS (R10), Y4, Y2
	VFMADD231PS 32(R10), Y4, Y3
	ADDQ $4, R10
	ADDQ $4, R9
	DECQ R8
	JNZ  kkps

kkpsdone:
	ADDQ 48(AX), R14
	DECQ R15
	JNZ  kkpr
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	TESTQ CX, CX
	JZ    kkpnores
	VADDPS (CX), Y0, Y0
	VADDPS 32(CX), Y1, Y1
	ADDQ  $64, CX

kkpnores:
	VMAXPS Y14, Y0, Y0
	VMINPS Y15, Y0, Y0
	VMAXPS Y14, Y1, Y1
	VMINPS Y15, Y1, Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ $64, DX
	ADDQ $64, R13
	SUBQ $16, R12
	JMP  kkpair

kkone:
	TESTQ R12, R12
	JZ    kknext
	VMOVAPS Y12, Y5         // mask: all lanes for a full block
	CMPQ R12, $8
	JLT  kkmask
	VPCMPEQD Y5, Y5, Y5

kkmask:
	VMOVAPS Y13, Y0
	MOVQ R13, R14
	MOVQ 24(AX), R9
	MOVQ 88(AX), R15

kktr:
	MOVQ R14, R10
	MOVQ 96(AX), R8

kkts:
	VBROADCASTSS (R9), Y4
	VMASKMOVPS (R10), Y5, Y6
	VFMADD231PS Y6, Y4, Y0
	ADDQ $4, R10
	ADDQ $4, R9
	DECQ R8
	JNZ  kkts
	ADDQ 48(AX), R14
	DECQ R15
	JNZ  kktr
	TESTQ CX, CX
	JZ    kktnores
	VMASKMOVPS (CX), Y5, Y6
	VADDPS Y6, Y0, Y0
	ADDQ  $32, CX

kktnores:
	VMAXPS Y14, Y0, Y0
	VMINPS Y15, Y0, Y0
	CMPQ R12, $8
	JLT  kkstail
	VMOVUPS Y0, (DX)
	ADDQ $32, DX
	ADDQ $32, R13
	SUBQ $8, R12
	JG   kkone
	JMP  kknext

kkstail:
	STORETAIL(Y0, X0, DX, R12, kkt2, kkt1, kktd)

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

// func dw5x5s1AVX2(a *dwArgs)
//
// As dwKxKs1AVX2 for a 5x5 kernel, unrolled: y[j] = clamp(b + sum_{r,s<5}
// w[5r+s] * x[r*ld + j + s] + res[j], lo, hi), 16 outputs at a time (two
// sums per half, alternating taps), then 8 at a time with masked loads.
TEXT ·dw5x5s1AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI          // y
	MOVQ 8(AX), SI          // x
	MOVQ 16(AX), BX         // res (may be nil)
	MOVQ 24(AX), R9         // w
	MOVQ 48(AX), R10        // ld (bytes)
	MOVQ 56(AX), R11        // rows
	VBROADCASTSS 72(AX), Y13 // bias
	VBROADCASTSS 76(AX), Y14 // lo
	VBROADCASTSS 80(AX), Y15 // hi
	MOVQ 64(AX), CX
	ANDQ $7, CX
	SHLQ $2, CX
	LEAQ convTailMask<>+32(SB), DX
	SUBQ CX, DX
	VMOVDQU (DX), Y12       // tail mask

d5row:
	TESTQ R11, R11
	JZ    d5done
	MOVQ DI, DX             // y block ptr
	MOVQ BX, CX             // res block ptr
	MOVQ SI, R13            // x block ptr, row 0
	LEAQ (SI)(R10*2), R14   // row 2
	MOVQ 64(AX), R12        // outputs left

d5pair:
	CMPQ R12, $16
	JLT  d5one
	VMOVAPS Y13, Y0
	VMOVAPS Y13, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VBROADCASTSS 0(R9), Y4
	VFMADD231PS 0(R13), Y4, Y0
	VFMADD231PS 32(R13), Y4, Y1
	VBROADCASTSS 4(R9), Y5
	VFMADD231PS 4(R13), Y5, Y2
	VFMADD231PS 36(R13), Y5, Y3
	VBROADCASTSS 8(R9), Y6
	VFMADD231PS 8(R13), Y6, Y0
	VFMADD231PS 40(R13), Y6, Y1
	VBROADCASTSS 12(R9), Y7
	VFMADD231PS 12(R13), Y7, Y2
	VFMADD231PS 44(R13), Y7, Y3
	VBROADCASTSS 16(R9), Y4
	VFMADD231PS 16(R13), Y4, Y0
	VFMADD231PS 48(R13), Y4, Y1
	VBROADCASTSS 20(R9), Y5
	VFMADD231PS 0(R13)(R10*1), Y5, Y2
	VFMADD231PS 32(R13)(R10*1), Y5, Y3
	VBROADCASTSS 24(R9), Y6
	VFMADD231PS 4(R13)(R10*1), Y6, Y0
	VFMADD231PS 36(R13)(R10*1), Y6, Y1
	VBROADCASTSS 28(R9), Y7
	VFMADD231PS 8(R13)(R10*1), Y7, Y2
	VFMADD231PS 40(R13)(R10*1), Y7, Y3
	VBROADCASTSS 32(R9), Y4
	VFMADD231PS 12(R13)(R10*1), Y4, Y0
	VFMADD231PS 44(R13)(R10*1), Y4, Y1
	VBROADCASTSS 36(R9), Y5
	VFMADD231PS 16(R13)(R10*1), Y5, Y2
	VFMADD231PS 48(R13)(R10*1), Y5, Y3
	VBROADCASTSS 40(R9), Y6
	VFMADD231PS 0(R14), Y6, Y0
	VFMADD231PS 32(R14), Y6, Y1
	VBROADCASTSS 44(R9), Y7
	VFMADD231PS 4(R14), Y7, Y2
	VFMADD231PS 36(R14), Y7, Y3
	VBROADCASTSS 48(R9), Y4
	VFMADD231PS 8(R14), Y4, Y0
	VFMADD231PS 40(R14), Y4, Y1
	VBROADCASTSS 52(R9), Y5
	VFMADD231PS 12(R14), Y5, Y2
	VFMADD231PS 44(R14), Y5, Y3
	VBROADCASTSS 56(R9), Y6
	VFMADD231PS 16(R14), Y6, Y0
	VFMADD231PS 48(R14), Y6, Y1
	VBROADCASTSS 60(R9), Y7
	VFMADD231PS 0(R14)(R10*1), Y7, Y2
	VFMADD231PS 32(R14)(R10*1), Y7, Y3
	VBROADCASTSS 64(R9), Y4
	VFMADD231PS 4(R14)(R10*1), Y4, Y0
	VFMADD231PS 36(R14)(R10*1), Y4, Y1
	VBROADCASTSS 68(R9), Y5
	VFMADD231PS 8(R14)(R10*1), Y5, Y2
	VFMADD231PS 40(R14)(R10*1), Y5, Y3
	VBROADCASTSS 72(R9), Y6
	VFMADD231PS 12(R14)(R10*1), Y6, Y0
	VFMADD231PS 44(R14)(R10*1), Y6, Y1
	VBROADCASTSS 76(R9), Y7
	VFMADD231PS 16(R14)(R10*1), Y7, Y2
	VFMADD231PS 48(R14)(R10*1), Y7, Y3
	VBROADCASTSS 80(R9), Y4
	VFMADD231PS 0(R14)(R10*2), Y4, Y0
	VFMADD231PS 32(R14)(R10*2), Y4, Y1
	VBROADCASTSS 84(R9), Y5
	VFMADD231PS 4(R14)(R10*2), Y5, Y2
	VFMADD231PS 36(R14)(R10*2), Y5, Y3
	VBROADCASTSS 88(R9), Y6
	VFMADD231PS 8(R14)(R10*2), Y6, Y0
	VFMADD231PS 40(R14)(R10*2), Y6, Y1
	VBROADCASTSS 92(R9), Y7
	VFMADD231PS 12(R14)(R10*2), Y7, Y2
	VFMADD231PS 44(R14)(R10*2), Y7, Y3
	VBROADCASTSS 96(R9), Y4
	VFMADD231PS 16(R14)(R10*2), Y4, Y0
	VFMADD231PS 48(R14)(R10*2), Y4, Y1
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	TESTQ CX, CX
	JZ    d5pnores
	VADDPS (CX), Y0, Y0
	VADDPS 32(CX), Y1, Y1
	ADDQ  $64, CX

d5pnores:
	VMAXPS Y14, Y0, Y0
	VMINPS Y15, Y0, Y0
	VMAXPS Y14, Y1, Y1
	VMINPS Y15, Y1, Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ $64, DX
	ADDQ $64, R13
	ADDQ $64, R14
	SUBQ $16, R12
	JMP  d5pair

d5one:
	TESTQ R12, R12
	JZ    d5next
	VMOVAPS Y12, Y11        // mask: all lanes for a full block
	CMPQ R12, $8
	JLT  d5mask
	VPCMPEQD Y11, Y11, Y11

d5mask:
	VMOVAPS Y13, Y0
	VXORPS Y2, Y2, Y2
	VBROADCASTSS 0(R9), Y4
	VMASKMOVPS 0(R13), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 4(R9), Y5
	VMASKMOVPS 4(R13), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 8(R9), Y4
	VMASKMOVPS 8(R13), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 12(R9), Y5
	VMASKMOVPS 12(R13), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 16(R9), Y4
	VMASKMOVPS 16(R13), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 20(R9), Y5
	VMASKMOVPS 0(R13)(R10*1), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 24(R9), Y4
	VMASKMOVPS 4(R13)(R10*1), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 28(R9), Y5
	VMASKMOVPS 8(R13)(R10*1), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 32(R9), Y4
	VMASKMOVPS 12(R13)(R10*1), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 36(R9), Y5
	VMASKMOVPS 16(R13)(R10*1), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 40(R9), Y4
	VMASKMOVPS 0(R14), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 44(R9), Y5
	VMASKMOVPS 4(R14), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 48(R9), Y4
	VMASKMOVPS 8(R14), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 52(R9), Y5
	VMASKMOVPS 12(R14), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 56(R9), Y4
	VMASKMOVPS 16(R14), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 60(R9), Y5
	VMASKMOVPS 0(R14)(R10*1), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 64(R9), Y4
	VMASKMOVPS 4(R14)(R10*1), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 68(R9), Y5
	VMASKMOVPS 8(R14)(R10*1), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 72(R9), Y4
	VMASKMOVPS 12(R14)(R10*1), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 76(R9), Y5
	VMASKMOVPS 16(R14)(R10*1), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 80(R9), Y4
	VMASKMOVPS 0(R14)(R10*2), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 84(R9), Y5
	VMASKMOVPS 4(R14)(R10*2), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 88(R9), Y4
	VMASKMOVPS 8(R14)(R10*2), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VBROADCASTSS 92(R9), Y5
	VMASKMOVPS 12(R14)(R10*2), Y11, Y7
	VFMADD231PS Y7, Y5, Y2
	VBROADCASTSS 96(R9), Y4
	VMASKMOVPS 16(R14)(R10*2), Y11, Y6
	VFMADD231PS Y6, Y4, Y0
	VADDPS Y2, Y0, Y0
	TESTQ CX, CX
	JZ    d5tnores
	VMASKMOVPS (CX), Y11, Y6
	VADDPS Y6, Y0, Y0
	ADDQ  $32, CX

d5tnores:
	VMAXPS Y14, Y0, Y0
	VMINPS Y15, Y0, Y0
	CMPQ R12, $8
	JLT  d5stail
	VMOVUPS Y0, (DX)
	ADDQ $32, DX
	ADDQ $32, R13
	ADDQ $32, R14
	SUBQ $8, R12
	JG   d5one
	JMP  d5next

d5stail:
	STORETAIL(Y0, X0, DX, R12, d5t2, d5t1, d5td)

d5next:
	ADDQ 32(AX), DI
	ADDQ 40(AX), SI
	TESTQ BX, BX
	JZ    d5nr
	ADDQ 32(AX), BX

d5nr:
	DECQ R11
	JMP  d5row

d5done:
	VZEROUPPER
	RET

// func dwDots5AVX2(a *dotArgs)
//
// For k < 5: acc[16k+l] += sum over blocks b of d[16b+l]*p[k][16b+l].
TEXT ·dwDots5AVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI          // d
	MOVQ 8(AX), R8          // p0..p4
	MOVQ 16(AX), R9
	MOVQ 24(AX), R10
	MOVQ 32(AX), R11
	MOVQ 40(AX), R12
	MOVQ 48(AX), DI         // acc
	MOVQ 56(AX), CX         // blocks of 16
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	XORQ DX, DX
	TESTQ CX, CX
	JZ    dotdone

dotloop:
	VMOVUPS (SI)(DX*1), Y10
	VMOVUPS 32(SI)(DX*1), Y11
	VFMADD231PS (R8)(DX*1), Y10, Y0
	VFMADD231PS 32(R8)(DX*1), Y11, Y1
	VFMADD231PS (R9)(DX*1), Y10, Y2
	VFMADD231PS 32(R9)(DX*1), Y11, Y3
	VFMADD231PS (R10)(DX*1), Y10, Y4
	VFMADD231PS 32(R10)(DX*1), Y11, Y5
	VFMADD231PS (R11)(DX*1), Y10, Y6
	VFMADD231PS 32(R11)(DX*1), Y11, Y7
	VFMADD231PS (R12)(DX*1), Y10, Y8
	VFMADD231PS 32(R12)(DX*1), Y11, Y9
	ADDQ $64, DX
	DECQ CX
	JNZ  dotloop

dotdone:
	VADDPS 0(DI), Y0, Y0
	VADDPS 32(DI), Y1, Y1
	VADDPS 64(DI), Y2, Y2
	VADDPS 96(DI), Y3, Y3
	VADDPS 128(DI), Y4, Y4
	VADDPS 160(DI), Y5, Y5
	VADDPS 192(DI), Y6, Y6
	VADDPS 224(DI), Y7, Y7
	VADDPS 256(DI), Y8, Y8
	VADDPS 288(DI), Y9, Y9
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VMOVUPS Y8, 256(DI)
	VMOVUPS Y9, 288(DI)
	VZEROUPPER
	RET

// func dwGatherAVX2(a *gatherArgs)
//
// out[q] = sum_{t<nt} w[t]*ptrs[t][q] for q < 64*nb, eight vectors at a time.
TEXT ·dwGatherAVX2(SB), NOSPLIT, $0-8
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
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ R10, R10

gtap:
	VBROADCASTSS (BX)(R10*4), Y8
	MOVQ (SI)(R10*8), R11
	ADDQ DX, R11
	VFMADD231PS 0(R11), Y8, Y0
	VFMADD231PS 32(R11), Y8, Y1
	VFMADD231PS 64(R11), Y8, Y2
	VFMADD231PS 96(R11), Y8, Y3
	VFMADD231PS 128(R11), Y8, Y4
	VFMADD231PS 160(R11), Y8, Y5
	VFMADD231PS 192(R11), Y8, Y6
	VFMADD231PS 224(R11), Y8, Y7
	INCQ R10
	CMPQ R10, R8
	JLT  gtap
	VMOVUPS Y0, 0(DI)(DX*1)
	VMOVUPS Y1, 32(DI)(DX*1)
	VMOVUPS Y2, 64(DI)(DX*1)
	VMOVUPS Y3, 96(DI)(DX*1)
	VMOVUPS Y4, 128(DI)(DX*1)
	VMOVUPS Y5, 160(DI)(DX*1)
	VMOVUPS Y6, 192(DI)(DX*1)
	VMOVUPS Y7, 224(DI)(DX*1)
	ADDQ $256, DX
	DECQ CX
	JMP  gblk

gdone:
	VZEROUPPER
	RET

// func dwCopyRowsAVX2(a *rowsArgs)
//
// Copies a.rows rows of a.n floats (strides a.ds / a.ss bytes); the last
// n%8 floats of a row move one at a time.
TEXT ·dwCopyRowsAVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI
	MOVQ 16(AX), SI
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 56(AX), R11

cprow:
	TESTQ R11, R11
	JZ    cpdone
	MOVQ 48(AX), CX
	XORQ DX, DX

cp32:
	CMPQ CX, $32
	JLT  cp8
	VMOVUPS (SI)(DX*1), Y0
	VMOVUPS 32(SI)(DX*1), Y1
	VMOVUPS 64(SI)(DX*1), Y2
	VMOVUPS 96(SI)(DX*1), Y3
	VMOVUPS Y0, (DI)(DX*1)
	VMOVUPS Y1, 32(DI)(DX*1)
	VMOVUPS Y2, 64(DI)(DX*1)
	VMOVUPS Y3, 96(DI)(DX*1)
	ADDQ $128, DX
	SUBQ $32, CX
	JMP  cp32

cp8:
	CMPQ CX, $8
	JLT  cp4
	VMOVUPS (SI)(DX*1), Y0
	VMOVUPS Y0, (DI)(DX*1)
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  cp8

cp4:
	CMPQ CX, $4
	JLT  cp1
	VMOVUPS (SI)(DX*1), X0
	VMOVUPS X0, (DI)(DX*1)
	ADDQ $16, DX
	SUBQ $4, CX

cp1:
	TESTQ CX, CX
	JZ    cpnext
	MOVL (SI)(DX*1), R10
	MOVL R10, (DI)(DX*1)
	ADDQ $4, DX
	DECQ CX
	JMP  cp1

cpnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ R11
	JMP  cprow

cpdone:
	VZEROUPPER
	RET

// func dwDeintRowsAVX2(a *rowsArgs)
//
// d0[k] = s0[2k], d1[k] = s0[2k+1] over a.n source floats per row, 16 at a
// time, the last n%16 one pair at a time.
TEXT ·dwDeintRowsAVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI
	MOVQ 8(AX), BX
	MOVQ 16(AX), SI
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 56(AX), R11

dirow:
	TESTQ R11, R11
	JZ    didone
	MOVQ 48(AX), CX
	XORQ DX, DX             // source byte offset
	XORQ R10, R10           // destination byte offset

diblk:
	CMPQ CX, $16
	JLT  dipair
	VMOVUPS (SI)(DX*1), Y0
	VMOVUPS 32(SI)(DX*1), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xdd, Y1, Y0, Y3
	VPERMPD $0xd8, Y2, Y2
	VPERMPD $0xd8, Y3, Y3
	VMOVUPS Y2, (DI)(R10*1)
	VMOVUPS Y3, (BX)(R10*1)
	ADDQ $64, DX
	ADDQ $32, R10
	SUBQ $16, CX
	JMP  diblk

dipair:
	CMPQ CX, $2
	JLT  dilast
	MOVL (SI)(DX*1), R12
	MOVL R12, (DI)(R10*1)
	MOVL 4(SI)(DX*1), R12
	MOVL R12, (BX)(R10*1)
	ADDQ $8, DX
	ADDQ $4, R10
	SUBQ $2, CX
	JMP  dipair

dilast:
	TESTQ CX, CX
	JZ    dinext
	MOVL (SI)(DX*1), R12
	MOVL R12, (DI)(R10*1)

dinext:
	ADDQ R8, DI
	ADDQ R8, BX
	ADDQ R9, SI
	DECQ R11
	JMP  dirow

didone:
	VZEROUPPER
	RET

// func dwIntlvRowsAVX2(a *rowsArgs)
//
// d0[2k] = s0[k], d0[2k+1] = s1[k] over a.n destination floats per row, 16
// at a time, the last n%16 one pair at a time.
TEXT ·dwIntlvRowsAVX2(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), DI
	MOVQ 16(AX), SI
	MOVQ 24(AX), BX
	MOVQ 32(AX), R8
	MOVQ 40(AX), R9
	MOVQ 56(AX), R11

ilrow:
	TESTQ R11, R11
	JZ    ildone
	MOVQ 48(AX), CX
	XORQ DX, DX             // destination byte offset
	XORQ R10, R10           // source byte offset

ilblk:
	CMPQ CX, $16
	JLT  ilpair
	VMOVUPS (SI)(R10*1), Y0
	VMOVUPS (BX)(R10*1), Y1
	VUNPCKLPS Y1, Y0, Y2
	VUNPCKHPS Y1, Y0, Y3
	VPERM2F128 $0x20, Y3, Y2, Y4
	VPERM2F128 $0x31, Y3, Y2, Y5
	VMOVUPS Y4, (DI)(DX*1)
	VMOVUPS Y5, 32(DI)(DX*1)
	ADDQ $64, DX
	ADDQ $32, R10
	SUBQ $16, CX
	JMP  ilblk

ilpair:
	CMPQ CX, $2
	JLT  illast
	MOVL (SI)(R10*1), R12
	MOVL R12, (DI)(DX*1)
	MOVL (BX)(R10*1), R12
	MOVL R12, 4(DI)(DX*1)
	ADDQ $8, DX
	ADDQ $4, R10
	SUBQ $2, CX
	JMP  ilpair

illast:
	TESTQ CX, CX
	JZ    ilnext
	MOVL (SI)(R10*1), R12
	MOVL R12, (DI)(DX*1)

ilnext:
	ADDQ R8, DI
	ADDQ R9, SI
	ADDQ R9, BX
	DECQ R11
	JMP  ilrow

ildone:
	VZEROUPPER
	RET
