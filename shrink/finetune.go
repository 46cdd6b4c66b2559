package shrink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/train"
)

// Files written by Finetune into its directory (besides train's
// checkpoint.safetensors, metrics.jsonl and model.dsk).
const (
	FinetunedFile = "finetuned.dsk"
	MergedFile    = "merged.dsk"
	ReportFile    = "report.json"
	PlanFile      = "plan.json"
	TeacherFile   = "teacher.dsk"
)

// ResolvePlan turns a plan argument (a plan file, a preset "all", "ds-a" ...
// "ds-f", or a list of units such as "features.3,features.5-8") into a
// plan for base, and returns the graph the plan applies to: base itself, or
// its per-activation copy (PerActivationUnits) when the plan names single
// activations, as a per-activation search writes.
func ResolvePlan(spec string, base *graph.Graph) (*plan.Plan, *graph.Graph, error) {
	p, err := plan.Resolve(spec, base)
	if err == nil {
		return p, base, nil
	}
	if st, serr := os.Stat(spec); serr == nil && st.Mode().IsRegular() {
		pa := PerActivationUnits(base)
		if p2, err2 := plan.Resolve(spec, pa); err2 == nil {
			return p2, pa, nil
		}
	}
	return nil, nil, err
}

// FinetuneOptions configures Finetune.
type FinetuneOptions struct {
	// Plan is the plan to apply (it must validate against the base graph).
	Plan *plan.Plan
	// FinalAct adds a ReLU6 after every removed block (docs/method.md, stage 2).
	FinalAct bool
	// PadFirst trains the removed blocks in the pad-first form (exact merge).
	PadFirst bool
	// Train is the fine-tuning run; Train.Out is the output directory.
	// Train.Distill.Weight and Temperature configure distillation from the
	// base model (Weight 0 turns it off); Train.Distill.Teacher, when empty,
	// is TeacherPath.
	Train train.Config
	// TeacherPath is the base model's file, the distillation teacher; when
	// empty the base is written to Out/teacher.dsk.
	TeacherPath string
	// Merge configures the merge of the fine-tuned model.
	Merge merge.Options
	// Verify configures the check of the merged model (Real and RealN are
	// filled from the held-out set when RealN is 0 and RealImages > 0).
	Verify merge.VerifyOptions
	// RealImages is the number of held-out images given to Verify.
	RealImages int
	// BaseEval, when set, is the base model's held-out evaluation (skips
	// evaluating the base again).
	BaseEval *train.EvalResult
	// Resume continues an interrupted fine-tune from Out's checkpoint.
	Resume bool
	// Epochs, when resuming, is the fine-tune's new number of epochs; 0
	// keeps the checkpoint's (Train.Epochs is ignored on resume, see
	// train.Options.Epochs).
	Epochs int
	// Data replaces the data sets described by Train.Data.
	Data *train.Datasets
	// Log receives progress (os.Stderr when nil).
	Log io.Writer
}

// ModelStats describes one model of a report: its file, held-out top-1
// accuracy and loss (over Images images), cost per image (MACs, parameters),
// node and convolution counts, and median latency when measured.
type ModelStats struct {
	File      string  `json:"file,omitempty"`
	Top1      float64 `json:"top1"`
	Loss      float64 `json:"loss"`
	Images    int     `json:"images"`
	MACs      int64   `json:"macs"`
	Params    int64   `json:"params"`
	Nodes     int     `json:"nodes"`
	Convs     int     `json:"convs"`
	LatencyMs float64 `json:"latency_ms,omitempty"`
}

