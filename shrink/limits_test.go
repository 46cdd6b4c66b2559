package shrink

import (
	"strings"
	"testing"

	"github.com/dshrink/dshrink/internal/memlimit"
)

// TestLatencyRefusesHugeBatch: a benchmark batch beyond the memory limit
// is refused before compiling (issue 17).
func TestLatencyRefusesHugeBatch(t *testing.T) {
	defer memlimit.SetForTest(64 << 20)()
	_, err := MeasureLatency(tinyMBV2(t), 100000, 1, 1)
	if err == nil || !strings.Contains(err.Error(), "needs about") {
		t.Errorf("batch 100000 under 64 MiB: %v", err)
	}
	if _, err := ParseConfig([]byte("bench: {batch: 1000000000}\n")); err == nil || !strings.Contains(err.Error(), "bench.batch") {
		t.Errorf("bench.batch 1e9: %v", err)
	}
}
