package merge_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/plan"
)

// Merge every block whose activations a plan removes into one dense
// convolution, and verify that the merged model computes what the
// plan-applied, unmerged model computes: what `dshrink merge` does. A
// network that was not fine-tuned without its activations changes function
// when they go; the merge itself does not.
func ExampleMerge() {
	o := models.Default()
	o.Width, o.Resolution, o.Classes = 0.35, 32, 10
	g, err := models.MobileNetV2(o)
	if err != nil {
		log.Fatal(err)
	}
	p, err := plan.Resolve("all", g) // a preset, a plan file or a block list
	if err != nil {
		log.Fatal(err)
	}
	// The bias-map form (the default) is exact at the borders for any
	// network; a model fine-tuned in the pad-first form (PadFirst) needs no map.
	applied, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	merged, rep, err := merge.Merge(applied, merge.Options{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := merge.Verify(applied, merged, merge.VerifyOptions{Random: 2, Seed: 1, Values: rep.ChainOutputs()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("merged %d of %d chains\n", rep.Merged, len(rep.Chains)) // the expansion-1 block is not worth it
	fmt.Printf("MACs reduced: %v\n", rep.After.MACs < rep.Before.MACs)
	fmt.Printf("verified within %g: %v\n", res.Tol, res.OK)
	// Output:
	// merged 16 of 17 chains
	// MACs reduced: true
	// verified within 0.0001: true
}

// Merge a run of three blocks (MobileNetV2's features.4 to features.6: a
// stride-2 block and two residual blocks) into one convolution: ask what it
// becomes (Run, what a latency table times), then merge the model along the
// runs a planner chose. Across two padded 3x3 layers the run is one
// convolution only in the pad-first form, the form to fine-tune in.
func ExampleRun() {
	o := models.Default()
	o.Width, o.Resolution, o.Classes = 0.35, 64, 10
	g, err := models.MobileNetV2(o)
	if err != nil {
		log.Fatal(err)
	}
	p, err := plan.Resolve("all", g)
	if err != nil {
		log.Fatal(err)
	}
	applied, err := plan.Apply(g, p, plan.ApplyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	run := merge.Segment{From: applied.Block("features.4").Input, To: applied.Block("features.6").Output}
	if _, _, err := merge.Run(applied, run.From, run.To, merge.Options{}); errors.Is(err, merge.ErrNeedsPadFirst) {
		fmt.Println("as it is: not one convolution")
	}
	_, ch, err := merge.Run(applied, run.From, run.To, merge.Options{PadFirst: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pad-first: one %s convolution, bias map %v\n", ch.Kernel, ch.BiasMap)
	runs := []merge.Segment{run, {From: applied.Block("features.7").Input, To: applied.Block("features.7").Output}}
	pf, err := merge.PadFirst(applied, runs)
	if err != nil {
		log.Fatal(err)
	}
	merged, rep, err := merge.Merge(pf, merge.Options{Segments: runs})
	if err != nil {
		log.Fatal(err)
	}
	res, err := merge.Verify(pf, merged, merge.VerifyOptions{Random: 2, Seed: 1, Values: rep.ChainOutputs()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("merged %d runs, verified against the pad-first model: %v\n", rep.Merged, res.OK)
	// Output:
	// as it is: not one convolution
	// pad-first: one 11x11/s2 convolution, bias map false
	// merged 2 runs, verified against the pad-first model: true
}
