package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/plan/policy"
	"github.com/dshrink/dshrink/safetensors"
	"github.com/spf13/cobra"
)

func init() {
	var (
		planSpec, out, padForm, inputs string
		unmergedOut                    string
		opts                           merge.Options
		explain, asJSON, finalAct      bool
		tol                            float64
		images, threads                int
		decide, table                  string
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
block whose merge pays on this machine; ds-a ... ds-f = the paper's
MobileNetV2-1.4 plans), or an explicit list of units such as
features.3,features.5-8.

Merge only where it pays (--decide latency, the default): every chain is
timed on this machine with dshrink's runtime, its layers as they are against
the merged convolution (a few interleaved rounds, seconds), and so is the
whole original model; the output says which figures were used. With --plan
all, a block whose merged chain is slower, or whose activations no chain
would take away, keeps its activations, and the output lists them with the
figures. With any other plan, those are errors that list the units and the
figures: fix the plan or add --force. A merged model predicted slower than
the original (the original's time less what each merged chain saves) is not
written unless --force. --decide macs decides by MAC growth alone
(--max-mac-growth, default 2x) and does not time anything.

Each block is merged on its own (as in the paper) unless --cross-blocks. A
plan from dshrink plan that lists merged segments or pruned blocks is merged
along exactly its runs, from the planner's form (each run pad-first; a model
fine-tuned in that form is merged as it is); --pad-form does not apply.
--explain lists every chain and every removed activation (stem and head
included) with what the merge makes of it.

The merged model is verified against the plan-applied, unmerged model on
seeded random inputs (and on --inputs when given): that comparison is the
proof of equivalence of the merge (its exactness). Above --tol (relative to
the largest output magnitude) nothing is written and the command fails.
Applying a plan to a model whose activations were not fine-tuned away
changes its function: the command then also compares the merged model with
the model as given (top-1 agreement on --inputs or on seeded random images,
largest and mean output difference) and says so, separately.`,
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
			if unmergedOut != "" && unmergedOut == out {
				return fmt.Errorf("merge: --unmerged %s is also -o: name two files", out)
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
			po := policy.Options{Apply: ao, Merge: opts, Force: opts.Force, Log: cmd.ErrOrStderr(),
				Auto: p.Source == plan.SourcePreset && p.Name == "all"}
			switch decide {
			case "latency":
				if !cmd.Flags().Changed("max-mac-growth") {
					po.Merge.MaxMACGrowth = -1 // the timing decides, not the MAC count
				}
				po.Predictor, err = mergePredictor(g, table, threads, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
			case "macs":
			default:
				return fmt.Errorf("merge: --decide %q: want latency or macs", decide)
			}
			w := cmd.OutOrStdout()
			d, derr := policy.Decide(g, p, po)
			if derr != nil {
				if d != nil && d.Report != nil && (explain || !errors.Is(derr, policy.ErrOrphans)) {
					printDecision(cmd.ErrOrStderr(), d, explain)
				}
				return fmt.Errorf("merge: %w", derr)
			}
			applied, merged, rep := d.Applied, d.Merged, d.Report
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
			form := padForm + " form"
			if len(p.Segments) > 0 || len(p.Pruned) > 0 {
				form = "the planner's form: pad-first over each run, pruned blocks the identity"
			}
			rep.VerifiedAgainst = fmt.Sprintf("the plan-applied, unmerged model (plan %s, %d units removed, %s)", mergePlanName(d.Plan, planSpec), len(d.Plan.Removed()), form)
			var change *policy.Change
			if d.FunctionChanged {
				if change, err = policy.Compare(g, merged, max(images, 8), seed, vo.Real, vo.RealN); err != nil {
					return err
				}
			}
			if asJSON {
				js := mergeJSON{Report: rep, Policy: d, FunctionChange: change}
				if res.OK {
					js.Outputs = map[string]string{"model": out}
					if unmergedOut != "" {
						js.Outputs["unmerged"] = unmergedOut
					}
				}
				if err := printJSON(w, js); err != nil {
					return err
				}
			} else {
				if explain {
					if err := rep.Explain(w); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(w, "merged %d of %d chains (%d with a border bias map): MACs %.1f M -> %.1f M, params %.3f M -> %.3f M, nodes %d -> %d\n",
						rep.Merged, len(rep.Chains), rep.BiasMaps, float64(rep.Before.MACs)/1e6, float64(rep.After.MACs)/1e6,
						float64(rep.Before.Params)/1e6, float64(rep.After.Params)/1e6, rep.OriginalNodeCount, rep.MergedNodeCount)
					if skipped := len(rep.Chains) - rep.Merged; skipped > 0 {
						fmt.Fprintf(w, "%d chains left unmerged (see --explain)\n", skipped)
					}
				}
				printDecision(w, d, explain)
				fmt.Fprintf(w, "merge exactness (merged vs plan-applied, unmerged): verified against %s on %d images (%d real): max abs error %.3g, max relative error %.3g (worst merged chain output %s: %.3g), tolerance %.3g\n",
					rep.VerifiedAgainst, res.Images, res.RealImages, res.MaxAbs, res.MaxRel, res.WorstValue, res.WorstRel, res.Tol)
				if res.Float32MaxRel > 0 {
					fmt.Fprintf(w, "  (in float32 the outputs differed by %.3g relative while every merged chain's output agreed: rounding amplified by this model's unbounded activations after the chains; the figures above are the float64 rerun, %s)\n",
						res.Float32MaxRel, res.Executor)
				}
				printChange(w, args[0], d, change)
			}
			if !res.OK {
				return fmt.Errorf("merge: %w: max relative error %.3g (worst merged chain output %s: %.3g) above tolerance %.3g; nothing written",
					merge.ErrTolerance, res.MaxRel, res.WorstValue, res.WorstRel, res.Tol)
			}
			merged.Meta["plan"] = mergePlanName(d.Plan, planSpec)
			if len(d.Restored) > 0 {
				merged.Meta["plan.removed"] = strings.Join(d.Plan.Removed(), ",")
				merged.Meta["plan.restored"] = strings.Join(d.RestoredUnits(), ",")
			}
			if err := merged.Save(out); err != nil {
				return err
			}
			if !asJSON {
				fmt.Fprintf(w, "wrote %s\n", out)
			}
			if unmergedOut != "" {
				applied.Meta["plan"] = merged.Meta["plan"]
				if err := applied.Save(unmergedOut); err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintf(w, "wrote %s (the plan-applied, unmerged model the merge was verified against)\n", unmergedOut)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&unmergedOut, "unmerged", "", "also write the plan-applied, unmerged model the merge was verified against (e.g. to check both in ONNX Runtime)")
	f.StringVar(&planSpec, "plan", "", "plan file, preset (all, ds-a ... ds-f) or list of units (features.3,features.5-8)")
	f.StringVarP(&out, "output", "o", "", "output model file (.dsk)")
	f.StringVar(&padForm, "pad-form", "bias-map", "exact border handling: bias-map (model as it is) or pad-first (model fine-tuned in the pad-first form)")
	f.BoolVar(&finalAct, "add-final-act", false, "add a ReLU6 after each removed block (the paper's ADD_FINAL_ACT fine-tuning form)")
	f.IntVar(&opts.MaxKernel, "max-kernel", merge.DefaultMaxKernel, "largest merged kernel size")
	f.Float64Var(&opts.MaxMACGrowth, "max-mac-growth", merge.DefaultMaxMACGrowth, "skip a merge that multiplies the MACs of its chain by more than this (negative: no limit)")
	f.BoolVar(&opts.Force, "force", false, "do as the plan says: remove activations no merge takes away, merge chains predicted slower (or above --max-mac-growth), write a model predicted slower")
	f.StringVar(&decide, "decide", "latency", "what decides each chain: latency (timed kept and merged on this machine) or macs (the --max-mac-growth rule alone)")
	f.IntVar(&threads, "threads", 1, "threads of the timing runs (--decide latency)")
	f.StringVar(&table, "table", "", "latency table of this model measured on this machine (dshrink profile): used instead of timing when its key matches")
	f.BoolVar(&opts.CrossBlocks, "cross-blocks", false, "let chains run across block boundaries (exact compositions only)")
	f.BoolVar(&explain, "explain", false, "print per chain the layers, kernel sizes, MACs and params before and after, and the decision")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.Float64Var(&tol, "tol", merge.DefaultTolerance, "verification tolerance: max |merged - unmerged| / max |unmerged output|")
	f.IntVar(&images, "verify-images", 2, "seeded random images used for verification")
	f.Uint64Var(&seed, "seed", 1, "seed of the random verification images")
	f.StringVar(&inputs, "inputs", "", "safetensors file with one [N, C, H, W] float tensor of real images to verify on as well")
	rootCmd.AddCommand(cmd)
}

// mergePredictor returns what times the chains: the latency table at path
// when it was measured for this model on this machine (same key), else a
// quick measurement in context now; it says which on log.
func mergePredictor(g *graph.Graph, path string, threads int, log io.Writer) (policy.Predictor, error) {
	now := policy.InContext{Opts: policy.QuickOptions(threads, log)}
	if path == "" {
		return now, nil
	}
	key, err := latency.TableKey(latency.Fingerprint(g), latency.ProfileOptions{Batch: 1, Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("merge: --table: %w", err)
	}
	t, err := latency.Cached(path, key)
	switch {
	case err == nil && t != nil:
		fmt.Fprintf(log, "merge: using latency table %s (key matches: %s)\n", path, key)
		return policy.Table{T: t, Path: path, Fallback: now}, nil
	case err == nil:
		fmt.Fprintf(log, "merge: no latency table at %s (dshrink profile writes one); timing the chains now instead\n", path)
	case errors.Is(err, latency.ErrKeyMismatch):
		fmt.Fprintf(log, "merge: not using %s: %v; timing the chains now instead\n", path, err)
	default:
		return nil, fmt.Errorf("merge: --table: %w", err)
	}
	return now, nil
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

// mergeJSON is merge --json: the merge report, the policy's decision and,
// when the model's function changed, by how much.
type mergeJSON struct {
	*merge.Report
	Policy         *policy.Decision  `json:"policy"`
	FunctionChange *policy.Change    `json:"function_change,omitempty"`
	Outputs        map[string]string `json:"outputs,omitempty"`
}

// printDecision writes what the policy decided: the timing source and the
// whole-model prediction, the units that keep their activations and why,
// and (with all) every removed activation and every timed chain.
func printDecision(w io.Writer, d *policy.Decision, all bool) {
	if pr := d.Prediction; pr != nil {
		fmt.Fprintf(w, "timing: %s\n", pr.Source)
		verdict := "faster"
		if d.Slower {
			verdict = "SLOWER"
		}
		fmt.Fprintf(w, "predicted latency: original %.4f ms, merged %.4f ms (%.2fx, %s)\n", pr.OriginalMs, pr.MergedMs, pr.Speedup(), verdict)
	} else if d.Report != nil && d.Report.Merged > 0 {
		fmt.Fprintf(w, "timing: none (--decide macs: chains decided by MAC growth alone; the merged model's speed is not predicted)\n")
	}
	if len(d.Restored) > 0 {
		fmt.Fprintf(w, "%d units keep their activations (the plan removed them; merging them would not pay):\n", len(d.Restored))
		for _, u := range d.Restored {
			fmt.Fprintf(w, "  %s: %s\n", u.Unit, u.Why)
		}
	}
	if len(d.Orphans) > 0 {
		fmt.Fprintf(w, "%d removed units have activations that no merged chain takes away:\n", len(d.Orphans))
		for _, u := range d.Orphans {
			fmt.Fprintf(w, "  %s: %s\n", u.Unit, u.Why)
		}
	}
	if len(d.Losers) > 0 {
		fmt.Fprintf(w, "%d merged chains are predicted slower than the layers they replace:\n", len(d.Losers))
		for _, c := range d.Losers {
			fmt.Fprintf(w, "  %s (%s): %.4f ms merged vs %.4f ms kept\n", c.Chain, c.Kernel, c.MergedMs, c.KeptMs)
		}
	}
	if !all {
		return
	}
	if pr := d.Prediction; pr != nil && len(pr.Chains) > 0 {
		fmt.Fprintf(w, "\nchain timings (%s):\n", pr.Source)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  chain\tkernel\tkept ms\tmerged ms\tratio\tpays")
		for _, c := range pr.Chains {
			fmt.Fprintf(tw, "  %s\t%s\t%.4f\t%.4f\t%.2fx\t%v\n", c.Chain, c.Kernel, c.KeptMs, c.MergedMs, c.KeptMs/c.MergedMs, c.Pays)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nremoved activations (%d nodes of %d units):\n", len(d.Acts), len(d.Plan.Removed()))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  unit\tblock\tnode\twas\tmerged into")
	for _, a := range d.Acts {
		block, into := a.Block, a.Chain
		if block == "" {
			block = "(stem/head)"
		}
		if !a.Merged {
			into = "NOT MERGED: " + a.Why
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", a.Unit, block, a.Node, a.Kind, into)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// printChange says, apart from the merge's exactness, that and how much the
// model's function changed when its activations were removed without
// fine-tuning.
func printChange(w io.Writer, model string, d *policy.Decision, c *policy.Change) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "FUNCTION CHANGED: %s computes the activations of %d removed units (they were not fine-tuned away), so the merged model is a different function:\n"+
		"  against %s on %s: top-1 agrees on %.1f%%, outputs differ by up to %.4g (%.3g relative to the largest output, %.4g), %.4g on average.\n"+
		"  Fine-tune without them first (dshrink finetune --plan ...) to keep the accuracy.\n",
		model, len(d.Plan.Removed()), model, c.Inputs, 100*c.Top1Agree, c.MaxAbs, c.MaxRel, c.Scale, c.MeanAbs)
}
