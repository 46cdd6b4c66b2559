// Package report turns a finished shrink run directory (see
// shrink.RunPipeline) into a self-contained HTML page, and runs the
// Fashion-MNIST demo that produces one (Demo).
//
// The page shows the base-versus-shrunk table (accuracy, parameters, MACs,
// p50 latency, speedup), an accuracy-versus-latency plot (base, fine-tuned,
// merged, and any comparison points the run directory holds), the decision
// for every activation unit (gate value, kept or removed, merged kernel,
// MACs before and after), the training curves of every stage (from each
// stage's metrics.jsonl) and the merge verification figures. Plots are PNG
// images embedded as base64 data URIs and the style sheet is inline, so the
// page renders offline and can be mailed as one file.
//
// Besides the files shrink writes (summary.json, base/, search/, finetune/,
// compare.json), Load reads two optional files from the run directory:
//
//   - points.json (PointsFile): extra accuracy-latency points written by
//     Demo, such as the fine-tuned model before merging;
//   - pareto.json (ParetoFile), or pareto/pareto.json: an accuracy-latency
//     front such as `dshrink plan --pareto` writes, or any other file given
//     in Options.Pareto: a JSON array of points or an object {"points":
//     [...]}, each point {"name", "kind", "top1" (fraction in [0,1]),
//     "latency_ms" or "measured_ms" or "predicted_ms", "macs"}. Points
//     without an accuracy (plans that were not fine-tuned) are not plotted.
package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
	"github.com/dshrink/dshrink/shrink"
	"github.com/dshrink/dshrink/train"
)

// Optional files of a run directory that Load reads besides shrink's.
const (
	// PointsFile holds extra accuracy-latency points ([]Point as JSON).
	PointsFile = "points.json"
	// ParetoFile holds an accuracy-latency front ([]Point, or {"points": []Point}).
	ParetoFile = "pareto.json"
	// HTMLFile is the report's default file name inside the run directory.
	HTMLFile = "report.html"
)

// Point is one model on the accuracy-latency (or accuracy-MACs) plane.
type Point struct {
	// Name labels the point on the plot.
	Name string `json:"name"`
	// Kind groups points into one legend entry ("base", "merged",
	// "fine-tuned", "compare: random", "pareto", ...).
	Kind string `json:"kind,omitempty"`
	// Top1 is the held-out top-1 accuracy in [0, 1].
	Top1 float64 `json:"top1"`
	// LatencyMs is the p50 latency in milliseconds (0: not measured).
	LatencyMs float64 `json:"latency_ms,omitempty"`
	// MACs is the number of multiply-accumulates per image (0: unknown).
	MACs int64 `json:"macs,omitempty"`
	// Note says how the point was obtained.
	Note string `json:"note,omitempty"`
}

// UnitRow is the decision for one removable activation unit and, when the
// unit is a block, the block's cost before and after the merge.
type UnitRow struct {
	// Unit is the unit name (e.g. "features.3").
	Unit string
	// Block is the structural block the unit belongs to ("" for stem/head).
	Block string
	// Candidate says whether the search could remove the unit.
	Candidate bool
	// Gate is the learned gate value in [0, 1] (nil when the plan was not searched).
	Gate *float64
	// Keep says whether the activation stays.
	Keep bool
	// Kernel is the merged convolution (e.g. "3x3/s2"); "" when not merged.
	Kernel string
	// Layers is the chain that was merged (e.g. "1x1 -> 3x3 dw -> 1x1 +res").
	Layers string
	// MACsBefore and MACsAfter are the block's MACs per image in the base
	// and the merged model (0: unknown).
	MACsBefore, MACsAfter int64
	// Note explains a removed unit that was not merged, or other details.
	Note string
}

// Curve is the per-epoch record of one training stage.
type Curve struct {
	// Stage is the stage name ("base", "search", "finetune").
	Stage string
	// Epochs are the stage's metrics.jsonl lines, one per epoch, in order.
	Epochs []train.EpochMetrics
}

// Data is everything a report shows, read from a run directory by Load.
type Data struct {
	// Dir is the run directory.
	Dir string
	// Summary is the run's summary.json.
	Summary *shrink.Summary
	// Finetune is finetune/report.json (nil when absent).
	Finetune *shrink.FinetuneReport
	// Units holds one row per activation unit, in model order.
	Units []UnitRow
	// Curves holds the training curves of the stages that trained.
	Curves []Curve
	// Points are every accuracy-latency/MACs point: base, fine-tuned,
	// merged, then the extra, comparison and Pareto points.
	Points []Point
	// Compare is the comparison with baseline plans (nil when not run).
	Compare *shrink.Comparison
	// Warnings lists what could not be read; the report shows them.
	Warnings []string
}

