package parallel

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countTask records how often each index was visited.
type countTask struct {
	hits []atomic.Int32
}

func (c *countTask) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
	}
}

func checkOnce(t *testing.T, c *countTask, what string) {
	t.Helper()
	for i := range c.hits {
		if h := c.hits[i].Load(); h != 1 {
			t.Fatalf("%s: index %d visited %d times", what, i, h)
		}
		c.hits[i].Store(0)
	}
}

func withThreads(t *testing.T, n int) {
	t.Helper()
	old := Threads()
	SetThreads(n)
	t.Cleanup(func() { SetThreads(old) })
}

func TestDoCoversEachIndexOnce(t *testing.T) {
	for _, th := range []int{1, 2, 3, 8} {
		withThreads(t, th)
		for _, n := range []int{0, 1, 2, 7, 64, 1000, 4097} {
			for _, grain := range []int{-1, 0, 1, 3, 64, 5000} {
				c := &countTask{hits: make([]atomic.Int32, n)}
				Do(c, n, grain)
				checkOnce(t, c, "Do")
			}
		}
	}
}

func TestForChunks(t *testing.T) {
	for _, th := range []int{1, 2, 4} {
		withThreads(t, th)
		for _, n := range []int{1, 5, 100, 1001} {
			var mu sync.Mutex
			chunks := 0
			hits := make([]int, n)
			For(n, 2, func(lo, hi int) {
				mu.Lock()
				chunks++
				for i := lo; i < hi; i++ {
					hits[i]++
				}
				mu.Unlock()
			})
			if chunks > th {
				t.Fatalf("threads %d n %d: %d chunks", th, n, chunks)
			}
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("threads %d n %d: index %d visited %d times", th, n, i, h)
				}
			}
		}
	}
	For(0, 1, func(lo, hi int) { t.Fatal("called for n=0") })
}

// nestedTask calls Do from inside its chunks.
type nestedTask struct {
	inner *countTask
	per   int
}

func (nt *nestedTask) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		sub := &offsetTask{c: nt.inner, off: i * nt.per}
		Do(sub, nt.per, 1)
	}
}

type offsetTask struct {
	c   *countTask
	off int
}

func (o *offsetTask) Run(lo, hi int) { o.c.Run(o.off+lo, o.off+hi) }

func TestNestedAndConcurrent(t *testing.T) {
	withThreads(t, 4)
	const outer, per = 16, 50
	inner := &countTask{hits: make([]atomic.Int32, outer*per)}
	Do(&nestedTask{inner: inner, per: per}, outer, 1)
	checkOnce(t, inner, "nested")

	var wg sync.WaitGroup
	cs := make([]*countTask, 8)
	for g := range cs {
		cs[g] = &countTask{hits: make([]atomic.Int32, 3000)}
		wg.Add(1)
		go func(c *countTask) {
			defer wg.Done()
			for r := 0; r < 50; r++ {
				Do(c, len(c.hits), 7)
				for i := range c.hits {
					if h := c.hits[i].Load(); h != 1 {
						t.Errorf("concurrent: index %d visited %d times", i, h)
						return
					}
					c.hits[i].Store(0)
				}
			}
		}(cs[g])
	}
	wg.Wait()
}

func TestSetThreadsDefault(t *testing.T) {
	withThreads(t, 3)
	if Threads() != 3 {
		t.Fatalf("Threads() = %d, want 3", Threads())
	}
	SetThreads(0)
	if Threads() < 1 {
		t.Fatalf("Threads() = %d after SetThreads(0)", Threads())
	}
}

type nopTask struct{ sum atomic.Int64 }

func (n *nopTask) Run(lo, hi int) { n.sum.Add(int64(hi - lo)) }

func TestDoAllocs(t *testing.T) {
	withThreads(t, 2)
	task := &nopTask{}
	Do(task, 100, 10) // start the pool
	allocs := testing.AllocsPerRun(200, func() { Do(task, 100, 10) })
	if allocs != 0 {
		t.Fatalf("Do allocates %v times per call", allocs)
	}
}

func BenchmarkDoOverhead(b *testing.B) {
	for _, th := range []int{1, 2} {
		b.Run(map[int]string{1: "threads=1", 2: "threads=2"}[th], func(b *testing.B) {
			old := Threads()
			SetThreads(th)
			defer SetThreads(old)
			task := &nopTask{}
			for b.Loop() {
				Do(task, 64, 1)
			}
		})
	}
}

// TestDoManySmallLoops is the regression test for a stale worker claiming a
// chunk of the next loop before it was published (a chunk ran twice and the
// caller waited forever): many back-to-back loops of varying size, each index
// must be visited exactly once.
func TestDoManySmallLoops(t *testing.T) {
	defer SetThreads(Threads())
	SetThreads(2)
	task := &countTask{hits: make([]atomic.Int32, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for iter := 0; iter < 200000; iter++ {
			n := 2 + iter%63
			for i := 0; i < n; i++ {
				task.hits[i].Store(0)
			}
			Do(task, n, 1)
			for i := 0; i < n; i++ {
				if h := task.hits[i].Load(); h != 1 {
					t.Errorf("loop %d: index %d visited %d times", iter, i, h)
					return
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("Do hung")
	}
}
