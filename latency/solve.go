package latency

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/plan"
)

// Problem is the planner's input: a chain of n blocks, the latency of each
// block kept, of each run of blocks merged, and the importance of keeping
// each block's activation unit. Latencies are in milliseconds.
type Problem struct {
	// Fixed is the latency of the parts that never change (stem, head, classifier).
	Fixed float64
	// Keep[i] is the latency of block i with its activations.
	Keep []float64
	// Merge[i][j] (j > i, len(Merge[i]) = n+1) is the latency of blocks
	// [i, j) without activations merged into one convolution; +Inf (or a
	// missing entry) when that segment is not available.
	Merge [][]float64
	// Importance[i] is the value of keeping block i's activations (for
	// example the held-out loss increase when they are removed).
	Importance []float64
	// Prune, when not empty (len n), allows layer pruning (LayerMerge,
	// ICML 2024): Prune[i] is the importance lost when block i is pruned
	// (removed whole, the identity kept; on the scale of Importance, e.g.
	// the held-out loss increase with the block as the identity), +Inf for
	// a block that cannot be pruned. A pruned block costs no latency and
	// contributes Importance[i] - Prune[i] to the objective, so that the
	// objective stays "importance kept" = sum of Importance minus the
	// importance lost by every removed activation and pruned block. A pruned
	// block ends the merged runs around it (a run never spans it).
	Prune []float64
	// MergeLayerPruned, when not empty (n rows of n+1), gives the latency of
	// blocks [i, j) merged into one convolution with the prunable layer of
	// every block pruned (LayerMerge: a shape-keeping convolution, e.g. a
	// stride-1 depthwise one, replaced by the identity, so the kernel does
	// not grow); +Inf where not available.
	MergeLayerPruned [][]float64
	// LayerPrune[i] is the importance lost by pruning block i's layer in
	// such a segment, beyond removing its activations; +Inf when block i has
	// no prunable layer. Needed with MergeLayerPruned.
	LayerPrune []float64
}

// mergeLP returns the latency of [i, j) merged with its layers pruned.
func (p *Problem) mergeLP(i, j int) float64 {
	if i < len(p.MergeLayerPruned) && j < len(p.MergeLayerPruned[i]) {
		return p.MergeLayerPruned[i][j]
	}
	return math.Inf(1)
}

// layerCost returns the summed LayerPrune of [i, j) (+Inf if any is).
func (p *Problem) layerCost(i, j int) float64 {
	var c float64
	for k := i; k < j; k++ {
		if k >= len(p.LayerPrune) {
			return math.Inf(1)
		}
		c += p.LayerPrune[k]
	}
	return c
}

// Prunable reports whether block i may be pruned.
func (p *Problem) Prunable(i int) bool {
	return i < len(p.Prune) && !math.IsInf(p.Prune[i], 1)
}

// value returns the objective's contribution of block i kept (pruned false)
// or pruned.
func (p *Problem) value(i int, pruned bool) float64 {
	if pruned {
		return p.Importance[i] - p.Prune[i]
	}
	return p.Importance[i]
}

// Validate checks the problem's dimensions and values.
func (p *Problem) Validate() error {
	n := len(p.Keep)
	if n == 0 {
		return errors.New("latency: problem with no blocks")
	}
	if len(p.Importance) != n || len(p.Merge) != n {
		return fmt.Errorf("latency: problem with %d blocks, %d importances and %d merge rows", n, len(p.Importance), len(p.Merge))
	}
	if len(p.Prune) != 0 && len(p.Prune) != n {
		return fmt.Errorf("latency: problem with %d blocks and %d pruning importances", n, len(p.Prune))
	}
	for i, v := range p.Prune {
		if math.IsNaN(v) || math.IsInf(v, -1) {
			return fmt.Errorf("latency: block %d: pruning importance %g (want a number, or +Inf for a block that cannot be pruned)", i, v)
		}
	}
	if len(p.MergeLayerPruned) != 0 && (len(p.MergeLayerPruned) != n || len(p.LayerPrune) != n) {
		return fmt.Errorf("latency: problem with %d blocks, %d layer-pruned merge rows and %d layer pruning importances", n, len(p.MergeLayerPruned), len(p.LayerPrune))
	}
	for i, v := range p.LayerPrune {
		if math.IsNaN(v) || math.IsInf(v, -1) {
			return fmt.Errorf("latency: block %d: layer pruning importance %g", i, v)
		}
	}
	for i, row := range p.MergeLayerPruned {
		for j, v := range row {
			if j > i && (math.IsNaN(v) || v < 0) {
				return fmt.Errorf("latency: layer-pruned segment [%d, %d): latency %g", i, j, v)
			}
		}
	}
	bad := func(v float64) bool { return math.IsNaN(v) || v < 0 }
	if bad(p.Fixed) || math.IsInf(p.Fixed, 0) {
		return fmt.Errorf("latency: fixed latency %g", p.Fixed)
	}
	for i := range n {
		if bad(p.Keep[i]) || math.IsInf(p.Keep[i], 0) {
			return fmt.Errorf("latency: block %d: kept latency %g", i, p.Keep[i])
		}
		if math.IsNaN(p.Importance[i]) || math.IsInf(p.Importance[i], 0) {
			return fmt.Errorf("latency: block %d: importance %g", i, p.Importance[i])
		}
		for j, v := range p.Merge[i] {
			if j > i && bad(v) {
				return fmt.Errorf("latency: segment [%d, %d): latency %g", i, j, v)
			}
		}
	}
	return nil
}

