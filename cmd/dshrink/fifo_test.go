package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLabelsRefuseFIFO: predict --labels naming a FIFO is refused at once
// (a plain open of a FIFO with no writer blocks forever).
func TestLabelsRefuseFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "labels.txt")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := readLabels(fifo, 0); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("readLabels(FIFO) = %v, want a named-pipe error", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("readLabels(FIFO) blocked")
	}
}
