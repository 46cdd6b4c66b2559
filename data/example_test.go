package data_test

import (
	"fmt"
	"image"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/dshrink/dshrink/data"
)

// A training loop over a data set: a seeded shuffling loader with augmentation, resumable
// at any step of any epoch.
func ExampleLoader() {
	pixels := make([]uint8, 10*1*4*4)
	labels := []int32{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}
	ds, err := data.NewImages("toy", 1, 4, 4, pixels, labels, 3, data.ZeroOne)
	if err != nil {
		panic(err)
	}
	train, val, _ := data.Split(ds, 2, 1)
	l, err := data.NewLoader(train, data.LoaderConfig{
		BatchSize:  3,
		Shuffle:    true,
		Seed:       7,
		Transforms: []data.Transform{data.RandomCrop{Pad: 1}, data.RandomHFlip{}},
	})
	if err != nil {
		panic(err)
	}
	for epoch := 0; epoch < 2; epoch++ {
		it, _ := l.Epoch(epoch, 0) // a resumed run passes the step it stopped at
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			// b.X is [N,1,4,4]; b and its buffers are valid until the next call to Next.
			fmt.Println(epoch, b.Step, b.X.Shape)
		}
		it.Close()
	}
	fmt.Println(train.Len(), val.Len())
	// Output:
	// 0 0 [3 1 4 4]
	// 0 1 [3 1 4 4]
	// 0 2 [2 1 4 4]
	// 1 0 [3 1 4 4]
	// 1 1 [3 1 4 4]
	// 1 2 [2 1 4 4]
	// 8 2
}

// Preprocess one image file exactly as the image-folder data set does for
// every image, and as `dshrink predict` does with the preprocessing a model
// records (graph.Graph.Preprocessing): shorter side scaled to Resize, centre
// crop, optional gray, normalised. The result is one image of a model's
// input batch, CHW.
func ExampleReadImage() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A 40x30 PNG to read: a horizontal gray ramp.
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			img.Pix[y*img.Stride+x] = uint8(6 * x)
		}
	}
	path := filepath.Join(dir, "ramp.png")
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}

	x, err := data.ReadImage(path, data.FolderOptions{Size: 28, Resize: 32, Gray: true, Norm: data.FashionMNISTNorm})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(x), "values (1 x 28 x 28)")
	fmt.Printf("first row: %.3f ... %.3f\n", x[0], x[27])
	// Output:
	// 784 values (1 x 28 x 28)
	// first row: -0.366 ... 1.345
}
