package data

import (
	"bytes"
	"testing"
)

// FuzzReadIDX checks that arbitrary IDX image and label files, raw or gzipped, give an
// error or a payload of the announced size, never a panic or a huge allocation.
func FuzzReadIDX(f *testing.F) {
	img, lbl := synthMNIST(3, 28, 28)
	f.Add(img, lbl)
	f.Add(gz(img), gz(lbl))
	f.Add(img[:20], lbl)
	f.Fuzz(func(t *testing.T, img, lbl []byte) {
		for _, tc := range []struct {
			b     []byte
			magic uint32
		}{{img, idxImagesMagic}, {lbl, idxLabelsMagic}} {
			r, limit, exact, err := maybeGzip("fuzz", bytes.NewReader(tc.b), int64(len(tc.b)))
			if err != nil {
				continue
			}
			dims, payload, err := parseIDX("fuzz", r, limit, exact, tc.magic, nil)
			if err != nil {
				continue
			}
			n := 1
			for _, d := range dims {
				n *= int(d)
			}
			if n != len(payload) {
				t.Fatalf("dims %v but %d bytes", dims, len(payload))
			}
		}
	})
}
