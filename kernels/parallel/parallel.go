// Package parallel runs loops across a persistent pool of worker goroutines.
//
// The pool is started lazily on the first parallel call and grows to
// Threads()-1 workers; the calling goroutine always does a share of the work
// itself. Work is handed out in chunks claimed dynamically, so a thread that
// is slowed down (for example because another process shares its core) simply
// claims fewer chunks instead of holding everybody up.
//
// Idle workers spin briefly (yielding the processor) and then block on a
// channel, so an idle pool does not burn a core.
//
// Only one parallel loop runs on the pool at a time. A call made while the
// pool is busy — from inside a task (nested parallelism) or concurrently from
// another goroutine — runs serially on the calling goroutine, which makes
// nesting deadlock-free.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Task is a unit of parallel work: Run processes the half-open index range
// [lo, hi). Passing a pointer to a long-lived value as a Task lets Do run
// without allocating.
type Task interface {
	Run(lo, hi int)
}

// funcTask adapts a plain function to Task.
type funcTask func(lo, hi int)

func (f funcTask) Run(lo, hi int) { f(lo, hi) }

// spinIters is how many times an idle goroutine polls (yielding the processor
// between polls) before it blocks. A poll with a yield costs well under a
// microsecond, so this is a few tens of microseconds of spinning.
const spinIters = 200

var threads atomic.Int64

func init() { threads.Store(int64(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many goroutines (the caller included) For and Do use;
// n < 1 means runtime.GOMAXPROCS(0). It is safe to call at any time; it takes
// effect for loops started afterwards.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	threads.Store(int64(n))
}

// Threads returns the current thread count.
func Threads() int { return int(threads.Load()) }

// For splits [0,n) into at most Threads() contiguous chunks of at least grain
// items and runs body on each, returning when all are done. A grain below 1 is
// treated as 1. For allocates only what the caller's closure does; use Do with
// a pointer Task for an allocation-free loop.
func For(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	t := Threads()
	if per := (n + t - 1) / t; per > grain {
		grain = per
	}
	Do(funcTask(body), n, grain)
}

// Do runs t.Run over disjoint ranges covering [0,n) exactly once. The ranges
// are chunks of grain items (the last may be shorter; a grain below 1 is
// treated as 1), claimed dynamically by up to Threads() goroutines, the caller
// included. Do returns when every chunk has finished. When n <= grain, when
// Threads() is 1, or when the pool is busy (a nested or concurrent call), Do
// calls t.Run(0, n) on the calling goroutine. Do does not allocate once the
// pool has started.
func Do(t Task, n, grain int) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	nt := Threads()
	chunks := (n + grain - 1) / grain
	if nt <= 1 || chunks <= 1 {
		t.Run(0, n)
		return
	}
	if !pool.mu.TryLock() {
		t.Run(0, n)
		return
	}
	defer pool.mu.Unlock()
	workers := nt - 1
	if workers > chunks-1 {
		workers = chunks - 1
	}
	pool.grow(workers)
	pool.run(t, n, grain, chunks, workers)
}

// job describes the loop currently running on the pool. It is reused across
// loops; the generation in the upper half of state tells stale workers apart.
type job struct {
	task  Task
	n     int
	grain int
	// chunks is atomic because stale workers read it before their claim fails.
	chunks atomic.Int64
	// state holds generation<<32 | next unclaimed chunk.
	state atomic.Uint64
	// remaining counts chunks not yet finished.
	remaining atomic.Int64
	// done receives a token when a worker finishes the last chunk.
	done chan struct{}
}

type workerPool struct {
	mu      sync.Mutex
	wake    []chan struct{}
	job     job
	started bool
}

var pool workerPool

// grow starts workers until there are at least w. Called with mu held.
func (p *workerPool) grow(w int) {
	if !p.started {
		p.job.done = make(chan struct{}, 1)
		p.started = true
	}
	for len(p.wake) < w {
		ch := make(chan struct{}, 1)
		p.wake = append(p.wake, ch)
		go worker(&p.job, ch)
	}
}

// run publishes a loop, wakes workers, works on it and waits for it to end.
// Called with mu held.
func (p *workerPool) run(t Task, n, grain, chunks, workers int) {
	j := &p.job
	// Close the previous generation first: a stale worker that loaded the old
	// state must not pass its chunk check against the new (larger) chunk count
	// and win its compare-and-swap before the new generation is published.
	// With the claim index at its maximum, no old-generation claim can succeed.
	old := j.state.Load() >> 32
	j.state.Store(old<<32 | 0xFFFFFFFF)
	j.task, j.n, j.grain = t, n, grain
	j.chunks.Store(int64(chunks))
	j.remaining.Store(int64(chunks))
	gen := old + 1
	j.state.Store(gen << 32) // publishes the fields above
	for i := 0; i < workers; i++ {
		select {
		case p.wake[i] <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	j.work(gen, false)
	for i := 0; j.remaining.Load() != 0; i++ {
		if i < spinIters {
			select {
			case <-j.done:
			default:
				runtime.Gosched()
			}
			continue
		}
		<-j.done
	}
	j.task = nil
}

// work claims and runs chunks of generation gen until none are left.
func (j *job) work(gen uint64, isWorker bool) {
	for {
		v := j.state.Load()
		if v>>32 != gen {
			return
		}
		c := int(uint32(v))
		if int64(c) >= j.chunks.Load() {
			return
		}
		if !j.state.CompareAndSwap(v, v+1) {
			continue
		}
		// The chunk is ours; the job cannot change until it is finished.
		lo := c * j.grain
		hi := lo + j.grain
		if hi > j.n {
			hi = j.n
		}
		j.task.Run(lo, hi)
		if j.remaining.Add(-1) == 0 && isWorker {
			select {
			case j.done <- struct{}{}:
			default:
			}
		}
	}
}

// worker is the body of a pool goroutine.
func worker(j *job, wake chan struct{}) {
	for {
		waitWake(wake)
		gen := j.state.Load() >> 32
		j.work(gen, true)
	}
}

// waitWake spins for a short while, then blocks, until a token arrives.
func waitWake(wake chan struct{}) {
	for i := 0; i < spinIters; i++ {
		select {
		case <-wake:
			return
		default:
			runtime.Gosched()
		}
	}
	<-wake
}
