package runtime

import (
	"fmt"
	"unsafe"

	"github.com/dshrink/dshrink/kernels/nchwc"
	"github.com/dshrink/dshrink/kernels/parallel"
)

// Winograd F(2x2, 3x3) for dense 3x3 stride-1 convolutions.
//
// The output is cut into 2x2 tiles (T = ceil(OH/2) * ceil(OW/2) per image);
// tile (ty, tx) reads the 4x4 input patch whose top-left pixel is (2ty-padT,
// 2tx-padL), straight from the zero-haloed NCHWc16 input (the compiler gives
// the input a halo deep enough for the last tile). With the transforms
//
//	B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//	G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//	A^T = [1 1 1 0; 0 1 -1 -1]
//
// the output tile is A^T [sum over input channels of U ⊙ V] A with U = G g
// G^T (weights, transformed at compile time in float64) and V = B^T d B. For
// each of the 16 positions pos of the 4x4 transformed tile, the channel sum is
// a 1x1 convolution of V[pos] (an NCHWc16 tensor of T pixels) with U[pos]:
// the product kernels (winoGemm, the dense micro-kernel's inner loop for a
// 1x1 kernel without epilogue, prefetching the weights) compute it.
//
// Tiles are processed in chunks of nt so that the transformed input V of a
// chunk ([16][cinBlocks][nt][16]) stays in L2; for each output channel block
// the 16 products M ([16][nt][16]) stay in L1 and are turned into output
// pixels at once, with the epilogue of the direct kernels (bias, residual,
// border bias map, clamp). Tiles that stick out of an odd-sized output write
// into its halo, which the step clears afterwards; the compiler gives such
// outputs (and their residuals) a halo and pads the bias map to whole tiles.

// WinogradMode selects when Compile runs dense 3x3 stride-1 convolutions
// with the Winograd F(2x2, 3x3) algorithm.
type WinogradMode int

const (
	// WinogradAuto uses Winograd where it is expected to be faster than the
	// direct convolution (see winoAuto).
	WinogradAuto WinogradMode = iota
	// WinogradOn uses Winograd for every eligible convolution.
	WinogradOn
	// WinogradOff never uses Winograd.
	WinogradOff
)

// winoMaxR is the number of tiles of one product call; winoPos the number of
// positions of a transformed 4x4 tile (the products per 2x2 output tile).
const (
	winoMaxR = nchwc.WinoMaxR
	winoPos  = 16
)

// KernelISA names the instruction set of the inference kernels in use
// ("avx512", "avx2" or "go"), as kernels/nchwc chooses it.
func KernelISA() string { return nchwc.ISA() }

// winoEligible reports whether o (a dense conv from in) can run with
// Winograd F(2x2, 3x3).
func winoEligible(o *op, in *value) bool {
	a := o.a
	if o.kind != opConv || o.dw || o.linear || in.flat || a.KH != 3 || a.KW != 3 || a.StrideH != 1 || a.StrideW != 1 || a.Groups != 1 {
		return false
	}
	if o.groups > 1 {
		// A grouped conv runs direct on its groups' input blocks unless
		// they are most of them: Winograd on the dense expansion is then
		// faster (BenchmarkGroupedConv, AVX-512, 1 thread: 48 channels in 2
		// groups of 24 read 7 of 9 block pairs, 0.25 ms direct, 0.17 ms
		// Winograd; 56 in 7 groups of 8: 0.15 ms direct, 0.25 Winograd).
		read := 0
		for kb := 0; kb < (a.OutC+blk-1)/blk; kb++ {
			lo, hi := blockRange(o, in, kb)
			read += hi - lo
		}
		if 2*read <= (a.OutC+blk-1)/blk*in.cb() {
			return false
		}
	}
	_, _, post, err := actRange(o.act)
	return !post && err == nil
}

// winoAuto reports whether Winograd is expected to beat the direct
// convolution for a conv of cin -> cout channels with an oh x ow output:
// from BenchmarkWinogradLayers (1 thread, AVX-512), it does when there are
// at least 8 input channels (4 -> 16 at 56x56: 0.8x; 8 -> 8: 1.2x; 16 -> 4,
// 16 -> 8: 1.6x; 32 -> 16 at 112x112 and 160 -> 320 at 7x7: 1.6x; 64 -> 64
// at 14x14: 2.1x) and the tiles do fewer multiplications than the direct
// convolution (a 1x1 output: 0.7x; 2x2: 1.4x; 3x3: 1.7x).
func winoAuto(cin, cout, oh, ow int) bool {
	th, tw := winoTiles(oh, ow)
	return cin >= 8 && winoPos*th*tw < 9*oh*ow
}

// winoTiles returns the tile grid of an oh x ow output.
func winoTiles(oh, ow int) (th, tw int) { return (oh + 1) / 2, (ow + 1) / 2 }

