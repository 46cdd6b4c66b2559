package data

import (
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/internal/memlimit"
)

// TestSizesRefusedBeforeAllocation: a sparse CIFAR file claiming millions of
// records, an image folder at a huge crop size and a loader with a huge
// batch get an error with the estimate and the limit (issue 17).
func TestSizesRefusedBeforeAllocation(t *testing.T) {
	defer memlimit.SetForTest(128 << 20)()
	dir := t.TempDir()
	p := filepath.Join(dir, "data_batch_1.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(3073 * 1_000_000); err != nil { // sparse: no disk used
		t.Skipf("sparse file: %v", err)
	}
	f.Close()
	_, err = readCIFAR("cifar-10 train", []string{p}, 1, 0, 10, CIFAR10Norm)
	if err == nil || !strings.Contains(err.Error(), "needs about") || !strings.Contains(err.Error(), "limit of 128.0 MiB") {
		t.Errorf("sparse CIFAR file: %v", err)
	}

	root := t.TempDir()
	writeFile(t, root, "a/x.png", pngBytes(t, solid(8, 8, color.NRGBA{1, 2, 3, 255})))
	if _, err := ImageFolder(root, FolderOptions{Size: 100000}); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("image size 100000: %v", err)
	}
	if _, err := ImageFolder(root, FolderOptions{Size: 8000}); err == nil || !strings.Contains(err.Error(), "needs about") {
		t.Errorf("image size 8000 under a 128 MiB limit: %v", err)
	}
	ds, err := ImageFolder(root, FolderOptions{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLoader(ds, LoaderConfig{BatchSize: 1_000_000, Workers: 1000}); err == nil || !strings.Contains(err.Error(), "needs about") {
		t.Errorf("loader batch 1e6: %v", err)
	}
}
