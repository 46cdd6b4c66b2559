package latency

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoadTableRefusesFIFO: a latency table that is a FIFO is refused at
// once (a plain open of a FIFO with no writer blocks forever).
func TestLoadTableRefusesFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "table.json")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := LoadTable(fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("LoadTable(FIFO) = %v, want a named-pipe error", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("LoadTable(FIFO) blocked")
	}
}
