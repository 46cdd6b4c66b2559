package shrink

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStageConfigRefusesFIFO: a stage directory whose stage-config.json is
// a FIFO is refused at once (a plain open of a FIFO with no writer blocks
// forever).
func TestStageConfigRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := mkfifo(filepath.Join(dir, stageConfigFile)); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- checkStageConfig(dir, "base", map[string]int{"epochs": 1}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("checkStageConfig with a FIFO = %v, want a named-pipe error", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("checkStageConfig with a FIFO blocked")
	}
}
