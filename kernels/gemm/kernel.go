package gemm

import (
	"fmt"

	"github.com/dshrink/dshrink/kernels/isa"
	"unsafe"
)

//go:generate go run gen_tiles.go

// Flag bits of tileArgs.flags (mirrored in gen_tiles.go).
const (
	flagLoadC   = 1  // C = acc + beta*C instead of C = acc
	flagBias    = 2  // add bias[row] (kernels start the accumulators at it)
	flagRes     = 4  // add the residual tile
	flagClamp   = 8  // clamp to [min, max]
	flagPartial = 16 // fewer valid columns than the panel width
)

// tileArgs is what a micro-kernel receives. The assembly kernels read it by
// fixed offsets (see gen_tiles.go); the layout is checked by a test.
type tileArgs struct {
	a       *float32 // packed A micro-panel, mr floats per k step
	b       *float32 // B panel, one row of w floats per k step
	c       *float32 // top-left element of the C tile
	k       int      // k steps
	bstride int      // bytes between consecutive B rows
	ldc     int      // bytes between C rows
	flags   int      // flag* bits
	mask    uint64   // AVX-512: bit j set when column j is valid
	maskp   *int32   // AVX2: lane masks of the first vector (avx2Masks)
	bias    *float32 // bias of the tile's first row
	res     *float32 // top-left element of the residual tile
	ldr     int      // bytes between residual rows
	beta    float32  // C multiplier when flagLoadC is set
	min     float32  // clamp bounds when flagClamp is set
	max     float32
	lda     int // bytes between rows of A read in place (direct kernels)
	// Only the generic kernel reads these.
	mr, nr int
}

// avx2Masks[16-nr:] holds the lane masks of a row of nr valid columns.
var avx2Masks = [32]int32{
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
}

// kernelImpl describes one micro-kernel family.
type kernelImpl struct {
	name  string
	level isa.Level
	// mr is the height of a packed A micro-panel; nr the width of a full
	// B panel; narrow the width of the narrow edge panel (0: none).
	mr, nr, narrow int
	// kc is the longest k block: a kc x nr panel of B must stay in L1
	// (32 KiB on Zen 3) next to the A micro-panel streaming through it.
	// aBlock is the byte size of a block of A (mc x kc) kept in L2. For the
	// AVX2 6 x 16 tile BLIS uses kc 256, mc 144 on Zen 3; kc 288 splits
	// k = 1152 in four blocks instead of five (1-2% faster on Zen 4) and its
	// 25 KiB of B and A panels still fit Zen 3's L1.
	kc, aBlock int
	// tiles[0] are the narrow kernels, tiles[1] the full-width ones, each
	// indexed by the number of rows (1..mr).
	tiles [2][]func(*tileArgs)
	// direct is like tiles for kernels reading A in place (row-major,
	// lda apart) instead of packed; nil when the family has none.
	direct [2][]func(*tileArgs)
	// colMax is the most trailing columns of a block computed one at a time
	// by col (packed A) or dot[rows] (A in place) instead of a narrow tile,
	// most of whose lanes they would leave idle (0: never). lanes is the
	// vector width in floats (the dot kernels' k step).
	colMax, lanes int
	col           func(*tileArgs)
	dot           []func(*tileArgs)
	// packB, when not nil, packs full panels of a B that is not transposed
	// (see packBRows): kc rows ldb bytes apart from src, panels panels of nr
	// columns, panel p's row kk at dst + p*pstride + kk*nr*4 bytes.
	packB func(dst, src *float32, ldb, kc, panels, pstride int)
	// packBMinRows, when not 0, is the least number of rows of a block for
	// which the driver packs a B that is not transposed whatever its stride
	// (packBWorth). AVX2 on Zen 4, one thread: 160x960x49 +10%, 1280x320x49
	// +8%, 960x160x49 +4% with 96; the AVX-512 tile loses 1-5% on the same
	// shapes, and packs only at the strides that need it.
	packBMinRows int
	// edgeScratch makes the driver run a tile with fewer valid columns than
	// its panel width on a full-width scratch copy of C (NEON: no masked
	// loads and stores), so the kernels handle only full tiles.
	edgeScratch bool
}

