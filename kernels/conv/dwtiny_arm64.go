//go:build arm64 && !purego

package conv

import "github.com/dshrink/dshrink/kernels/isa"

//go:noescape
func tinyMVNEON(a *tinyArgs)

//go:noescape
func tinyOuterNEON(a *outerArgs)

func callTinyMV(_ isa.Level, a *tinyArgs) { tinyMVNEON(a) }

// tinyOuterX is how many values of every x plane the outer-product kernel
// reads: 16 (whole vectors).
func tinyOuterX(int) int { return dwTinyMax }

// tinyOuterRows returns how many rows of g an outer-product kernel call
// covers (four) and whether it adds the bias sums too (no).
func tinyOuterRows(isa.Level, int) (int, bool) { return 4, false }

func callTinyOuter(_ isa.Level, a *outerArgs, _ int) { tinyOuterNEON(a) }
