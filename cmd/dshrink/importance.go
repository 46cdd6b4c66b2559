package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/train"
	"github.com/spf13/cobra"
)

type importanceFlags struct {
	dataset, dataDir string
	images, calib    int
	prune            bool
	out, pruneOut    string
	check            int
	checkSteps       int
	checkBatch       int
	checkLR          float64
	checkOut         string
	threads          int
	seed             uint64
	jsonOut          bool
}

func init() {
	var o importanceFlags
	cmd := &cobra.Command{
		Use:   "importance MODEL --data DATASET -o IMPORTANCE.json [--prune --prune-out PRUNE.json] [--check N]",
		Short: "Estimate how much each block's activations (and, with --prune, each whole block) matter, cheaply, and check it against fine-tuning",
		Long: `Estimate the importance the latency planner maximises (docs/method.md,
latency-aware planning): for every block's removable unit, the increase of
the held-out cross-entropy when that unit alone runs as the identity; with
--prune, for every block that can be pruned (a residual block with equal
input and output shapes, LayerMerge's layer pruning), the increase when
that block alone is removed whole (its residual branch dropped, the
identity kept), and for every block's stride-1 depthwise layer the increase
when it is pruned with the block's activations removed, beyond removing
the activations alone (entries layer:BLOCK). One forward pass over --images held-out images (a
validation split of the training set) per candidate: seconds to minutes.

-o writes the units' report (plan --importance reads it), --prune-out the
blocks' (plan --prune-importance reads it).

--check N is the expensive check of the cheap estimate: N candidates
spread over the cheap ranking (a third each of units, pruned blocks and
pruned layers with --prune) are each fine-tuned for --check-steps steps
with the change applied, and their held-out loss compared with the same
fine-tune without the change (the control; for a pruned layer, the
fine-tune with its block's activations removed alone). It prints both
estimates side by side with their Spearman rank correlations and writes
them to --check-out. It costs N+1 fine-tunes, plus one per pruned layer.`,
		Example: `  dshrink importance base.dsk --data fashion-mnist -o imp.json
  dshrink importance base.dsk --data fashion-mnist --prune -o imp.json --prune-out prune.json
  dshrink importance base.dsk --data fashion-mnist --prune -o imp.json --prune-out prune.json \
      --check 6 --check-steps 150 --check-out check.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImportance(cmd.Context(), args[0], &o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataset, "data", "", "data set (fashion-mnist, mnist, cifar10, cifar100)")
	f.StringVar(&o.dataDir, "data-dir", "", "data directory (default location for fashion-mnist)")
	f.IntVar(&o.images, "images", 512, "held-out images of the estimate")
	f.IntVar(&o.calib, "calib-batches", 0, "BatchNorm recalibration batches before each measurement")
	f.BoolVar(&o.prune, "prune", false, "also estimate the importance of pruning each prunable block")
	f.StringVarP(&o.out, "output", "o", "", "units' importance report (for plan --importance)")
	f.StringVar(&o.pruneOut, "prune-out", "", "blocks' pruning importance report (for plan --prune-importance)")
	f.IntVar(&o.check, "check", 0, "fine-tune this many candidates to check the cheap estimate (expensive)")
	f.IntVar(&o.checkSteps, "check-steps", 200, "optimiser steps of each check fine-tune")
	f.IntVar(&o.checkBatch, "check-batch", 64, "batch size of the check fine-tunes")
	f.Float64Var(&o.checkLR, "check-lr", 0.01, "learning rate of the check fine-tunes (cosine over the steps)")
	f.StringVar(&o.checkOut, "check-out", "", "write the check's figures here (JSON)")
	f.IntVar(&o.threads, "threads", 0, "compute threads of the check fine-tunes (0: every core)")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the validation split, calibration and fine-tuning")
	f.BoolVar(&o.jsonOut, "json", false, "print the result as JSON (the text report goes to stderr)")
	rootCmd.AddCommand(cmd)
}

// checkRow is one candidate of the importance check.
type checkRow struct {
	Change    string  `json:"change"`
	Cheap     float64 `json:"cheap"`
	Finetuned float64 `json:"finetuned"`
}

type checkResult struct {
	Rows     []checkRow `json:"rows"`
	Spearman float64    `json:"spearman"`
	// SpearmanUnits, SpearmanPruned and SpearmanLayers are the rank
	// correlations within each kind of change (NaN with fewer than two).
	SpearmanUnits  float64 `json:"spearman_units"`
	SpearmanPruned float64 `json:"spearman_pruned"`
	SpearmanLayers float64 `json:"spearman_layers"`
	// PruneWeight is (fine-tuned / cheap for pruned blocks) over (the same
	// for units): the factor that puts the cheap pruning importance on the
	// scale of the cheap unit importance as fine-tuning sees them (plan
	// --prune-weight); 0 when the check has not both kinds.
	PruneWeight float64 `json:"prune_weight"`
	Steps       int     `json:"steps"`
	Method      string  `json:"method"`
}

func runImportance(ctx context.Context, model string, o *importanceFlags, stdout, log io.Writer) error {
	jsonW := stdout
	if o.jsonOut {
		stdout = log
	}
	if o.dataset == "" {
		return errors.New("importance: --data is needed")
	}
	if o.out == "" {
		return errors.New("importance: missing -o")
	}
	if o.images < 1 || o.check < 0 || o.checkSteps < 1 || o.checkBatch < 1 {
		return errors.New("importance: --images, --check-steps and --check-batch must be at least 1, --check at least 0")
	}
	g, err := loadPlannerModel(model)
	if err != nil {
		return fmt.Errorf("importance: %w", err)
	}
	all, err := train.LoadDataset(o.dataset, o.dataDir, "train")
	if err != nil {
		return fmt.Errorf("importance: %w", err)
	}
	tr, val, err := data.Split(all, max(o.images, 1000), o.seed)
	if err != nil {
		return fmt.Errorf("importance: %w", err)
	}
	var units []string
	for _, u := range g.Units {
		if u.Block != "" {
			units = append(units, u.Name)
		}
	}
	iopts := latency.ImportanceOptions{Images: o.images, CalibBatches: o.calib, Seed: o.seed}
	fmt.Fprintf(log, "importance: %d units on %d held-out images\n", len(units), o.images)
	rep, err := latency.Importance(g, units, val, tr, iopts)
	if err != nil {
		return fmt.Errorf("importance: %w", err)
	}
	if err := writeJSONFile(o.out, rep); err != nil {
		return fmt.Errorf("importance: %w", err)
	}
	fmt.Fprintf(stdout, "base held-out loss %.4f, top-1 %.2f%% (%d images)\n", rep.BaseLoss, 100*rep.BaseTop1, rep.Images)
	fmt.Fprintf(stdout, "%-24s %12s %8s\n", "unit", "loss +", "top-1")
	for _, u := range rep.Units {
		fmt.Fprintf(stdout, "%-24s %12.4f %7.2f%%\n", u.Unit, u.Delta, 100*u.Top1)
	}
	var prep *latency.ImportanceReport
	if o.prune {
		if prep, err = pruneReport(g, val, tr, iopts, log); err != nil {
			return fmt.Errorf("importance: %w", err)
		}
		if o.pruneOut != "" {
			if err := writeJSONFile(o.pruneOut, prep); err != nil {
				return fmt.Errorf("importance: %w", err)
			}
		}
		fmt.Fprintf(stdout, "%-24s %12s %8s   (%s: beyond removing the block's activations)\n", "pruned block or layer", "loss +", "top-1", latency.LayerPrefix+"BLOCK")
		for _, u := range prep.Units {
			fmt.Fprintf(stdout, "%-24s %12.4f %7.2f%%\n", u.Unit, u.Delta, 100*u.Top1)
		}
	}
	var chk *checkResult
	if o.check > 0 {
		ds := &train.Datasets{Train: tr, Eval: val, EvalName: "val", Norm: all.Normalization()}
		if chk, err = importanceCheck(ctx, g, rep, prep, ds, o, log); err != nil {
			return fmt.Errorf("importance: %w", err)
		}
		fmt.Fprintf(stdout, "check: %s\n%-28s %12s %12s\n", chk.Method, "change", "cheap", "fine-tuned")
		for _, r := range chk.Rows {
			fmt.Fprintf(stdout, "%-28s %12.4f %12.4f\n", r.Change, r.Cheap, r.Finetuned)
		}
		fmt.Fprintf(stdout, "Spearman rank correlation %.3f over %d candidates (units %.3f, pruned blocks %.3f, pruned layers %.3f)\n",
			chk.Spearman, len(chk.Rows), chk.SpearmanUnits, chk.SpearmanPruned, chk.SpearmanLayers)
		if chk.PruneWeight > 0 {
			fmt.Fprintf(stdout, "fine-tuning weighs pruning %.2fx the cheap estimate's ratio to removed activations: plan with --prune-weight %.2f\n",
				chk.PruneWeight, chk.PruneWeight)
		}
		if o.checkOut != "" {
			if err := writeJSONFile(o.checkOut, chk); err != nil {
				return fmt.Errorf("importance: %w", err)
			}
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", o.out)
	if o.jsonOut {
		return printJSON(jsonW, map[string]any{"model": model, "units": rep, "pruned": prep, "check": chk,
			"outputs": map[string]string{"units": o.out, "pruned": o.pruneOut, "check": o.checkOut}})
	}
	return nil
}

// spread returns up to k items of the report spread evenly over its
// ranking by Delta.
func spread(rep *latency.ImportanceReport, k int) []latency.UnitImportance {
	us := append([]latency.UnitImportance(nil), rep.Units...)
	sort.SliceStable(us, func(a, b int) bool { return us[a].Delta < us[b].Delta })
	if k >= len(us) {
		return us
	}
	var out []latency.UnitImportance
	for i := 0; i < k; i++ {
		idx := 0
		if k > 1 {
			idx = int(math.Round(float64(i) * float64(len(us)-1) / float64(k-1)))
		}
		out = append(out, us[idx])
	}
	return out
}

// importanceCheck fine-tunes o.check candidates spread over the cheap
// ranking and compares both estimates.
func importanceCheck(ctx context.Context, g *graph.Graph, rep, prep *latency.ImportanceReport, ds *train.Datasets, o *importanceFlags, log io.Writer) (*checkResult, error) {
	// Split the candidates over the kinds: units, pruned blocks, pruned
	// layers (the last two with --prune), the units taking the remainder.
	blocksOnly, layersOnly := &latency.ImportanceReport{}, &latency.ImportanceReport{}
	if prep != nil {
		for _, u := range prep.Units {
			if strings.HasPrefix(u.Unit, latency.LayerPrefix) {
				layersOnly.Units = append(layersOnly.Units, u)
			} else {
				blocksOnly.Units = append(blocksOnly.Units, u)
			}
		}
	}
	kinds := 1
	for _, r := range []*latency.ImportanceReport{blocksOnly, layersOnly} {
		if len(r.Units) > 0 {
			kinds++
		}
	}
	per := o.check / kinds
	nb, nl := 0, 0
	if len(blocksOnly.Units) > 0 {
		nb = per
	}
	if len(layersOnly.Units) > 0 {
		nl = per
	}
	var changes []latency.Change
	var cheap []float64
	for _, u := range spread(rep, o.check-nb-nl) {
		changes = append(changes, latency.Change{Unit: u.Unit})
		cheap = append(cheap, u.Delta)
	}
	for _, u := range spread(blocksOnly, nb) {
		changes = append(changes, latency.Change{Pruned: u.Unit})
		cheap = append(cheap, u.Delta)
	}
	for _, u := range spread(layersOnly, nl) {
		changes = append(changes, latency.Change{Layer: strings.TrimPrefix(u.Unit, latency.LayerPrefix)})
		cheap = append(cheap, u.Delta)
	}
	cfg := train.DefaultConfig()
	cfg.BatchSize, cfg.LR, cfg.Seed, cfg.Threads = o.checkBatch, o.checkLR, o.seed, o.threads
	cfg.Schedule.Name, cfg.Schedule.WarmupEpochs = "constant", 0
	cfg.LabelSmoothing = 0
	fmt.Fprintf(log, "importance: checking %d candidates by fine-tuning %d steps each (+1 control)\n", len(changes), o.checkSteps)
	fr, err := latency.FinetuneImportance(ctx, g, changes, ds, latency.FinetuneCheckOptions{Train: cfg, Steps: o.checkSteps, Images: o.images, Log: log})
	if err != nil {
		return nil, err
	}
	res := &checkResult{Steps: o.checkSteps, Method: fr.Method}
	var fine []float64
	for k, c := range changes {
		res.Rows = append(res.Rows, checkRow{Change: c.String(), Cheap: cheap[k], Finetuned: fr.Units[k].Delta})
		fine = append(fine, fr.Units[k].Delta)
	}
	res.Spearman = latency.Spearman(cheap, fine)
	var cu, fu, cp, fp, cl, fl []float64
	for k, c := range changes {
		switch {
		case c.Pruned != "":
			cp, fp = append(cp, cheap[k]), append(fp, fine[k])
		case c.Layer != "":
			cl, fl = append(cl, cheap[k]), append(fl, fine[k])
		default:
			cu, fu = append(cu, cheap[k]), append(fu, fine[k])
		}
	}
	res.SpearmanUnits, res.SpearmanPruned, res.SpearmanLayers = latency.Spearman(cu, fu), latency.Spearman(cp, fp), latency.Spearman(cl, fl)
	ratio := func(c, f []float64) float64 {
		var sc, sf float64
		for i := range c {
			sc += c[i]
			sf += f[i]
		}
		if sc <= 0 || sf <= 0 {
			return 0
		}
		return sf / sc
	}
	if ru, rp := ratio(cu, fu), ratio(cp, fp); ru > 0 && rp > 0 {
		res.PruneWeight = rp / ru
	}
	return res, nil
}
