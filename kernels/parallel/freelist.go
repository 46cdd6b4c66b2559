package parallel

import "sync"

// FreeList is a free list of reusable values for hot paths. Unlike
// sync.Pool, which drops its contents at every garbage collection (a fresh
// allocation afterwards, and page faults on these machines), a FreeList keeps
// what it is given forever, so a steady state allocates nothing. The zero
// value is ready to use; it is safe for concurrent use.
type FreeList[T any] struct {
	mu    sync.Mutex
	items []*T
}

// Get returns a value from the list, or a new zero value when it is empty.
func (l *FreeList[T]) Get() *T {
	l.mu.Lock()
	if n := len(l.items); n > 0 {
		x := l.items[n-1]
		l.items[n-1] = nil
		l.items = l.items[:n-1]
		l.mu.Unlock()
		return x
	}
	l.mu.Unlock()
	return new(T)
}

// Put returns x to the list for reuse.
func (l *FreeList[T]) Put(x *T) {
	l.mu.Lock()
	l.items = append(l.items, x)
	l.mu.Unlock()
}
