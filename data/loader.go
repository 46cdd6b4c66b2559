package data

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dshrink/dshrink/internal/memlimit"
	"github.com/dshrink/dshrink/tensor"
)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	// BatchSize is the number of samples per batch (required, > 0).
	BatchSize int
	// Shuffle visits the samples of each epoch in a seeded random order that depends only
	// on (Seed, epoch); without it every epoch visits 0, 1, ..., Len()-1.
	Shuffle bool
	// DropLast drops the last batch of an epoch when it is smaller than BatchSize.
	DropLast bool
	// Seed drives shuffling and augmentation.
	Seed uint64
	// Transforms are applied in order to every sample after Get (augmentation); each
	// sample's generator is seeded from (Seed, epoch, dataset index), so the result does
	// not depend on the number of workers or on the batch a sample falls in.
	Transforms []Transform
	// Workers is the number of goroutines preparing batches (default min(4, GOMAXPROCS)).
	// Each worker fills whole batches.
	Workers int
	// Prefetch is how many batches are prepared ahead of the one the caller holds
	// (default max(2, Workers)). Workers beyond Prefetch would sit idle and are not started.
	Prefetch int
}

// Batch is one batch of samples. X has shape [N, C, H, W] (N = Len(), the last batch of an
// epoch may be short) and Labels and Indices have N entries.
//
// Ownership: a Batch returned by Iterator.Next belongs to the Loader. It stays valid until
// the next call to Next or Close on the same Iterator; after that its buffers are reused for
// a later batch. Call Clone to keep one longer.
type Batch struct {
	// X holds the images, NCHW.
	X *tensor.Tensor
	// Labels holds the class of each image.
	Labels []int
	// Indices holds the dataset index of each image.
	Indices []int
	// Epoch and Step locate the batch: it is batch Step (from 0) of epoch Epoch.
	Epoch, Step int

	data    []float32
	labels  []int
	indices []int
	ready   chan struct{}
}

// Len returns the number of samples in the batch.
func (b *Batch) Len() int { return len(b.Labels) }

// Clone returns a deep copy of b that the caller owns.
func (b *Batch) Clone() *Batch {
	return &Batch{
		X:       b.X.Clone(),
		Labels:  slices.Clone(b.Labels),
		Indices: slices.Clone(b.Indices),
		Epoch:   b.Epoch,
		Step:    b.Step,
	}
}

// Loader serves a Dataset as batches, prepared ahead by worker goroutines into a small ring
// of reusable buffers, so that the steady state allocates nothing. Output is a pure function
// of (data set, configuration, epoch): the same seed gives the same batches whatever the
// number of workers or prefetch depth, and Epoch(e, k) yields exactly batches k, k+1, ...
// of a full epoch e (for resuming). A Loader is safe for concurrent use; each Iterator is
// meant for one goroutine.
type Loader struct {
	ds      Dataset
	cfg     LoaderConfig
	c, h, w int
	steps   int

	mu    sync.Mutex
	rings []*ring // rings of finished iterators, reused by later ones
}

// ring is the reusable state of an iterator.
type ring struct {
	bufs  []*Batch
	order []int
}

// NewLoader returns a Loader of ds with configuration cfg (defaults filled in for zero
// Workers and Prefetch).
func NewLoader(ds Dataset, cfg LoaderConfig) (*Loader, error) {
	if ds == nil || ds.Len() == 0 {
		return nil, fmt.Errorf("data: loader: %w: empty data set", ErrEmpty)
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("data: loader: batch size %d, want > 0", cfg.BatchSize)
	}
	if cfg.Workers < 0 || cfg.Prefetch < 0 {
		return nil, fmt.Errorf("data: loader: negative workers (%d) or prefetch (%d)", cfg.Workers, cfg.Prefetch)
	}
	if cfg.Workers == 0 {
		cfg.Workers = min(4, runtime.GOMAXPROCS(0))
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = max(2, cfg.Workers)
	}
	cfg.Transforms = slices.Clone(cfg.Transforms)
	c, h, w := ds.Shape()
	// Up to two rings of Prefetch+1 batch buffers of float32 pixels.
	if err := memlimit.Check(fmt.Sprintf("data: loader (batch size %d, %d workers, prefetch %d, %dx%dx%d images)", cfg.BatchSize, cfg.Workers, cfg.Prefetch, c, h, w),
		memlimit.Mul(2, int64(cfg.Prefetch)+1, int64(cfg.BatchSize), int64(c), int64(h), int64(w), 4)); err != nil {
		return nil, err
	}
	n := ds.Len()
	steps := n / cfg.BatchSize
	if !cfg.DropLast && n%cfg.BatchSize != 0 {
		steps++
	}
	if steps == 0 {
		return nil, fmt.Errorf("data: loader: %w: %d samples make no full batch of %d with DropLast", ErrEmpty, n, cfg.BatchSize)
	}
	return &Loader{ds: ds, cfg: cfg, c: c, h: h, w: w, steps: steps}, nil
}

