package latency

import (
	"fmt"
	"image/color"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one model on a latency/quality chart.
type Point struct {
	Name string `json:"name"`
	// Kind groups points: "planner", "search", "random", "compare", ...
	Kind string `json:"kind"`
	// PredictedMs is the latency predicted from the table; MeasuredMs the
	// measured latency of the merged model (0 when not measured).
	PredictedMs float64 `json:"predicted_ms"`
	MeasuredMs  float64 `json:"measured_ms,omitempty"`
	// Importance is the planner's objective (kept importance).
	Importance float64 `json:"importance"`
	// Top1 is the fine-tuned held-out accuracy (0 when not fine-tuned).
	Top1 float64 `json:"top1,omitempty"`
	// Removed lists the removed units.
	Removed []string `json:"removed"`
	// PlanFile is the plan written for this point, if any.
	PlanFile string `json:"plan_file,omitempty"`
}

// Front returns the points of pts not dominated by another point of the
// same kind (lower or equal latency x and higher or equal y, one strictly),
// sorted by latency; x and y pick the coordinates.
func Front(pts []Point, x, y func(Point) float64) []Point {
	var out []Point
	for i, p := range pts {
		dom := false
		for j, q := range pts {
			if i != j && q.Kind == p.Kind && x(q) <= x(p) && y(q) >= y(p) && (x(q) < x(p) || y(q) > y(p)) {
				dom = true
				break
			}
		}
		if !dom {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(a, b int) bool { return x(out[a]) < x(out[b]) })
	return out
}

// PlotOptions configures PlotPoints.
type PlotOptions struct {
	Title  string
	XLabel string
	YLabel string
	// X and Y pick each point's coordinates.
	X, Y func(Point) float64
}

var kindColors = map[string]color.RGBA{
	"planner": {R: 31, G: 119, B: 180, A: 255},
	"search":  {R: 214, G: 39, B: 40, A: 255},
	"random":  {R: 127, G: 127, B: 127, A: 255},
	"compare": {R: 44, G: 160, B: 44, A: 255},
}

// PlotPoints draws pts (one series per kind; the planner's points joined by
// a line) and writes the chart to every path in paths; the format follows
// the extension (.png, .svg, .pdf).
func PlotPoints(pts []Point, o PlotOptions, paths ...string) error {
	p := plot.New()
	p.Title.Text = o.Title
	p.X.Label.Text = o.XLabel
	p.Y.Label.Text = o.YLabel
	p.Add(plotter.NewGrid())
	kinds := map[string]plotter.XYs{}
	var order []string
	for _, pt := range pts {
		if _, ok := kinds[pt.Kind]; !ok {
			order = append(order, pt.Kind)
		}
		kinds[pt.Kind] = append(kinds[pt.Kind], plotter.XY{X: o.X(pt), Y: o.Y(pt)})
	}
	for k, kind := range order {
		xys := kinds[kind]
		sort.Slice(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		col, ok := kindColors[kind]
		if !ok {
			col = color.RGBA{R: uint8(60 * k), G: 100, B: 200, A: 255}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", kind, err)
		}
		sc.GlyphStyle.Color = col
		sc.GlyphStyle.Radius = vg.Points(3)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		if kind != "planner" {
			sc.GlyphStyle.Shape = draw.TriangleGlyph{}
		}
		p.Add(sc)
		p.Legend.Add(kind, sc)
		if kind == "planner" && len(xys) > 1 {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("plot %s: %w", kind, err)
			}
			l.Color = col
			p.Add(l)
		}
	}
	p.Legend.Top = false
	p.Legend.Left = false
	for _, path := range paths {
		ext := strings.ToLower(filepath.Ext(path))
		if ext != ".png" && ext != ".svg" && ext != ".pdf" {
			return fmt.Errorf("plot %s: unknown format %q (want .png, .svg or .pdf)", path, ext)
		}
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
	}
	return nil
}
