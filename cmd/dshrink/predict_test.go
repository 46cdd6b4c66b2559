package main

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/models"
)

// TestPredictMatchesPyTorch imports a torchvision MobileNetV2 export and
// checks that `dshrink predict` gives, for PNG, JPEG (4:4:4 and 4:2:0), RGBA and gray images of
// several sizes, PyTorch's top-5 classes in PyTorch's order after
// torchvision's ImageNet evaluation transform (Resize, CenterCrop, ToTensor,
// Normalize), with probabilities within 0.01. The model, the images and
// PyTorch's answers are fixtures in testdata/predict, made by
// tools/fixtures/make_predict_fixtures.py; the import records the transform,
// so predict runs without flags.
func TestPredictMatchesPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	fix, _ := filepath.Abs(filepath.Join("testdata", "predict"))
	gunzipFile(t, filepath.Join(fix, "small.onnx.gz"), filepath.Join(dir, "small.onnx"))
	run(t, bin, dir, "import", "small.onnx", "-o", "small.dsk")

	var want struct {
		Images []imagePrediction `json:"images"`
	}
	readJSON(t, filepath.Join(fix, "want.json"), &want)
	args := []string{"predict", "small.dsk", "--json", "--batch", "3"} // batches of 3 and 2
	for _, im := range want.Images {
		args = append(args, filepath.Join(fix, im.Image))
	}
	var got struct {
		Images []imagePrediction `json:"images"`
	}
	out := run(t, bin, dir, args...)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("predict --json: %v\n%s", err, out)
	}
	if len(got.Images) != len(want.Images) {
		t.Fatalf("%d images predicted, want %d", len(got.Images), len(want.Images))
	}
	for i, w := range want.Images {
		g := got.Images[i]
		if len(g.Top) != 5 {
			t.Fatalf("%s: %d classes, want 5", w.Image, len(g.Top))
		}
		for k := range w.Top {
			if g.Top[k].Class != w.Top[k].Class || math.Abs(g.Top[k].Probability-w.Top[k].Probability) > 0.01 {
				t.Errorf("%s: top-%d is class %d (p %.4f), PyTorch's is class %d (p %.4f)",
					w.Image, k+1, g.Top[k].Class, g.Top[k].Probability, w.Top[k].Class, w.Top[k].Probability)
			}
		}
	}

	// Class names from --labels at import time, and the text output.
	labels := filepath.Join(dir, "labels.txt")
	if err := os.WriteFile(labels, []byte("zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, bin, dir, "import", "small.onnx", "-o", "named.dsk", "--labels", labels)
	out = run(t, bin, dir, "predict", "named.dsk", filepath.Join(fix, want.Images[0].Image), "--top", "2")
	if !strings.Contains(out, "1. four") {
		t.Errorf("predict with class names: want class 4 named \"four\" first:\n%s", out)
	}
}

// TestPredictErrors checks that bad input is reported, not a panic.
func TestPredictErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model string
		o     predictOpts
		want  string
	}{
		{filepath.Join(dir, "missing.dsk"), predictOpts{top: 5, batch: 1}, "missing.dsk"},
		{filepath.Join(dir, "m.dsk"), predictOpts{top: 0, batch: 1}, "--top"},
	} {
		err := runPredict(io.Discard, io.Discard, c.model, []string{bad}, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("runPredict(%s, %+v): %v, want an error naming %q", c.model, c.o, err, c.want)
		}
	}
	// A model that loads, an image that does not decode: the error names the image.
	fm, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	mpath := filepath.Join(dir, "fm.dsk")
	if err := fm.Save(mpath); err != nil {
		t.Fatal(err)
	}
	err = runPredict(io.Discard, io.Discard, mpath, []string{bad}, predictOpts{top: 5, batch: 4, threads: 1})
	if err == nil || !strings.Contains(err.Error(), "bad.png") {
		t.Errorf("undecodable image: %v, want an error naming bad.png", err)
	}
	if _, err := readLabels(filepath.Join(dir, "none.txt"), 3); err == nil {
		t.Error("missing labels file accepted")
	}
	lf := filepath.Join(dir, "l.txt")
	if err := os.WriteFile(lf, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readLabels(lf, 3); err == nil || !strings.Contains(err.Error(), "2 names") {
		t.Errorf("2 labels for 3 classes: %v", err)
	}
}

// TestTopK checks the softmax ranking, ties in class order.
func TestTopK(t *testing.T) {
	top := topK([]float32{1, 3, 3, 0}, 3, []string{"a", "b", "c", "d"})
	if top[0].Name != "b" || top[1].Name != "c" || top[2].Name != "a" {
		t.Errorf("order %+v", top)
	}
	var sum float64
	for _, p := range topK([]float32{1, 3, 3, 0}, 10, nil) {
		sum += p.Probability
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("probabilities sum to %g", sum)
	}
}

func gunzipFile(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