func (p *Problem) merge(i, j int) float64 {
	if j < len(p.Merge[i]) {
		return p.Merge[i][j]
	}
	return math.Inf(1)
}

// Split is stage 1 of the dynamic program: for every run of blocks [i, j)
// without activations, the fastest way to cover it by merged segments.
type Split struct {
	// Ms[i][j] is the latency of the best split of [i, j) (0 for i = j,
	// +Inf when no split exists).
	Ms [][]float64
	// Next[i][j] is the end of the first segment of that split.
	Next [][]int
}

// Stage1 computes the best split of every run: Ms[i][j] = min over k of
// Merge[i][k] + Ms[k][j].
func (p *Problem) Stage1() *Split {
	n := len(p.Keep)
	s := &Split{Ms: make([][]float64, n+1), Next: make([][]int, n+1)}
	for i := range s.Ms {
		s.Ms[i] = make([]float64, n+1)
		s.Next[i] = make([]int, n+1)
		for j := range s.Ms[i] {
			if j != i {
				s.Ms[i][j] = math.Inf(1)
			}
		}
	}
	for j := 1; j <= n; j++ {
		for i := j - 1; i >= 0; i-- {
			for k := i + 1; k <= j; k++ {
				v := p.merge(i, k) + s.Ms[k][j]
				if v < s.Ms[i][j] {
					s.Ms[i][j], s.Next[i][j] = v, k
				}
			}
		}
	}
	return s
}

// Segments returns the segments of the best split of [i, j).
func (s *Split) Segments(i, j int) [][2]int {
	var out [][2]int
	for i < j {
		k := s.Next[i][j]
		if k <= i {
			return nil
		}
		out = append(out, [2]int{i, k})
		i = k
	}
	return out
}

// Solution is a planned model: which blocks keep their activations and how
// the others are merged.
type Solution struct {
	// Keep[i] says whether block i keeps its activations.
	Keep []bool `json:"keep"`
	// Pruned[i] says block i is pruned (removed whole; Keep[i] is false).
	// Empty when nothing is pruned.
	Pruned []bool `json:"pruned,omitempty"`
	// Segments are the merged segments [start, end) of the removed blocks;
	// LayerPruned[k] says segment k is merged with its blocks' prunable
	// layers pruned (empty when none is).
	LayerPruned []bool   `json:"layer_pruned,omitempty"`
	Segments    [][2]int `json:"segments"`
	// LatencyMs is the predicted latency: fixed parts, kept blocks and merged
	// segments from the table (exact sum, not discretised).
	LatencyMs float64 `json:"latency_ms"`
	// Importance is the summed importance of the kept blocks (plus
	// Importance - Prune of every pruned block).
	Importance float64 `json:"importance"`
	// BudgetMs is the budget the solution was planned for.
	BudgetMs float64 `json:"budget_ms"`
}

// Evaluate returns the predicted latency and kept importance of keep with
// the best split of every removed run (+Inf latency when a run has none).
func (p *Problem) Evaluate(keep []bool, s *Split) (lat, imp float64, segs [][2]int) {
	return p.EvaluatePruned(keep, nil, s)
}

