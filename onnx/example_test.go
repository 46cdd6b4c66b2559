package onnx_test

import (
	"compress/gzip"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/dshrink/dshrink/onnx"
)

// Import a PyTorch export: a torchvision MobileNetV2 written by
// torch.onnx.export (opset 11, BatchNorm folded by the exporter). The
// importer recognises the inverted residual blocks and their removable
// activation units, so search, fine-tune and merge work on the result.
// ImportFile does the same from a path (external data files included).
func ExampleImport() {
	f, err := os.Open("testdata/small_folded.onnx.gz")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		log.Fatal(err)
	}
	g, err := onnx.Import(data, onnx.ImportOptions{})
	if err != nil {
		log.Fatal(err)
	}
	c, err := g.Cost()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("input:", g.Input.Shape, "classes:", g.Classes)
	fmt.Println("blocks:", len(g.Blocks), "removable units:", len(g.Units))
	fmt.Printf("%.2f M MACs\n", float64(c.MACs)/1e6)
	// Output:
	// input: [3 32 32] classes: 10
	// blocks: 4 removable units: 6
	// 0.76 M MACs
}
