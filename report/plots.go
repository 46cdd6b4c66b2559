package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotDPI is the resolution of the embedded PNGs (the page shows them at
// half their pixel size, so they stay sharp on high-density screens).
const plotDPI = 144

// palette gives each point kind or stage a stable colour.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
}

// kindStyle returns the colour and glyph of a point kind.
func kindStyle(kind string, order map[string]int) (color.RGBA, draw.GlyphDrawer, vg.Length) {
	switch kind {
	case "base":
		return palette[0], draw.CircleGlyph{}, 5
	case "merged":
		return palette[1], draw.PyramidGlyph{}, 6
	case "fine-tuned":
		return palette[7], draw.SquareGlyph{}, 4.5
	}
	i := order[kind]
	return palette[(2+i)%len(palette)], draw.RingGlyph{}, 4
}

// pngOf renders p as a PNG of w x h.
func pngOf(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode plot: %w", err)
	}
	return buf.Bytes(), nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(10)
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		st.Font.Variant = "Sans"
	}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{0xe0}
	g.Horizontal.Color = color.Gray{0xe0}
	p.Add(g)
	return p
}

// tradeoffPlot draws top-1 accuracy against x(p) for the points with
// x(p) > 0: one legend entry per kind, labels on the base, fine-tuned,
// merged and Pareto points, and a dashed arrow from base to merged.
func tradeoffPlot(pts []Point, title, xlabel, ylabel string, x func(Point) float64, xfmt func(float64) string) (*plot.Plot, int, error) {
	var use []Point
	for _, p := range pts {
		if v := x(p); v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
			use = append(use, p)
		}
	}
	if len(use) == 0 {
		return nil, 0, nil
	}
	p := newPlot(title, xlabel, ylabel)
	// Top left is the ideal corner (fast and accurate), empty in practice.
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(6), vg.Points(-4)
	p.Legend.Padding = vg.Points(2)

	order := map[string]int{}
	var kinds []string
	byKind := map[string][]Point{}
	for _, q := range use {
		if _, ok := byKind[q.Kind]; !ok {
			kinds = append(kinds, q.Kind)
			if q.Kind != "base" && q.Kind != "merged" && q.Kind != "fine-tuned" {
				order[q.Kind] = len(order)
			}
		}
		byKind[q.Kind] = append(byKind[q.Kind], q)
	}

	// The base -> merged arrow first, so the points draw over it.
	var base, merged *Point
	for i := range use {
		switch use[i].Kind {
		case "base":
			base = &use[i]
		case "merged":
			merged = &use[i]
		}
	}
	if base != nil && merged != nil {
		l, err := plotter.NewLine(plotter.XYs{{X: x(*base), Y: 100 * base.Top1}, {X: x(*merged), Y: 100 * merged.Top1}})
		if err != nil {
			return nil, 0, err
		}
		l.Color = color.RGBA{0x99, 0x99, 0x99, 0xff}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Width = vg.Points(1)
		p.Add(l)
	}

	var labels plotter.XYLabels
	for _, k := range kinds {
		qs := byKind[k]
		xys := make(plotter.XYs, len(qs))
		for i, q := range qs {
			xys[i] = plotter.XY{X: x(q), Y: 100 * q.Top1}
			if k == "base" || k == "merged" || k == "fine-tuned" || strings.HasPrefix(k, "pareto") && len(qs) <= 5 || len(byKind) == 1 {
				labels.XYs = append(labels.XYs, xys[i])
				labels.Labels = append(labels.Labels, fmt.Sprintf("%s  %.2f%%, %s", q.Name, 100*q.Top1, xfmt(x(q))))
			}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, 0, err
		}
		c, g, r := kindStyle(k, order)
		sc.GlyphStyle = draw.GlyphStyle{Color: c, Shape: g, Radius: vg.Points(float64(r))}
		p.Add(sc)
		p.Legend.Add(legendName(k, len(qs)), sc)
	}
	if len(labels.XYs) > 0 {
		p.Add(&pointLabels{XYLabels: labels, Style: labelStyle()})
	}

	// Axes: x from 0 (so ratios read as lengths), room on the right for labels.
	xmax, ymin, ymax := 0.0, math.Inf(1), math.Inf(-1)
	for _, q := range use {
		xmax = max(xmax, x(q))
		ymin, ymax = min(ymin, 100*q.Top1), max(ymax, 100*q.Top1)
	}
	p.X.Min, p.X.Max = 0, xmax*1.55
	span := max(ymax-ymin, 2)
	p.Y.Min, p.Y.Max = max(0, ymin-0.35*span), min(100, ymax+0.25*span)
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
	return p, len(use), nil
}

