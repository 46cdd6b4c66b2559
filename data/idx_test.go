package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"github.com/dshrink/dshrink/internal/testref"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	fashionOnce       sync.Once
	fashionTrain      *Images
	fashionTest       *Images
	fashionErr        error
	fashionSkipReason string
)

// loadFashion reads the real Fashion-MNIST files once, or skips the test when the Debian
// package dataset-fashion-mnist is not installed.
func loadFashion(t testing.TB) (train, test *Images) {
	t.Helper()
	fashionOnce.Do(func() {
		if _, err := os.Stat(DefaultFashionMNISTDir); err != nil {
			fashionSkipReason = "Fashion-MNIST not found at " + DefaultFashionMNISTDir +
				" (install the Debian package dataset-fashion-mnist): " + err.Error()
			return
		}
		fashionTrain, fashionErr = FashionMNIST("", true)
		if fashionErr == nil {
			fashionTest, fashionErr = FashionMNIST("", false)
		}
	})
	if fashionSkipReason != "" {
		testref.Missing(t, "Fashion-MNIST", fashionSkipReason)
	}
	if fashionErr != nil {
		t.Fatal(fashionErr)
	}
	return fashionTrain, fashionTest
}

func TestFashionMNISTReal(t *testing.T) {
	train, test := loadFashion(t)
	cases := []struct {
		d      *Images
		n      int
		labels map[int]int
		crc    uint32
		sum    int
	}{
		// Values read off the files with Python's gzip module.
		{train, 60000, map[int]int{0: 9, 1: 0, 2: 0, 3: 3, 4: 0, 100: 8, 1000: 1, 59999: 5}, 0xf270beb5, 76247},
		{test, 10000, map[int]int{0: 9, 1: 2, 2: 1, 3: 1, 4: 6, 100: 3, 1000: 0, 9999: 5}, 0x52830860, 33456},
	}
	for _, tc := range cases {
		d := tc.d
		if d.Len() != tc.n {
			t.Errorf("%s: Len = %d, want %d", d.Name(), d.Len(), tc.n)
		}
		if c, h, w := d.Shape(); c != 1 || h != 28 || w != 28 {
			t.Errorf("%s: Shape = %d,%d,%d, want 1,28,28", d.Name(), c, h, w)
		}
		if d.NumClasses() != 10 || len(d.ClassNames()) != 10 {
			t.Errorf("%s: %d classes, %d names", d.Name(), d.NumClasses(), len(d.ClassNames()))
		}
		for i, want := range tc.labels {
			if got := d.Label(i); got != want {
				t.Errorf("%s: label[%d] = %d, want %d", d.Name(), i, got, want)
			}
		}
		raw := d.Raw(0)
		if got := crc32.ChecksumIEEE(raw); got != tc.crc {
			t.Errorf("%s: crc32 of image 0 = %#x, want %#x", d.Name(), got, tc.crc)
		}
		sum := 0
		for _, p := range raw {
			sum += int(p)
		}
		if sum != tc.sum {
			t.Errorf("%s: pixel sum of image 0 = %d, want %d", d.Name(), sum, tc.sum)
		}
		// Every class has exactly a tenth of the images.
		var hist [10]int
		for _, l := range d.Labels() {
			hist[l]++
		}
		for c, k := range hist {
			if k != tc.n/10 {
				t.Errorf("%s: class %d has %d images, want %d", d.Name(), c, k, tc.n/10)
			}
		}
		// Get normalises with the Fashion-MNIST statistics.
		x := make([]float32, 784)
		if l := d.Get(0, x); l != tc.labels[0] {
			t.Errorf("%s: Get(0) label %d", d.Name(), l)
		}
		for j, p := range raw {
			want := (float32(p)/255 - 0.2860) / 0.3530
			if diff := x[j] - want; diff > 1e-6 || diff < -1e-6 {
				t.Fatalf("%s: Get(0)[%d] = %v, want %v", d.Name(), j, x[j], want)
			}
		}
	}
	// The training set's statistics are the published normalisation.
	n := ComputeNormalization(train)
	if m, s := n.Mean[0], n.Std[0]; m < 0.2855 || m > 0.2865 || s < 0.3525 || s > 0.3535 {
		t.Errorf("computed normalisation mean %v std %v, want about 0.2860 0.3530", m, s)
	}
}