// EvaluatePruned is Evaluate with the blocks in pruned (nil: none) removed
// whole: they cost nothing, end the merged runs around them, and count
// Importance - Prune (+Inf latency for a block that cannot be pruned).
func (p *Problem) EvaluatePruned(keep, pruned []bool, s *Split) (lat, imp float64, segs [][2]int) {
	n := len(p.Keep)
	lat = p.Fixed
	isPruned := func(i int) bool { return i < len(pruned) && pruned[i] }
	i := 0
	for i < n {
		if isPruned(i) {
			if !p.Prunable(i) {
				lat = math.Inf(1)
			} else {
				imp += p.value(i, true)
			}
			i++
			continue
		}
		if keep[i] {
			lat += p.Keep[i]
			imp += p.Importance[i]
			i++
			continue
		}
		j := i
		for j < n && !keep[j] && !isPruned(j) {
			j++
		}
		lat += s.Ms[i][j]
		segs = append(segs, s.Segments(i, j)...)
		i = j
	}
	return lat, imp, segs
}

// ErrInfeasible is wrapped by Solve when no plan meets the budget.
var ErrInfeasible = errors.New("no plan meets the latency budget")

// Solve is stage 2 of the dynamic program: it chooses the blocks that keep
// their activations to maximise the kept importance subject to the
// predicted latency being at most budgetMs. Latencies are discretised into
// buckets of resolutionMs (rounded up); resolutionMs <= 0 picks
// budgetMs/4000. The table of states runs n+1 buckets past the budget (the
// rounding of n+1 entries), and the best end state whose exact predicted
// latency is within the budget wins, so a plan whose exact latency equals
// the budget is found although its rounded cost exceeds it; the returned
// plan's exact predicted latency never exceeds the budget. Ties go to the
// lower latency. The run is O(n^2 * budget / resolution).
func (p *Problem) Solve(budgetMs, resolutionMs float64) (*Solution, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if !(budgetMs > 0) || math.IsInf(budgetMs, 0) {
		return nil, fmt.Errorf("latency: budget %g ms, want a positive number", budgetMs)
	}
	if resolutionMs <= 0 {
		resolutionMs = budgetMs / 4000
	}
	n := len(p.Keep)
	s := p.Stage1()
	B := int(math.Floor((budgetMs-p.Fixed)/resolutionMs + 1e-9))
	if B < 0 {
		return nil, fmt.Errorf("latency: %w: the fixed parts alone take %.3f ms, budget %.3f ms", ErrInfeasible, p.Fixed, budgetMs)
	}
	B += n + 1 // slack for the rounding; the exact latency is checked at the end
	if B > 50_000_000/(n+1) {
		return nil, fmt.Errorf("latency: budget %.3f ms at resolution %.4g ms needs %d buckets; raise the resolution", budgetMs, resolutionMs, B)
	}
	cost := func(ms float64) int {
		if math.IsInf(ms, 1) {
			return -1
		}
		return int(math.Ceil(ms/resolutionMs - 1e-9))
	}
	keepC := make([]int, n)
	for i := range keepC {
		keepC[i] = cost(p.Keep[i])
	}
	mC := make([][]int, n)  // plain merged segment [i, j)
	lpC := make([][]int, n) // merged with its layers pruned
	lpV := make([][]float64, n)
	for i := range n {
		mC[i] = make([]int, n+1)
		lpC[i] = make([]int, n+1)
		lpV[i] = make([]float64, n+1)
		for j := i + 1; j <= n; j++ {
			mC[i][j] = cost(p.merge(i, j))
			lpC[i][j] = cost(p.mergeLP(i, j))
			lpV[i][j] = -p.layerCost(i, j)
			if math.IsInf(lpV[i][j], -1) {
				lpC[i][j] = -1
			}
		}
	}
	negInf := math.Inf(-1)
	// f[i][t]: best objective with blocks [0, i) decided (i a boundary: the
	// next block starts a new choice), t buckets used.
	const (
		kKeep = iota
		kPrune
		kMerge
		kMergeLP
	)
	type back struct {
		i, t int
		kind int8
	}
	f := make([][]float64, n+1)
	par := make([][]back, n+1)
	for i := range f {
		f[i] = make([]float64, B+1)
		par[i] = make([]back, B+1)
		for t := range f[i] {
			f[i][t] = negInf
		}
	}
	f[0][0] = 0
	relax := func(j, tt int, nv float64, b back) {
		if tt <= B && nv > f[j][tt] {
			f[j][tt] = nv
			par[j][tt] = b
		}
	}
	for i := 0; i < n; i++ {
		for t := 0; t <= B; t++ {
			v := f[i][t]
			if v == negInf {
				continue
			}
			relax(i+1, t+keepC[i], v+p.Importance[i], back{i, t, kKeep})
			if p.Prunable(i) {
				relax(i+1, t, v+p.value(i, true), back{i, t, kPrune})
			}
			for j := i + 1; j <= n; j++ {
				if c := mC[i][j]; c >= 0 {
					relax(j, t+c, v, back{i, t, kMerge})
				}
				if c := lpC[i][j]; c >= 0 {
					relax(j, t+c, v+lpV[i][j], back{i, t, kMergeLP})
				}
			}
		}
	}
	ends := make([]int, 0, B+1)
	for t := 0; t <= B; t++ {
		if f[n][t] != negInf {
			ends = append(ends, t)
		}
	}
	sort.SliceStable(ends, func(a, b int) bool {
		if f[n][ends[a]] != f[n][ends[b]] {
			return f[n][ends[a]] > f[n][ends[b]]
		}
		return ends[a] < ends[b]
	})
	for _, t := range ends {
		sol := &Solution{Keep: make([]bool, n), BudgetMs: budgetMs}
		pruned := make([]bool, n)
		anyPruned, anyLP := false, false
		type seg struct {
			a, b int
			lp   bool
		}
		var segs []seg
		i := n
		for i > 0 {
			b := par[i][t]
			switch b.kind {
			case kKeep:
				sol.Keep[b.i] = true
			case kPrune:
				pruned[b.i], anyPruned = true, true
			case kMerge:
				segs = append(segs, seg{b.i, i, false})
			case kMergeLP:
				segs = append(segs, seg{b.i, i, true})
				anyLP = true
			}
			i, t = b.i, b.t
		}
		slices.Reverse(segs)
		// A run of plain merged segments takes stage 1's fastest split (the
		// same objective, a latency no higher).
		var out []seg
		for k := 0; k < len(segs); {
			if segs[k].lp {
				out = append(out, segs[k])
				k++
				continue
			}
			e := k
			for e+1 < len(segs) && !segs[e+1].lp && segs[e+1].a == segs[e].b {
				e++
			}
			for _, r := range s.Segments(segs[k].a, segs[e].b) {
				out = append(out, seg{r[0], r[1], false})
			}
			k = e + 1
		}
		lat, imp := p.Fixed, 0.0
		for k := range n {
			switch {
			case sol.Keep[k]:
				lat += p.Keep[k]
				imp += p.Importance[k]
			case pruned[k]:
				imp += p.value(k, true)
			}
		}
		for _, sg := range out {
			sol.Segments = append(sol.Segments, [2]int{sg.a, sg.b})
			if sg.lp {
				lat += p.mergeLP(sg.a, sg.b)
				imp -= p.layerCost(sg.a, sg.b)
			} else {
				lat += p.merge(sg.a, sg.b)
			}
			if anyLP {
				sol.LayerPruned = append(sol.LayerPruned, sg.lp)
			}
		}
		if lat > budgetMs*(1+1e-12) {
			continue
		}
		if anyPruned {
			sol.Pruned = pruned
		}
		sol.LatencyMs, sol.Importance = lat, imp
		return sol, nil
	}
	keepNone := make([]bool, n)
	minLat, _, _ := p.Evaluate(keepNone, s)
	return nil, fmt.Errorf("latency: %w: budget %.3f ms, the fastest plan in the table is predicted at %.3f ms", ErrInfeasible, budgetMs, p.minLatency(s, minLat))
}