// winoHalo returns the halo the input of a Winograd conv needs: the last
// tile reads up to row 2*th+1-padT (the input has h rows).
func winoHalo(o *op, in, out *value) int {
	th, tw := winoTiles(out.h, out.w)
	p := o.a.Pads
	return max(p[0], p[1], 2*th+2-p[0]-in.h, 2*tw+2-p[1]-in.w)
}

// winoStep is a fused dense 3x3 stride-1 convolution by Winograd F(2x2, 3x3).
type winoStep struct {
	p            *Program
	in, out, res *value
	u            []float32 // [kbOut][16][wPerKB] (read in order), the dense 1x1 weight format
	bias         []float32 // [kbOut*16]
	bmap         []float32 // [kbOut][2th][2tw][16] or nil
	cinB         int
	cntLast      int
	kbOut        int
	wPerKB       int
	th, tw, T    int
	padT, padL   int
	nt, nChunks  int // tiles per chunk, chunks
	groups       int // output block groups per chunk in thread-parallel runs
	vPos, mPos   int // floats between the planes of V and of M
	lo, hi       float32
	// per-call state
	curSlot, curGroups int
}

// winoChunkBytes is the budget for the transformed input of one chunk (a
// variable for tests): small, so that it stays in L2 with the weights, but
// for large weights as few chunks as fit in L2, since every chunk reads all
// the weights (for 7x7 images, once per image).
var winoChunkBytes = func(weightBytes int) int { return min(max(48<<10, weightBytes/2), 512<<10) }

