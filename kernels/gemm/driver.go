package gemm

import (
	"github.com/dshrink/dshrink/kernels/parallel"
)

// Blocking parameters. A micro-panel of B (kc x nr) stays in L1 while the
// micro-kernel sweeps an mc x kc block of packed A held in L2; kc and the
// A block size belong to the kernel family (kernelImpl.kc, aBlock).
const (
	ncMax = 2048 // widest block of packed B
	// colPad is the padding after packed A read by the column kernels.
	colPad = 16
	// shortK is the longest k block for which row panels of A are the outer
	// loop (see block); bBlockB is then the byte size of a B block.
	shortK  = 64
	bBlockB = 256 << 10
	// parMinMACs is the product size (m*n*k) below which a multiplication
	// runs on the calling goroutine only.
	parMinMACs = 1 << 18
	// chunkMinMACs is the least work handed to a thread at a time.
	chunkMinMACs = 1 << 17
	// chunksPerThread is how many chunks each thread gets on average, so a
	// thread slowed down by a busy core claims fewer.
	chunksPerThread = 4
	// shortKChunksPerThread replaces it for column chunks with short k
	// (see mulJob.run).
	shortKChunksPerThread = 2
)

// workspace holds one thread's pack buffers and kernel arguments. It is
// reused across calls: buffers grow when needed and never shrink.
type workspace struct {
	args tileArgs
	b    []float32 // packed block of B
	edge []float32 // packed edge panel when B is read in place
	bt   []float32 // edge columns of B, each contiguous in k (dot kernels)
	col  [16]float32
	// scratch holds a full-width copy of an edge tile's C and residual
	// (kernelImpl.edgeScratch).
	scratch []float32
}

var (
	workspaces parallel.FreeList[workspace]
	packs      parallel.FreeList[PackedA]
	jobs       parallel.FreeList[mulJob]
	packJobs   parallel.FreeList[packJob]
)

func getPacked() *PackedA  { return packs.Get() }
func putPacked(p *PackedA) { packs.Put(p) }

// grow returns s resliced to n elements, reallocating only when too small.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n, n+n/4)
	}
	return s[:n]
}

// pack fills p with alpha*op(A) in the layout of kern, in parallel when large.
func (p *PackedA) pack(kern *kernelImpl, transA bool, m, k int, alpha float32, a []float32, lda int) {
	mr := kern.mr
	panels := (m + mr - 1) / mr
	p.m, p.k, p.kern = m, k, kern
	// The column kernels read whole vectors of a k step, up to a vector
	// past the last step's mr floats.
	p.data = grow(p.data, panels*k*mr+colPad)
	if k == 0 || m == 0 {
		return
	}
	j := packJobs.Get()
	*j = packJob{p: p, transA: transA, alpha: alpha, a: a, lda: lda}
	grain := panels
	if parallel.Threads() > 1 && m*k >= 1<<16 {
		grain = max(1, (1<<14)/(k*mr))
	}
	parallel.Do(j, panels, grain)
	*j = packJob{}
	packJobs.Put(j)
}

// packJob packs a range of A micro-panels.
type packJob struct {
	p      *PackedA
	transA bool
	alpha  float32
	a      []float32
	lda    int
}

// Run packs micro-panels [lo, hi).
func (j *packJob) Run(lo, hi int) {
	p := j.p
	mr, m, k := p.kern.mr, p.m, p.k
	for ip := lo; ip < hi; ip++ {
		i0 := ip * mr
		rows := min(mr, m-i0)
		dst := p.data[ip*k*mr : (ip+1)*k*mr]
		if !j.transA {
			packRows(dst, j.a[i0*j.lda:], j.lda, rows, mr, k, j.alpha)
			continue
		}
		for kk := 0; kk < k; kk++ {
			src := j.a[kk*j.lda+i0 : kk*j.lda+i0+rows]
			d := dst[kk*mr : kk*mr+mr]
			if j.alpha == 1 {
				copy(d, src)
			} else {
				for i, v := range src {
					d[i] = j.alpha * v
				}
			}
			clear(d[rows:])
		}
	}
}

