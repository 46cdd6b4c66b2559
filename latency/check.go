package latency

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/train"
)

// Change is one candidate of the planner: a unit whose activations are
// removed, a block pruned whole, or a block's prunable layer pruned with
// its activations removed (measured beyond removing the activations alone,
// as LayerPruneImportance is). Exactly one of the fields is set.
type Change struct {
	Unit   string `json:"unit,omitempty"`
	Pruned string `json:"pruned,omitempty"`
	Layer  string `json:"layer,omitempty"` // a block name
}

// String names the change: "unit X", "prune X" or "layer X".
func (c Change) String() string {
	switch {
	case c.Pruned != "":
		return "prune " + c.Pruned
	case c.Layer != "":
		return "layer " + c.Layer
	}
	return "unit " + c.Unit
}

// blockUnits returns the units of block b.
func blockUnits(g *graph.Graph, b string) map[string]bool {
	out := map[string]bool{}
	for _, u := range g.Units {
		if u.Block == b {
			out[u.Name] = true
		}
	}
	return out
}

// plans returns the plan of the change and, for a layer, the plan it is
// measured against (the block's activations removed alone; nil otherwise).
func (c Change) plans(g *graph.Graph) (*plan.Plan, *plan.Plan, error) {
	switch {
	case c.Pruned != "":
		p := plan.New(g, plan.SourceManual, nil)
		p.Pruned = []string{c.Pruned}
		return p, nil, nil
	case c.Layer != "":
		l := PrunableLayers(g)[c.Layer]
		units := blockUnits(g, c.Layer)
		if l == "" || len(units) == 0 {
			return nil, nil, fmt.Errorf("block %q has no prunable layer or no unit", c.Layer)
		}
		p := plan.New(g, plan.SourceManual, units)
		p.PrunedLayers = []string{l}
		return p, plan.New(g, plan.SourceManual, units), nil
	}
	return plan.New(g, plan.SourceManual, map[string]bool{c.Unit: true}), nil, nil
}

// FinetuneCheckOptions configures FinetuneImportance.
type FinetuneCheckOptions struct {
	// Train is the fine-tuning recipe (optimiser, learning rate, batch,
	// threads, seed); its Out, Epochs, MaxSteps and EvalEvery are set here (Model
	// must validate but is not used: the model is g).
	Train train.Config
	// Steps is the number of optimiser steps of each fine-tune (default 200).
	Steps int
	// Images is the number of held-out images the loss is measured on (the
	// first Images of Data.Eval; default 512), as Importance measures.
	Images int
	// Dir receives one run directory per fine-tune (a temporary directory,
	// removed afterwards, when empty).
	Dir string
	// Apply is the form changes are applied in (e.g. PadFirst).
	Apply plan.ApplyOptions
	// Log receives progress (nothing when nil).
	Log io.Writer
}

// FinetuneImportance is the expensive importance estimate the cheap ones
// (Importance, PruneImportance) are checked against: for each change, g
// with the change applied is fine-tuned for opts.Steps steps and its
// held-out loss measured; the importance is that loss less the loss of g
// fine-tuned the same way with nothing changed (the control, so that the
// fine-tuning's own gain is not credited to the change). It costs one
// fine-tune per change plus one: minutes to hours, which is why it is an
// opt-in check (dshrink importance --check), not the planner's estimate.
// A layer change is measured against the same fine-tune of its block with
// the activations removed alone (two fine-tunes), as LayerPruneImportance
// measures it without fine-tuning.
func FinetuneImportance(ctx context.Context, g *graph.Graph, changes []Change, ds *train.Datasets, opts FinetuneCheckOptions) (*ImportanceReport, error) {
	if ds == nil || ds.Train == nil || ds.Eval == nil || ds.Eval.Len() == 0 {
		return nil, errors.New("importance check: training and held-out images are needed")
	}
	if opts.Steps <= 0 {
		opts.Steps = 200
	}
	if opts.Images <= 0 {
		opts.Images = 512
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "dshrink-importance-check-")
		if err != nil {
			return nil, fmt.Errorf("importance check: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	n := min(opts.Images, ds.Eval.Len())
	x, y := load(ds.Eval, 0, n)
	cfg := opts.Train
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 64
	}
	per := max(1, ds.Train.Len()/cfg.BatchSize)
	cfg.Epochs = (opts.Steps + per - 1) / per
	cfg.MaxSteps = opts.Steps
	cfg.EvalEvery = -1
	cfg.Quiet = true
	batch := min(cfg.BatchSize, 128)
	run := func(name string, m *graph.Graph) (loss, top1 float64, err error) {
		c := cfg
		c.Out = filepath.Join(dir, name)
		res, err := train.Run(ctx, c, train.Options{Graph: m, Data: ds, Overwrite: true, Log: io.Discard})
		if err != nil {
			return 0, 0, err
		}
		if res.Interrupted {
			return 0, 0, ctx.Err()
		}
		return lossOf(res.Graph, x, y, n, batch, ds.Eval.NumClasses())
	}
	rep := &ImportanceReport{Method: fmt.Sprintf("held-out loss after %d fine-tuning steps with the change, less the loss after the same fine-tuning without it", opts.Steps), Images: n}
	fmt.Fprintf(opts.Log, "importance check: control fine-tune (%d steps)\n", opts.Steps)
	base, baseTop1, err := run("control", g)
	if err != nil {
		return nil, fmt.Errorf("importance check: control: %w", err)
	}
	rep.BaseLoss, rep.BaseTop1 = base, baseTop1
	for k, c := range changes {
		p, ref, err := c.plans(g)
		if err != nil {
			return nil, fmt.Errorf("importance check: %s: %w", c, err)
		}
		m, err := plan.Apply(g, p, opts.Apply)
		if err != nil {
			return nil, fmt.Errorf("importance check: %s: %w", c, err)
		}
		fmt.Fprintf(opts.Log, "importance check: %d/%d %s\n", k+1, len(changes), c)
		loss, top1, err := run(fmt.Sprintf("change-%02d", k), m)
		if err != nil {
			return nil, fmt.Errorf("importance check: %s: %w", c, err)
		}
		if math.IsNaN(loss) {
			return nil, fmt.Errorf("importance check: %s: loss is NaN", c)
		}
		against := base
		if ref != nil {
			rm, err := plan.Apply(g, ref, opts.Apply)
			if err != nil {
				return nil, fmt.Errorf("importance check: %s: %w", c, err)
			}
			if against, _, err = run(fmt.Sprintf("change-%02d-ref", k), rm); err != nil {
				return nil, fmt.Errorf("importance check: %s: %w", c, err)
			}
		}
		name := c.Unit
		switch {
		case c.Pruned != "":
			name = c.Pruned
		case c.Layer != "":
			name = LayerPrefix + c.Layer
		}
		rep.Units = append(rep.Units, UnitImportance{Unit: name, Loss: loss, Top1: top1, Delta: loss - against})
	}
	return rep, nil
}
