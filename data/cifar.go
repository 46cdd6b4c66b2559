package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/internal/memlimit"
)

// CIFAR images are 3x32x32, stored as 1024 red, 1024 green, then 1024 blue bytes.
const (
	cifarSide  = 32
	cifarImage = 3 * cifarSide * cifarSide
)

// CIFAR10Classes are the CIFAR-10 class names, in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CIFAR10 reads the CIFAR-10 binary version from dir (or its sub-folder
// cifar-10-batches-bin, as the archive unpacks): data_batch_1.bin ... data_batch_5.bin for
// the training set (50000 images), test_batch.bin for the test set (10000). Each record is
// one label byte (0..9) and 3072 pixel bytes. Images are 3x32x32, normalised with
// CIFAR10Norm.
func CIFAR10(dir string, train bool) (*Images, error) {
	dir = subdirIfPresent(dir, "cifar-10-batches-bin")
	var files []string
	split := "test"
	if train {
		split = "train"
		for i := 1; i <= 5; i++ {
			files = append(files, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)))
		}
	} else {
		files = []string{filepath.Join(dir, "test_batch.bin")}
	}
	d, err := readCIFAR("cifar-10 "+split, files, 1, 0, 10, CIFAR10Norm)
	if err != nil {
		return nil, err
	}
	_ = d.SetClassNames(CIFAR10Classes)
	return d, nil
}

// CIFAR100 reads the CIFAR-100 binary version from dir (or its sub-folder cifar-100-binary):
// train.bin (50000 images) or test.bin (10000). Each record is a coarse label byte (0..19),
// a fine label byte (0..99) and 3072 pixel bytes; coarse selects the 20 super-classes
// instead of the 100 classes. Class names are read from coarse_label_names.txt or
// fine_label_names.txt when present. Images are 3x32x32, normalised with CIFAR100Norm.
func CIFAR100(dir string, train, coarse bool) (*Images, error) {
	dir = subdirIfPresent(dir, "cifar-100-binary")
	file, split := "test.bin", "test"
	if train {
		file, split = "train.bin", "train"
	}
	labelIdx, classes, names, kind := 1, 100, "fine_label_names.txt", "fine"
	if coarse {
		labelIdx, classes, names, kind = 0, 20, "coarse_label_names.txt", "coarse"
	}
	d, err := readCIFAR("cifar-100 "+split+" ("+kind+")", []string{filepath.Join(dir, file)}, 2, labelIdx, classes, CIFAR100Norm)
	if err != nil {
		return nil, err
	}
	if b, err := fsutil.ReadFile(filepath.Join(dir, names), 1<<20); err == nil {
		var list []string
		for _, s := range strings.Split(string(b), "\n") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		_ = d.SetClassNames(list) // ignored when the count is wrong
	}
	return d, nil
}

func subdirIfPresent(dir, sub string) string {
	p := filepath.Join(dir, sub)
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return p
	}
	return dir
}

// readCIFAR reads CIFAR binary files whose records hold labelBytes label bytes (the label
// used is byte labelIdx) followed by a 3x32x32 image.
func readCIFAR(name string, files []string, labelBytes, labelIdx, numClasses int, norm Normalization) (*Images, error) {
	rec := int64(labelBytes + cifarImage)
	counts := make([]int, len(files))
	total := 0
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("data: %s: %w", name, err)
		}
		size := st.Size()
		if size == 0 {
			return nil, fmt.Errorf("data: %s: %w: empty file", f, ErrEmpty)
		}
		if size%rec != 0 {
			return nil, fmt.Errorf("data: %s: %w: %d bytes is not a whole number of %d-byte records (%d full records and %d bytes left)",
				f, ErrTruncated, size, rec, size/rec, size%rec)
		}
		counts[i] = int(size / rec)
		total += counts[i]
	}
	// Pixels and labels of every record (a sparse file can claim any size).
	if err := memlimit.Check(fmt.Sprintf("data: %s (%d records of %d bytes)", name, total, rec), memlimit.Mul(int64(total), cifarImage+4)); err != nil {
		return nil, err
	}
	pixels := make([]uint8, total*cifarImage)
	labels := make([]int32, total)
	k := 0
	for i, f := range files {
		if err := readCIFARFile(f, counts[i], labelBytes, labelIdx, numClasses, pixels[k*cifarImage:], labels[k:]); err != nil {
			return nil, err
		}
		k += counts[i]
	}
	return NewImages(name, 3, cifarSide, cifarSide, pixels, labels, numClasses, norm)
}

func readCIFARFile(path string, n, labelBytes, labelIdx, numClasses int, pixels []uint8, labels []int32) error {
	f, _, err := fsutil.OpenRegular(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var lb [2]byte
	for i := 0; i < n; i++ {
		_, err := io.ReadFull(br, lb[:labelBytes])
		if err == nil {
			_, err = io.ReadFull(br, pixels[i*cifarImage:(i+1)*cifarImage])
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("data: %s: %w: file ends inside record %d of %d", path, ErrTruncated, i, n)
			}
			return fmt.Errorf("data: %s: %w", path, err)
		}
		l := int(lb[labelIdx])
		if l >= numClasses {
			return fmt.Errorf("data: %s: %w: record %d has label %d, want 0..%d", path, ErrLabelRange, i, l, numClasses-1)
		}
		labels[i] = int32(l)
	}
	return nil
}
