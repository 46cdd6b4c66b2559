package data

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// cifarRecords builds n CIFAR records with the given label bytes per record.
func cifarRecords(n int, labels func(i int) []byte) []byte {
	var out []byte
	for i := range n {
		out = append(out, labels(i)...)
		for p := range cifarImage {
			out = append(out, byte(i+p/1024*10+p%7))
		}
	}
	return out
}

func TestCIFAR10Synthetic(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "cifar-10-batches-bin")
	for b := 1; b <= 5; b++ {
		writeFile(t, sub, "data_batch_"+string(rune('0'+b))+".bin", cifarRecords(3, func(i int) []byte { return []byte{byte((b*3 + i) % 10)} }))
	}
	writeFile(t, sub, "test_batch.bin", cifarRecords(4, func(i int) []byte { return []byte{byte(9 - i)} }))
	tr, err := CIFAR10(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 15 || tr.NumClasses() != 10 || tr.ClassNames()[0] != "airplane" {
		t.Fatalf("train: %v", tr)
	}
	if c, h, w := tr.Shape(); c != 3 || h != 32 || w != 32 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	if tr.Label(4) != (2*3+1)%10 {
		t.Errorf("label[4] = %d", tr.Label(4))
	}
	// Channel planes: red first, then green (offset 10), then blue (20).
	raw := tr.Raw(4)
	if raw[0] != 1 || raw[1024] != 13 || raw[2048+3] != 21 { // record 1 of data_batch_2: i + 10*plane + p%7
		t.Errorf("pixels %d %d %d", raw[0], raw[1024], raw[2048+3])
	}
	te, err := CIFAR10(sub, false)
	if err != nil {
		t.Fatal(err)
	}
	if te.Len() != 4 || te.Label(3) != 6 {
		t.Errorf("test: %v label %d", te, te.Label(3))
	}
	x := make([]float32, cifarImage)
	te.Get(0, x)
	if want := (float32(0)/255 - 0.4914) / 0.2470; x[0] != want {
		t.Errorf("normalised %v, want %v", x[0], want)
	}

	// Errors.
	bad := t.TempDir()
	p := writeFile(t, bad, "test_batch.bin", cifarRecords(2, func(int) []byte { return []byte{1} })[:3073+100])
	if _, err := CIFAR10(bad, false); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated: %v", err)
	}
	p = writeFile(t, bad, "test_batch.bin", cifarRecords(3, func(i int) []byte { return []byte{byte(5 * i)} }))
	if _, err := CIFAR10(bad, false); !errors.Is(err, ErrLabelRange) || !strings.Contains(err.Error(), p) ||
		!strings.Contains(err.Error(), "record 2 has label 10") {
		t.Errorf("label range: %v", err)
	}
	p = writeFile(t, bad, "test_batch.bin", nil)
	if _, err := CIFAR10(bad, false); !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), p) {
		t.Errorf("empty: %v", err)
	}
	if _, err := CIFAR10(bad, true); err == nil || !strings.Contains(err.Error(), "data_batch_1.bin") {
		t.Errorf("missing: %v", err)
	}
}

func TestCIFAR100Synthetic(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "cifar-100-binary")
	writeFile(t, sub, "train.bin", cifarRecords(6, func(i int) []byte { return []byte{byte(i * 3), byte(i * 17)} }))
	names := ""
	for i := range 20 {
		names += "coarse" + string(rune('a'+i)) + "\n"
	}
	writeFile(t, sub, "coarse_label_names.txt", []byte(names))
	fine, err := CIFAR100(dir, true, false)
	if err != nil {
		t.Fatal(err)
	}
	coarse, err := CIFAR100(dir, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if fine.NumClasses() != 100 || coarse.NumClasses() != 20 || fine.Len() != 6 {
		t.Fatalf("classes %d %d", fine.NumClasses(), coarse.NumClasses())
	}
	if fine.Label(5) != 85 || coarse.Label(5) != 15 || coarse.ClassNames()[15] != "coarsep" || fine.ClassNames() != nil {
		t.Errorf("labels %d %d names %v", fine.Label(5), coarse.Label(5), coarse.ClassNames())
	}
	if fine.Raw(2)[0] != 2 {
		t.Errorf("pixel %d", fine.Raw(2)[0])
	}
	p := writeFile(t, sub, "test.bin", cifarRecords(2, func(i int) []byte { return []byte{20, 1} }))
	if _, err := CIFAR100(dir, false, true); !errors.Is(err, ErrLabelRange) || !strings.Contains(err.Error(), p) {
		t.Errorf("coarse label 20: %v", err)
	}
	if _, err := CIFAR100(dir, false, false); err != nil {
		t.Errorf("fine labels of the same file: %v", err)
	}
	writeFile(t, sub, "test.bin", cifarRecords(2, func(i int) []byte { return []byte{20, 1} })[:3074*2-1])
	if _, err := CIFAR100(dir, false, false); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated: %v", err)
	}
}
