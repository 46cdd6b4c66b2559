package latency

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/plan"
)

// ImportanceOptions configures Importance.
type ImportanceOptions struct {
	// Images is the number of held-out images the loss is measured on (the
	// first Images of the data set; default 512).
	Images int
	// BatchSize is the evaluation batch (default 128).
	BatchSize int
	// CalibBatches, when positive, recalibrates BatchNorm before measuring:
	// that many batches of Calib run through the model with the unit removed
	// in training mode with BatchNorm momentum CalibMomentum, so the running
	// statistics follow the changed activations (weights are not trained).
	CalibBatches int
	// CalibMomentum is the BatchNorm momentum of the calibration (default 0.5).
	CalibMomentum float64
	// Apply is the form the unit is removed in (e.g. PadFirst, as fine-tuning
	// uses); the zero value only turns its activations into the identity.
	Apply plan.ApplyOptions
	// Seed seeds the calibration's dropout.
	Seed uint64
}

// UnitImportance is the importance estimate of one removable unit.
type UnitImportance struct {
	Unit string `json:"unit"`
	// Loss and Top1 are the held-out cross-entropy and accuracy with the unit
	// removed; Delta = Loss - base loss is the importance.
	Loss  float64 `json:"loss"`
	Top1  float64 `json:"top1"`
	Delta float64 `json:"delta_loss"`
}

// ImportanceReport is the outcome of Importance.
type ImportanceReport struct {
	Method   string           `json:"method"`
	Images   int              `json:"images"`
	BaseLoss float64          `json:"base_loss"`
	BaseTop1 float64          `json:"base_top1"`
	Units    []UnitImportance `json:"units"`
}

// Deltas returns the importance (loss increase) of each unit in order.
func (r *ImportanceReport) Deltas() []float64 {
	out := make([]float64, len(r.Units))
	for i, u := range r.Units {
		out[i] = u.Delta
	}
	return out
}

// Importance estimates, for every unit in units, how much the model needs
// that unit's activations: the increase of the held-out cross-entropy over
// the first opts.Images images of eval when the unit alone runs as the
// identity (optionally after recalibrating BatchNorm on calib, see
// ImportanceOptions). It costs one forward pass over the images per unit
// (plus the calibration batches) instead of a fine-tuning run per
// candidate; it assumes the importances of units add up, which the
// planner's objective (the sum over kept units) relies on.
func Importance(g *graph.Graph, units []string, eval, calib data.Dataset, opts ImportanceOptions) (*ImportanceReport, error) {
	return importanceOf(g, units, eval, calib, opts, "held-out loss increase with the unit alone as the identity", func(u string) *plan.Plan {
		return plan.New(g, plan.SourceManual, map[string]bool{u: true})
	})
}

// PruneImportance estimates, like Importance, the importance of pruning
// each block in blocks (LayerMerge's layer pruning, see plan.Plan.Pruned):
// the increase of the held-out cross-entropy when that block alone is
// removed whole (its residual branch dropped, the identity kept),
// optionally after BatchNorm recalibration. The report's Unit fields name
// the blocks. Blocks that cannot be pruned (plan.Prunable) are an error;
// PrunableBlocks lists the others.
func PruneImportance(g *graph.Graph, blocks []string, eval, calib data.Dataset, opts ImportanceOptions) (*ImportanceReport, error) {
	for _, b := range blocks {
		if !plan.Prunable(g.Block(b)) {
			return nil, fmt.Errorf("importance: block %q of model %s cannot be pruned (want a residual block with equal input and output shapes)", b, g.Name)
		}
	}
	return importanceOf(g, blocks, eval, calib, opts, "held-out loss increase with the block alone pruned (the identity)", func(b string) *plan.Plan {
		p := plan.New(g, plan.SourceManual, nil)
		p.Pruned = []string{b}
		return p
	})
}

// LayerPrefix starts the names of layer pruning entries in an importance
// report ("layer:features.5": features.5's prunable layer).
const LayerPrefix = "layer:"

// PrunableLayers returns, for every block of g with one, its prunable layer:
// the shape-keeping convolution (plan.PrunableLayer) with the largest
// kernel, e.g. a stride-1 depthwise convolution (the layer whose removal
// stops a merged kernel from growing). Keys are block names.
func PrunableLayers(g *graph.Graph) map[string]string {
	out := map[string]string{}
	best := map[string]int{}
	for _, n := range g.Nodes {
		if n.Block == "" || !plan.PrunableLayer(n) {
			continue
		}
		if k := max(n.Conv.KH, n.Conv.KW); k > 1 && k > best[n.Block] {
			out[n.Block], best[n.Block] = n.Name, k
		}
	}
	return out
}