// Dataset returns the data set the loader serves.
func (l *Loader) Dataset() Dataset { return l.ds }

// Config returns the configuration, defaults filled in.
func (l *Loader) Config() LoaderConfig { return l.cfg }

// StepsPerEpoch returns the number of batches in an epoch.
func (l *Loader) StepsPerEpoch() int { return l.steps }

// NewBatch allocates a batch buffer of BatchSize samples.
func (l *Loader) NewBatch() *Batch {
	b := l.cfg.BatchSize
	per := l.c * l.h * l.w
	bt := &Batch{
		data:    make([]float32, b*per),
		labels:  make([]int, b),
		indices: make([]int, b),
		ready:   make(chan struct{}, 1),
	}
	bt.X = &tensor.Tensor{Shape: []int{b, l.c, l.h, l.w}, Data: bt.data}
	bt.Labels, bt.Indices = bt.labels, bt.indices
	return bt
}

// Order returns the dataset indices in the order epoch visits them (identity without
// Shuffle). dst is reused when it has capacity Len().
func (l *Loader) Order(dst []int, epoch int) []int {
	n := l.ds.Len()
	if l.cfg.Shuffle {
		return EpochOrder(dst, n, l.cfg.Seed, epoch)
	}
	if cap(dst) < n {
		dst = make([]int, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = i
	}
	return dst
}

// sampleRNG is the per-worker augmentation generator, reseeded for every sample.
type sampleRNG struct {
	pcg *rand.PCG
	rng *rand.Rand
}

func newSampleRNG() *sampleRNG {
	p := rand.NewPCG(0, 0)
	return &sampleRNG{pcg: p, rng: rand.New(p)}
}

// fill writes batch step of epoch (with visiting order order) into b.
func (l *Loader) fill(b *Batch, order []int, epoch, step int, r *sampleRNG, cancel *atomic.Bool) {
	bs := l.cfg.BatchSize
	start := step * bs
	end := min(start+bs, len(order))
	m := end - start
	per := l.c * l.h * l.w
	b.X.Shape[0] = m
	b.X.Data = b.data[:m*per]
	b.Labels = b.labels[:m]
	b.Indices = b.indices[:m]
	b.Epoch, b.Step = epoch, step
	for k := 0; k < m; k++ {
		if cancel != nil && cancel.Load() {
			return
		}
		idx := order[start+k]
		x := b.X.Data[k*per : (k+1)*per]
		b.Labels[k] = l.ds.Get(idx, x)
		b.Indices[k] = idx
		if len(l.cfg.Transforms) > 0 {
			r.pcg.Seed(augmentSeeds(l.cfg.Seed, epoch, idx))
			for _, t := range l.cfg.Transforms {
				t.Apply(r.rng, x, l.c, l.h, l.w)
			}
		}
	}
}

// Load fills dst (from NewBatch) with batch step of epoch synchronously, exactly as an
// Iterator would; order must be Order(_, epoch). It is meant for tests and one-off reads.
func (l *Loader) Load(dst *Batch, order []int, epoch, step int) error {
	if step < 0 || step >= l.steps {
		return fmt.Errorf("data: loader: step %d out of range [0, %d)", step, l.steps)
	}
	if len(order) != l.ds.Len() {
		return fmt.Errorf("data: loader: order has %d entries for %d samples", len(order), l.ds.Len())
	}
	if dst == nil || cap(dst.data) < l.cfg.BatchSize*l.c*l.h*l.w || cap(dst.labels) < l.cfg.BatchSize {
		return fmt.Errorf("data: loader: Load needs a batch from NewBatch")
	}
	l.fill(dst, order, epoch, step, newSampleRNG(), nil)
	return nil
}

// Iterator yields the batches of one epoch in order. Use it from one goroutine; call Close
// when stopping before the end (running to the end releases everything by itself).
type Iterator struct {
	l         *Loader
	r         *ring
	epoch     int
	next      int // next step to return
	submitted int // next step to hand to the workers
	jobs      chan job
	wg        sync.WaitGroup
	cancel    atomic.Bool
	done      bool
}

type job struct {
	b    *Batch
	step int
}

// Epoch starts epoch epoch at batch startStep (0 for a full epoch; StepsPerEpoch() gives an
// empty iterator) and returns an iterator over its batches. Workers start preparing the
// first Prefetch batches at once.
func (l *Loader) Epoch(epoch, startStep int) (*Iterator, error) {
	if epoch < 0 {
		return nil, fmt.Errorf("data: loader: negative epoch %d", epoch)
	}
	if startStep < 0 || startStep > l.steps {
		return nil, fmt.Errorf("data: loader: start step %d out of range [0, %d]", startStep, l.steps)
	}
	r := l.getRing()
	r.order = l.Order(r.order, epoch)
	it := &Iterator{l: l, r: r, epoch: epoch, next: startStep, submitted: startStep}
	p := l.cfg.Prefetch
	it.jobs = make(chan job, p+1)
	nw := min(l.cfg.Workers, p)
	it.wg.Add(nw)
	for range nw {
		go it.work()
	}
	for it.submitted < l.steps && it.submitted < startStep+p {
		it.submit()
	}
	return it, nil
}

func (l *Loader) getRing() *ring {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.rings); n > 0 {
		r := l.rings[n-1]
		l.rings = l.rings[:n-1]
		return r
	}
	r := &ring{bufs: make([]*Batch, l.cfg.Prefetch+1)}
	for i := range r.bufs {
		r.bufs[i] = l.NewBatch()
	}
	return r
}

