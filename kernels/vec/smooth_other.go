//go:build (!amd64 && !arm64) || purego

package vec

import "github.com/dshrink/dshrink/kernels/isa"

func callSmooth(l isa.Level, op smoothOp, a *smoothArgs) { panic("vec: no assembly") }
