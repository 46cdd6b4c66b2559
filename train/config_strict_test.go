package train

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/internal/memlimit"
)

// TestConfigStrict: a float for an integer key, a second document and
// out-of-range sizes are errors, not truncations or crashes (issue 17).
func TestConfigStrict(t *testing.T) {
	for text, want := range map[string]string{
		"batch_size: 1.5\n":                                     "batch_size: 1.5 is not an integer",
		"epochs: 2.0\n":                                         "epochs: 2.0 is not an integer",
		"data:\n  workers: 1000000\n":                           "data.workers 1000000 out of range",
		"data:\n  workers: -1\n":                                "data.workers -1 out of range",
		"batch_size: 1000000000\n":                              "batch_size 1000000000",
		"data: {dataset: folder, dir: x, image_size: 100000}\n": "data.image_size 100000",
		"epochs: 3\n---\nepochs: 4\n":                           "second YAML document",
	} {
		_, err := ParseConfig([]byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", text, err, want)
		}
	}
	if _, err := ParseConfig([]byte("batch_size: 64\nlr: 0.5\n")); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// TestTrainRefusesHugeMemory: a batch whose buffers exceed the memory limit
// is refused with the estimate and the limit before anything is allocated.
func TestTrainRefusesHugeMemory(t *testing.T) {
	ds := fmnist(t, 100, 50)
	defer memlimit.SetForTest(64 << 20)()
	cfg := smallConfig(t.TempDir())
	cfg.BatchSize = 5000
	_, err := Run(context.Background(), cfg, Options{Data: ds, Graph: smallCNN(t, 1), Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "batch size 5000 needs about") || !strings.Contains(err.Error(), "limit of 64.0 MiB") {
		t.Errorf("Run with batch 5000 under a 64 MiB limit: %v", err)
	}
}