func (l *Loader) putRing(r *ring) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.rings) < 2 {
		l.rings = append(l.rings, r)
	}
}

// buf returns the ring buffer of step s: buffers are used cyclically, so the buffer of
// step s+Prefetch+1 is the one of step s, free again once the caller has moved past s.
func (it *Iterator) buf(s int) *Batch { return it.r.bufs[s%len(it.r.bufs)] }

func (it *Iterator) submit() {
	s := it.submitted
	it.jobs <- job{b: it.buf(s), step: s}
	it.submitted++
}

func (it *Iterator) work() {
	defer it.wg.Done()
	r := newSampleRNG()
	for j := range it.jobs {
		it.l.fill(j.b, it.r.order, it.epoch, j.step, r, &it.cancel)
		j.b.ready <- struct{}{}
	}
}

// Remaining returns the number of batches Next has still to return.
func (it *Iterator) Remaining() int {
	if it.done {
		return 0
	}
	return it.l.steps - it.next
}

// Next returns the next batch, or false at the end of the epoch (or after Close). The batch
// returned by the previous call is released to the loader and must no longer be used.
func (it *Iterator) Next() (*Batch, bool) {
	if it.done {
		return nil, false
	}
	if it.next >= it.l.steps {
		it.finish()
		return nil, false
	}
	// The previous batch's buffer is free again: hand its next use to the workers.
	if it.submitted < it.l.steps {
		it.submit()
	}
	b := it.buf(it.next)
	<-b.ready
	it.next++
	return b, true
}

// Close stops the iterator early and waits for its workers; the last batch returned by Next
// becomes invalid. Close is idempotent and cheap after the end of the epoch.
func (it *Iterator) Close() {
	if it.done {
		return
	}
	it.cancel.Store(true)
	for s := it.next; s < it.submitted; s++ {
		<-it.buf(s).ready
	}
	it.next = it.submitted
	it.finish()
}

// finish stops the workers (no job is in flight) and recycles the ring.
func (it *Iterator) finish() {
	close(it.jobs)
	it.wg.Wait()
	it.done = true
	it.l.putRing(it.r)
	it.r = nil
}