// useDirect reports whether Sgemm should read A (not transposed, unscaled)
// in place instead of packing it: whenever the family has direct kernels.
// With B packed where its layout would hurt (packBWorth), reading A in place
// is at least as fast as packing it on every call even when k is split into
// blocks (AVX2 on Zen 4, 256x1152x1024: 103 against 101 GFLOP/s at one
// thread, 177-199 against 148-154 at two, where packing A is a parallel
// step of its own).
func (k *kernelImpl) useDirect() bool {
	return k.direct[1] != nil
}

// width returns the panel width and kernel table index for nr valid columns.
func (k *kernelImpl) width(nr int) (w, idx int) {
	if k.narrow > 0 && nr <= k.narrow {
		return k.narrow, 0
	}
	return k.nr, 1
}

var genericKernel = &kernelImpl{name: "generic", mr: 4, nr: 8, lanes: 8, kc: 384, aBlock: 384 << 10}

func init() {
	t := make([]func(*tileArgs), 5)
	for i := 1; i < len(t); i++ {
		t[i] = tileGeneric
	}
	genericKernel.tiles[1] = t
}

// families lists the kernel families this build has for this CPU, best
// first (the last is the generic one); each carries its isa level.
var families []*kernelImpl

func init() {
	families = append(cpuKernels(), genericKernel)
}

// activeKernel returns the best family at or below the level isa.Active
// selects (the one selection point: DSHRINK_ISA, GODEBUG, purego, Force).
func activeKernel() *kernelImpl {
	l := isa.Active()
	for _, k := range families {
		if k.level <= l {
			return k
		}
	}
	return genericKernel
}

// Kernel returns the name of the micro-kernel in use: "avx512", "avx2",
// "neon" or "generic".
func Kernel() string { return activeKernel().name }

// Kernels returns the names of the micro-kernels this CPU can run, best first.
func Kernels() []string {
	names := make([]string, len(families))
	for i, k := range families {
		names[i] = k.name
	}
	return names
}

// SetKernel forces the kernel level by name ("avx512", "avx2", "neon" or
// "generic"; "" or "auto" picks the best one) through isa.Force, for every kernel
// package, and returns a function restoring the previous choice. It is meant
// for tests and benchmarks and must not be called while multiplications are
// running. A PackedA keeps using the kernel it was packed for.
func SetKernel(name string) (restore func(), err error) {
	l := isa.Available()[0]
	if name != "" && name != "auto" {
		if l, err = isa.Parse(name); err != nil {
			return nil, fmt.Errorf("gemm: %w", err)
		}
	}
	restore, err = isa.Force(l)
	if err != nil {
		return nil, fmt.Errorf("gemm: kernel %q: %w", name, err)
	}
	return restore, nil
}

// tileGeneric is the portable micro-kernel: a 4 x 8 tile.
func tileGeneric(p *tileArgs) {
	const mr, nr = 4, 8
	var acc [mr][nr]float32
	if p.k > 0 {
		a := unsafe.Slice(p.a, p.k*mr)
		bs := p.bstride / 4
		b := unsafe.Slice(p.b, (p.k-1)*bs+nr)
		for k := 0; k < p.k; k++ {
			av := (*[mr]float32)(a[k*mr:])
			bv := (*[nr]float32)(b[k*bs:])
			for i := 0; i < mr; i++ {
				ai := av[i]
				r := &acc[i]
				r[0] += ai * bv[0]
				r[1] += ai * bv[1]
				r[2] += ai * bv[2]
				r[3] += ai * bv[3]
				r[4] += ai * bv[4]
				r[5] += ai * bv[5]
				r[6] += ai * bv[6]
				r[7] += ai * bv[7]
			}
		}
	}
	ldc, ldr := p.ldc/4, p.ldr/4
	c := unsafe.Slice(p.c, (p.mr-1)*ldc+p.nr)
	var bias, res []float32
	if p.flags&flagBias != 0 {
		bias = unsafe.Slice(p.bias, p.mr)
	}
	if p.flags&flagRes != 0 {
		res = unsafe.Slice(p.res, (p.mr-1)*ldr+p.nr)
	}
	for i := 0; i < p.mr; i++ {
		for j := 0; j < p.nr; j++ {
			v := acc[i][j]
			if p.flags&flagLoadC != 0 {
				v += p.beta * c[i*ldc+j]
			}
			if bias != nil {
				v += bias[i]
			}
			if res != nil {
				v += res[i*ldr+j]
			}
			if p.flags&flagClamp != 0 {
				v = max(v, p.min)
				v = min(v, p.max)
			}
			c[i*ldc+j] = v
		}
	}
}
