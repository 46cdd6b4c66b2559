package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/internal/memlimit"
)

// DefaultFashionMNISTDir is where the Debian package dataset-fashion-mnist installs the
// gzipped IDX files of Fashion-MNIST.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// IDX magic numbers of unsigned-byte files: 0x0000, type 0x08 (ubyte), number of dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// maxDeflateRatio bounds how much a deflate stream can expand (1032:1), so the size a
// gzipped file can decompress to is known before allocating.
const maxDeflateRatio = 1032

// FashionMNISTClasses are the Fashion-MNIST class names, in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// FashionMNIST reads the Fashion-MNIST training (60000 images) or test (10000 images) set
// from dir (DefaultFashionMNISTDir when dir is ""): 1x28x28 images, 10 classes, normalised
// with FashionMNISTNorm. File names are as for MNIST.
func FashionMNIST(dir string, train bool) (*Images, error) {
	if dir == "" {
		dir = DefaultFashionMNISTDir
	}
	d, err := readMNISTDir("fashion-mnist", dir, train, FashionMNISTNorm)
	if err != nil {
		return nil, err
	}
	_ = d.SetClassNames(FashionMNISTClasses)
	return d, nil
}

// MNIST reads the MNIST training or test set from dir: the files
// {train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped (".gz" suffix) or raw. Images are
// 1x28x28, 10 classes, normalised with MNISTNorm.
func MNIST(dir string, train bool) (*Images, error) {
	return readMNISTDir("mnist", dir, train, MNISTNorm)
}

