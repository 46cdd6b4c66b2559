package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pngBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestImageFolder(t *testing.T) {
	root := t.TempDir()
	red := color.NRGBA{200, 10, 30, 255}
	// Class "b_cat" sorts after "a_dog".
	writeFile(t, root, "b_cat/1.png", pngBytes(t, solid(40, 30, red)))
	writeFile(t, root, "b_cat/sub/2.JPG", jpegBytes(t, solid(16, 16, color.NRGBA{0, 0, 255, 255})))
	writeFile(t, root, "b_cat/notes.txt", []byte("ignored"))
	writeFile(t, root, "b_cat/.hidden.png", []byte("ignored"))
	// Left half black, right half white, 64x64 -> 32x32: a clean 2x downscale.
	half := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 32; x < 64; x++ {
			half.Pix[y*64+x] = 255
		}
	}
	writeFile(t, root, "a_dog/half.png", pngBytes(t, half))
	pal := image.NewPaletted(image.Rect(0, 0, 32, 32), color.Palette{color.Black, color.NRGBA{10, 20, 30, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = 1
	}
	writeFile(t, root, "a_dog/pal.png", pngBytes(t, pal))

	d, err := ImageFolder(root, FolderOptions{Size: 32, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 4 || d.NumClasses() != 2 || d.ClassNames()[0] != "a_dog" || d.ClassNames()[1] != "b_cat" {
		t.Fatalf("%v, classes %v", d, d.ClassNames())
	}
	if c, h, w := d.Shape(); c != 3 || h != 32 || w != 32 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	// Files are sorted within classes: a_dog/half.png, a_dog/pal.png, b_cat/1.png, b_cat/sub/2.JPG.
	wantLabels := []int{0, 0, 1, 1}
	for i, l := range wantLabels {
		if d.Label(i) != l {
			t.Errorf("label[%d] = %d, want %d", i, d.Label(i), l)
		}
	}
	raw := d.Raw(0)
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			// The antialiased filter spans 4 source pixels: 1/8 of white leaks into column 15.
			want := uint8(0)
			switch {
			case x == 15:
				want = 32
			case x == 16:
				want = 223
			case x > 16:
				want = 255
			}
			for ch := 0; ch < 3; ch++ {
				if got := raw[ch*1024+y*32+x]; got != want {
					t.Fatalf("half image [%d,%d,%d] = %d, want %d", ch, y, x, got, want)
				}
			}
		}
	}
	if raw := d.Raw(1); raw[0] != 10 || raw[1024+500] != 20 || raw[2048+1023] != 30 {
		t.Errorf("paletted image: %d %d %d", raw[0], raw[1024+500], raw[2048+1023])
	}
	// A solid 40x30 image resized (shorter side 30 -> 32, upscaling) stays solid.
	raw = d.Raw(2)
	for i := 0; i < 1024; i++ {
		if raw[i] != 200 || raw[1024+i] != 10 || raw[2048+i] != 30 {
			t.Fatalf("solid image pixel %d = %d %d %d", i, raw[i], raw[1024+i], raw[2048+i])
		}
	}
	// The JPEG (upscaled from 16x16) is close to pure blue.
	raw = d.Raw(3)
	if raw[100] > 3 || raw[1024+100] > 3 || raw[2048+100] < 250 {
		t.Errorf("jpeg pixel %d %d %d", raw[100], raw[1024+100], raw[2048+100])
	}
	// ImageNet normalisation by default.
	x := make([]float32, 3*32*32)
	d.Get(0, x)
	if want := (float32(0) - 0.485) / 0.229; x[0] != want {
		t.Errorf("normalised %v, want %v", x[0], want)
	}

	// Gray, with resize then centre crop.
	g, err := ImageFolder(root, FolderOptions{Size: 8, Resize: 16, Gray: true})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := g.Shape(); c != 1 || h != 8 || w != 8 {
		t.Fatalf("gray shape %d %d %d", c, h, w)
	}
	// Half image: 64 -> 16, centre crop columns 4..11: black for 4..7, white for 8..11,
	// with 1/8 leaking across the edge.
	raw = g.Raw(0)
	if raw[0] != 0 || raw[2] != 0 || raw[3] != 32 || raw[4] != 223 || raw[5] != 255 || raw[7] != 255 {
		t.Errorf("gray half row: %v", raw[:8])
	}
	if want := luma(200, 10, 30); g.Raw(2)[10] != want {
		t.Errorf("gray solid = %d, want %d", g.Raw(2)[10], want)
	}
}

func TestImageFolderErrors(t *testing.T) {
	ok := pngBytes(t, solid(8, 8, color.NRGBA{1, 2, 3, 255}))
	t.Run("no classes", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "loose.png", ok)
		_, err := ImageFolder(root, FolderOptions{Size: 8})
		if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), "no class sub-folders") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("empty class", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "a/x.png", ok)
		writeFile(t, root, "b/readme.txt", []byte("x"))
		_, err := ImageFolder(root, FolderOptions{Size: 8})
		if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), filepath.Join(root, "b")) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("corrupt image", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "a/x.png", ok)
		p := writeFile(t, root, "a/y.png", ok[:len(ok)/2])
		_, err := ImageFolder(root, FolderOptions{Size: 8})
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("not an image", func(t *testing.T) {
		root := t.TempDir()
		p := writeFile(t, root, "a/x.jpg", []byte("hello, not a jpeg"))
		_, err := ImageFolder(root, FolderOptions{Size: 8})
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		// A FIFO named like an image would block a plain open forever.
		root := t.TempDir()
		writeFile(t, root, "a/x.png", ok)
		p := filepath.Join(root, "a", "y.png")
		if err := mkfifo(p); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		_, err := ImageFolder(root, FolderOptions{Size: 8})
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("missing root", func(t *testing.T) {
		_, err := ImageFolder(filepath.Join(t.TempDir(), "nope"), FolderOptions{Size: 8})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "a/x.png", ok)
		if _, err := ImageFolder(root, FolderOptions{}); err == nil {
			t.Error("size 0 accepted")
		}
		if _, err := ImageFolder(root, FolderOptions{Size: 8, Resize: 4}); err == nil {
			t.Error("resize < size accepted")
		}
		if _, err := ImageFolder(root, FolderOptions{Size: 8, Norm: Normalization{Mean: []float32{0, 0}, Std: []float32{1}}}); err == nil {
			t.Error("2 means for 3 channels accepted")
		}
	})
}
