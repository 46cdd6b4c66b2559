//go:build arm64 && !purego

package vec

import "github.com/dshrink/dshrink/kernels/isa"

// asmLevel returns isa.NEON when the NEON plane kernels are to be used now,
// or isa.Generic for the pure-Go loops.
func asmLevel() isa.Level {
	if isa.Active() == isa.NEON {
		return isa.NEON
	}
	return isa.Generic
}

//go:noescape
func planeStatsNEON(a *planeArgs)

//go:noescape
func affineClampNEON(a *planeArgs)

//go:noescape
func gradSumsNEON(a *planeArgs)

//go:noescape
func gradAffineNEON(a *planeArgs)

//go:noescape
func clampGradNEON(a *planeArgs)

func callPlaneStats(_ isa.Level, a *planeArgs) { planeStatsNEON(a) }

func callAffineClamp(_ isa.Level, a *planeArgs) { affineClampNEON(a) }

func callGradSums(_ isa.Level, a *planeArgs) { gradSumsNEON(a) }

func callGradAffine(_ isa.Level, a *planeArgs) { gradAffineNEON(a) }

func callClampGrad(_ isa.Level, a *planeArgs) { clampGradNEON(a) }

//go:noescape
func sigmoidNEON(a *smoothArgs)

//go:noescape
func siluNEON(a *smoothArgs)

//go:noescape
func sigmoidGradNEON(a *smoothArgs)

//go:noescape
func siluGradNEON(a *smoothArgs)

//go:noescape
func hardSigmoidNEON(a *smoothArgs)

//go:noescape
func hardSwishNEON(a *smoothArgs)

//go:noescape
func hardSigmoidGradNEON(a *smoothArgs)

//go:noescape
func hardSwishGradNEON(a *smoothArgs)

// callSmooth runs the activation kernel op of level l (a switch of direct
// calls: through a function value, a would escape to the heap).
func callSmooth(_ isa.Level, op smoothOp, a *smoothArgs) {
	switch op {
	case smSigmoid:
		sigmoidNEON(a)
	case smSiLU:
		siluNEON(a)
	case smSigmoidGrad:
		sigmoidGradNEON(a)
	case smSiLUGrad:
		siluGradNEON(a)
	case smHardSigmoid:
		hardSigmoidNEON(a)
	case smHardSwish:
		hardSwishNEON(a)
	case smHardSigmoidGrad:
		hardSigmoidGradNEON(a)
	case smHardSwishGrad:
		hardSwishGradNEON(a)
	}
}