// FinetuneReport is the outcome of Finetune, written as Out/report.json.
type FinetuneReport struct {
	Plan      string              `json:"plan"`
	Removed   []string            `json:"removed"`
	RemovedN  int                 `json:"removed_units"`
	Units     int                 `json:"units"`
	FinalAct  bool                `json:"final_act"`
	PadFirst  bool                `json:"pad_first"`
	Distill   train.DistillConfig `json:"distill"`
	Epochs    int                 `json:"epochs"`
	Steps     int                 `json:"steps"`
	Base      ModelStats          `json:"base"`
	Finetuned ModelStats          `json:"finetuned"`
	Merged    ModelStats          `json:"merged"`
	Verify    *merge.Result       `json:"verify"`
	Chains    int                 `json:"chains_merged"`
	Merge     *merge.Report       `json:"merge_report,omitempty"`
	// Agreement is the fraction of held-out images on which the merged and
	// fine-tuned models predict the same class.
	Agreement float64 `json:"prediction_agreement"`
	// Interrupted is set when the fine-tune stopped before its end.
	Interrupted bool `json:"interrupted,omitempty"`
}

// stats fills a ModelStats of g (cost, evaluation when ev is set).
func stats(g *graph.Graph, file string, ev *train.EvalResult) (ModelStats, error) {
	c, err := g.Cost()
	if err != nil {
		return ModelStats{}, err
	}
	s := ModelStats{File: file, MACs: c.MACs, Params: c.Params, Nodes: len(g.Nodes)}
	for _, n := range g.Nodes {
		if n.Op == graph.OpConv {
			s.Convs++
		}
	}
	if ev != nil {
		s.Top1, s.Loss, s.Images = ev.Top1, ev.Loss, ev.Count
	}
	return s, nil
}

// realImages returns the first n images of ds as one [n, C, H, W] slice.
func realImages(ds data.Dataset, n int) ([]float32, int) {
	n = min(n, ds.Len())
	c, h, w := ds.Shape()
	per := c * h * w
	x := make([]float32, n*per)
	for i := 0; i < n; i++ {
		ds.Get(i, x[i*per:(i+1)*per])
	}
	return x, n
}

// Planned reports whether p is a latency planner's plan that the per-block
// form cannot build: a segment of several blocks, or pruned blocks or layers.
func Planned(p *plan.Plan) bool {
	if len(p.Pruned) > 0 || len(p.PrunedLayers) > 0 {
		return true
	}
	for _, s := range p.Segments {
		if len(s) > 1 {
			return true
		}
	}
	return false
}

