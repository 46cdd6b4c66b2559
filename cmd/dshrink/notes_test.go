package main

import (
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
)

// TestWarnFoldedBN: a model with convolutions and no BatchNorm (a
// BatchNorm-folded ONNX import) gets the warning with the export that keeps
// BatchNorm; a model with BatchNorm gets nothing.
func TestWarnFoldedBN(t *testing.T) {
	build := func(bn bool) *graph.Graph {
		b := graph.NewBuilder("m", 3, 8, 8)
		x := b.Conv("conv", "input", 3, 4, 3, 1, 1, 1, !bn)
		if bn {
			x = b.BatchNorm("bn", x, 4)
		}
		x = b.Act("act", x, graph.ActReLU, "")
		g, err := b.Finish(b.Flatten("flat", b.GlobalAvgPool("pool", x)))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	folded := build(false)
	folded.Meta["source"] = "onnx"
	var w strings.Builder
	warnFoldedBN(&w, "m.dsk", folded)
	for _, want := range []string{"m.dsk has 1 convolutions and no BatchNorm", "WITHOUT BatchNorm", "TrainingMode.PRESERVE", "do_constant_folding=False alone still folds"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("warning lacks %q:\n%s", want, w.String())
		}
	}
	w.Reset()
	warnFoldedBN(&w, "m.dsk", build(true))
	if w.Len() != 0 {
		t.Errorf("a model with BatchNorm got a warning:\n%s", w.String())
	}
}
