// Package gemm provides single-precision matrix multiplication for row-major
// matrices.
//
// The implementation follows the GotoBLAS/BLIS scheme: op(A) is packed into
// micro-panels of MR rows (or, on amd64, read in place by "direct" kernels
// when it is neither transposed nor scaled), op(B) is either packed into
// panels of NR columns or (when not transposed, and shared by few row tiles
// or read with short k) read in place, and an assembly micro-kernel computes
// MR x NR tiles of C held in registers. Kernels exist for AVX-512 (12 x 32
// tile), AVX2+FMA (6 x 16) and pure Go (4 x 8); the best one the CPU supports
// is picked at start-up and can be forced with SetKernel. The last one to
// four columns of a product whose width is not a multiple of the vector
// width (N = 49 in a 7x7 convolution layer) go to one-column kernels
// (vectorised along the tile's rows for packed A, along k for A read in
// place) instead of a tile that would leave most of its lanes idle.
//
// Work is split across kernels/parallel threads by blocks of columns or of
// rows, whichever has more tiles, in chunks claimed dynamically (a thread on a
// busy core takes fewer); problems too small to benefit run on the calling
// goroutine. Pack buffers come from reusable workspaces, so a call does not
// allocate once warmed up.
//
// Inference code multiplies the same weights by many inputs: PackA packs the
// weights once and SgemmPacked multiplies them, applying a fused Epilogue
// (bias, residual, clamp) while the tiles of C are written.
package gemm

