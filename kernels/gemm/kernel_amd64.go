//go:build amd64 && !purego

package gemm

import "github.com/dshrink/dshrink/kernels/isa"

// cpuKernels returns the assembly kernels this CPU supports, best first.
func cpuKernels() []*kernelImpl {
	var ks []*kernelImpl
	if isa.Has(isa.AVX512) {
		ks = append(ks, &kernelImpl{name: "avx512", level: isa.AVX512, mr: 12, nr: 32, narrow: 16, kc: 384, aBlock: 384 << 10,
			tiles:  [2][]func(*tileArgs){tilesAVX512[0][:], tilesAVX512[1][:]},
			direct: [2][]func(*tileArgs){tilesAVX512Direct[0][:], tilesAVX512Direct[1][:]},
			colMax: 4, lanes: 16, col: colAVX512, dot: dotsAVX512[:], packB: packBAVX512})
	}
	if isa.Has(isa.AVX2) {
		ks = append(ks, &kernelImpl{name: "avx2", level: isa.AVX2, mr: 6, nr: 16, narrow: 8, kc: 288, aBlock: 144 * 288 * 4, packBMinRows: 96,
			tiles:  [2][]func(*tileArgs){tilesAVX2[0][:], tilesAVX2[1][:]},
			direct: [2][]func(*tileArgs){tilesAVX2Direct[0][:], tilesAVX2Direct[1][:]},
			colMax: 2, lanes: 8, col: colAVX2, dot: dotsAVX2[:], packB: packBAVX2})
	}
	return ks
}
