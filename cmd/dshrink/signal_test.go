package main

import (
	"context"
	"testing"
	"time"
)

// TestShrinkContextQuietStop checks that ending a command normally (stop)
// does not report an interrupt: the context's cause is plain cancellation,
// which the watcher ignores, and no signal is pending.
func TestShrinkContextQuietStop(t *testing.T) {
	ctx, stop := shrinkContext()
	stop()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not close the context")
	}
	if c := context.Cause(ctx); c != context.Canceled {
		t.Errorf("cause after stop: %v, want context.Canceled (no interrupt message)", c)
	}
}
