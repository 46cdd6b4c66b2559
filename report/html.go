package report

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/shrink"
)

// Build reads the run directory dir and writes its HTML report to out
// (dir/report.html when out is empty). It returns the path written.
func Build(dir, out string) (string, error) { return BuildWith(dir, out, Options{}) }

// BuildWith is Build with extra inputs.
func BuildWith(dir, out string, opts Options) (string, error) {
	d, err := LoadWith(dir, opts)
	if err != nil {
		return "", err
	}
	if out == "" {
		out = filepath.Join(dir, HTMLFile)
	}
	if err := fsutil.WriteFileAtomic(out, d.WriteHTML); err != nil {
		return "", fmt.Errorf("report: write %s: %w", out, err)
	}
	return out, nil
}

// stageRow is one line of the stage table.
type stageRow struct {
	shrink.StageStatus
	// Epochs is the time of the stage's epochs over every invocation (from
	// metrics.jsonl), "-" when the stage did not train.
	Epochs string
}

// row is one line of the results table.
type row struct {
	Model, Top1, Params, MACs, Convs, Latency, Speedup, Note string
	Highlight                                                bool
}

// unitView is one line of the per-unit table.
type unitView struct {
	Unit, Kind, Gate, Decision, Kernel, Layers, Before, After, Change, Note string
	Removed                                                                 bool
}

// curveRow is one epoch of the curve tables.
type curveRow struct {
	Stage, Epoch, LR, TrainLoss, TrainTop1, TestLoss, TestTop1, Seconds string
}

type view struct {
	Title, Dir, Generated, Headline string
	Rows                            []row
	LatencyNote                     string
	LatencyPNG, MACsPNG             template.HTML
	LossPNG, AccPNG                 template.HTML
	PointRows                       []Point
	Units                           []unitView
	UnitsNote                       string
	Curves                          []curveRow
	Verify                          [][2]string
	VerifyOK                        bool
	Compare                         template.HTML
	CompareRows                     [][]string
	CompareNote                     string
	Stages                          []stageRow
	TotalSeconds                    float64
	Config                          string
	Warnings                        []string
}

// imgTag returns an <img> element embedding png as a base64 data URI
// (built here rather than in the template, whose attribute escaping would
// turn every '+' of the base64 text into an entity).
func imgTag(png []byte, class, alt string) template.HTML {
	if len(png) == 0 {
		return ""
	}
	return template.HTML(fmt.Sprintf(`<img class="%s" alt="%s" src="data:image/png;base64,%s">`,
		html.EscapeString(class), html.EscapeString(alt), base64.StdEncoding.EncodeToString(png)))
}

// human formats a count with an M or K suffix.
func human(v int64) string {
	switch {
	case v <= 0:
		return "-"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", float64(v)/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fK", float64(v)/1e3)
	}
	return fmt.Sprint(v)
}

// WriteHTML writes the report page.
func (d *Data) WriteHTML(w io.Writer) error {
	v, err := d.view()
	if err != nil {
		return err
	}
	if err := pageTmpl.Execute(w, v); err != nil {
		return fmt.Errorf("report: render: %w", err)
	}
	return nil
}