// LayerPruneImportance estimates, like Importance, what pruning each
// block's prunable layer inside a merged segment costs beyond removing the
// block's activations: the held-out loss with the block's units removed and
// its layer pruned, less the loss with its units removed alone. Report
// entries are named LayerPrefix + block.
func LayerPruneImportance(g *graph.Graph, blocks []string, eval, calib data.Dataset, opts ImportanceOptions) (*ImportanceReport, error) {
	layers := PrunableLayers(g)
	unitsOf := map[string]map[string]bool{}
	for _, u := range g.Units {
		if u.Block != "" {
			if unitsOf[u.Block] == nil {
				unitsOf[u.Block] = map[string]bool{}
			}
			unitsOf[u.Block][u.Name] = true
		}
	}
	for _, b := range blocks {
		if layers[b] == "" || len(unitsOf[b]) == 0 {
			return nil, fmt.Errorf("importance: block %q of model %s has no prunable layer or no unit", b, g.Name)
		}
	}
	withLayer, err := importanceOf(g, blocks, eval, calib, opts, "", func(b string) *plan.Plan {
		p := plan.New(g, plan.SourceManual, unitsOf[b])
		p.PrunedLayers = []string{layers[b]}
		return p
	})
	if err != nil {
		return nil, err
	}
	alone, err := importanceOf(g, blocks, eval, calib, opts, "", func(b string) *plan.Plan {
		return plan.New(g, plan.SourceManual, unitsOf[b])
	})
	if err != nil {
		return nil, err
	}
	rep := &ImportanceReport{Method: "held-out loss with the block's units removed and its layer pruned, less with its units removed alone",
		Images: withLayer.Images, BaseLoss: alone.BaseLoss, BaseTop1: alone.BaseTop1}
	for k, b := range blocks {
		u := withLayer.Units[k]
		u.Unit = LayerPrefix + b
		u.Delta = u.Loss - alone.Units[k].Loss
		rep.Units = append(rep.Units, u)
	}
	return rep, nil
}

// LayerPruneCosts returns, for the blocks of table t, the layer pruning
// importance of rep by block (entries named LayerPrefix + block), +Inf for
// blocks rep does not name: the ProblemOptions.LayerPrune vector.
func LayerPruneCosts(t *Table, rep *ImportanceReport) []float64 {
	by := map[string]float64{}
	for _, u := range rep.Units {
		by[u.Unit] = u.Delta
	}
	out := make([]float64, len(t.Blocks))
	for i, b := range t.Blocks {
		v, ok := by[LayerPrefix+b]
		if !ok {
			v = math.Inf(1)
		}
		out[i] = v
	}
	return out
}

// PrunableBlocks returns the blocks of g that can be pruned, in order.
func PrunableBlocks(g *graph.Graph) []string {
	var out []string
	for i := range g.Blocks {
		if plan.Prunable(&g.Blocks[i]) {
			out = append(out, g.Blocks[i].Name)
		}
	}
	return out
}

// PruneCosts returns, for the blocks of table t, the pruning importance of
// rep (a PruneImportance report) by block, +Inf for blocks rep does not
// name (not prunable): the ProblemOptions.Prune vector.
func PruneCosts(t *Table, rep *ImportanceReport) []float64 {
	by := map[string]float64{}
	for _, u := range rep.Units {
		by[u.Unit] = u.Delta
	}
	out := make([]float64, len(t.Blocks))
	for i, b := range t.Blocks {
		v, ok := by[b]
		if !ok {
			v = math.Inf(1)
		}
		out[i] = v
	}
	return out
}

