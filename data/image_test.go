package data

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestReadImageMatchesFolder checks that ReadImage gives exactly the values an image
// folder data set gives for the same file, RGB and gray, and rejects bad options.
func TestReadImageMatchesFolder(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cls")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, 13, 9))
	for y := 0; y < 9; y++ {
		for x := 0; x < 13; x++ {
			img.Set(x, y, color.NRGBA{uint8(19 * x), uint8(27 * y), uint8(x * y), 255})
		}
	}
	path := filepath.Join(dir, "a.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, gray := range []bool{false, true} {
		opt := FolderOptions{Size: 4, Resize: 6, Gray: gray}
		ds, err := ImageFolder(root, opt)
		if err != nil {
			t.Fatal(err)
		}
		c, h, w := ds.Shape()
		want := make([]float32, c*h*w)
		ds.Get(0, want)
		got, err := ReadImage(path, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("gray %v: %d values, want %d", gray, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("gray %v: value %d is %g, the folder data set gives %g", gray, i, got[i], want[i])
			}
		}
	}
	if _, err := ReadImage(path, FolderOptions{Size: 4, Resize: 3}); err == nil {
		t.Error("resize smaller than the crop accepted")
	}
	if _, err := ReadImage(filepath.Join(root, "missing.png"), FolderOptions{Size: 4}); err == nil {
		t.Error("missing file accepted")
	}
	if err := os.WriteFile(filepath.Join(root, "bad.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImage(filepath.Join(root, "bad.png"), FolderOptions{Size: 4}); err == nil {
		t.Error("undecodable file accepted")
	}
}

// TestCentreOffset checks the crop offsets against Python's round(d / 2).
func TestCentreOffset(t *testing.T) {
	for d, want := range []int{0, 0, 1, 2, 2, 2, 3, 4, 4, 4, 5} { // round(0/2) ... round(10/2)
		if got := centreOffset(d); got != want {
			t.Errorf("centreOffset(%d) = %d, want %d", d, got, want)
		}
	}
}