// Options adds to what Load finds in a run directory.
type Options struct {
	// Pareto lists accuracy-latency point files (ReadPareto's format) to
	// plot besides the run directory's own pareto.json.
	Pareto []string
}

// Load reads a finished shrink run directory. Missing optional parts
// (training curves, plan gates, the base or merged model files) become
// warnings in Data.Warnings; a missing or malformed summary.json is an
// error.
func Load(dir string) (*Data, error) { return LoadWith(dir, Options{}) }

// LoadWith is Load with extra inputs.
func LoadWith(dir string, opts Options) (*Data, error) {
	d := &Data{Dir: dir}
	var sum shrink.Summary
	sumPath := filepath.Join(dir, shrink.SummaryFile)
	if err := readJSON(sumPath, &sum); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("report: %s has no %s: it is not a finished shrink run (run or rerun `dshrink shrink --out %s` or `dshrink demo --out %s` to finish it)",
				dir, shrink.SummaryFile, dir, dir)
		}
		return nil, fmt.Errorf("report: %w", err)
	}
	d.Summary = &sum
	d.Compare = sum.Compare

	var ft shrink.FinetuneReport
	if err := readJSON(filepath.Join(dir, "finetune", shrink.ReportFile), &ft); err != nil {
		d.warn("fine-tune report: %v", err)
	} else {
		d.Finetune = &ft
	}
	d.loadUnits()
	d.loadCurves()
	d.loadPoints(opts.Pareto)
	return d, nil
}

func (d *Data) warn(format string, a ...any) {
	d.Warnings = append(d.Warnings, fmt.Sprintf(format, a...))
}

// resolve finds a file recorded in the run (its path may be relative to the
// directory the run was started from): the path as recorded, then the
// fallbacks inside the run directory.
func (d *Data) resolve(recorded string, fallbacks ...string) (string, bool) {
	var tries []string
	if recorded != "" {
		tries = append(tries, recorded)
		if !filepath.IsAbs(recorded) && d.Summary != nil && d.Summary.Out != "" {
			if rel, err := filepath.Rel(d.Summary.Out, recorded); err == nil && !strings.HasPrefix(rel, "..") {
				tries = append(tries, filepath.Join(d.Dir, rel))
			}
		}
	}
	for _, f := range fallbacks {
		tries = append(tries, filepath.Join(d.Dir, f))
	}
	for _, t := range tries {
		if st, err := os.Stat(t); err == nil && st.Mode().IsRegular() {
			return t, true
		}
	}
	return "", false
}