func readMNISTDir(kind, dir string, train bool, norm Normalization) (*Images, error) {
	prefix, split := "t10k", "test"
	if train {
		prefix, split = "train", "train"
	}
	imgPath, err := findFile(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, fmt.Errorf("data: %s %s: %w", kind, split, err)
	}
	lblPath, err := findFile(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, fmt.Errorf("data: %s %s: %w", kind, split, err)
	}
	d, err := readIDX(kind+" "+split, imgPath, lblPath, 10, norm, 28, 28)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// findFile returns dir/base.gz or dir/base, whichever exists (the gzipped one first).
func findFile(dir, base string) (string, error) {
	for _, name := range []string{base + ".gz", base} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("neither %s nor %s.gz found: %w", filepath.Join(dir, base), filepath.Join(dir, base), fs.ErrNotExist)
}

// ReadIDX reads an IDX image file (magic 0x00000803: count, rows, cols, then count*rows*cols
// bytes) and an IDX label file (magic 0x00000801: count, then count bytes), each gzipped or
// raw (detected by the gzip magic bytes), into a 1-channel data set with numClasses classes
// and normalisation norm. Every header field is checked against the file before anything
// is allocated.
func ReadIDX(imagesPath, labelsPath string, numClasses int, norm Normalization) (*Images, error) {
	return readIDX(filepath.Base(imagesPath), imagesPath, labelsPath, numClasses, norm, 0, 0)
}

// readIDX reads an image and a label IDX file; wantRows and wantCols, when positive, are
// the required image size.
func readIDX(name, imagesPath, labelsPath string, numClasses int, norm Normalization, wantRows, wantCols int) (*Images, error) {
	if numClasses <= 0 || numClasses > 256 {
		return nil, fmt.Errorf("data: %s: %d classes, want 1..256 for byte labels", name, numClasses)
	}
	dims, pixels, err := readIDXFile(imagesPath, idxImagesMagic, func(dims []uint32) error {
		if wantRows > 0 && (int(dims[1]) != wantRows || int(dims[2]) != wantCols) {
			return fmt.Errorf("data: %s: %w: images are %dx%d, want %dx%d", imagesPath, ErrImageSize, dims[1], dims[2], wantRows, wantCols)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ldims, lbytes, err := readIDXFile(labelsPath, idxLabelsMagic, nil)
	if err != nil {
		return nil, err
	}
	if dims[0] != ldims[0] {
		return nil, fmt.Errorf("data: %s and %s: %w: %d images but %d labels", imagesPath, labelsPath, ErrCountMismatch, dims[0], ldims[0])
	}
	if dims[0] == 0 {
		return nil, fmt.Errorf("data: %s: %w: header says 0 images", imagesPath, ErrEmpty)
	}
	labels := make([]int32, len(lbytes))
	for i, b := range lbytes {
		if int(b) >= numClasses {
			return nil, fmt.Errorf("data: %s: %w: label %d of sample %d, want 0..%d", labelsPath, ErrLabelRange, b, i, numClasses-1)
		}
		labels[i] = int32(b)
	}
	d, err := NewImages(name, 1, int(dims[1]), int(dims[2]), pixels, labels, numClasses, norm)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// readIDXFile reads a ubyte IDX file with the given magic and returns its dimensions and
// payload. check, when not nil, vets the dimensions before the payload is read.
func readIDXFile(path string, magic uint32, check func(dims []uint32) error) ([]uint32, []byte, error) {
	r, limit, exact, closeFn, err := openMaybeGzip(path)
	if err != nil {
		return nil, nil, err
	}
	defer closeFn()
	return parseIDX(path, r, limit, exact, magic, check)
}

// parseIDX reads an IDX stream r (from path, content length at most limit, exactly limit
// when exact).
func parseIDX(path string, r io.Reader, limit int64, exact bool, magic uint32, check func(dims []uint32) error) ([]uint32, []byte, error) {
	ndims := int(magic & 0xff)
	hdr := make([]byte, 4+4*ndims)
	readHdr := func(b []byte, what string) error {
		if _, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("data: %s: %w: file ends inside the IDX %s", path, ErrTruncated, what)
			}
			return fmt.Errorf("data: %s: reading header: %w", path, err)
		}
		return nil
	}
	if err := readHdr(hdr[:4], "magic number"); err != nil {
		return nil, nil, err
	}
	if got := binary.BigEndian.Uint32(hdr); got != magic {
		hint := ""
		switch got {
		case idxImagesMagic:
			hint = " (this is an IDX image file)"
		case idxLabelsMagic:
			hint = " (this is an IDX label file)"
		}
		return nil, nil, fmt.Errorf("data: %s: %w: 0x%08x, want 0x%08x%s", path, ErrBadMagic, got, magic, hint)
	}
	if err := readHdr(hdr[4:], "header"); err != nil {
		return nil, nil, err
	}
	if exact {
		limit -= int64(len(hdr))
	}
	dims := make([]uint32, ndims)
	for i := range dims {
		dims[i] = binary.BigEndian.Uint32(hdr[4+4*i:])
		if i > 0 && dims[i] == 0 {
			return nil, nil, fmt.Errorf("data: %s: %w: dimension %d is 0", path, ErrFormat, i)
		}
	}
	need := uint64(1)
	for i := range dims {
		if dims[i] != 0 && need > uint64(limit)/uint64(dims[i]) {
			if exact {
				return nil, nil, fmt.Errorf("data: %s: %w: header says dimensions %v, but only %d bytes follow the header",
					path, ErrTruncated, dims, limit)
			}
			return nil, nil, fmt.Errorf("data: %s: %w: header says dimensions %v, more than the file can hold (%d bytes at most)",
				path, ErrTruncated, dims, limit)
		}
		need *= uint64(dims[i])
	}
	if check != nil {
		if err := check(dims); err != nil {
			return nil, nil, err
		}
	}
	if err := memlimit.Check(fmt.Sprintf("data: %s (%v)", path, dims), int64(min(need, 1<<62))); err != nil {
		return nil, nil, err
	}
	payload := make([]byte, need)
	if n, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("data: %s: %w: header says %v (%d bytes of data) but only %d bytes follow",
				path, ErrTruncated, dims, need, n)
		}
		return nil, nil, fmt.Errorf("data: %s: %w", path, err)
	}
	var one [1]byte
	if n, err := io.ReadFull(r, one[:]); n > 0 {
		return nil, nil, fmt.Errorf("data: %s: %w: trailing bytes after the %d bytes of data the header %v announces",
			path, ErrFormat, need, dims)
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return dims, payload, nil
}

// openMaybeGzip opens path and returns a reader of its content, decompressed when the
// file starts with the gzip magic bytes, with an upper bound on the content's length
// (exact for a raw file).
func openMaybeGzip(path string) (r io.Reader, limit int64, exact bool, closeFn func() error, err error) {
	f, st, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, 0, false, nil, fmt.Errorf("data: %w", err)
	}
	r, limit, exact, err = maybeGzip(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, 0, false, nil, err
	}
	return r, limit, exact, f.Close, nil
}

// maybeGzip returns a reader of the content of rd (size bytes, read from path), decompressed
// when it starts with the gzip magic bytes, and an upper bound on the content's length
// (exact when not compressed).
func maybeGzip(path string, rd io.Reader, size int64) (r io.Reader, limit int64, exact bool, err error) {
	br := bufio.NewReaderSize(rd, 1<<16)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, 0, false, fmt.Errorf("data: %s: %w: gzip header cut short", path, ErrTruncated)
			}
			return nil, 0, false, fmt.Errorf("data: %s: %w", path, err)
		}
		return zr, size * maxDeflateRatio, false, nil
	}
	return br, size, true, nil
}