func legendName(kind string, n int) string {
	name := map[string]string{
		"base":       "base (original)",
		"merged":     "shrunk (fine-tuned + merged)",
		"fine-tuned": "fine-tuned, not merged",
	}[kind]
	if name == "" {
		name = kind
	}
	if n > 1 {
		name = fmt.Sprintf("%s (%d)", name, n)
	}
	return name
}

// LatencyPlot renders the accuracy-versus-latency PNG of the points that
// have a latency (nil when none has).
func LatencyPlot(pts []Point, evalImages int) ([]byte, error) {
	p, n, err := tradeoffPlot(pts, "Accuracy vs. latency (up and to the left is better)",
		"p50 latency per image, batch 1, 1 thread (ms)", accLabel(evalImages),
		func(q Point) float64 { return q.LatencyMs }, func(v float64) string { return fmt.Sprintf("%.3f ms", v) })
	if err != nil || n == 0 {
		return nil, err
	}
	return pngOf(p, 7.5*vg.Inch, 4.6*vg.Inch)
}

// MACsPlot renders the accuracy-versus-MACs PNG (nil when no point has MACs).
func MACsPlot(pts []Point, evalImages int) ([]byte, error) {
	p, n, err := tradeoffPlot(pts, "Accuracy vs. compute (every run of the comparison)",
		"multiply-accumulates per image (millions)", accLabel(evalImages),
		func(q Point) float64 { return float64(q.MACs) / 1e6 }, func(v float64) string { return fmt.Sprintf("%.2fM MACs", v) })
	if err != nil || n == 0 {
		return nil, err
	}
	return pngOf(p, 7.5*vg.Inch, 4.6*vg.Inch)
}

func accLabel(n int) string {
	if n > 0 {
		return fmt.Sprintf("top-1 accuracy on %d held-out images (%%)", n)
	}
	return "top-1 accuracy, held-out (%)"
}

// CurvePlots renders the training curves: loss per epoch and top-1
// accuracy per epoch, one colour per stage, solid for the training set and
// dashed for the held-out set. It returns nil images when there is no curve.
func CurvePlots(curves []Curve) (loss, acc []byte, err error) {
	if len(curves) == 0 {
		return nil, nil, nil
	}
	lp := newPlot("Loss per epoch", "epoch of the stage", "loss (cross-entropy; fine-tune: distillation loss)")
	ap := newPlot("Top-1 accuracy per epoch", "epoch of the stage", "top-1 accuracy (%)")
	for _, p := range []*plot.Plot{lp, ap} {
		p.Legend.Left = false
		p.Legend.XOffs = vg.Points(-6)
		p.X.Tick.Marker = integerTicks{}
	}
	// Loss falls and accuracy rises: their legends go where the curves are not.
	lp.Legend.Top, lp.Legend.YOffs = true, vg.Points(-4)
	ap.Legend.Top, ap.Legend.YOffs = false, vg.Points(4)
	// An early held-out loss can be 10x the others (BatchNorm statistics
	// still settling): a log scale keeps the rest readable.
	lp.Y.Scale = plot.LogScale{}
	lp.Y.Tick.Marker = logTicks{}
	lp.Y.Label.Text = "loss (log scale; fine-tune: with distillation)"
	stages := append([]Curve(nil), curves...)
	sort.SliceStable(stages, func(i, j int) bool { return stageRank(stages[i].Stage) < stageRank(stages[j].Stage) })
	maxEpoch := 1
	for i, c := range stages {
		col := palette[i%len(palette)]
		var trL, trA, teL, teA plotter.XYs
		for _, m := range c.Epochs {
			e := float64(m.Epoch)
			maxEpoch = max(maxEpoch, m.Epoch)
			if m.TrainLoss > 0 {
				trL = append(trL, plotter.XY{X: e, Y: m.TrainLoss})
			}
			trA = append(trA, plotter.XY{X: e, Y: 100 * m.TrainTop1})
			if m.Test != nil {
				if m.Test.Loss > 0 {
					teL = append(teL, plotter.XY{X: e, Y: m.Test.Loss})
				}
				teA = append(teA, plotter.XY{X: e, Y: 100 * m.Test.Top1})
			}
		}
		if err := addSeries(lp, trL, col, false, c.Stage+" train"); err != nil {
			return nil, nil, err
		}
		if err := addSeries(lp, teL, col, true, c.Stage+" held-out"); err != nil {
			return nil, nil, err
		}
		if err := addSeries(ap, trA, col, false, c.Stage+" train"); err != nil {
			return nil, nil, err
		}
		if err := addSeries(ap, teA, col, true, c.Stage+" held-out"); err != nil {
			return nil, nil, err
		}
	}
	for _, p := range []*plot.Plot{lp, ap} {
		p.X.Min, p.X.Max = 0.5, float64(maxEpoch)+0.5
	}
	if loss, err = pngOf(lp, 5.6*vg.Inch, 4*vg.Inch); err != nil {
		return nil, nil, err
	}
	if acc, err = pngOf(ap, 5.6*vg.Inch, 4*vg.Inch); err != nil {
		return nil, nil, err
	}
	return loss, acc, nil
}

