// Package parallel runs loops across a fixed pool of worker goroutines.
//
// PLACEHOLDER implementation (to be replaced by the kernels work): correct but
// allocates per call.
package parallel

import (
	"runtime"
	"sync"
)

var threads = runtime.GOMAXPROCS(0)

// SetThreads sets how many goroutines For uses (n < 1 means all cores).
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	threads = n
}

// Threads returns the current thread count.
func Threads() int { return threads }

// For splits [0,n) into at most Threads() contiguous chunks of at least grain
// items and runs body on each, returning when all are done.
func For(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	t := threads
	if c := (n + grain - 1) / grain; c < t {
		t = c
	}
	if t <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < t; i++ {
		lo, hi := i*n/t, (i+1)*n/t
		wg.Add(1)
		go func() { defer wg.Done(); body(lo, hi) }()
	}
	wg.Wait()
}
