//go:build arm64

package isa

import "golang.org/x/sys/cpu"

// detect returns NEON when the CPU has Advanced SIMD (every arm64 CPU Go
// supports does).
func detect() Level {
	if cpu.ARM64.HasASIMD {
		return NEON
	}
	return Generic
}
