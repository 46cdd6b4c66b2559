package conv

import (
	"errors"

	"github.com/dshrink/dshrink/kernels/gemm"
)

// PackedWeights holds the weights of one convolution prepared once for
// repeated ForwardPacked calls (inference): the GEMM paths keep the weights
// of each group packed for the matrix micro-kernel, the direct depthwise
// paths keep a private copy. It is read-only after PackWeights and may be
// shared by concurrent ForwardPacked calls.
type PackedWeights struct {
	p  Params // the Params given to PackWeights
	a  algo
	w  []float32      // copy of the weights
	pa []gemm.PackedA // per group, for the GEMM paths
}

var (
	errNilPacked  = errors.New("conv: ForwardPacked with nil PackedWeights")
	errPackParams = errors.New("conv: ForwardPacked Params differ from those given to PackWeights (other than N)")
)

// PackWeights prepares w ([K, C/Groups, KH, KW]) of the convolution p for
// ForwardPacked. p.N only needs to be valid: ForwardPacked accepts any batch
// size. w is copied, so it may be modified afterwards.
func PackWeights(p Params, w []float32) (*PackedWeights, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(w) < p.WeightLen() {
		return nil, errShort
	}
	pw := &PackedWeights{p: p, a: choose(p), w: append([]float32(nil), w[:p.WeightLen()]...)}
	if pw.a == algoGEMM1x1 || pw.a == algoIm2col {
		kg := p.K / p.Groups
		kk := p.C / p.Groups * p.KH * p.KW
		pw.pa = make([]gemm.PackedA, p.Groups)
		for g := range pw.pa {
			if err := pw.pa[g].Repack(false, kg, kk, pw.w[g*kg*kk:], kk); err != nil {
				return nil, err
			}
		}
	}
	return pw, nil
}

// Params returns the Params given to PackWeights.
func (pw *PackedWeights) Params() Params { return pw.p }

// ForwardPacked is Forward with weights prepared by PackWeights: y =
// conv(x, w) + bias, then ep. p must equal the Params given to PackWeights
// except for N. ws must hold at least WorkspaceSize(p) elements.
func ForwardPacked(p Params, pw *PackedWeights, x, bias, y, ws []float32, ep Epilogue) error {
	if pw == nil {
		return errNilPacked
	}
	q := pw.p
	q.N = p.N
	if q != p {
		return errPackParams
	}
	return forwardWith(p, pw.a, x, pw.w, pw.pa, bias, y, ws, ep)
}
