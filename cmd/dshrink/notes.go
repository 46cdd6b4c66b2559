package main

import (
	"fmt"
	"io"

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
