//go:build amd64 && !purego

package vec

import "github.com/dshrink/dshrink/kernels/isa"

// asmLevel returns the level of the assembly plane kernels to use now
// (isa.AVX512 or isa.AVX2), or isa.Generic for the pure-Go loops.
func asmLevel() isa.Level {
	switch l := isa.Active(); l {
	case isa.AVX512, isa.AVX2:
		return l
	}
	return isa.Generic
}

//go:noescape
func planeStatsAVX512(a *planeArgs)

//go:noescape
func planeStatsAVX2(a *planeArgs)

//go:noescape
func affineClampAVX512(a *planeArgs)

//go:noescape
func affineClampAVX2(a *planeArgs)

//go:noescape
func gradSumsAVX512(a *planeArgs)

//go:noescape
func gradSumsAVX2(a *planeArgs)

//go:noescape
func gradAffineAVX512(a *planeArgs)

//go:noescape
func gradAffineAVX2(a *planeArgs)

//go:noescape
func clampGradAVX512(a *planeArgs)

//go:noescape
func clampGradAVX2(a *planeArgs)

func callPlaneStats(l isa.Level, a *planeArgs) {
	if l == isa.AVX512 {
		planeStatsAVX512(a)
	} else {
		planeStatsAVX2(a)
	}
}

func callAffineClamp(l isa.Level, a *planeArgs) {
	if l == isa.AVX512 {
		affineClampAVX512(a)
	} else {
		affineClampAVX2(a)
	}
}

func callGradSums(l isa.Level, a *planeArgs) {
	if l == isa.AVX512 {
		gradSumsAVX512(a)
	} else {
		gradSumsAVX2(a)
	}
}

func callGradAffine(l isa.Level, a *planeArgs) {
	if l == isa.AVX512 {
		gradAffineAVX512(a)
	} else {
		gradAffineAVX2(a)
	}
}

func callClampGrad(l isa.Level, a *planeArgs) {
	if l == isa.AVX512 {
		clampGradAVX512(a)
	} else {
		clampGradAVX2(a)
	}
}

//go:noescape
func sigmoidAVX512(a *smoothArgs)

//go:noescape
func siluAVX512(a *smoothArgs)

//go:noescape
func sigmoidGradAVX512(a *smoothArgs)

//go:noescape
func siluGradAVX512(a *smoothArgs)

//go:noescape
func hardSigmoidAVX512(a *smoothArgs)

//go:noescape
func hardSwishAVX512(a *smoothArgs)

//go:noescape
func hardSigmoidGradAVX512(a *smoothArgs)

//go:noescape
func hardSwishGradAVX512(a *smoothArgs)

//go:noescape
func sigmoidAVX2(a *smoothArgs)

//go:noescape
func siluAVX2(a *smoothArgs)

//go:noescape
func sigmoidGradAVX2(a *smoothArgs)

//go:noescape
func siluGradAVX2(a *smoothArgs)

//go:noescape
func hardSigmoidAVX2(a *smoothArgs)

//go:noescape
func hardSwishAVX2(a *smoothArgs)

//go:noescape
func hardSigmoidGradAVX2(a *smoothArgs)

//go:noescape
func hardSwishGradAVX2(a *smoothArgs)

// callSmooth runs the activation kernel op of level l (a switch of direct
// calls: through a function value, a would escape to the heap).
func callSmooth(l isa.Level, op smoothOp, a *smoothArgs) {
	if l == isa.AVX512 {
		switch op {
		case smSigmoid:
			sigmoidAVX512(a)
		case smSiLU:
			siluAVX512(a)
		case smSigmoidGrad:
			sigmoidGradAVX512(a)
		case smSiLUGrad:
			siluGradAVX512(a)
		case smHardSigmoid:
			hardSigmoidAVX512(a)
		case smHardSwish:
			hardSwishAVX512(a)
		case smHardSigmoidGrad:
			hardSigmoidGradAVX512(a)
		case smHardSwishGrad:
			hardSwishGradAVX512(a)
		}
		return
	}
	switch op {
	case smSigmoid:
		sigmoidAVX2(a)
	case smSiLU:
		siluAVX2(a)
	case smSigmoidGrad:
		sigmoidGradAVX2(a)
	case smSiLUGrad:
		siluGradAVX2(a)
	case smHardSigmoid:
		hardSigmoidAVX2(a)
	case smHardSwish:
		hardSwishAVX2(a)
	case smHardSigmoidGrad:
		hardSigmoidGradAVX2(a)
	case smHardSwishGrad:
		hardSwishGradAVX2(a)
	}
}