// importanceOf measures the held-out loss of g with each item's plan
// applied (see Importance).
func importanceOf(g *graph.Graph, items []string, eval, calib data.Dataset, opts ImportanceOptions, method string, planOf func(string) *plan.Plan) (*ImportanceReport, error) {
	if opts.Images <= 0 {
		opts.Images = 512
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 128
	}
	if opts.CalibMomentum <= 0 || opts.CalibMomentum > 1 {
		opts.CalibMomentum = 0.5
	}
	if eval == nil || eval.Len() == 0 {
		return nil, errors.New("importance: no held-out images")
	}
	if opts.CalibBatches > 0 && (calib == nil || calib.Len() == 0) {
		return nil, errors.New("importance: calibration asked for without calibration images")
	}
	n := min(opts.Images, eval.Len())
	c, h, w := eval.Shape()
	if s := g.Input.Shape; len(s) != 3 || s[0] != c || s[1] != h || s[2] != w {
		return nil, fmt.Errorf("importance: model %s takes input %v, the data is [%d %d %d]", g.Name, s, c, h, w)
	}
	x, y := load(eval, 0, n)
	rep := &ImportanceReport{Method: method, Images: n}
	if opts.CalibBatches > 0 {
		rep.Method += fmt.Sprintf(", after BatchNorm recalibration on %d batches of %d (momentum %g)", opts.CalibBatches, opts.BatchSize, opts.CalibMomentum)
	}
	var err error
	if rep.BaseLoss, rep.BaseTop1, err = lossOf(g, x, y, n, opts.BatchSize, eval.NumClasses()); err != nil {
		return nil, fmt.Errorf("importance: base model: %w", err)
	}
	for _, u := range items {
		p := planOf(u)
		m, err := plan.Apply(g, p, opts.Apply)
		if err != nil {
			return nil, fmt.Errorf("importance: unit %s: %w", u, err)
		}
		if opts.CalibBatches > 0 {
			if err := recalibrate(m, calib, opts); err != nil {
				return nil, fmt.Errorf("importance: unit %s: %w", u, err)
			}
		}
		loss, top1, err := lossOf(m, x, y, n, opts.BatchSize, eval.NumClasses())
		if err != nil {
			return nil, fmt.Errorf("importance: unit %s: %w", u, err)
		}
		rep.Units = append(rep.Units, UnitImportance{Unit: u, Loss: loss, Top1: top1, Delta: loss - rep.BaseLoss})
	}
	return rep, nil
}

// load reads images [lo, lo+n) of ds.
func load(ds data.Dataset, lo, n int) ([]float32, []int32) {
	c, h, w := ds.Shape()
	per := c * h * w
	x := make([]float32, n*per)
	y := make([]int32, n)
	for i := 0; i < n; i++ {
		y[i] = int32(ds.Get(lo+i, x[i*per:(i+1)*per]))
	}
	return x, y
}

// lossOf returns the mean cross-entropy and top-1 accuracy of g on x, y.
func lossOf(g *graph.Graph, x []float32, y []int32, n, batch, classes int) (loss, top1 float64, err error) {
	batch = min(batch, n)
	m, err := nn.NewModel(g, batch)
	if err != nil {
		return 0, 0, err
	}
	if m.OutputSize() != classes {
		return 0, 0, fmt.Errorf("model has %d outputs, the data has %d classes", m.OutputSize(), classes)
	}
	per := m.InputSize()
	var sum float64
	correct := 0
	for lo := 0; lo < n; lo += batch {
		k := min(batch, n-lo)
		logits := m.Forward(x[lo*per:(lo+k)*per], k, false)
		l, c1, err := nn.CrossEntropy(logits, y[lo:lo+k], k, classes, 0, nil)
		if err != nil {
			return 0, 0, err
		}
		sum += l * float64(k)
		correct += c1
	}
	loss = sum / float64(n)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, fmt.Errorf("loss is %g", loss)
	}
	return loss, float64(correct) / float64(n), nil
}

// recalibrate runs opts.CalibBatches batches of calib through g in training
// mode (BatchNorm momentum opts.CalibMomentum) to update its running
// statistics in place; weights are unchanged.
func recalibrate(g *graph.Graph, calib data.Dataset, opts ImportanceOptions) error {
	saved := map[*graph.Node]float64{}
	for _, nd := range g.Nodes {
		if nd.Op == graph.OpBatchNorm {
			saved[nd] = nd.BN.Momentum
			nd.BN.Momentum = opts.CalibMomentum
		}
	}
	defer func() {
		for nd, m := range saved {
			nd.BN.Momentum = m
		}
	}()
	bs := min(opts.BatchSize, calib.Len())
	m, err := nn.NewModel(g, bs)
	if err != nil {
		return err
	}
	m.SetSeed(opts.Seed)
	for b := 0; b < opts.CalibBatches; b++ {
		lo := (b * bs) % max(1, calib.Len()-bs+1)
		x, _ := load(calib, lo, bs)
		m.Forward(x, bs, true)
	}
	return nil
}

// Spearman returns the Spearman rank correlation of a and b (average ranks
// for ties); NaN when fewer than two pairs or a constant series.
func Spearman(a, b []float64) float64 {
	if len(a) != len(b) || len(a) < 2 {
		return math.NaN()
	}
	ra, rb := ranks(a), ranks(b)
	var ma, mb float64
	for i := range ra {
		ma += ra[i]
		mb += rb[i]
	}
	ma /= float64(len(ra))
	mb /= float64(len(rb))
	var num, da, db float64
	for i := range ra {
		num += (ra[i] - ma) * (rb[i] - mb)
		da += (ra[i] - ma) * (ra[i] - ma)
		db += (rb[i] - mb) * (rb[i] - mb)
	}
	if da == 0 || db == 0 {
		return math.NaN()
	}
	return num / math.Sqrt(da*db)
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}
