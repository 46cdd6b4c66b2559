package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/safetensors"
	"github.com/spf13/cobra"
)

func init() {
	var (
		planSpec, out, padForm, inputs string
		opts                           merge.Options
		explain, asJSON, finalAct      bool
		tol                            float64
		images                         int
		seed                           uint64
	)
	cmd := &cobra.Command{
		Use:   "merge MODEL --plan PLAN -o OUT",
		Short: "Merge activation-free layer chains into single convolutions, verified exact",
		Long: `Apply an activation plan (removed units become the identity), fold BatchNorm,
and merge every activation-free chain of convolutions (1x1 -> depthwise -> 1x1,
residual adds, Pad nodes) into one dense convolution, exact at the borders:
either with a constant border bias map (--pad-form bias-map, for models merged
as they are) or in the pad-first form (--pad-form pad-first: each removed
block pads its input once and runs its convolutions unpadded; this is the form
a model is fine-tuned in to be merged, and for a model that was not, it is a
different function at the border).

PLAN is a plan file (JSON, as written by the search), a preset (all = every
inverted residual block; ds-a ... ds-f = the paper's MobileNetV2-1.4 plans),
or an explicit list of units such as features.3,features.5-8.

By default each block is merged on its own (as in the paper) and a chain whose
merged convolution would cost more than --max-mac-growth times the MACs it
replaces is skipped unless --force (MobileNetV2's expansion-1 block grows 5.8x).

The merged model is verified against the plan-applied, unmerged model on
seeded random inputs (and on --inputs when given): that comparison is the
proof of equivalence of the merge. Applying a plan to a model whose
activations were not fine-tuned away changes its function; that change is
not what is verified. Above --tol (relative to the largest output magnitude)
nothing is written and the command fails.`,
		Example: `  dshrink merge mbv2.dsk --plan all -o mbv2-merged.dsk --explain
  dshrink merge finetuned.dsk --plan plan.json --pad-form pad-first -o merged.dsk
  dshrink merge mbv2.dsk --plan features.3,features.5-8 --json -o m.dsk`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("merge: missing -o OUTPUT")
			}
			if planSpec == "" {
				return errors.New("merge: missing --plan (a plan file, a preset such as all or ds-a, or a list of blocks)")
			}
			if !(tol >= 0) || images < 0 || opts.MaxKernel < 0 {
				return fmt.Errorf("merge: --tol %g, --verify-images %d and --max-kernel %d must not be negative (0 means the default)", tol, images, opts.MaxKernel)
			}
			if st, err := os.Stat(out); err == nil && st.IsDir() {
				return fmt.Errorf("merge: -o %s is an existing directory; name the output file", out)
			}
			var ao plan.ApplyOptions
			switch padForm {
			case "bias-map":
			case "pad-first":
				ao.PadFirst = true
			default:
				return fmt.Errorf("merge: --pad-form %q: want bias-map or pad-first", padForm)
			}
			ao.AddFinalAct = finalAct
			g, err := graph.Load(args[0])
			if err != nil {
				return err
			}
			p, err := plan.Resolve(planSpec, g)
			if err != nil {
				return err
			}
			applied, err := plan.Apply(g, p, ao)
			if err != nil {
				return err
			}
			merged, rep, err := merge.Merge(applied, opts)
			if err != nil {
				return err
			}
			vo := merge.VerifyOptions{Random: images, Seed: seed, Tol: tol, Values: rep.ChainOutputs()}
			if inputs != "" {
				if vo.Real, vo.RealN, err = mergeReadInputs(inputs, g.Input.Shape); err != nil {
					return err
				}
			}
			res, err := merge.Verify(applied, merged, vo)
			if err != nil {
				return err
			}
			rep.Verification = res
			rep.VerifiedAgainst = fmt.Sprintf("the plan-applied, unmerged model (plan %s, %d units removed, %s form)", mergePlanName(p, planSpec), len(p.Removed()), padForm)
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if explain {
				if err := rep.Explain(w); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "merged %d chains (%d with a border bias map): MACs %.1f M -> %.1f M, params %.3f M -> %.3f M, nodes %d -> %d\n",
					rep.Merged, rep.BiasMaps, float64(rep.Before.MACs)/1e6, float64(rep.After.MACs)/1e6,
					float64(rep.Before.Params)/1e6, float64(rep.After.Params)/1e6, rep.OriginalNodeCount, rep.MergedNodeCount)
				if skipped := len(rep.Chains) - rep.Merged; skipped > 0 {
					fmt.Fprintf(w, "%d chains left unmerged (see --explain)\n", skipped)
				}
				fmt.Fprintf(w, "verified against %s on %d images (%d real): max abs error %.3g, max relative error %.3g (worst merged chain output %s: %.3g), tolerance %.3g\n",
					rep.VerifiedAgainst, res.Images, res.RealImages, res.MaxAbs, res.MaxRel, res.WorstValue, res.WorstRel, res.Tol)
			}
			if !res.OK {
				return fmt.Errorf("merge: %w: max relative error %.3g (worst merged chain output %s: %.3g) above tolerance %.3g; nothing written",
					merge.ErrTolerance, res.MaxRel, res.WorstValue, res.WorstRel, res.Tol)
			}
			merged.Meta["plan"] = mergePlanName(p, planSpec)
			if err := merged.Save(out); err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintf(w, "wrote %s\n", out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&planSpec, "plan", "", "plan file, preset (all, ds-a ... ds-f) or list of units (features.3,features.5-8)")
	f.StringVarP(&out, "output", "o", "", "output model file (.dsk)")
	f.StringVar(&padForm, "pad-form", "bias-map", "exact border handling: bias-map (model as it is) or pad-first (model fine-tuned in the pad-first form)")
	f.BoolVar(&finalAct, "add-final-act", false, "add a ReLU6 after each removed block (the paper's ADD_FINAL_ACT fine-tuning form)")
	f.IntVar(&opts.MaxKernel, "max-kernel", merge.DefaultMaxKernel, "largest merged kernel size")
	f.Float64Var(&opts.MaxMACGrowth, "max-mac-growth", merge.DefaultMaxMACGrowth, "skip a merge that multiplies the MACs of its chain by more than this (negative: no limit)")
	f.BoolVar(&opts.Force, "force", false, "merge chains that the MAC check would skip")
	f.BoolVar(&opts.CrossBlocks, "cross-blocks", false, "let chains run across block boundaries (exact compositions only)")
	f.BoolVar(&explain, "explain", false, "print per chain the layers, kernel sizes, MACs and params before and after, and the decision")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.Float64Var(&tol, "tol", merge.DefaultTolerance, "verification tolerance: max |merged - unmerged| / max |unmerged output|")
	f.IntVar(&images, "verify-images", 2, "seeded random images used for verification")
	f.Uint64Var(&seed, "seed", 1, "seed of the random verification images")
	f.StringVar(&inputs, "inputs", "", "safetensors file with one [N, C, H, W] float tensor of real images to verify on as well")
	rootCmd.AddCommand(cmd)
}

func mergePlanName(p *plan.Plan, spec string) string {
	if p.Name != "" {
		return p.Name
	}
	return spec
}

// mergeReadInputs reads real verification images: the only (or the
// alphabetically first) tensor of a safetensors file, [N, C, H, W].
func mergeReadInputs(path string, shape []int) ([]float32, int, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, 0, fmt.Errorf("merge: --inputs: %w", err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("merge: --inputs %s: %w", path, err)
	}
	var names []string
	for k := range f.Tensors {
		names = append(names, k)
	}
	if len(names) == 0 {
		return nil, 0, fmt.Errorf("merge: --inputs %s holds no tensor", path)
	}
	sort.Strings(names)
	t := f.Tensors[names[0]]
	if len(t.Shape) != 4 || t.Shape[1] != shape[0] || t.Shape[2] != shape[1] || t.Shape[3] != shape[2] {
		return nil, 0, fmt.Errorf("merge: --inputs %s: tensor %s has shape %v, want [N %d %d %d]", path, names[0], t.Shape, shape[0], shape[1], shape[2])
	}
	return t.Data, t.Shape[0], nil
}
