//go:build !purego

package isa

// buildHasAsm reports whether this build contains assembly kernels.
const buildHasAsm = true
