package main

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/spf13/cobra"
)

// prepFlags are the flags of commands that write a model (import, train)
// that set the preprocessing and class names it records for predict.
type prepFlags struct {
	labels    string
	resize    int
	mean, std []float32
	// prep says whether the preprocessing flags are offered (import), or
	// only --labels (train, whose data set defines the preprocessing).
	prep bool
}

// register adds the flags to cmd.
func (p *prepFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.labels, "labels", "", "class names to record in the model, one per line in output order (for predict)")
	if p.prep {
		f.IntVar(&p.resize, "resize", 0, "record: scale the shorter side to this before the centre crop (default 8/7 of the input size for RGB)")
		f.Float32SliceVar(&p.mean, "mean", nil, "record: normalisation mean per channel, in [0, 1] units (default ImageNet's for RGB, 0.5 for gray)")
		f.Float32SliceVar(&p.std, "std", nil, "record: normalisation standard deviation per channel (default ImageNet's for RGB, 0.5 for gray)")
	}
}

// apply records the flags in g. With the preprocessing flags, g keeps the
// preprocessing it already records (an ONNX file dshrink exported carries
// it) or gets defaultPreprocessing, and the flags that were given override
// its fields.
func (p *prepFlags) apply(cmd *cobra.Command, g *graph.Graph) error {
	if p.prep {
		pre, ok, err := g.Preprocessing()
		if err != nil || !ok {
			pre = defaultPreprocessing(g.Input.Shape)
		}
		f := cmd.Flags()
		if f.Changed("resize") {
			pre.Resize = p.resize
		}
		if f.Changed("mean") {
			pre.Mean = p.mean
		}
		if f.Changed("std") {
			pre.Std = p.std
		}
		if err := g.SetPreprocessing(pre); err != nil {
			if f.Changed("resize") || f.Changed("mean") || f.Changed("std") {
				return err
			}
			// A model whose input is not a square image: nothing to record.
			fmt.Fprintf(cmd.ErrOrStderr(), "note: no preprocessing recorded (%v); predict will need flags\n", err)
		}
	}
	if p.labels != "" {
		names, err := readLabels(p.labels, g.Classes)
		if err != nil {
			return err
		}
		if err := g.SetClassNames(names); err != nil {
			return err
		}
	}
	return nil
}

// recordedPreprocessing returns g's recorded preprocessing for JSON output,
// or nil (JSON null) when it records none.
func recordedPreprocessing(g *graph.Graph) *graph.Preprocessing {
	if p, ok, err := g.Preprocessing(); err == nil && ok {
		return &p
	}
	return nil
}

// relabelModel records the class names of --labels in the model file at
// path (train writes the data set's own names; --labels replaces them).
func relabelModel(cmd *cobra.Command, p *prepFlags, path string) error {
	g, err := graph.Load(path)
	if err != nil {
		return err
	}
	if err := p.apply(cmd, g); err != nil {
		return err
	}
	return g.Save(path)
}
