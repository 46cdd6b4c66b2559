package data

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// synthImages returns n c x h x w images whose pixels encode the image index.
func synthImages(t testing.TB, n, c, h, w, classes int) *Images {
	t.Helper()
	per := c * h * w
	pix := make([]uint8, n*per)
	for i := range pix {
		pix[i] = uint8(i*7 + i/per)
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % classes)
	}
	d, err := NewImages("synthetic", c, h, w, pix, labels, classes, ZeroOne)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// collect runs an epoch from step start and deep-copies every batch.
func collect(t testing.TB, l *Loader, epoch, start int) []*Batch {
	t.Helper()
	it, err := l.Epoch(epoch, start)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Batch
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		out = append(out, b.Clone())
	}
	it.Close()
	return out
}

func sameBatches(t *testing.T, what string, a, b []*Batch) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d batches", what, len(a), len(b))
	}
	for i := range a {
		if a[i].Step != b[i].Step || a[i].Epoch != b[i].Epoch || !slices.Equal(a[i].Labels, b[i].Labels) ||
			!slices.Equal(a[i].Indices, b[i].Indices) || !slices.Equal(a[i].X.Data, b[i].X.Data) ||
			!slices.Equal(a[i].X.Shape, b[i].X.Shape) {
			t.Fatalf("%s: batch %d differs", what, i)
		}
	}
}

