package report

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// refusedAtOnce runs read and fails the test unless it returns an error
// naming a named pipe within a few seconds (a plain open of a FIFO with no
// writer blocks forever).
func refusedAtOnce(t *testing.T, what string, read func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("%s of a FIFO: %v, want a named-pipe error", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("%s of a FIFO blocked", what)
	}
}

// TestReadersRefuseFIFOs: every file a report reads (metrics, Pareto
// points, summaries, fine-tune reports) is opened only if it is a regular file.
func TestReadersRefuseFIFOs(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "metrics.jsonl")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	refusedAtOnce(t, "ReadMetrics", func() error { _, err := ReadMetrics(fifo); return err })
	refusedAtOnce(t, "ReadPareto", func() error { _, err := ReadPareto(fifo); return err })
	refusedAtOnce(t, "readJSON", func() error { var v any; return readJSON(fifo, &v) })
}