func (d *Data) view() (*view, error) {
	s := d.Summary
	v := &view{Title: "dshrink report: " + filepath.Base(filepath.Clean(d.Dir)), Dir: d.Dir,
		Generated: time.Now().Format("2006-01-02 15:04 MST"), Warnings: d.Warnings}

	lat := func(ms float64) string {
		if ms <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.3f", ms)
	}
	ft := findPoint(d.Points, "fine-tuned")
	ftLat, ftSp := "-", "-"
	if ft != nil && ft.LatencyMs > 0 {
		ftLat = lat(ft.LatencyMs)
		if s.Base.LatencyMs > 0 {
			ftSp = fmt.Sprintf("%.2fx", s.Base.LatencyMs/ft.LatencyMs)
		}
	}
	sp := "-"
	if s.Speedup > 0 {
		sp = fmt.Sprintf("%.2fx", s.Speedup)
	}
	baseSp := "-"
	if s.Base.LatencyMs > 0 {
		baseSp = "1.00x"
	}
	v.Rows = []row{
		{Model: "base (original)", Top1: pct(s.Base.Top1), Params: human(s.Base.Params), MACs: human(s.Base.MACs), Convs: fmt.Sprint(s.Base.Convs),
			Latency: lat(s.Base.LatencyMs), Speedup: baseSp, Note: "the model before DepthShrinker"},
		{Model: "fine-tuned, not merged", Top1: pct(s.Finetuned.Top1), Params: human(s.Finetuned.Params), MACs: human(s.Finetuned.MACs),
			Convs: fmt.Sprint(s.Finetuned.Convs), Latency: ftLat, Speedup: ftSp, Note: "removed activations are the identity, in the pad-first form: each block to merge pads its input once and runs its expand 1x1 convolution on the padded grid, so it counts more MACs than the base until the merge removes that cost"},
		{Model: "shrunk (merged)", Top1: pct(s.Merged.Top1), Params: human(s.Merged.Params), MACs: human(s.Merged.MACs), Convs: fmt.Sprint(s.Merged.Convs),
			Latency: lat(s.Merged.LatencyMs), Speedup: sp, Note: "each activation-free chain is one dense convolution", Highlight: true},
	}
	if l := s.MergedLatency; l != nil {
		v.LatencyNote = fmt.Sprintf("Latency: p50 (median) of %d timed runs per model, batch %d, %d thread(s), base and shrunk interleaved in rounds so both see the same machine load; executor: %s.",
			l.Iters, l.Batch, l.Threads, l.Executor)
		if ft != nil && ft.Note != "" {
			v.LatencyNote += " Fine-tuned, not merged: " + ft.Note + "."
		}
	} else {
		v.LatencyNote = "Latency was not measured in this run (bench.skip)."
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("Activations removed in %d of %d blocks", s.RemovedBlocks, s.Blocks))
	if s.Speedup > 0 {
		parts = append(parts, fmt.Sprintf("the shrunk model is %.2fx faster (%.3f ms → %.3f ms)", s.Speedup, s.Base.LatencyMs, s.Merged.LatencyMs))
	}
	parts = append(parts, fmt.Sprintf("top-1 %.2f%% → %.2f%% (%+.2f points)", 100*s.Base.Top1, 100*s.Merged.Top1, 100*(s.Merged.Top1-s.Base.Top1)))
	if s.Verify != nil {
		ok := "verified"
		if !s.Verify.OK {
			ok = "NOT verified"
		}
		parts = append(parts, fmt.Sprintf("merge %s (max relative difference %.2g)", ok, s.Verify.MaxRel))
	}
	v.Headline = strings.Join(parts, "; ") + "."

	evalN := s.Merged.Images
	latPNG, err := LatencyPlot(d.Points, evalN)
	if err != nil {
		return nil, fmt.Errorf("report: latency plot: %w", err)
	}
	v.LatencyPNG = imgTag(latPNG, "plot", "accuracy versus latency plot")
	needMACs := false
	for _, p := range d.Points {
		if p.LatencyMs <= 0 && p.MACs > 0 {
			needMACs = true
		}
	}
	if needMACs || len(latPNG) == 0 {
		macPNG, err := MACsPlot(d.Points, evalN)
		if err != nil {
			return nil, fmt.Errorf("report: MACs plot: %w", err)
		}
		v.MACsPNG = imgTag(macPNG, "plot", "accuracy versus MACs plot")
	}
	v.PointRows = d.Points

	for _, u := range d.Units {
		uv := unitView{Unit: u.Unit, Gate: "-", Kernel: u.Kernel, Layers: u.Layers, Note: u.Note, Before: human(u.MACsBefore), After: human(u.MACsAfter)}
		switch {
		case u.Block != "":
			uv.Kind = "block"
		default:
			uv.Kind = "stem/head"
		}
		if !u.Candidate {
			uv.Kind += ", fixed"
		}
		if u.Gate != nil {
			uv.Gate = fmtGate(*u.Gate)
		}
		if u.Keep {
			uv.Decision = "kept"
		} else {
			uv.Decision, uv.Removed = "removed", true
		}
		if uv.Kernel == "" {
			uv.Kernel = "-"
		}
		if u.MACsBefore > 0 && u.MACsAfter > 0 {
			uv.Change = fmt.Sprintf("%.2fx", float64(u.MACsAfter)/float64(u.MACsBefore))
		}
		v.Units = append(v.Units, uv)
	}
	if s.Search != nil {
		v.UnitsNote = fmt.Sprintf("The search gave each candidate unit a learnable gate s in [0, 1] (s = 0: the activation, s = 1: the identity) and kept the activation of the %d candidates with the smallest gates.",
			s.Search.Kept)
	} else if s.Method == shrink.MethodPlanner {
		v.UnitsNote = fmt.Sprintf("The latency planner chose the plan at the target %s: a latency table measured on this machine (every block kept and merged), the importance of each block (the held-out loss increase with its activations alone removed) and a dynamic program keeping the most important blocks within the latency budget; there are no gate values.", s.Target)
	} else if s.Method == shrink.MethodRandom || s.Method == shrink.MethodLastK {
		v.UnitsNote = fmt.Sprintf("The %s baseline chose the plan (at the target %s): there are no gate values.", s.Method, s.Target)
	} else {
		v.UnitsNote = fmt.Sprintf("The plan %q was given, not searched: there are no gate values.", s.Plan)
	}

	for _, c := range d.Curves {
		for _, m := range c.Epochs {
			r := curveRow{Stage: c.Stage, Epoch: fmt.Sprint(m.Epoch), LR: fmt.Sprintf("%.3g", m.LR), TrainLoss: fmt.Sprintf("%.4f", m.TrainLoss),
				TrainTop1: pct(m.TrainTop1), TestLoss: "-", TestTop1: "-", Seconds: fmt.Sprintf("%.0f", m.EpochSeconds)}
			if m.Test != nil {
				r.TestLoss, r.TestTop1 = fmt.Sprintf("%.4f", m.Test.Loss), pct(m.Test.Top1)
			}
			v.Curves = append(v.Curves, r)
		}
	}
	lossPNG, accPNG, err := CurvePlots(d.Curves)
	if err != nil {
		return nil, fmt.Errorf("report: curves: %w", err)
	}
	v.LossPNG, v.AccPNG = imgTag(lossPNG, "plot half", "loss per epoch"), imgTag(accPNG, "plot half", "accuracy per epoch")

	if r := s.Verify; r != nil {
		v.VerifyOK = r.OK
		v.Verify = [][2]string{
			{"result", map[bool]string{true: "OK: the merged model computes the fine-tuned model's function", false: "FAILED: above tolerance"}[r.OK]},
			{"max absolute difference (logits)", fmt.Sprintf("%.3g", r.MaxAbs)},
			{"largest |logit| (scale)", fmt.Sprintf("%.3g", r.Scale)},
			{"max relative difference (abs / scale)", fmt.Sprintf("%.3g", r.MaxRel)},
			{"tolerance (relative)", fmt.Sprintf("%.3g", r.Tol)},
			{"images compared", fmt.Sprintf("%d (%d random, %d held-out)", r.Images, r.Images-r.RealImages, r.RealImages)},
			{"executor", r.Executor},
			{"held-out predictions that agree", pct(s.Agreement) + " %"},
		}
		if r.WorstValue != "" {
			v.Verify = append(v.Verify, [2]string{"worst intermediate value", fmt.Sprintf("%s (relative %.3g)", r.WorstValue, r.WorstRel)})
		}
		if d.Finetune != nil && d.Finetune.Merge != nil {
			m := d.Finetune.Merge
			v.Verify = append(v.Verify,
				[2]string{"chains merged", fmt.Sprintf("%d (border bias maps: %d)", m.Merged, m.BiasMaps)},
				[2]string{"BatchNorm folded / identity activations removed", fmt.Sprintf("%d / %d", m.FoldedBN, m.RemovedIdentity)},
				[2]string{"graph nodes", fmt.Sprintf("%d → %d", m.OriginalNodeCount, m.MergedNodeCount)})
		}
	}

	if c := d.Compare; c != nil {
		v.CompareNote = fmt.Sprintf("Merged-model top-1 at the same budget (%d candidate units removed); base %.2f%%.", c.Budget, 100*c.BaseTop1)
		for _, a := range c.Arms {
			var per []string
			for _, r := range a.Runs {
				per = append(per, fmt.Sprintf("%.2f", 100*r.MergedTop1))
			}
			v.CompareRows = append(v.CompareRows, []string{a.Name, fmt.Sprint(len(a.Runs)), fmt.Sprintf("%.2f", 100*a.Mean), fmt.Sprintf("%.2f", 100*a.Std),
				fmt.Sprintf("%.2f", 100*a.Min), fmt.Sprintf("%.2f", 100*a.Max), human(int64(a.MeanMAC)), strings.Join(per, ", ")})
		}
	}
	epochSecs := map[string]float64{}
	for _, c := range d.Curves {
		for _, m := range c.Epochs {
			epochSecs[c.Stage] += m.EpochSeconds
		}
	}
	for _, st := range s.Stages {
		r := stageRow{StageStatus: st, Epochs: "-"}
		if e, ok := epochSecs[st.Stage]; ok {
			r.Epochs = fmt.Sprintf("%.0f", e)
		}
		v.Stages = append(v.Stages, r)
		v.TotalSeconds += st.Seconds
	}
	cfg, err := json.MarshalIndent(s.Config, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: config: %w", err)
	}
	v.Config = string(cfg)
	return v, nil
}