func stageRank(s string) int {
	switch s {
	case "base":
		return 0
	case "search":
		return 1
	case "finetune":
		return 2
	}
	return 3
}

// addSeries adds a line with point markers (nothing when xys is empty).
func addSeries(p *plot.Plot, xys plotter.XYs, c color.RGBA, dashed bool, name string) error {
	if len(xys) == 0 {
		return nil
	}
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("plot %s: %w", name, err)
	}
	l.Color, l.Width = c, vg.Points(1.5)
	pts.Color, pts.Radius = c, vg.Points(3)
	pts.Shape = draw.CircleGlyph{}
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		pts.Shape = draw.TriangleGlyph{}
	}
	p.Add(l, pts)
	p.Legend.Add(name, l, pts)
	return nil
}

// integerTicks puts a tick on every integer epoch (at most ~12 labels).
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	a, b := int(math.Ceil(lo)), int(math.Floor(hi))
	step := max(1, (b-a+1)/12)
	var out []plot.Tick
	for i := a; i <= b; i++ {
		if (i-a)%step == 0 {
			out = append(out, plot.Tick{Value: float64(i), Label: fmt.Sprint(i)})
		}
	}
	return out
}

func labelStyle() text.Style {
	return text.Style{Color: color.Black, Font: font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, vg.Points(9.5)),
		Handler: plot.DefaultTextHandler, XAlign: draw.XLeft, YAlign: draw.YCenter}
}

// pointLabels draws one label per point, next to it, choosing for each the
// first side (right, left, above, below, then the diagonals) where it
// overlaps neither an earlier label nor another point and stays inside the
// plot area.
type pointLabels struct {
	plotter.XYLabels
	Style text.Style
}

// Plot implements plot.Plotter.
func (l *pointLabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	const gap = 8 // points between a glyph and its label
	pts := make([]vg.Point, len(l.XYs))
	for i, xy := range l.XYs {
		pts[i] = vg.Point{X: trX(xy.X), Y: trY(xy.Y)}
	}
	var placed []vg.Rectangle
	glyph := func(r vg.Rectangle) bool {
		for _, q := range pts {
			if q.X > r.Min.X-4 && q.X < r.Max.X+4 && q.Y > r.Min.Y-4 && q.Y < r.Max.Y+4 {
				return true
			}
		}
		return false
	}
	for i, txt := range l.Labels {
		if !c.Contains(pts[i]) {
			continue
		}
		w, h := l.Style.Width(txt), l.Style.Height(txt)
		g := vg.Points(gap)
		cands := []vg.Point{ // lower-left corners of the label box
			{X: pts[i].X + g, Y: pts[i].Y - h/2},
			{X: pts[i].X - g - w, Y: pts[i].Y - h/2},
			{X: pts[i].X - w/2, Y: pts[i].Y + g},
			{X: pts[i].X - w/2, Y: pts[i].Y - g - h},
			{X: pts[i].X + g, Y: pts[i].Y + g},
			{X: pts[i].X + g, Y: pts[i].Y - g - h},
			{X: pts[i].X - g - w, Y: pts[i].Y + g},
			{X: pts[i].X - g - w, Y: pts[i].Y - g - h},
		}
		best := cands[0]
		for _, cand := range cands {
			r := vg.Rectangle{Min: cand, Max: vg.Point{X: cand.X + w, Y: cand.Y + h}}
			inside := r.Min.X >= c.Min.X && r.Max.X <= c.Max.X && r.Min.Y >= c.Min.Y && r.Max.Y <= c.Max.Y
			free := inside && !glyph(r)
			for _, o := range placed {
				if r.Min.X < o.Max.X && r.Max.X > o.Min.X && r.Min.Y < o.Max.Y && r.Max.Y > o.Min.Y {
					free = false
				}
			}
			if free {
				best = cand
				break
			}
		}
		placed = append(placed, vg.Rectangle{Min: best, Max: vg.Point{X: best.X + w, Y: best.Y + h}})
		sty := l.Style
		sty.YAlign = draw.YBottom
		c.FillText(sty, best, txt)
	}
}

// logTicks labels 1, 2 and 5 times each power of ten in range (a log axis
// spanning less than a decade still gets several labels).
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	var out []plot.Tick
	labelled := 0
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1.0; m <= 9; m++ {
			v := m * p
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v} // a minor tick
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
				labelled++
			}
			out = append(out, t)
		}
	}
	if labelled < 3 { // less than a decade: label every tick
		for i := range out {
			out[i].Label = strconv.FormatFloat(out[i].Value, 'g', 3, 64)
		}
	}
	return out
}