// loadUnits builds the per-unit table from the plan (decisions and gates),
// the merge report (merged kernels) and the base and merged models (MACs
// per block).
func (d *Data) loadUnits() {
	s := d.Summary
	var p *plan.Plan
	planPath, ok := d.resolve(s.PlanFile, filepath.Join("search", shrink.PlanFile), filepath.Join("finetune", shrink.PlanFile))
	if ok {
		var err error
		if p, err = plan.Load(planPath); err != nil {
			d.warn("plan %s: %v", planPath, err)
			p = nil
		}
	}
	// A given plan (preset, list) has no file in the run: finetune/plan.json holds it.
	if p == nil {
		if fp, ok := d.resolve("", filepath.Join("finetune", shrink.PlanFile)); ok {
			if q, err := plan.Load(fp); err == nil {
				p = q
			}
		}
	}
	candidates := map[string]bool{}
	if s.Search != nil {
		for _, c := range s.Search.Candidates {
			candidates[c] = true
		}
	}
	chains := map[string]merge.Chain{} // by block or unit name
	if d.Finetune != nil && d.Finetune.Merge != nil {
		for _, c := range d.Finetune.Merge.Chains {
			for _, b := range c.Blocks {
				if _, seen := chains[b]; !seen || c.Merged {
					chains[b] = c
				}
			}
		}
	}
	var baseG, mergedG *graph.Graph
	if bp, ok := d.resolve(s.Base.File, filepath.Join("base", train.ModelFile)); ok {
		if g, err := graph.Load(bp); err == nil {
			baseG = g
		} else {
			d.warn("base model %s: %v", bp, err)
		}
	} else {
		d.warn("base model %q not found: per-block MACs of kept blocks are not shown", s.Base.File)
	}
	if mp, ok := d.resolve(s.Merged.File, filepath.Join("finetune", shrink.MergedFile)); ok {
		if g, err := graph.Load(mp); err == nil {
			mergedG = g
		} else {
			d.warn("merged model %s: %v", mp, err)
		}
	}
	baseMACs, mergedMACs := blockMACs(baseG), blockMACs(mergedG)

	var units []graph.Unit
	switch {
	case baseG != nil:
		units = baseG.Units
	case p != nil:
		for _, u := range p.Units {
			blk := ""
			if candidates[u.Name] || u.Gate != nil {
				blk = u.Name // a candidate is a block unless the search made every unit one
			}
			units = append(units, graph.Unit{Name: u.Name, Block: blk})
		}
	default:
		d.warn("neither the plan nor the base model could be read: no per-unit table")
		return
	}
	removed := map[string]bool{}
	for _, r := range s.Removed {
		removed[r] = true
	}
	for _, u := range units {
		row := UnitRow{Unit: u.Name, Block: u.Block, Keep: !removed[u.Name], Candidate: candidates[u.Name]}
		if p != nil {
			for _, pu := range p.Units {
				if pu.Name == u.Name {
					row.Keep, row.Gate = pu.Keep, pu.Gate
					if pu.Gate != nil {
						row.Candidate = true
					}
				}
			}
		}
		if len(candidates) == 0 && s.Search == nil {
			row.Candidate = u.Block != ""
		}
		blk := u.Block
		if blk == "" {
			blk = u.Name
		}
		row.MACsBefore, row.MACsAfter = baseMACs[blk], mergedMACs[blk]
		if c, ok := chains[blk]; ok {
			if c.Merged {
				row.Kernel = c.Kernel
				row.Layers = layers(c)
				if row.MACsBefore == 0 {
					row.MACsBefore = c.MACs
				}
				if row.MACsAfter == 0 {
					row.MACsAfter = c.MACsAfter
				}
			} else if !row.Keep {
				row.Note = "not merged: " + c.Reason
			}
		} else if !row.Keep && u.Block == "" {
			row.Note = "activation removed (identity); nothing to merge"
		}
		if row.Keep && mergedG != nil && row.MACsAfter == 0 {
			row.MACsAfter = row.MACsBefore
		}
		d.Units = append(d.Units, row)
	}
}

// layers describes a merged chain's layers, e.g. "pad → 1x1 → 3x3 dw → 1x1
// → +residual" (the merger lists a pad-first pad as a 1x1 depthwise layer).
func layers(c merge.Chain) string {
	ks := append([]string(nil), c.Kernels...)
	for i := range ks {
		if i < len(c.Nodes) && strings.HasSuffix(c.Nodes[i], ".pad") {
			ks[i] = "pad"
		}
	}
	return strings.Join(ks, " → ")
}

// blockMACs sums each block's node MACs per image (stem and head nodes are
// counted under the unit name of their activation).
func blockMACs(g *graph.Graph) map[string]int64 {
	out := map[string]int64{}
	if g == nil {
		return out
	}
	shapes, err := g.Shapes(1)
	if err != nil {
		return out
	}
	for _, n := range g.Nodes {
		key := n.Block
		if key == "" {
			// features.0.0 (the stem conv) -> features.0, the name of its unit.
			parts := strings.Split(n.Name, ".")
			if len(parts) >= 2 {
				key = parts[0] + "." + parts[1]
			}
		}
		out[key] += graph.NodeMACs(n, shapes)
	}
	return out
}

// loadCurves reads each stage's metrics.jsonl.
func (d *Data) loadCurves() {
	for _, st := range []string{"base", "search", "finetune"} {
		path := filepath.Join(d.Dir, st, train.MetricsFile)
		if st == "base" {
			if p, ok := d.resolve("", filepath.Join("base", train.MetricsFile)); ok {
				path = p
			} else if d.Summary.Base.File != "" {
				// A given base model: its own run directory may hold the curves.
				path = filepath.Join(filepath.Dir(d.Summary.Base.File), train.MetricsFile)
			}
		}
		ep, err := ReadMetrics(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			d.warn("%s curves: %v", st, err)
			continue
		}
		if len(ep) > 0 {
			d.Curves = append(d.Curves, Curve{Stage: st, Epochs: ep})
		}
	}
}

// ReadMetrics reads a metrics.jsonl file (one train.EpochMetrics per line).
// When a resumed run wrote an epoch twice, the last line wins; the result is
// sorted by epoch.
func ReadMetrics(path string) ([]train.EpochMetrics, error) {
	f, _, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	byEpoch := map[int]train.EpochMetrics{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var m train.EpochMetrics
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		byEpoch[m.Epoch] = m
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]train.EpochMetrics, 0, len(byEpoch))
	for _, m := range byEpoch {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Epoch < out[j].Epoch })
	return out, nil
}

