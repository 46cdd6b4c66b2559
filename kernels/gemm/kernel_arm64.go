//go:build arm64 && !purego

package gemm

import "github.com/dshrink/dshrink/kernels/isa"

// cpuKernels returns the assembly kernels this CPU supports, best first: the
// NEON 8 x 12 tile (24 accumulators, by-element FMLA), with an 8-column
// narrow panel. kc 256 keeps a 12 KiB panel of B and the 8 KiB A
// micro-panel in a 32 KiB L1 (the smallest of common arm64 cores); the A
// block (128 x 256, 128 KiB) fits the per-core L2 of all of them.
func cpuKernels() []*kernelImpl {
	if !isa.Has(isa.NEON) {
		return nil
	}
	return []*kernelImpl{{name: "neon", level: isa.NEON, mr: 8, nr: 12, narrow: 8, kc: 256, aBlock: 128 * 256 * 4,
		tiles: [2][]func(*tileArgs){tilesNEON[0][:], tilesNEON[1][:]},
		lanes: 4, edgeScratch: true}}
}