// Finetune fine-tunes base with opts.Plan applied (docs/method.md, stage 2): the
// removed units' activations become the identity, removed blocks are in the
// pad-first form when asked, with an optional ReLU6 after each, and the
// model trains from the base weights with distillation from the base. It
// then merges the fine-tuned model, verifies the merge (refusing to write a
// merged model above tolerance: the error wraps merge.ErrTolerance), and
// writes Out/finetuned.dsk, Out/merged.dsk, Out/plan.json and
// Out/report.json. base is not modified.
func Finetune(ctx context.Context, base *graph.Graph, opts FinetuneOptions) (*FinetuneReport, error) {
	if base == nil || opts.Plan == nil {
		return nil, errors.New("finetune: a base model and a plan are needed")
	}
	cfg := opts.Train
	dir := cfg.Out
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	// A latency planner's plan with a run of several blocks merged into one
	// convolution, or with pruned blocks or layers, trains in the planner's
	// form (pad-first over each whole run, pruned parts removed) and merges
	// exactly its runs; other plans keep the per-block form.
	planned := Planned(opts.Plan)
	if planned && opts.FinalAct {
		return nil, errors.New("finetune: the final ReLU6 after each removed block (final_act) does not fit a plan that merges several blocks into one convolution or prunes: turn it off")
	}
	var student *graph.Graph
	var err error
	if planned {
		student, err = latency.ApplyPlanned(base, opts.Plan)
	} else {
		student, err = plan.Apply(base, opts.Plan, plan.ApplyOptions{AddFinalAct: opts.FinalAct, PadFirst: opts.PadFirst})
	}
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	if err := opts.Plan.Save(filepath.Join(dir, PlanFile)); err != nil {
		return nil, fmt.Errorf("finetune: save plan: %w", err)
	}
	ds := opts.Data
	if ds == nil {
		if ds, err = train.LoadDatasets(cfg.Data, cfg.Seed); err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
	}
	if cfg.Distill.Weight > 0 {
		if cfg.Distill.Teacher == "" {
			cfg.Distill.Teacher = opts.TeacherPath
		}
		if cfg.Distill.Teacher == "" {
			cfg.Distill.Teacher = filepath.Join(dir, TeacherFile)
			if err := base.Save(cfg.Distill.Teacher); err != nil {
				return nil, fmt.Errorf("finetune: save teacher: %w", err)
			}
		}
	} else {
		cfg.Distill.Teacher = ""
	}
	res, err := train.Run(ctx, cfg, train.Options{Resume: opts.Resume, Epochs: opts.Epochs, Log: logw, Data: ds, Graph: student})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	name := opts.Plan.Name
	if name == "" {
		name = opts.Plan.Source
	}
	rep := &FinetuneReport{Plan: name, Removed: opts.Plan.Removed(), Units: len(opts.Plan.Units), FinalAct: opts.FinalAct,
		PadFirst: opts.PadFirst, Distill: cfg.Distill, Epochs: res.State.Epoch, Steps: res.State.Step}
	rep.RemovedN = len(rep.Removed)
	if res.Interrupted {
		rep.Interrupted = true
		return rep, nil
	}
	ft := res.Graph
	ftPath := filepath.Join(dir, FinetunedFile)
	if err := ft.Save(ftPath); err != nil {
		return nil, fmt.Errorf("finetune: save fine-tuned model: %w", err)
	}
	evalBatch := cfg.EvalBatchSize
	if evalBatch == 0 {
		evalBatch = cfg.BatchSize
	}
	be := opts.BaseEval
	if be == nil {
		e, err := train.EvaluateGraph(base, ds.Eval, evalBatch)
		if err != nil {
			return nil, fmt.Errorf("finetune: evaluate base: %w", err)
		}
		be = &e
	}
	if rep.Base, err = stats(base, opts.TeacherPath, be); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	fe, fpred, err := EvaluatePredict(ft, ds.Eval, evalBatch)
	if err != nil {
		return nil, fmt.Errorf("finetune: evaluate fine-tuned model: %w", err)
	}
	if rep.Finetuned, err = stats(ft, ftPath, &fe); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}

	var merged *graph.Graph
	var mrep *merge.Report
	if planned {
		merged, mrep, err = latency.MergePlanned(ft, opts.Plan)
	} else {
		merged, mrep, err = merge.Merge(ft, opts.Merge)
	}
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	rep.Merge, rep.Chains = mrep, mrep.Merged
	vo := opts.Verify
	if vo.RealN == 0 && opts.RealImages > 0 {
		vo.Real, vo.RealN = realImages(ds.Eval, opts.RealImages)
	}
	vr, err := merge.Verify(ft, merged, vo)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	rep.Verify = vr
	mrep.Verification = vr
	me, mpred, err := EvaluatePredict(merged, ds.Eval, evalBatch)
	if err != nil {
		return nil, fmt.Errorf("finetune: evaluate merged model: %w", err)
	}
	mergedPath := filepath.Join(dir, MergedFile)
	if rep.Merged, err = stats(merged, mergedPath, &me); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	same := 0
	for i := range fpred {
		if fpred[i] == mpred[i] {
			same++
		}
	}
	if len(fpred) > 0 {
		rep.Agreement = float64(same) / float64(len(fpred))
	}
	if !vr.OK {
		rep.Merged.File = ""
		_ = writeJSON(filepath.Join(dir, ReportFile), rep)
		return rep, fmt.Errorf("finetune: %w: max relative difference %.3g (worst value %s, %.3g), tolerance %.3g; %s not written",
			merge.ErrTolerance, vr.MaxRel, vr.WorstValue, vr.WorstRel, vr.Tol, mergedPath)
	}
	if err := merged.Save(mergedPath); err != nil {
		return nil, fmt.Errorf("finetune: save merged model: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, ReportFile), rep); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	return rep, nil
}

// writeJSON writes v as indented JSON to path atomically.
func writeJSON(path string, v any) error {
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// readJSON reads a JSON file written by writeJSON into v.
func readJSON(path string, v any) error {
	b, err := fsutil.ReadFile(path, 1<<26)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