// mulJob is one multiplication C = op(A)*op(B) (+ beta*C, epilogue), split
// into chunks of column panels (splitN) or row panels. A is either packed
// (apack) or, when direct, read in place from a with row stride lda.
type mulJob struct {
	kern   *kernelImpl
	direct bool
	m, k   int
	apack  []float32
	a      []float32
	lda    int
	transB bool
	n      int
	b      []float32
	ldb    int
	beta   float32
	c      []float32
	ldc    int
	ep     Epilogue
	splitN bool
}

// multiplyPacked runs C = op(A)*op(B) (+ beta*C, ep) with op(A) packed.
func multiplyPacked(pa *PackedA, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int, ep *Epilogue) {
	j := jobs.Get()
	*j = mulJob{kern: pa.kern, m: pa.m, k: pa.k, apack: pa.data, transB: transB, n: n, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	if ep != nil {
		j.ep = *ep
	}
	j.run()
	*j = mulJob{}
	jobs.Put(j)
}

// multiplyDirect runs C = A*op(B) + beta*C reading the row-major m x k
// matrix A in place; kern must have direct kernels.
func multiplyDirect(kern *kernelImpl, m, k int, a []float32, lda int, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	j := jobs.Get()
	*j = mulJob{kern: kern, direct: true, m: m, k: k, a: a, lda: lda, transB: transB, n: n, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	j.run()
	*j = mulJob{}
	jobs.Put(j)
}

// run executes the job, in parallel when worth it.
func (j *mulJob) run() {
	kern := j.kern
	m, n, k := j.m, j.n, j.k
	nT := (n + kern.nr - 1) / kern.nr
	mT := (m + kern.mr - 1) / kern.mr
	th := parallel.Threads()
	j.splitN = true
	if th <= 1 || m*n*max(k, 1) < parMinMACs {
		j.Run(0, nT)
		return
	}
	// Split along the dimension with more tiles, for even chunks (N = 49 is
	// four panels: three full and one column, which two threads cannot
	// share evenly). Row chunks each pack their own copy of a transposed B,
	// so with transB only a B too narrow to split goes by rows.
	//
	// With short k (block then sweeps the rows of C one tile-row at a
	// time, see rowsOuter) column chunks can run slower on two threads
	// than on one: the threads write the same rows of C side by side, in
	// lockstep, and (our reading) each core's prefetcher runs into the
	// lines the other is writing. It comes and goes from one process to
	// the next; where it shows (AVX2 on Zen 4, 2 threads, the two splits
	// alternating call by call in one process), 144x24x3136 runs at 40
	// GFLOP/s by columns and 108-124 by rows, 192x32x784 51-57 and 97-100,
	// 96x16x12544 59-61 and 103-106 (one thread: 95, 101, 85). So those
	// go by rows whenever each thread gets two row tiles.
	tiles, tileMACs := nT, m*max(k, 1)*kern.nr
	byRows := mT > nT && (nT < 2*th || !j.transB)
	if k <= shortK && !j.transB && mT >= 2*th {
		byRows = true
	}
	if byRows {
		j.splitN = false
		tiles, tileMACs = mT, kern.mr*max(k, 1)*n
	}
	// Column chunks of a short-k product (too few row tiles to split) are
	// made twice as wide: each writes its rows of C in longer runs, and the
	// threads meet at half as many chunk borders (AVX2 on Zen 4, 2 threads,
	// call by call in one process: 16x32x12544 86-92 GFLOP/s with four
	// chunks per thread, 97-108 with two; 72 and 147-149 in another run).
	cpt := chunksPerThread
	if !byRows && k <= shortK {
		cpt = shortKChunksPerThread
	}
	grain := (tiles + cpt*th - 1) / (cpt * th)
	grain = max(grain, (chunkMinMACs+tileMACs-1)/tileMACs)
	parallel.Do(j, tiles, grain)
}

// Run computes the C block of panels [lo, hi) along the split dimension.
func (j *mulJob) Run(lo, hi int) {
	ws := workspaces.Get()
	kern := j.kern
	if j.splitN {
		j.block(ws, 0, j.m, lo*kern.nr, min(hi*kern.nr, j.n))
	} else {
		j.block(ws, lo*kern.mr, min(hi*kern.mr, j.m), 0, j.n)
	}
	workspaces.Put(ws)
}

// blockState is the loop-invariant part of one (jc, pc) block.
type blockState struct {
	table  *[2][]func(*tileArgs)
	pc, kc int
	jc     int // first column of the block
	// bInPlace: B is read where it is (not transposed), except columns
	// from edgeAt on, which come from the packed edge panel; otherwise B is
	// packed into workspace.b.
	bInPlace bool
	edgeAt   int
	cols     int // trailing columns of the block left to colTile
	kc8      int // floats between the columns of workspace.bt
	flags    int
	beta     float32
}

// block computes C[m0:m1, n0:n1]; m0 and n0 are multiples of the tile size.
//
// Blocks of kc x nc of B are combined with blocks of mc x kc of A. Usually
// (as in BLIS) the column panels of B are the outer loop, so a kc x nr panel
// of B stays in L1 while the packed A block streams from L2. For short k the
// row panels of A go outside instead: the tiny A micro-panel stays in L1, B
// streams from L2, and each C row is written as one long sequential run, which
// matters when writing C dominates.
func (j *mulJob) block(ws *workspace, m0, m1, n0, n1 int) {
	kern := j.kern
	mr, nr := kern.mr, kern.nr
	k := j.k
	st := blockState{table: &kern.tiles}
	if j.direct {
		st.table = &kern.direct
	}
	kcStep := k
	if k > kern.kc {
		nb := (k + kern.kc - 1) / kern.kc
		kcStep = (k + nb - 1) / nb
	}
	mcStep := max(mr, kern.aBlock/(4*max(kcStep, 1))/mr*mr)
	rowsOuter := kcStep <= shortK && m1-m0 > mr
	inPlace := !j.transB && !packBWorth(kern, rowsOuter, m1-m0, j.ldb)
	st.bInPlace = inPlace
	ncStep := ncMax
	switch {
	case rowsOuter:
		ncStep = max(nr, bBlockB/(4*max(kcStep, 1))/nr*nr)
	case inPlace:
		ncStep = n1 - n0
	}
	ep := &j.ep
	for jc := n0; jc < n1; jc += ncStep {
		nc := min(ncStep, n1-jc)
		st.jc = jc
		for pc := 0; pc == 0 || pc < k; pc += kcStep {
			kc := min(kcStep, k-pc)
			st.pc, st.kc = pc, kc
			first, last := pc == 0, pc+kc >= k
			st.flags, st.beta = 0, 1
			if !first {
				st.flags = flagLoadC
			} else {
				if j.beta != 0 {
					st.flags, st.beta = flagLoadC, j.beta
				}
				if ep.Bias != nil {
					st.flags |= flagBias
				}
			}
			if last {
				if ep.Residual != nil {
					st.flags |= flagRes
				}
				if ep.Clamp {
					st.flags |= flagClamp
				}
			}
			// A few trailing columns go to the column kernels.
			st.cols = 0
			if rem := nc % kern.lanes; rem <= kern.colMax {
				st.cols = rem
			}
			ncT := nc - st.cols
			if st.cols > 0 && (j.direct || j.transB) {
				j.packBT(ws, &st, ncT)
			}
			// Lay out B for this block: packed panels, or in place with
			// only a trailing partial panel packed (the kernels load whole
			// vectors of B, which must not run past its rows).
			st.edgeAt = ncT
			if inPlace {
				if rem := ncT % nr; rem != 0 {
					if w, _ := kern.width(rem); w != rem {
						st.edgeAt = ncT - rem
						ws.edge = grow(ws.edge, kc*nr)
						j.packB(ws.edge, pc, kc, jc+st.edgeAt, rem)
					}
				}
			} else {
				ws.b = grow(ws.b, (ncT+nr-1)/nr*kc*nr)
				j.packB(ws.b, pc, kc, jc, ncT)
			}
			for ic := m0; ic < m1; ic += mcStep {
				icEnd := min(ic+mcStep, m1)
				if rowsOuter {
					for ir := ic; ir < icEnd; ir += mr {
						for jr := 0; jr < ncT; jr += nr {
							j.tile(ws, &st, ir, min(mr, icEnd-ir), jr, min(nr, ncT-jr))
						}
						if st.cols > 0 {
							j.colTile(ws, &st, ir, min(mr, icEnd-ir), ncT)
						}
					}
					continue
				}
				for jr := 0; jr < ncT; jr += nr {
					for ir := ic; ir < icEnd; ir += mr {
						j.tile(ws, &st, ir, min(mr, icEnd-ir), jr, min(nr, ncT-jr))
					}
				}
				for ir := ic; st.cols > 0 && ir < icEnd; ir += mr {
					j.colTile(ws, &st, ir, min(mr, icEnd-ir), ncT)
				}
			}
			if k == 0 {
				break
			}
		}
	}
}

// tile computes the rows x cols tile of C at row ir and block column jr.
func (j *mulJob) tile(ws *workspace, st *blockState, ir, rows, jr, cols int) {
	kern := j.kern
	ep := &j.ep
	w, widx := kern.width(cols)
	args := &ws.args
	// Field by field, not a composite literal: the literal is built in a
	// temporary and copied with wide loads over narrow stores, a
	// store-forwarding stall on every tile.
	args.a, args.b, args.c = nil, nil, nil
	args.k, args.bstride, args.ldc, args.flags = st.kc, 0, j.ldc*4, st.flags
	args.mask, args.maskp, args.bias, args.res, args.ldr = 0, nil, nil, nil, 0
	args.beta, args.min, args.max = st.beta, ep.Min, ep.Max
	args.lda, args.mr, args.nr = j.lda*4, rows, cols
	pc, kc, col := st.pc, st.kc, st.jc+jr
	switch {
	case kc == 0:
	case st.bInPlace && jr < st.edgeAt:
		args.b = &j.b[pc*j.ldb+col]
		args.bstride = j.ldb * 4
	case st.bInPlace:
		args.b = &ws.edge[0]
		args.bstride = w * 4
	default:
		args.b = &ws.b[jr/kern.nr*kc*kern.nr]
		args.bstride = w * 4
	}
	if cols < w {
		args.flags |= flagPartial
		args.mask = 1<<cols - 1
		if cols <= 16 {
			args.maskp = &avx2Masks[16-cols]
		}
	}
	switch {
	case kc == 0:
	case j.direct:
		args.a = &j.a[ir*j.lda+pc]
	default:
		args.a = &j.apack[ir/kern.mr*j.k*kern.mr+pc*kern.mr]
	}
	args.c = &j.c[ir*j.ldc+col]
	if args.flags&flagBias != 0 {
		args.bias = &ep.Bias[ir]
	}
	if args.flags&flagRes != 0 {
		args.res = &ep.Residual[ir*ep.LdRes+col]
		args.ldr = ep.LdRes * 4
	}
	if cols < w && kern.edgeScratch {
		j.scratchTile(ws, st.table[widx][rows], ir, rows, col, cols, w)
		return
	}
	st.table[widx][rows](args)
}

// scratchTile runs kernel on a tile of rows x cols at row ir and column col
// of C, cols < w (its panel width), for families without masked loads and
// stores (NEON): on a full-width scratch copy of the tile of C (and of the
// residual), copying the valid columns back, so the kernel never reads or
// writes past the tile's columns. ws.args is set up for the tile in place.
func (j *mulJob) scratchTile(ws *workspace, kernel func(*tileArgs), ir, rows, col, cols, w int) {
	args := &ws.args
	ep := &j.ep
	n := rows * w
	ws.scratch = grow(ws.scratch, 2*n)
	ct, rt := ws.scratch[:n], ws.scratch[n:]
	if args.flags&flagLoadC != 0 {
		for i := 0; i < rows; i++ {
			copy(ct[i*w:i*w+cols], j.c[(ir+i)*j.ldc+col:])
		}
	}
	if args.flags&flagRes != 0 {
		for i := 0; i < rows; i++ {
			copy(rt[i*w:i*w+cols], ep.Residual[(ir+i)*ep.LdRes+col:])
		}
		args.res, args.ldr = &rt[0], w*4
	}
	args.c, args.ldc = &ct[0], w*4
	args.flags &^= flagPartial
	kernel(args)
	for i := 0; i < rows; i++ {
		copy(j.c[(ir+i)*j.ldc+col:(ir+i)*j.ldc+col+cols], ct[i*w:])
	}
}

// packBT packs the st.cols columns of op(B) from block column jr on, rows
// st.pc to st.pc+st.kc, into workspace.bt for the column kernels: each
// column contiguous and zero-padded to a whole vector.
func (j *mulJob) packBT(ws *workspace, st *blockState, jr int) {
	lanes := j.kern.lanes
	st.kc8 = (st.kc + lanes - 1) / lanes * lanes
	ws.bt = grow(ws.bt, st.cols*st.kc8)
	for c := 0; c < st.cols; c++ {
		d := ws.bt[c*st.kc8 : (c+1)*st.kc8]
		col := st.jc + jr + c
		if j.transB {
			copy(d, j.b[col*j.ldb+st.pc:col*j.ldb+st.pc+st.kc])
		} else {
			for kk := 0; kk < st.kc; kk++ {
				d[kk] = j.b[(st.pc+kk)*j.ldb+col]
			}
		}
		clear(d[st.kc:])
	}
}

// colTile computes the st.cols trailing columns of the block, from block
// column jr on, for the rows at ir, one column at a time with the column
// kernels, and applies the block's epilogue in Go.
func (j *mulJob) colTile(ws *workspace, st *blockState, ir, rows, jr int) {
	kern := j.kern
	ep := &j.ep
	args := &ws.args
	args.k, args.c = st.kc, &ws.col[0]
	if r := st.kc % kern.lanes; r != 0 {
		args.mask = 1<<r - 1
		args.maskp = &avx2Masks[16-r]
	}
	for c := 0; c < st.cols; c++ {
		col := st.jc + jr + c
		switch {
		case st.kc == 0:
			clear(ws.col[:rows])
		case j.direct:
			args.a, args.lda = &j.a[ir*j.lda+st.pc], j.lda*4
			args.b = &ws.bt[c*st.kc8]
			kern.dot[rows](args)
		default:
			args.a = &j.apack[ir/kern.mr*j.k*kern.mr+st.pc*kern.mr]
			if j.transB {
				args.b, args.bstride = &ws.bt[c*st.kc8], 4
			} else {
				args.b, args.bstride = &j.b[st.pc*j.ldb+col], j.ldb*4
			}
			kern.col(args)
		}
		for i := 0; i < rows; i++ {
			v := ws.col[i]
			ci := (ir+i)*j.ldc + col
			if st.flags&flagLoadC != 0 {
				v += st.beta * j.c[ci]
			}
			if st.flags&flagBias != 0 {
				v += ep.Bias[ir+i]
			}
			if st.flags&flagRes != 0 {
				v += ep.Residual[(ir+i)*ep.LdRes+col]
			}
			if st.flags&flagClamp != 0 {
				v = min(max(v, ep.Min), ep.Max)
			}
			j.c[ci] = v
		}
	}
}

// packB packs the kc x cols block of op(B) starting at row pc, column j0 into
// panels of the kernel's width (the last one possibly narrow), each panel
// starting kc*nr floats after the previous one and zero-padded to its width.
func (j *mulJob) packB(dst []float32, pc, kc, j0, cols int) {
	kern := j.kern
	nr := kern.nr
	if !j.transB {
		j.packBRows(dst, pc, kc, j0, cols)
		return
	}
	for jr := 0; jr < cols; jr += nr {
		n := min(nr, cols-jr)
		w, _ := kern.width(n)
		panel := dst[jr/nr*kc*nr:]
		// Transposing gather, in slices of k short enough that the panel
		// rows being written stay in L1.
		for kb := 0; kb < kc; kb += 64 {
			ke := min(kb+64, kc)
			for jj := 0; jj < n; jj++ {
				src := j.b[(j0+jr+jj)*j.ldb+pc+kb : (j0+jr+jj)*j.ldb+pc+ke]
				d := panel[kb*w+jj:]
				for kk, v := range src {
					d[kk*w] = v
				}
			}
		}
		if n < w {
			for kk := 0; kk < kc; kk++ {
				clear(panel[kk*w+n : kk*w+w])
			}
		}
	}
}

// packBRows is packB for B not transposed: row by row of B (each read once,
// sequentially), a row of each panel at a time, the full panels by the
// family's assembly packer where it has one.
func (j *mulJob) packBRows(dst []float32, pc, kc, j0, cols int) {
	kern := j.kern
	nr := kern.nr
	full := cols / nr * nr
	pstride := kc * nr
	if kern.packB != nil && full > 0 && kc > 0 {
		// The slice expressions check the bounds the assembly relies on.
		d := dst[:(full/nr-1)*pstride+kc*nr]
		src := j.b[pc*j.ldb+j0 : (pc+kc-1)*j.ldb+j0+full]
		kern.packB(&d[0], &src[0], j.ldb*4, kc, full/nr, pstride*4)
	} else {
		j.packBFull(dst, pc, kc, j0, full)
	}
	if n := cols - full; n > 0 {
		w, _ := kern.width(n)
		panel := dst[full/nr*pstride:]
		for kk := 0; kk < kc; kk++ {
			off := (pc+kk)*j.ldb + j0 + full
			row := panel[kk*w : kk*w+w]
			copy(row[:n], j.b[off:off+n])
			clear(row[n:])
		}
	}
}

// packBFull is packBRows's loop over the full panels (full columns) in Go,
// for families without an assembly packer.
func (j *mulJob) packBFull(dst []float32, pc, kc, j0, full int) {
	nr := j.kern.nr
	pstride := kc * nr
	for kk := 0; kk < kc; kk++ {
		off := (pc+kk)*j.ldb + j0
		src := j.b[off : off+full]
		d := kk * nr
		for jr := 0; jr < full; jr += nr {
			copy(dst[d:d+nr], src[jr:])
			d += pstride
		}
	}
}

// packBWorth reports whether a block of rows rows should pack a B that is not
// transposed (ldb floats between its rows) instead of reading it in place.
// Packing copies each element of B once per block and lets the micro-kernel
// read a kc x nr panel of B from consecutive lines, which stay in L1 while
// the block's row tiles sweep it. Read in place, the panel's rows are ldb*4
// bytes apart: when that is a multiple of 2 KiB (n = 512, 1024, ...) they
// fall into a few cache sets and are evicted before the next tile reads
// them (256x1152x1024 reaches 0.84x OpenBLAS read in place, 1.1x packed, on
// Zen 4 with the AVX2 tile). At other strides it pays for blocks of at
// least kernelImpl.packBMinRows rows, where the family sets one. With short k
// (rowsOuter) the A micro-panel is what stays in L1 and B streams from L2
// either way.
func packBWorth(kern *kernelImpl, rowsOuter bool, rows, ldb int) bool {
	if rowsOuter || rows <= 2*kern.mr {
		return false
	}
	return ldb*4%2048 == 0 || (kern.packBMinRows > 0 && rows >= kern.packBMinRows)
}

// packRows packs rows (<= mr) rows of length k, lda apart in a, into one
// micro-panel dst (k*mr floats), scaled by alpha and zero-padded to mr rows.
func packRows(dst, a []float32, lda, rows, mr, k int, alpha float32) {
	var src [16][]float32
	for i := 0; i < rows; i++ {
		src[i] = a[i*lda : i*lda+k]
	}
	switch {
	case mr == 12 && rows == 12:
		s0, s1, s2, s3, s4, s5 := src[0], src[1], src[2], src[3], src[4], src[5]
		s6, s7, s8, s9, s10, s11 := src[6], src[7], src[8], src[9], src[10], src[11]
		for kk := 0; kk < k; kk++ {
			d := (*[12]float32)(dst[kk*12:])
			d[0], d[1], d[2], d[3] = alpha*s0[kk], alpha*s1[kk], alpha*s2[kk], alpha*s3[kk]
			d[4], d[5], d[6], d[7] = alpha*s4[kk], alpha*s5[kk], alpha*s6[kk], alpha*s7[kk]
			d[8], d[9], d[10], d[11] = alpha*s8[kk], alpha*s9[kk], alpha*s10[kk], alpha*s11[kk]
		}
	case mr == 6 && rows == 6:
		s0, s1, s2, s3, s4, s5 := src[0], src[1], src[2], src[3], src[4], src[5]
		for kk := 0; kk < k; kk++ {
			d := (*[6]float32)(dst[kk*6:])
			d[0], d[1], d[2] = alpha*s0[kk], alpha*s1[kk], alpha*s2[kk]
			d[3], d[4], d[5] = alpha*s3[kk], alpha*s4[kk], alpha*s5[kk]
		}
	default:
		for kk := 0; kk < k; kk++ {
			d := dst[kk*mr : kk*mr+mr]
			for i := 0; i < rows; i++ {
				d[i] = alpha * src[i][kk]
			}
			clear(d[rows:])
		}
	}
}