// minLatency returns the smallest predicted latency of any plan (every
// block kept, merged, merged with its layer pruned, or pruned, whichever is
// faster, by a simple DP).
func (p *Problem) minLatency(s *Split, fallback float64) float64 {
	n := len(p.Keep)
	best := make([]float64, n+1) // best[i]: fastest for blocks [i, n)
	for i := n - 1; i >= 0; i-- {
		own := p.Keep[i]
		if p.Prunable(i) {
			own = 0
		}
		best[i] = own + best[i+1]
		for j := i + 1; j <= n; j++ {
			best[i] = math.Min(best[i], s.Ms[i][j]+best[j])
			if !math.IsInf(p.layerCost(i, j), 1) {
				best[i] = math.Min(best[i], p.mergeLP(i, j)+best[j])
			}
		}
	}
	if math.IsInf(best[0], 1) {
		return fallback
	}
	return p.Fixed + best[0]
}

// MinLatency returns the smallest predicted latency of any plan.
func (p *Problem) MinLatency() float64 {
	return p.minLatency(p.Stage1(), math.Inf(1))
}

// BaseLatency returns the predicted latency with every block kept.
func (p *Problem) BaseLatency() float64 {
	s := p.Fixed
	for _, v := range p.Keep {
		s += v
	}
	return s
}