import (
	"errors"
	"fmt"
	"math"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(A) is m x k (A is k x m when transA), op(B) is k x n (B is n x k when
// transB), and lda, ldb, ldc are the row strides of A, B and C. When beta is
// zero C is not read, so it may hold anything (NaN included). Like the BLAS it
// mirrors, Sgemm panics when the dimensions, strides or slice lengths are
// inconsistent.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := checkMatrix("A", ar, ac, a, lda); err != nil {
		panic(err)
	}
	if err := checkMatrix("B", br, bc, b, ldb); err != nil {
		panic(err)
	}
	if err := checkMatrix("C", m, n, c, ldc); err != nil {
		panic(err)
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	kern := activeKernel()
	if !transA && alpha == 1 && kern.useDirect() {
		multiplyDirect(kern, m, k, a, lda, transB, n, b, ldb, beta, c, ldc)
		return
	}
	pa := getPacked()
	pa.pack(kern, transA, m, k, alpha, a, lda)
	multiplyPacked(pa, transB, n, b, ldb, beta, c, ldc, nil)
	putPacked(pa)
}

// checkMatrix validates a rows x cols matrix stored with row stride ld.
func checkMatrix(name string, rows, cols int, s []float32, ld int) error {
	if ld < max(1, cols) {
		return fmt.Errorf("gemm: %s row stride %d < %d columns", name, ld, cols)
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		return fmt.Errorf("gemm: %s has %d elements, %d x %d with stride %d needs %d", name, len(s), rows, cols, ld, (rows-1)*ld+cols)
	}
	return nil
}

// scaleC sets C = beta*C, writing zeros without reading C when beta is zero.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// PackedA is a matrix op(A) packed once for repeated multiplication with
// SgemmPacked, typically the weights of a layer. It is laid out for the
// micro-kernel that was active when it was packed, and is read-only after
// packing, so it may be shared by concurrent SgemmPacked calls.
type PackedA struct {
	m, k int
	kern *kernelImpl
	// data holds ceil(m/mr) micro-panels of k*mr floats; within a panel the
	// mr rows of one column are contiguous and rows past m are zero.
	data []float32
}

// Rows returns m, the number of rows of op(A).
func (p *PackedA) Rows() int { return p.m }

// Cols returns k, the number of columns of op(A).
func (p *PackedA) Cols() int { return p.k }

// PackA packs op(A), an m x k matrix (A is k x m when transA) with row stride
// lda, for SgemmPacked.
func PackA(transA bool, m, k int, a []float32, lda int) (*PackedA, error) {
	p := new(PackedA)
	if err := p.Repack(transA, m, k, a, lda); err != nil {
		return nil, err
	}
	return p, nil
}

// Repack packs new contents into p, reusing its memory when large enough, and
// switches p to the currently active kernel. It accepts the same arguments as
// PackA.
func (p *PackedA) Repack(transA bool, m, k int, a []float32, lda int) error {
	if m < 0 || k < 0 {
		return fmt.Errorf("gemm: negative dimension m=%d k=%d", m, k)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	if err := checkMatrix("A", ar, ac, a, lda); err != nil {
		return err
	}
	p.pack(activeKernel(), transA, m, k, 1, a, lda)
	return nil
}

// Epilogue describes operations fused into SgemmPacked, applied to each
// element in this order as the tiles of C are written:
//
//	v = op(A)*op(B)[i,j]   (+ C[i,j] when Accumulate)
//	v += Bias[i]           when Bias is not nil
//	v += Residual[i*LdRes+j] when Residual is not nil
//	v = min(max(v, Min), Max) when Clamp
//
// ReLU is Clamp with Min 0 and Max +Inf; ReLU6 is Min 0, Max 6.
type Epilogue struct {
	// Accumulate adds the product to C instead of overwriting it.
	Accumulate bool
	// Bias, when not nil, holds one value per row of C (at least m).
	Bias []float32
	// Residual, when not nil, is an m x n matrix with row stride LdRes
	// added to the result. It must not overlap C (to add C itself, set
	// Accumulate instead).
	Residual []float32
	LdRes    int
	// Clamp limits the result to [Min, Max].
	Clamp    bool
	Min, Max float32
}

// ReLU returns an Epilogue clamping at zero with the given bias (may be nil).
func ReLU(bias []float32) *Epilogue {
	return &Epilogue{Bias: bias, Clamp: true, Min: 0, Max: float32(math.Inf(1))}
}

// ReLU6 returns an Epilogue clamping to [0, 6] with the given bias (may be
// nil).
func ReLU6(bias []float32) *Epilogue {
	return &Epilogue{Bias: bias, Clamp: true, Min: 0, Max: 6}
}

// errNilPacked is returned by SgemmPacked for a nil or empty PackedA.
var errNilPacked = errors.New("gemm: SgemmPacked with a nil or unpacked PackedA")

// SgemmPacked computes C = op(A)*op(B), with op(A) the m x k matrix packed in
// pa and op(B) k x n (B is n x k when transB) with row stride ldb, and applies
// ep (nil means plain C = op(A)*op(B)). C is m x n with row stride ldc and is
// read only when ep.Accumulate is set. It returns an error when the arguments
// are inconsistent.
func SgemmPacked(pa *PackedA, transB bool, n int, b []float32, ldb int, c []float32, ldc int, ep *Epilogue) error {
	if pa == nil || pa.kern == nil {
		return errNilPacked
	}
	m, k := pa.m, pa.k
	if n < 0 {
		return fmt.Errorf("gemm: negative dimension n=%d", n)
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := checkMatrix("B", br, bc, b, ldb); err != nil {
		return err
	}
	if err := checkMatrix("C", m, n, c, ldc); err != nil {
		return err
	}
	if ep != nil {
		if ep.Bias != nil && len(ep.Bias) < m {
			return fmt.Errorf("gemm: bias has %d elements, want %d", len(ep.Bias), m)
		}
		if ep.Residual != nil {
			if err := checkMatrix("residual", m, n, ep.Residual, ep.LdRes); err != nil {
				return err
			}
		}
	}
	if m == 0 || n == 0 {
		return nil
	}
	var beta float32
	if ep != nil && ep.Accumulate {
		beta = 1
	}
	multiplyPacked(pa, transB, n, b, ldb, beta, c, ldc, ep)
	return nil
}
