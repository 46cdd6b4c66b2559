package data

import (
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

// TestJPEGLikePIL checks that colour JPEGs with subsampled chroma decode to
// the pixels Pillow (libjpeg-turbo) gives, which torchvision's pipelines and
// so PyTorch's predictions see: libjpeg's fancy chroma upsampling and its
// YCbCr -> RGB tables. The fixtures (testdata/chroma42x.jpg and Pillow's
// decoding of each, *.pil.png) are made by tools/fixtures/make_jpeg_fixtures.py.
// The IDCTs differ, so a few values may differ by a few levels; Go's own
// conversion (chroma samples repeated) is off by up to 53 levels on these
// images.
func TestJPEGLikePIL(t *testing.T) {
	for _, name := range []string{"chroma420", "chroma422"} {
		f, err := os.Open("testdata/" + name + ".jpg")
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		m, ok := img.(*image.YCbCr)
		if !ok {
			t.Fatalf("%s: decoded as %T", name, img)
		}
		w, h := m.Rect.Dx(), m.Rect.Dy()
		got := make([]uint8, 3*w*h)
		if !ycbcrPlanes(m, got, 3) {
			t.Fatalf("%s: subsampling %v not handled", name, m.SubsampleRatio)
		}
		pf, err := os.Open("testdata/" + name + ".pil.png")
		if err != nil {
			t.Fatal(err)
		}
		ref, err := png.Decode(pf)
		pf.Close()
		if err != nil {
			t.Fatal(err)
		}
		var maxd, sum int
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				r, g, b, _ := ref.At(x, y).RGBA()
				for c, v := range []uint32{r >> 8, g >> 8, b >> 8} {
					d := int(got[c*w*h+y*w+x]) - int(v)
					d = max(d, -d)
					maxd = max(maxd, d)
					sum += d
				}
			}
		}
		mean := float64(sum) / float64(3*w*h)
		t.Logf("%s (%v): max |ours - Pillow| %d, mean %.3f", name, m.SubsampleRatio, maxd, mean)
		if maxd > 4 || mean > 0.25 {
			t.Errorf("%s: max difference %d (want <= 4), mean %.3f (want <= 0.25) from Pillow's decoding", name, maxd, mean)
		}
	}
}