func TestLoaderCoversEpoch(t *testing.T) {
	d := synthImages(t, 103, 3, 5, 4, 7)
	for _, dropLast := range []bool{false, true} {
		for _, shuffle := range []bool{false, true} {
			l, err := NewLoader(d, LoaderConfig{BatchSize: 10, Shuffle: shuffle, DropLast: dropLast, Seed: 1, Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			wantSteps := 11
			if dropLast {
				wantSteps = 10
			}
			if l.StepsPerEpoch() != wantSteps {
				t.Fatalf("steps %d, want %d", l.StepsPerEpoch(), wantSteps)
			}
			bs := collect(t, l, 0, 0)
			if len(bs) != wantSteps {
				t.Fatalf("got %d batches", len(bs))
			}
			seen := map[int]bool{}
			x := make([]float32, 60)
			for s, b := range bs {
				if b.Step != s {
					t.Errorf("batch %d has Step %d", s, b.Step)
				}
				wantN := 10
				if s == 10 {
					wantN = 3
				}
				if b.Len() != wantN || b.X.Shape[0] != wantN || len(b.X.Data) != wantN*60 {
					t.Fatalf("batch %d: %d samples, shape %v", s, b.Len(), b.X.Shape)
				}
				for k, idx := range b.Indices {
					seen[idx] = true
					if lab := d.Get(idx, x); lab != b.Labels[k] || !slices.Equal(x, b.X.Data[k*60:(k+1)*60]) {
						t.Fatalf("batch %d sample %d does not match dataset index %d", s, k, idx)
					}
				}
			}
			if len(seen) != wantSteps*10-max(0, wantSteps*10-103) {
				t.Errorf("drop=%v shuffle=%v: %d distinct samples", dropLast, shuffle, len(seen))
			}
			if !shuffle && (bs[0].Indices[0] != 0 || bs[1].Indices[3] != 13) {
				t.Errorf("unshuffled order wrong: %v", bs[0].Indices)
			}
		}
	}
}

func TestLoaderDeterminism(t *testing.T) {
	d := synthImages(t, 257, 1, 8, 8, 10)
	aug := []Transform{RandomCrop{Pad: 2, Fill: ZeroOne.Black(1)}, RandomHFlip{}, RandomErasing{P: 0.5}}
	mk := func(workers, prefetch int, seed uint64) *Loader {
		l, err := NewLoader(d, LoaderConfig{BatchSize: 16, Shuffle: true, Seed: seed, Transforms: aug, Workers: workers, Prefetch: prefetch})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ref := collect(t, mk(1, 1, 42), 3, 0)
	sameBatches(t, "same seed", ref, collect(t, mk(1, 1, 42), 3, 0))
	for _, wp := range [][2]int{{2, 2}, {4, 8}, {8, 3}, {3, 1}} {
		sameBatches(t, "workers", ref, collect(t, mk(wp[0], wp[1], 42), 3, 0))
	}
	// Resume at step k gives the tail of the full epoch.
	l := mk(4, 4, 42)
	for _, k := range []int{1, 5, 16, 17} {
		sameBatches(t, "resume", ref[k:], collect(t, l, 3, k))
	}
	// The same loader reused for the same epoch gives the same batches (rings are recycled).
	sameBatches(t, "reuse", ref, collect(t, l, 3, 0))
	// Load (synchronous) agrees.
	b := l.NewBatch()
	if err := l.Load(b, l.Order(nil, 3), 3, 7); err != nil {
		t.Fatal(err)
	}
	sameBatches(t, "Load", ref[7:8], []*Batch{b})
	// Another epoch or another seed gives another order; augmentation is active.
	if other := collect(t, l, 4, 0); slices.Equal(other[0].Indices, ref[0].Indices) {
		t.Error("epochs 3 and 4 start with the same indices")
	}
	if other := collect(t, mk(2, 2, 43), 3, 0); slices.Equal(other[0].Indices, ref[0].Indices) {
		t.Error("seeds 42 and 43 give the same order")
	}
	plain, _ := NewLoader(d, LoaderConfig{BatchSize: 16, Shuffle: true, Seed: 42})
	p := collect(t, plain, 3, 0)
	if !slices.Equal(p[0].Indices, ref[0].Indices) {
		t.Error("augmentation changed the order")
	}
	if slices.Equal(p[0].X.Data, ref[0].X.Data) {
		t.Error("augmentation changed nothing")
	}
	// Order matches EpochOrder.
	if !slices.Equal(l.Order(nil, 3)[:16], ref[0].Indices) || !slices.Equal(EpochOrder(nil, 257, 42, 3)[:16], ref[0].Indices) {
		t.Error("Order disagrees with the batches")
	}
}

func TestLoaderEarlyCloseAndErrors(t *testing.T) {
	d := synthImages(t, 50, 1, 4, 4, 3)
	l, err := NewLoader(d, LoaderConfig{BatchSize: 4, Shuffle: true, Workers: 2, Prefetch: 3})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		it, _ := l.Epoch(0, 0)
		it.Next()
		it.Next()
		it.Close()
		it.Close()
		if _, ok := it.Next(); ok {
			t.Fatal("Next after Close returned a batch")
		}
	}
	it, _ := l.Epoch(0, l.StepsPerEpoch())
	if _, ok := it.Next(); ok {
		t.Error("iterator started at the end returned a batch")
	}
	if _, err := l.Epoch(0, l.StepsPerEpoch()+1); err == nil {
		t.Error("start step past the end accepted")
	}
	if _, err := l.Epoch(-1, 0); err == nil {
		t.Error("negative epoch accepted")
	}
	if _, err := NewLoader(d, LoaderConfig{}); err == nil {
		t.Error("zero batch size accepted")
	}
	if _, err := NewLoader(d, LoaderConfig{BatchSize: 51, DropLast: true}); err == nil {
		t.Error("no full batch with DropLast accepted")
	}
}

func TestLoaderSteadyStateAllocs(t *testing.T) {
	d := synthImages(t, 4096, 1, 28, 28, 10)
	l, err := NewLoader(d, LoaderConfig{BatchSize: 32, Shuffle: true, Seed: 9, Workers: 2, Prefetch: 2,
		Transforms: []Transform{RandomCrop{Pad: 2}, RandomHFlip{}, RandomErasing{P: 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	it, _ := l.Epoch(0, 0)
	defer it.Close()
	for range 4 { // warm up
		it.Next()
	}
	allocs := testing.AllocsPerRun(50, func() {
		if _, ok := it.Next(); !ok {
			t.Fatal("epoch ended")
		}
	})
	if allocs != 0 {
		t.Errorf("steady-state Next allocates %v times per batch", allocs)
	}
}

func TestSplit(t *testing.T) {
	d := synthImages(t, 100, 1, 2, 2, 5)
	tr, va, err := Split(d, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 80 || va.Len() != 20 {
		t.Fatalf("split sizes %d/%d", tr.Len(), va.Len())
	}
	all := append(slices.Clone(tr.Indices()), va.Indices()...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatal("split is not a partition")
		}
	}
	if !slices.IsSorted(tr.Indices()) || !slices.IsSorted(va.Indices()) {
		t.Error("split indices not sorted")
	}
	tr2, va2, _ := Split(d, 20, 7)
	if !slices.Equal(tr.Indices(), tr2.Indices()) || !slices.Equal(va.Indices(), va2.Indices()) {
		t.Error("split not deterministic")
	}
	_, va3, _ := Split(d, 20, 8)
	if slices.Equal(va.Indices(), va3.Indices()) {
		t.Error("different seeds give the same split")
	}
	x, y := make([]float32, 4), make([]float32, 4)
	if va.Get(3, x) != d.Get(va.Indices()[3], y) || !slices.Equal(x, y) {
		t.Error("subset Get disagrees with the parent")
	}
	if _, _, err := Split(d, 101, 1); err == nil {
		t.Error("oversized split accepted")
	}
	if _, err := NewSubset(d, []int{0, 100}); err == nil {
		t.Error("out-of-range subset accepted")
	}
	// A loader over a subset works.
	l, err := NewLoader(va, LoaderConfig{BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	bs := collect(t, l, 0, 0)
	if len(bs) != 3 || bs[0].Indices[1] != 1 {
		t.Errorf("subset loader: %d batches", len(bs))
	}
}

func TestTransforms(t *testing.T) {
	const c, h, w = 2, 5, 6
	src := make([]float32, c*h*w)
	for i := range src {
		src[i] = float32(i + 1)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		x := slices.Clone(src)
		// Recover the drawn shift by replaying the generator.
		pad, seed := 2, rng.Uint64()
		r2 := rand.New(rand.NewPCG(seed, 5))
		r3 := rand.New(rand.NewPCG(seed, 5))
		RandomCrop{Pad: pad, Fill: []float32{-1, -2}}.Apply(r2, x, c, h, w)
		dy := r3.IntN(2*pad+1) - pad
		dx := r3.IntN(2*pad+1) - pad
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					sy, sx := y+dy, xx+dx
					want := float32(-1 - ch)
					if sy >= 0 && sy < h && sx >= 0 && sx < w {
						want = src[(ch*h+sy)*w+sx]
					}
					if got := x[(ch*h+y)*w+xx]; got != want {
						t.Fatalf("crop dy=%d dx=%d: [%d,%d,%d] = %v, want %v", dy, dx, ch, y, xx, got, want)
					}
				}
			}
		}
	}
	// Flip with P=1 mirrors each row; twice is the identity.
	x := slices.Clone(src)
	RandomHFlip{P: 1}.Apply(rng, x, c, h, w)
	if x[0] != src[w-1] || x[w] != src[2*w-1] {
		t.Errorf("flip: %v", x[:w])
	}
	RandomHFlip{P: 1}.Apply(rng, x, c, h, w)
	if !slices.Equal(x, src) {
		t.Error("double flip is not the identity")
	}
	// Default flip probability is about 0.5.
	flips := 0
	for range 1000 {
		x := slices.Clone(src)
		RandomHFlip{}.Apply(rng, x, c, h, w)
		if x[0] != src[0] {
			flips++
		}
	}
	if flips < 400 || flips > 600 {
		t.Errorf("%d flips in 1000", flips)
	}
	// Erasing with P=1 sets a rectangle in every channel.
	x = slices.Clone(src)
	RandomErasing{P: 1, Value: 0}.Apply(rng, x, c, h, w)
	zeros := 0
	for _, v := range x {
		if v == 0 {
			zeros++
		}
	}
	if zeros == 0 || zeros%c != 0 {
		t.Errorf("erasing zeroed %d values", zeros)
	}
}
