//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// cpuKernels returns the assembly kernels this CPU supports, best first.
func cpuKernels() []*kernelImpl {
	var ks []*kernelImpl
	if cpu.X86.HasAVX512F {
		ks = append(ks, &kernelImpl{name: "avx512", mr: 12, nr: 32, narrow: 16,
			tiles:  [2][]func(*tileArgs){tilesAVX512[0][:], tilesAVX512[1][:]},
			direct: [2][]func(*tileArgs){tilesAVX512Direct[0][:], tilesAVX512Direct[1][:]}})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &kernelImpl{name: "avx2", mr: 6, nr: 16, narrow: 8,
			tiles:  [2][]func(*tileArgs){tilesAVX2[0][:], tilesAVX2[1][:]},
			direct: [2][]func(*tileArgs){tilesAVX2Direct[0][:], tilesAVX2Direct[1][:]}})
	}
	return ks
}