// loadPoints collects the plot points.
func (d *Data) loadPoints(opts []string) {
	s := d.Summary
	d.Points = append(d.Points, Point{Name: "base", Kind: "base", Top1: s.Base.Top1, LatencyMs: s.Base.LatencyMs, MACs: s.Base.MACs,
		Note: "the original model"})
	var extra []Point
	if err := readJSON(filepath.Join(d.Dir, PointsFile), &extra); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.warn("%s: %v", PointsFile, err)
	}
	d.Points = append(d.Points, extra...)
	name := "shrunk"
	if s.Speedup > 0 {
		name = fmt.Sprintf("shrunk, %.2fx faster", s.Speedup)
	}
	d.Points = append(d.Points, Point{Name: name, Kind: "merged", Top1: s.Merged.Top1, LatencyMs: s.Merged.LatencyMs,
		MACs: s.Merged.MACs, Note: "plan " + s.Plan + ": fine-tuned without the removed activations, then merged"})
	if c := d.Compare; c != nil {
		for _, a := range c.Arms {
			for i, r := range a.Runs {
				if a.Name == "search" && i == 0 {
					continue // the main run, plotted as "shrunk"
				}
				d.Points = append(d.Points, Point{Name: fmt.Sprintf("%s #%d", a.Name, i), Kind: "compare: " + a.Name, Top1: r.MergedTop1, MACs: r.MergedMACs,
					Note: fmt.Sprintf("seed %d, %d units removed", r.Seed, len(r.Removed))})
			}
		}
	}
	files := opts
	for _, f := range []string{ParetoFile, filepath.Join("pareto", ParetoFile)} {
		if p := filepath.Join(d.Dir, f); fileExists(p) {
			files = append([]string{p}, files...)
		}
	}
	for _, f := range files {
		pts, err := ReadPareto(f)
		if err != nil {
			d.warn("%v", err)
			continue
		}
		skipped := 0
		for _, p := range pts {
			if p.Top1 <= 0 || p.LatencyMs <= 0 && p.MACs <= 0 {
				skipped++
				continue
			}
			d.Points = append(d.Points, p)
		}
		if skipped > 0 {
			d.warn("%s: %d of %d points have no accuracy or latency (plans not fine-tuned or measured) and are not plotted", f, skipped, len(pts))
		}
	}
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// paretoPoint is a point as ReadPareto accepts it: ours (latency_ms) or
// the latency planner's (measured_ms, predicted_ms).
type paretoPoint struct {
	Point
	MeasuredMs  float64 `json:"measured_ms"`
	PredictedMs float64 `json:"predicted_ms"`
}

// ReadPareto reads accuracy-latency points: a JSON array or an object
// {"points": [...]}. A point's latency is latency_ms, else measured_ms,
// else predicted_ms (then said in its note); its kind defaults to "pareto"
// and is otherwise prefixed with "pareto: ".
func ReadPareto(path string) ([]Point, error) {
	b, err := fsutil.ReadFile(path, maxJSONBytes)
	if err != nil {
		return nil, fmt.Errorf("pareto points: %w", err)
	}
	var pts []paretoPoint
	if err := json.Unmarshal(b, &pts); err != nil {
		var obj struct {
			Points []paretoPoint `json:"points"`
		}
		if err2 := json.Unmarshal(b, &obj); err2 != nil {
			return nil, fmt.Errorf("pareto points %s: want a JSON array of points or {\"points\": [...]}: %w", path, err2)
		}
		pts = obj.Points
	}
	out := make([]Point, 0, len(pts))
	for _, q := range pts {
		p := q.Point
		switch {
		case p.LatencyMs > 0:
		case q.MeasuredMs > 0:
			p.LatencyMs = q.MeasuredMs
		case q.PredictedMs > 0:
			p.LatencyMs = q.PredictedMs
			p.Note = strings.TrimPrefix(p.Note+"; latency predicted from the latency table, not measured", "; ")
		}
		if p.Kind == "" || p.Kind == "pareto" {
			p.Kind = "pareto"
		} else {
			p.Kind = "pareto: " + p.Kind
		}
		out = append(out, p)
	}
	return out, nil
}

// maxJSONBytes bounds the JSON files a report reads (summaries, fine-tune
// reports, points).
const maxJSONBytes = 64 << 20

// readJSON decodes the JSON file path into v; path must be a regular file
// (a FIFO or a device is refused, never waited on).
func readJSON(path string, v any) error {
	b, err := fsutil.ReadFile(path, maxJSONBytes)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// WriteJSON writes v as indented JSON to path (used for PointsFile).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
