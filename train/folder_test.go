package train

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFolder writes n PNG images per class under root/split/class: class
// "dark" images are dark, class "light" ones light, with seeded noise.
func writeFolder(t *testing.T, root, split string, n int) {
	t.Helper()
	for ci, class := range []string{"dark", "light"} {
		dir := filepath.Join(root, split, class)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			img := image.NewRGBA(image.Rect(0, 0, 12, 10))
			for y := 0; y < 10; y++ {
				for x := 0; x < 12; x++ {
					v := uint8(40 + 160*ci + (x*7+y*13+i*5)%40)
					img.Set(x, y, color.RGBA{v, v / 2, 255 - v, 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, class+string(rune('a'+i))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

func TestFolderDataset(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, "train", 12)
	writeFolder(t, root, "val", 4) // no test/: val/ is the held-out set

	d, err := LoadDatasets(DataConfig{Dataset: "folder", Dir: root, ImageSize: 8}, 1)
	if err != nil {
		t.Fatal(err)
	}
	c, h, w := d.Train.Shape()
	if d.Train.Len() != 24 || d.Eval.Len() != 8 || c != 3 || h != 8 || w != 8 || d.Train.NumClasses() != 2 {
		t.Fatalf("train %d, eval %d images, shape %dx%dx%d, %d classes", d.Train.Len(), d.Eval.Len(), c, h, w, d.Train.NumClasses())
	}

	// The whole training path: config validation, a fresh model sized from
	// the data, a couple of steps, evaluation on val/.
	cfg := smallConfig(t.TempDir())
	cfg.Data = DataConfig{Dataset: "folder", Dir: root, ImageSize: 8, Gray: true}
	cfg.Model.Width = 0.35
	cfg.Epochs = 1
	cfg.BatchSize = 12
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), cfg, Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if res.State.Step != 2 || res.Final.Count != 8 {
		t.Errorf("ran %d steps, evaluated %d images", res.State.Step, res.Final.Count)
	}

	// Bad configurations name the field.
	for _, tc := range []struct {
		data DataConfig
		want string
	}{
		{DataConfig{Dataset: "folder", ImageSize: 8}, "data.dir"},
		{DataConfig{Dataset: "folder", Dir: root}, "data.image_size"},
		{DataConfig{Dataset: "folder", Dir: root, ImageSize: 8, Resize: 4}, "data.resize"},
	} {
		bad := smallConfig(t.TempDir())
		bad.Data = tc.data
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", tc.data, err, tc.want)
		}
	}
	if _, err := LoadFolder(filepath.Join(root, "missing"), "train", 8, 0, false); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing folder: %v", err)
	}
}