// idxBytes builds an IDX file: magic, dims, payload.
func idxBytes(magic uint32, dims []uint32, payload []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(payload)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// synthMNIST returns n 28x28 images (pixel = (i + k) % 256) and labels i % 10.
func synthMNIST(n, rows, cols int) (img, lbl []byte) {
	img = make([]byte, n*rows*cols)
	for i := range img {
		img[i] = byte(i)
	}
	lbl = make([]byte, n)
	for i := range lbl {
		lbl[i] = byte(i % 10)
	}
	return idxBytes(idxImagesMagic, []uint32{uint32(n), uint32(rows), uint32(cols)}, img),
		idxBytes(idxLabelsMagic, []uint32{uint32(n)}, lbl)
}

func TestMNISTSyntheticRawAndGzip(t *testing.T) {
	img, lbl := synthMNIST(7, 28, 28)
	for _, zipped := range []bool{false, true} {
		dir := t.TempDir()
		if zipped {
			writeFile(t, dir, "t10k-images-idx3-ubyte.gz", gz(img))
			writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gz(lbl))
		} else {
			writeFile(t, dir, "t10k-images-idx3-ubyte", img)
			writeFile(t, dir, "t10k-labels-idx1-ubyte", lbl)
		}
		d, err := MNIST(dir, false)
		if err != nil {
			t.Fatalf("gzip=%v: %v", zipped, err)
		}
		if d.Len() != 7 || d.Label(3) != 3 || d.Raw(1)[0] != byte(784%256) {
			t.Errorf("gzip=%v: wrong content: len %d label %d pixel %d", zipped, d.Len(), d.Label(3), d.Raw(1)[0])
		}
		if _, err := MNIST(dir, true); err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("gzip=%v: missing train files: err = %v", zipped, err)
		}
	}
}

func TestIDXErrors(t *testing.T) {
	img, lbl := synthMNIST(5, 28, 28)
	img32, _ := synthMNIST(5, 32, 32)
	_, lbl4 := synthMNIST(4, 28, 28)
	badLabel := bytes.Clone(lbl)
	badLabel[len(badLabel)-2] = 10
	huge := idxBytes(idxImagesMagic, []uint32{1 << 31, 28, 28}, make([]byte, 100))
	hugeDims := idxBytes(idxImagesMagic, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil)
	cases := []struct {
		name     string
		img, lbl []byte
		bad      string // which file the message must name
		want     error
		msg      string
	}{
		{"truncated images", img[:len(img)-100], lbl, "images", ErrTruncated, "only"},
		{"truncated gzip images", gz(img)[:200], lbl, "images", ErrTruncated, ""},
		{"truncated header", img[:10], lbl, "images", ErrTruncated, "header"},
		{"truncated labels", img, lbl[:len(lbl)-1], "labels", ErrTruncated, ""},
		{"label file as images", lbl, lbl, "images", ErrBadMagic, "label file"},
		{"bad label magic", img, img, "labels", ErrBadMagic, "0x00000803"},
		{"count mismatch", img, lbl4, "labels", ErrCountMismatch, "5 images but 4 labels"},
		{"wrong size", img32, lbl, "images", ErrImageSize, "32x32, want 28x28"},
		{"label out of range", img, badLabel, "labels", ErrLabelRange, "label 10 of sample 3"},
		{"huge count raw", huge, lbl, "images", ErrTruncated, "only 100 bytes follow"},
		{"huge count gzip", gz(huge), lbl, "images", ErrTruncated, "more than the file can hold"},
		{"huge dims", hugeDims, lbl, "images", ErrTruncated, "only 0 bytes follow"},
		{"huge dims gzip", gz(hugeDims), lbl, "images", ErrTruncated, "more than the file can hold"},
		{"trailing bytes", append(bytes.Clone(img), 1, 2, 3), lbl, "images", ErrFormat, "trailing"},
		{"empty", idxBytes(idxImagesMagic, []uint32{0, 28, 28}, nil), idxBytes(idxLabelsMagic, []uint32{0}, nil), "images", ErrEmpty, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ip := writeFile(t, dir, "train-images-idx3-ubyte", tc.img)
			lp := writeFile(t, dir, "train-labels-idx1-ubyte", tc.lbl)
			_, err := MNIST(dir, true)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q does not wrap %q", err, tc.want)
			}
			file := ip
			if tc.bad == "labels" {
				file = lp
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("error %q does not name %s", err, file)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			t.Log(err)
		})
	}
	// ReadIDX takes any image size.
	dir := t.TempDir()
	ip := writeFile(t, dir, "a", img32)
	lp := writeFile(t, dir, "b", gz(lbl))
	d, err := ReadIDX(ip, lp, 10, ZeroOne)
	if err != nil {
		t.Fatal(err)
	}
	if _, h, w := d.Shape(); h != 32 || w != 32 {
		t.Errorf("ReadIDX shape %dx%d", h, w)
	}
}