// fmtGate shows a gate value; tiny values (most gates stay near 0 in a short
// search) keep two significant digits so their order is visible.
func fmtGate(g float64) string {
	if g > 0 && g < 0.001 {
		return fmt.Sprintf("%.1e", g)
	}
	return fmt.Sprintf("%.3f", g)
}

func pct(f float64) string { return fmt.Sprintf("%.2f", 100*f) }

func findPoint(pts []Point, kind string) *Point {
	for i := range pts {
		if pts[i].Kind == kind {
			return &pts[i]
		}
	}
	return nil
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"mul100": func(f float64) float64 { return 100 * f },
	"hum":    human,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 34px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
p, li { line-height: 1.45; font-size: 15px; }
.sub { color: #666; font-size: 13px; margin: 0 0 14px; }
.headline { font-size: 16px; background: #eef5ff; border-left: 4px solid #1f77b4; padding: 10px 14px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #d6d6d6; padding: 4px 9px; text-align: right; }
th { background: #f2f2f2; }
td.l, th.l { text-align: left; }
td:not(.l) { white-space: nowrap; }
tr.hl td { background: #fff4e0; font-weight: 600; }
tr.removed td { background: #fdecec; }
tr.removed td.dec { color: #b00; font-weight: 600; }
td.dec { color: #2c7a2c; }
.ok { color: #2c7a2c; font-weight: 600; }
.bad { color: #b00; font-weight: 600; }
img.plot { max-width: 100%; border: 1px solid #e4e4e4; }
img.half { width: 49%; min-width: 360px; }
.note { color: #555; font-size: 13px; }
.warn { background: #fff8e1; border: 1px solid #f0d58a; padding: 8px 12px; font-size: 13px; }
pre { background: #f6f6f6; padding: 10px; font-size: 12px; overflow-x: auto; }
details summary { cursor: pointer; color: #1f5fa0; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="sub">Run directory <code>{{.Dir}}</code> · report generated {{.Generated}} by <code>dshrink report</code></p>
<p class="headline">{{.Headline}}</p>
{{if .Warnings}}<div class="warn"><b>Parts of the run could not be read:</b><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul></div>{{end}}

<h2>Original vs. shrunk</h2>
<table id="results">
<tr><th class="l">model</th><th>top-1 %</th><th>parameters</th><th>MACs / image</th><th>convolutions</th><th>p50 latency (ms)</th><th>speedup</th><th class="l">what it is</th></tr>
{{range .Rows}}<tr{{if .Highlight}} class="hl"{{end}}><td class="l">{{.Model}}</td><td>{{.Top1}}</td><td>{{.Params}}</td><td>{{.MACs}}</td><td>{{.Convs}}</td><td>{{.Latency}}</td><td>{{.Speedup}}</td><td class="l">{{.Note}}</td></tr>
{{end}}</table>
<p class="note">{{.LatencyNote}} Accuracy is measured on the held-out set the run was configured with.</p>

<h2>Accuracy vs. latency</h2>
{{if .LatencyPNG}}{{.LatencyPNG}}{{else}}<p class="note">No latency was measured in this run.</p>{{end}}
{{if .MACsPNG}}{{.MACsPNG}}{{end}}
<details><summary>plotted points</summary>
<table><tr><th class="l">point</th><th class="l">kind</th><th>top-1 %</th><th>latency (ms)</th><th>MACs</th><th class="l">note</th></tr>
{{range .PointRows}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Kind}}</td><td>{{printf "%.2f" (mul100 .Top1)}}</td><td>{{if gt .LatencyMs 0.0}}{{printf "%.3f" .LatencyMs}}{{else}}-{{end}}</td><td>{{hum .MACs}}</td><td class="l">{{.Note}}</td></tr>
{{end}}</table></details>

<h2>Per-block decisions</h2>
<p class="note">{{.UnitsNote}} "fixed": not a candidate of the search (the stem and head keep their activation by default). A removed block's 1x1 → depthwise → 1x1 convolutions (BatchNorm folded, residual included) become one dense convolution; MACs are per image, base model vs. shrunk model.</p>
<table id="units">
<tr><th class="l">unit</th><th class="l">kind</th><th>gate s</th><th class="l">activation</th><th>merged kernel</th><th class="l">layers merged</th><th>MACs before</th><th>MACs after</th><th>after / before</th></tr>
{{range .Units}}<tr{{if .Removed}} class="removed"{{end}}><td class="l">{{.Unit}}</td><td class="l">{{.Kind}}</td><td>{{.Gate}}</td><td class="l dec">{{.Decision}}{{if .Note}} <span class="note">({{.Note}})</span>{{end}}</td><td>{{.Kernel}}</td><td class="l">{{.Layers}}</td><td>{{.Before}}</td><td>{{.After}}</td><td>{{.Change}}</td></tr>
{{end}}</table>

<h2>Training curves</h2>
{{if .LossPNG}}{{.LossPNG}} {{.AccPNG}}
<p class="note">base: the original model trained from scratch; search: weights and activation gates trained together; finetune: the base weights without the removed activations, distilled from the base. Held-out accuracy is evaluated at the end of each epoch.</p>
<details><summary>per-epoch figures</summary>
<table><tr><th class="l">stage</th><th>epoch</th><th>LR (last step)</th><th>train loss</th><th>train top-1 %</th><th>held-out loss</th><th>held-out top-1 %</th><th>seconds</th></tr>
{{range .Curves}}<tr><td class="l">{{.Stage}}</td><td>{{.Epoch}}</td><td>{{.LR}}</td><td>{{.TrainLoss}}</td><td>{{.TrainTop1}}</td><td>{{.TestLoss}}</td><td>{{.TestTop1}}</td><td>{{.Seconds}}</td></tr>
{{end}}</table></details>
{{else}}<p class="note">No metrics.jsonl was found in the stage directories.</p>{{end}}

<h2>Merge verification</h2>
{{if .Verify}}<table id="verify">
{{range .Verify}}<tr><th class="l">{{index . 0}}</th><td class="l">{{index . 1}}</td></tr>
{{end}}</table>
<p class="note">The merged model and the fine-tuned model run on the same random and held-out images; dshrink refuses to write a merged model whose outputs differ by more than the tolerance.</p>
{{else}}<p class="note">No verification figures in this run.</p>{{end}}

{{if .CompareRows}}<h2>Searched plan vs. baselines</h2>
<p class="note">{{.CompareNote}}</p>
<table id="compare"><tr><th class="l">plan</th><th>seeds</th><th>mean %</th><th>std</th><th>min</th><th>max</th><th>mean MACs</th><th class="l">per seed</th></tr>
{{range .CompareRows}}<tr>{{range $i, $c := .}}<td{{if or (eq $i 0) (eq $i 7)}} class="l"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</table>{{end}}

<h2>Stages</h2>
<table><tr><th class="l">stage</th><th class="l">status (last invocation)</th><th>seconds (last invocation)</th><th>training epochs, seconds (all invocations)</th></tr>
{{range .Stages}}<tr><td class="l">{{.Stage}}</td><td class="l">{{.Status}}</td><td>{{printf "%.1f" .Seconds}}</td><td>{{.Epochs}}</td></tr>
{{end}}<tr><td class="l"><b>total</b></td><td></td><td><b>{{printf "%.1f" .TotalSeconds}}</b></td><td></td></tr></table>
<details><summary>configuration of the run</summary><pre>{{.Config}}</pre></details>
</main>
</body>
</html>
`))
