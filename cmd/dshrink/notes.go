package main

import (
	"fmt"
	"io"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/shrink"
)

// explainPadFirstMACs writes, under a table that shows the fine-tuned model
// beside the base, why the fine-tuned model can count more MACs than the
// base: it is the unmerged pad-first form, whose expand convolutions run on
// the padded grid. Nothing is written when it counts no more.
func explainPadFirstMACs(w io.Writer, base, finetuned, merged shrink.ModelStats) {
	if finetuned.MACs <= base.MACs {
		return
	}
	fmt.Fprintf(w, "note: the fine-tuned model counts %.2fM MACs, %.0f%% more than the base: it is the unmerged pad-first form, in which each\n"+
		"      block to merge pads its input once and runs its expand 1x1 convolution on the padded grid, so that merging is exact\n"+
		"      at the borders (docs/method.md). The merged model, the one to deploy, drops that cost: %.2fM MACs.\n",
		float64(finetuned.MACs)/1e6, 100*(float64(finetuned.MACs)/float64(base.MACs)-1), float64(merged.MACs)/1e6)
}

// warnFoldedBN warns, before fine-tuning, that a model with convolutions
// and no BatchNorm (an ONNX export with BatchNorm folded into the
// convolutions, PyTorch's default) trains without BatchNorm, and says how
// to export with it. Checked with torch 1.13: only the training argument
// keeps BatchNorm; do_constant_folding=False alone still folds it.
func warnFoldedBN(w io.Writer, path string, g *graph.Graph) {
	convs, bns := 0, 0
	for _, n := range g.Nodes {
		switch n.Op {
		case graph.OpConv:
			convs++
		case graph.OpBatchNorm:
			bns++
		}
	}
	if convs == 0 || bns > 0 {
		return
	}
	from := "it"
	if g.Meta["source"] == "onnx" {
		from = "its ONNX export folded BatchNorm into the convolutions (PyTorch's default), so it"
	}
	fmt.Fprintf(w, "warning: %s has %d convolutions and no BatchNorm: %s trains WITHOUT BatchNorm,\n"+
		"  which is slower to converge and less stable than the network was trained with. To keep BatchNorm, export with\n"+
		"    torch.onnx.export(model.eval(), x, \"model.onnx\", training=torch.onnx.TrainingMode.PRESERVE, opset_version=13)\n"+
		"  and import that (with torch 1.13, do_constant_folding=False alone still folds BatchNorm, and\n"+
		"  TrainingMode.TRAINING exports BatchNorm with batch statistics and dropout on: not an inference model).\n",
		path, convs, from)
}
