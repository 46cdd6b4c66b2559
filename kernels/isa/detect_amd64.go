//go:build amd64

package isa

import "golang.org/x/sys/cpu"

// detect returns the best x86-64 level of this CPU. x/sys/cpu honours
// GODEBUG=cpu.avx512f=off (and friends), which then lands on AVX2.
func detect() Level {
	x := cpu.X86
	switch {
	case x.HasAVX512F && x.HasAVX512DQ && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX2 && x.HasFMA:
		return AVX512
	case x.HasAVX2 && x.HasFMA:
		return AVX2
	}
	return Generic
}