// ProblemOptions says how a table becomes a Problem.
type ProblemOptions struct {
	// MultiBlock lets the planner use segments of several blocks merged into
	// one convolution (the table's multi-block segments are the merger's own
	// output for those runs; Realize builds them).
	MultiBlock bool
	// MaxMACGrowth, when positive, prices a single block whose merged MACs
	// grow by more than this factor at its kept latency, as a plan without
	// segments merged by merge.Merge's default chain finding would leave it
	// unmerged. 0 (the default): plans carry their segments (PlanFor) and
	// every segment is merged whatever its growth, at its measured latency.
	MaxMACGrowth float64
	// Force disables MaxMACGrowth (mirrors merge.Options.Force).
	Force bool
	// Prune gives the importance lost by pruning each block (t.Blocks
	// order; +Inf for blocks that cannot be pruned); nil: no pruning. See
	// Problem.Prune and PruneImportance.
	Prune []float64
	// LayerPrune gives the importance lost by pruning each block's layer
	// inside a merged segment (t.Blocks order, +Inf where none); nil: the
	// table's layer-pruned segments are not used. See Problem.LayerPrune.
	LayerPrune []float64
}

// NewProblem builds the planner's input from table t and the importance of
// each block's unit (in t.Blocks order).
func NewProblem(t *Table, importance []float64, o ProblemOptions) (*Problem, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	n := len(t.Blocks)
	if len(importance) != n {
		return nil, fmt.Errorf("latency: %d importances for %d blocks", len(importance), n)
	}
	if o.Prune != nil && len(o.Prune) != n {
		return nil, fmt.Errorf("latency: %d pruning importances for %d blocks", len(o.Prune), n)
	}
	if o.LayerPrune != nil && len(o.LayerPrune) != n {
		return nil, fmt.Errorf("latency: %d layer pruning importances for %d blocks", len(o.LayerPrune), n)
	}
	p := &Problem{Fixed: t.FixedMs(), Keep: make([]float64, n), Merge: make([][]float64, n), Importance: append([]float64(nil), importance...)}
	if o.Prune != nil {
		p.Prune = append([]float64(nil), o.Prune...)
	}
	for i := range n {
		p.Keep[i] = t.Kept(i).Ms
		p.Merge[i] = make([]float64, n+1)
		for j := range p.Merge[i] {
			p.Merge[i][j] = math.Inf(1)
		}
	}
	if o.LayerPrune != nil {
		p.LayerPrune = append([]float64(nil), o.LayerPrune...)
		p.MergeLayerPruned = make([][]float64, n)
		for i := range n {
			p.MergeLayerPruned[i] = make([]float64, n+1)
			for j := range p.MergeLayerPruned[i] {
				p.MergeLayerPruned[i][j] = math.Inf(1)
			}
		}
	}
	for _, s := range t.Segments {
		if !s.Merged {
			continue
		}
		if s.LayerPruned {
			if o.LayerPrune != nil && (o.MultiBlock || s.End-s.Start == 1) {
				p.MergeLayerPruned[s.Start][s.End] = s.Ms
			}
			continue
		}
		if s.End-s.Start == 1 {
			ms := s.Ms
			if !o.Force && o.MaxMACGrowth > 0 && float64(s.MACs) > o.MaxMACGrowth*float64(max(s.MACsKept, 1)) {
				ms = p.Keep[s.Start] // merge.Merge's default leaves it unmerged
			}
			p.Merge[s.Start][s.End] = ms
		} else if o.MultiBlock && s.Realizable {
			p.Merge[s.Start][s.End] = s.Ms
		}
	}
	return p, nil
}

// Choices returns, in t.Blocks order, which blocks plan p keeps (their unit
// keeps its activations) and which it prunes: the arguments of
// Problem.EvaluatePruned for a plan from elsewhere (a search plan, say).
func Choices(t *Table, p *plan.Plan) (keep, pruned []bool) {
	keep = make([]bool, len(t.Units))
	pruned = make([]bool, len(t.Blocks))
	for i, u := range t.Units {
		keep[i] = p.Keep(u)
	}
	for i, b := range t.Blocks {
		for _, x := range p.Pruned {
			if x == b {
				pruned[i], keep[i] = true, false
			}
		}
	}
	return keep, pruned
}