func newWinoStep(p *Program, o *op, in, out, res *value, threads int) (*winoStep, error) {
	a := o.a
	if in.cbs != blk || out.cbs != blk || (res != nil && res.cbs != blk) {
		return nil, fmt.Errorf("internal: winograd with blocks of %d", in.cbs)
	}
	if h := winoHalo(o, in, out); h > in.pad {
		return nil, fmt.Errorf("internal: winograd input halo %d, needs %d", in.pad, h)
	}
	s := &winoStep{p: p, in: in, out: out, res: res, padT: a.Pads[0], padL: a.Pads[1]}
	s.th, s.tw = winoTiles(out.h, out.w)
	s.T = s.th * s.tw
	if (out.h%2 != 0 || out.w%2 != 0) && (out.pad < 1 || (res != nil && res.pad < 1)) {
		return nil, fmt.Errorf("internal: odd winograd output without a halo")
	}
	lo, hi, _, err := actRange(o.act)
	if err != nil {
		return nil, err
	}
	s.lo, s.hi = lo, hi
	s.cinB = in.cb()
	s.cntLast = in.c - (s.cinB-1)*blk
	s.kbOut = out.cb()
	kb := s.kbOut
	s.bias = make([]float32, kb*blk)
	for i, b := range o.bias {
		s.bias[i] = float32(b)
	}
	// Weights: U = G g G^T per (oc, ic), in float64.
	s.wPerKB = ((s.cinB-1)*blk + s.cntLast) * blk
	s.u = make([]float32, winoPos*kb*s.wPerKB)
	G := [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	for oc := 0; oc < a.OutC; oc++ {
		for ic := 0; ic < a.InC; ic++ {
			g := o.weight[(oc*a.InC+ic)*9:][:9]
			var tmp [4][3]float64 // G g
			for i := 0; i < 4; i++ {
				for l := 0; l < 3; l++ {
					for k := 0; k < 3; k++ {
						tmp[i][l] += G[i][k] * g[k*3+l]
					}
				}
			}
			for i := 0; i < 4; i++ {
				for j := 0; j < 4; j++ {
					var u float64
					for l := 0; l < 3; l++ {
						u += tmp[i][l] * G[j][l]
					}
					pos := 4*i + j
					idx := ((oc/blk)*winoPos+pos)*s.wPerKB + ic*blk + oc%blk
					s.u[idx] = float32(u)
				}
			}
		}
	}
	if o.bmap != nil {
		hw := out.h * out.w
		bh, bw := 2*s.th, 2*s.tw
		s.bmap = make([]float32, kb*bh*bw*blk)
		for ch := 0; ch < a.OutC; ch++ {
			for y := 0; y < out.h; y++ {
				for x := 0; x < out.w; x++ {
					s.bmap[(((ch/blk)*bh+y)*bw+x)*blk+ch%blk] = float32(o.bmap[ch*hw+y*out.w+x])
				}
			}
		}
	}
	// Chunks: V of a chunk within the budget, chunks of equal size.
	ntMax := max(winoMaxR, winoChunkBytes(4*len(s.u))/(4*winoPos*blk*s.cinB))
	s.nChunks = (s.T + ntMax - 1) / ntMax
	s.nt = (s.T + s.nChunks - 1) / s.nChunks
	s.vPos = s.cinB*s.nt*blk + blk
	s.mPos = s.nt*blk + blk
	// A thread-parallel run of one image wants at least 2 items per thread:
	// split the output blocks of each chunk into groups (each group
	// transforms the chunk's input again, which is cheap).
	s.groups = 1
	if s.nChunks < 2*threads {
		s.groups = min(kb, (2*threads+s.nChunks-1)/s.nChunks)
	}
	return s, nil
}

// scratchFloats returns the per-thread scratch the step needs.
func (s *winoStep) scratchFloats() int { return winoPos*s.vPos + winoPos*s.mPos }

func (s *winoStep) exec(int) {}

func (s *winoStep) execImg(slot, _ int, par bool) {
	if th := parallel.Threads(); par && th > 1 {
		s.curSlot, s.curGroups = slot, s.groups
		n := s.nChunks * s.groups
		parallel.Do(s, n, max(1, n/(4*th)))
	} else {
		s.items(slot, 1, 0, s.nChunks)
	}
	s.p.zeroHalo(s.out, slot)
}

// Run computes items [lo, hi) of the image in flight.
func (s *winoStep) Run(lo, hi int) { s.items(s.curSlot, s.curGroups, lo, hi) }

// items computes work items [lo, hi) (item = chunk*groups + output block
// group) of storage slot slot.
func (s *winoStep) items(slot, groups, lo, hi int) {
	k := s.p.claimScratch()
	scr := s.p.scratch[k*s.p.scratchPer:][:s.p.scratchPer]
	for it := lo; it < hi; it++ {
		c, g := it/groups, it%groups
		s.chunk(slot, c, g*s.kbOut/groups, (g+1)*s.kbOut/groups, scr)
	}
	s.p.releaseScratch(k)
}

// chunk computes output blocks [k0, k1) of the tiles of chunk c.
func (s *winoStep) chunk(slot, c, k0, k1 int, scr []float32) {
	p, in, out := s.p, s.in, s.out
	t0 := c * s.nt
	t1 := min(t0+s.nt, s.T)
	n := t1 - t0
	v := unsafe.Pointer(&scr[0])
	m := unsafe.Pointer(&scr[winoPos*s.vPos])
	inIS, inCS, inRS := strides(in)
	var wa nchwc.WinoArgs
	wa.SrcRow = 4 * inRS
	wa.Pos = 4 * s.vPos
	for cb := 0; cb < s.cinB; cb++ {
		for t := t0; t < t1; {
			ty, tx := t/s.tw, t%s.tw
			run := min(s.tw-tx, t1-t)
			wa.Src = p.ptr(in.off + slot*inIS + cb*inCS + (2*ty-s.padT+in.pad)*inRS + (2*tx-s.padL+in.pad)*blk)
			wa.Dst = unsafe.Add(v, 4*(cb*s.nt*blk+(t-t0)*blk))
			wa.N = run
			nchwc.WinoIn(&wa)
			t += run
		}
	}
	var ka nchwc.Args
	ka.CB, ka.CBStride = s.cinB, blkBytes*s.nt
	ka.Cnt, ka.CntLast = blk, s.cntLast
	groups := (n + winoMaxR - 1) / winoMaxR
	_, _, outRS := strides(out)
	var resRS int
	if s.res != nil {
		_, _, resRS = strides(s.res)
	}
	wa.Pos = 4 * s.mPos
	wa.DstRow = 4 * outRS
	wa.ResRow = 4 * resRS
	wa.BmapRow = 4 * 2 * s.tw * blk
	wa.Lo, wa.Hi = s.lo, s.hi
	for kb := k0; kb < k1; kb++ {
		for pos := 0; pos < winoPos; pos++ {
			w := unsafe.Pointer(&s.u[(kb*winoPos+pos)*s.wPerKB])
			for g := 0; g < groups; g++ {
				a, b := n*g/groups, n*(g+1)/groups
				ka.In = unsafe.Add(v, 4*(pos*s.vPos+a*blk))
				ka.Out = unsafe.Add(m, 4*(pos*s.mPos+a*blk))
				ka.W = w
				nchwc.WinoGemm(&ka, b-a)
			}
		}
		wa.Bias = unsafe.Pointer(&s.bias[kb*blk])
		for t := t0; t < t1; {
			ty, tx := t/s.tw, t%s.tw
			run := min(s.tw-tx, t1-t)
			wa.Src = unsafe.Add(m, 4*(t-t0)*blk)
			wa.Dst = p.ptr(interior(out, slot, kb, 2*ty, 2*tx))
			wa.Res, wa.Bmap = nil, nil
			if s.res != nil {
				wa.Res = p.ptr(interior(s.res, slot, kb, 2*ty, 2*tx))
			}
			if s.bmap != nil {
				wa.Bmap = unsafe.Pointer(&s.bmap[((kb*2*s.th+2*ty)*2*s.tw+2*tx)*blk])
			}
			wa.N = run
			nchwc.WinoOut(&wa)
			t += run
		}
	}
}
