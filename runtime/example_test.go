package runtime_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/runtime"
)

// Load a model file, compile it for batches of up to 4 images on 2
// threads, and run it: the inference path of `dshrink predict` and
// `dshrink bench`. Run allocates nothing; one Program serves one goroutine
// at a time.
func ExampleCompile() {
	// A model file to load: here a freshly built Fashion-MNIST MobileNetV2-0.5
	// (dshrink new mobilenet_v2 --preset fashion-mnist); in practice the
	// model.dsk of a training run, a merged model, or an imported ONNX model.
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "fm.dsk")
	built, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		log.Fatal(err)
	}
	if err := built.Save(path); err != nil {
		log.Fatal(err)
	}

	g, err := graph.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	prog, err := runtime.Compile(g, runtime.Options{Batch: 4, Threads: 2})
	if err != nil {
		log.Fatal(err)
	}
	n := 3                                  // any number of images from 1 to prog.Batch()
	x := make([]float32, n*prog.InputLen()) // [n, C, H, W], normalised as in training
	out := make([]float32, n*prog.OutputLen())
	if err := prog.Run(x, out); err != nil {
		log.Fatal(err)
	}
	fmt.Println("input per image:", prog.InputShape())
	fmt.Println("output per image:", prog.OutputShape())
	fmt.Println("logits:", len(out))
	// Output:
	// input per image: [1 28 28]
	// output per image: [10]
	// logits: 30
}