// PlanFor returns the plan file of solution sol for model g: the units of
// the removed blocks are removed, every other unit (stem, head) keeps its
// activation. Meta records the budget, predicted latency, importance,
// segments and the table's key.
func PlanFor(g *graph.Graph, t *Table, sol *Solution, importanceSource string) (*plan.Plan, error) {
	if len(sol.Keep) != len(t.Units) {
		return nil, fmt.Errorf("latency: solution for %d blocks, table has %d", len(sol.Keep), len(t.Units))
	}
	removed := map[string]bool{}
	for i, k := range sol.Keep {
		if !k {
			removed[t.Units[i]] = true
		}
	}
	p := plan.New(g, plan.SourcePlanner, removed)
	p.Name = fmt.Sprintf("planner-%.3fms", sol.BudgetMs)
	var segs []string
	for k, s := range sol.Segments {
		name := t.Blocks[s[0]]
		if s[1]-s[0] > 1 {
			name += ".." + t.Blocks[s[1]-1]
		}
		p.Segments = append(p.Segments, append([]string(nil), t.Blocks[s[0]:s[1]]...))
		if k < len(sol.LayerPruned) && sol.LayerPruned[k] {
			ts := t.MergedLayerPruned(s[0], s[1])
			if ts == nil {
				return nil, fmt.Errorf("latency: solution merges blocks %s with their layers pruned, the table has no such segment", name)
			}
			p.PrunedLayers = append(p.PrunedLayers, ts.PrunedLayers...)
			name += " (layers pruned)"
		}
		segs = append(segs, name)
	}
	var pruned []string
	for i, pr := range sol.Pruned {
		if pr {
			pruned = append(pruned, t.Blocks[i])
		}
	}
	p.Pruned = pruned
	p.Meta = map[string]string{
		"budget_ms":         strconv.FormatFloat(sol.BudgetMs, 'f', -1, 64),
		"predicted_ms":      strconv.FormatFloat(sol.LatencyMs, 'f', -1, 64),
		"base_predicted_ms": strconv.FormatFloat(t.BaseMs(), 'f', -1, 64),
		"importance":        strconv.FormatFloat(sol.Importance, 'g', 6, 64),
		"importance_source": importanceSource,
		"merged_segments":   strings.Join(segs, ","),
		"removed_blocks":    strconv.Itoa(len(removed)),
		"pruned_blocks":     strings.Join(pruned, ","),
		"pruned_layers":     strings.Join(p.PrunedLayers, ","),
		"table_cpu":         t.Key.CPU,
		"table_runtime":     t.Key.Runtime,
		"table_batch":       strconv.Itoa(t.Key.Batch),
		"table_threads":     strconv.Itoa(t.Key.Threads),
		"planner":           "two-stage DP (Kim et al., ICML 2023)",
		"predicted_speedup": strconv.FormatFloat(t.BaseMs()/sol.LatencyMs, 'f', 3, 64),
	}
	if err := p.Validate(g); err != nil {
		return nil, fmt.Errorf("latency: planned plan does not fit the model (a bug): %w", err)
	}
	return p, nil
}

// Sweep solves the problem for count budgets evenly spaced from the
// fastest plan's latency to the base latency and returns the distinct
// solutions, fastest first.
func (p *Problem) Sweep(count int, resolutionMs float64) ([]*Solution, error) {
	if count < 2 {
		count = 2
	}
	lo, hi := p.MinLatency(), p.BaseLatency()
	if math.IsInf(lo, 0) {
		return nil, errors.New("latency: no plan has a finite latency")
	}
	var out []*Solution
	seen := map[string]bool{}
	for k := 0; k < count; k++ {
		b := lo + (hi-lo)*float64(k)/float64(count-1)
		b = max(b, lo*1.003) // leave room for the discretisation
		sol, err := p.Solve(b, resolutionMs)
		if err != nil {
			if errors.Is(err, ErrInfeasible) {
				continue
			}
			return nil, err
		}
		key := fmt.Sprint(sol.Keep, sol.Pruned, sol.Segments, sol.LayerPruned)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, sol)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].LatencyMs < out[b].LatencyMs })
	return out, nil
}
