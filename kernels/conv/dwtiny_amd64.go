//go:build amd64 && !purego

package conv

import "github.com/dshrink/dshrink/kernels/isa"

//go:noescape
func tinyMVAVX512(a *tinyArgs)

//go:noescape
func tinyOuterAVX512(a *outerArgs)

//go:noescape
func tinyMV16AVX2(a *tinyArgs)

//go:noescape
func tinyMV8AVX2(a *tinyArgs)

//go:noescape
func tinyOuter16AVX2(a *outerArgs)

//go:noescape
func tinyOuter8AVX2(a *outerArgs)

func callTinyMV(l isa.Level, a *tinyArgs) {
	switch {
	case l == isa.AVX512:
		a.mask = lowMask(a.nout)
		tinyMVAVX512(a)
	case a.nout > 8:
		tinyMV16AVX2(a)
	default:
		tinyMV8AVX2(a)
	}
}

// tinyOuterX is how many values of every x plane the outer-product kernels
// read: nx.
func tinyOuterX(nx int) int { return nx }

// tinyOuterRows returns how many rows of g (from the one a.g points at) an
// outer-product kernel call covers and whether it adds the bias sums too:
// all of them with AVX-512, groups of 8 or 4 (nx > 8) with AVX2, which
// leaves the bias sums to the caller.
func tinyOuterRows(l isa.Level, nx int) (int, bool) {
	switch {
	case l == isa.AVX512:
		return dwTinyMax, true
	case nx > 8:
		return 4, false
	}
	return 8, false
}

func callTinyOuter(l isa.Level, a *outerArgs, nd int) {
	switch {
	case l == isa.AVX512:
		a.dmask, a.xmask = lowMask(nd), lowMask(a.nx)
		tinyOuterAVX512(a)
	case a.nx > 8:
		tinyOuter16AVX2(a)
	default:
		tinyOuter8AVX2(a)
	}
}
