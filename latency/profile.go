package latency

import (
	"fmt"
	"io"
	"math"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/runtime"
)

// ProfileOptions configures Profile.
type ProfileOptions struct {
	// Batch and Threads are the runtime's batch size and thread count (1 when 0).
	Batch, Threads int
	// Rounds is the number of interleaved rounds (default 15); in each round
	// every segment runs Iters times (default 5) and the round's median is
	// kept; a segment's latency is the median over rounds.
	Rounds, Iters int
	// Warmup is the number of untimed runs of each segment first (default 3).
	Warmup int
	// MaxKernel caps the kernel of multi-block segments (merge.DefaultMaxKernel when 0).
	MaxKernel int
	// NoMultiBlock skips multi-block segments (only kept and single merged blocks).
	NoMultiBlock bool
	// LayerPruning also measures merged segments with every block's
	// prunable layer pruned (LayerMerge; see Segment.LayerPruned), runs of
	// up to MaxLayerRun blocks (default 3).
	LayerPruning bool
	MaxLayerRun  int
	// Isolated uses the segments' isolated timings as the table entries. By
	// default every entry is measured in context: the kept blocks and the
	// fixed parts in the whole model, the merged segments of length L in
	// whole models merged along runs of L blocks at each offset (and the
	// layer-pruned ones likewise), all run step by step in the same rounds;
	// an entry is the sum of its steps' times there. A segment compiled alone
	// keeps its weights and input in the caches between runs and so runs
	// faster than inside the model (10-13% under the whole model at 224x224
	// on these machines); in context the table adds up to the model it
	// describes.
	Isolated bool
	// Runtime is the runtime that times the segments: "ours" (package
	// runtime; also when empty) or "ort", ONNX Runtime through node and
	// tools/ortbench/bench_ort.js (see FindORT). ORT tables are isolated
	// (Isolated is implied) and their key's executor is "onnxruntime-VERSION".
	Runtime string
	// Log receives progress with an estimate of the time left (nothing when
	// nil).
	Log io.Writer
	// TargetCI and MaxRounds make Measure repeat: while the widest 95%
	// confidence interval of a model's median run time is wider than
	// TargetCI (relative half-width; 0 means 0.02), Measure adds Rounds more
	// rounds, up to MaxRounds in all (0 means 3 * Rounds). Profile ignores them.
	TargetCI  float64
	MaxRounds int
}

func (o ProfileOptions) withDefaults() ProfileOptions {
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.Threads <= 0 {
		o.Threads = 1
	}
	if o.Rounds <= 0 {
		o.Rounds = 15
	}
	if o.Iters <= 0 {
		o.Iters = 5
	}
	if o.Warmup <= 0 {
		o.Warmup = 3
	}
	if o.MaxKernel <= 0 {
		o.MaxKernel = merge.DefaultMaxKernel
	}
	if o.MaxLayerRun <= 0 {
		o.MaxLayerRun = 3
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.TargetCI <= 0 {
		o.TargetCI = 0.02
	}
	if o.MaxRounds <= 0 {
		o.MaxRounds = 3 * o.Rounds
	}
	return o
}

// candidate is one model to time.
type candidate struct {
	g    *graph.Graph
	seg  *Segment // nil for a fixed part or the whole model
	part *Part
	prog *runtime.Program
	x, y []float32
	meds []float64 // per-round medians
	// ctx: record every step's median per round (stepRounds), for the
	// in-context entries.
	ctx        bool
	stepRounds [][]float64
	// run: time Program.Run (whole models); otherwise sum the per-step
	// medians of every step but the carrier's.
	run      bool
	skip     []bool
	stepMeds []float64 // per-round sums of step medians (whole models)
}

// Profile measures the latency table of g with our runtime (see Table). g
// must be a chain of blocks with one removable unit each (MobileNetV2,
// EfficientNet-Lite as built by package models, or an imported model with
// its structure). g is not modified.
func Profile(g *graph.Graph, opts ProfileOptions) (*Table, error) {
	opts = opts.withDefaults()
	ort, err := useORT(opts.Runtime)
	if err != nil {
		return nil, err
	}
	c, err := analyze(g)
	if err != nil {
		return nil, err
	}
	t := &Table{Version: TableVersion, Key: CurrentKey(Fingerprint(g), opts.Batch, opts.Threads, opts.Isolated), Model: g.Name,
		Rounds: opts.Rounds, Created: now()}
	t.Key.LayerPruning = opts.LayerPruning
	var cands []*candidate
	addPart := func(name string, nodes []*graph.Node, in, out string) error {
		if len(nodes) == 0 {
			return nil
		}
		// The stem reads the model input: its packing is part of the
		// model's run, so it has no carrier.
		sub, err := c.subgraph(name, nodes, in, out, nil, nil, in != g.Input.Name)
		if err != nil {
			return err
		}
		t.Fixed = append(t.Fixed, Part{Name: name, MACs: macs(sub)})
		cands = append(cands, &candidate{g: sub})
		return nil
	}
	nb := len(c.blocks)
	if err := addPart("stem", c.stem, g.Input.Name, c.blocks[0].Input); err != nil {
		return nil, err
	}
	last := c.blocks[nb-1].Output
	headOut := last
	if len(c.head) > 0 {
		headOut = c.head[len(c.head)-1].Output
		if err := addPart("head", c.head, last, headOut); err != nil {
			return nil, err
		}
	}
	if err := addPart("classifier", c.classifier, headOut, g.Output); err != nil {
		return nil, err
	}
	for i, b := range c.blocks {
		t.Blocks = append(t.Blocks, b.Name)
		t.Units = append(t.Units, c.units[i])
		kept, err := c.keptBlock(i)
		if err != nil {
			return nil, err
		}
		km := macs(kept)
		r := c.run(i, i+1)
		t.Segments = append(t.Segments, Segment{Start: i, End: i + 1, Blocks: []string{b.Name}, From: r.From, To: r.To, MACs: km, MACsKept: km, Realizable: true})
		cands = append(cands, &candidate{g: kept})
	}
	// Merged segments: every run of blocks that merge.Run turns into one
	// convolution whose kernel stays within the cap (single blocks always).
	for i := 0; i < nb; i++ {
		km := int64(0)
		names := []string(nil)
		for j := i + 1; j <= nb; j++ {
			km += t.Segments[j-1].MACsKept // kept entries come first, one per block
			names = append(names, c.blocks[j-1].Name)
			if j > i+1 && opts.NoMultiBlock {
				break
			}
			mg, ch, err := c.mergedRun(i, j)
			if err != nil {
				if j == i+1 {
					return nil, err
				}
				fmt.Fprintf(opts.Log, "profile: skip %v\n", err)
				break
			}
			k, err := kernelOf(mg)
			if err != nil {
				return nil, err
			}
			if j > i+1 && k > opts.MaxKernel {
				break
			}
			r := c.run(i, j)
			t.Segments = append(t.Segments, Segment{Start: i, End: j, Blocks: append([]string(nil), names...), From: r.From, To: r.To,
				Merged: true, Kernel: ch.Kernel, MACs: macs(mg), MACsKept: km, Realizable: true})
			cands = append(cands, &candidate{g: mg})
		}
	}
	// Layer-pruned segments: runs of blocks that all have a prunable layer,
	// merged with those layers pruned.
	if opts.LayerPruning {
		for i := 0; i < nb; i++ {
			km := int64(0)
			for j := i + 1; j <= nb && j-i <= opts.MaxLayerRun; j++ {
				if c.layers[j-1] == "" {
					break
				}
				km += t.Segments[j-1].MACsKept
				if j > i+1 && opts.NoMultiBlock {
					break
				}
				mg, ch, err := c.mergedRunLP(i, j)
				if err != nil {
					return nil, err
				}
				r := c.run(i, j)
				t.Segments = append(t.Segments, Segment{Start: i, End: j, Blocks: append([]string(nil), t.Blocks[i:j]...), From: r.From, To: r.To,
					Merged: true, LayerPruned: true, PrunedLayers: append([]string(nil), c.layers[i:j]...), Kernel: ch.Kernel, MACs: macs(mg), MACsKept: km, Realizable: true})
				cands = append(cands, &candidate{g: mg})
			}
		}
	}
	// Wire segments and parts to their candidates (same order as appended).
	si, pi := 0, 0
	for _, cd := range cands {
		if pi < len(t.Fixed) && cd.g.Name == t.Fixed[pi].Name {
			cd.part = &t.Fixed[pi]
			pi++
			continue
		}
		cd.seg = &t.Segments[si]
		si++
	}
	if ort {
		return profileORT(g, t, cands, opts)
	}
	whole := &candidate{g: g, run: true, ctx: !opts.Isolated}
	cands = append(cands, whole)
	var tilings []*tiling
	if !opts.Isolated {
		if tilings, err = c.tilings(t); err != nil {
			return nil, err
		}
		for _, tl := range tilings {
			cands = append(cands, tl.cand)
		}
	}
	fmt.Fprintf(opts.Log, "profile: %d blocks, %d segments, %d fixed parts; %d rounds x %d runs each\n", nb, len(t.Segments), len(t.Fixed), opts.Rounds, opts.Iters)
	if err := timeCandidates(cands, opts); err != nil {
		return nil, err
	}
	for _, cd := range cands {
		ms, spread := summary(cd.meds)
		switch {
		case cd.seg != nil:
			cd.seg.Ms, cd.seg.Spread = ms, spread
		case cd.part != nil:
			cd.part.Ms, cd.part.Spread = ms, spread
		case cd == whole:
			t.WholeMs = ms
			t.WholeStepsMs, _ = summary(cd.stepMeds)
		}
	}
	for k := range t.Segments {
		t.Segments[k].IsolatedMs = t.Segments[k].Ms
	}
	for k := range t.Fixed {
		t.Fixed[k].IsolatedMs = t.Fixed[k].Ms
	}
	if !opts.Isolated {
		if err := c.applyContext(t, whole, tilings); err != nil {
			return nil, err
		}
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// tiling is a whole model in which the merged segments of one length L
// starting at one offset run in context: blocks [0, offset) and every L
// blocks from there merged into one convolution each (a run the table has
// no segment for is merged block by block).
type tiling struct {
	cand *candidate
	// own maps a merged node's name to the table segment it is the in-context
	// measurement of (the runs of length L).
	own map[string]int
}

// tilings returns the whole models that time every merged segment of t in
// context: for every segment length L and offset o < L, one model whose
// runs of length L start at o, o+L, ... (sum over L of L models).
func (c *chain) tilings(t *Table) ([]*tiling, error) {
	nb := len(c.blocks)
	var out []*tiling
	for _, lp := range []bool{false, true} {
		maxL := 0
		index := map[[2]int]int{}
		for k, s := range t.Segments {
			if s.Merged && s.LayerPruned == lp {
				index[[2]int{s.Start, s.End}] = k
				maxL = max(maxL, s.End-s.Start)
			}
		}
		for L := 1; L <= maxL; L++ {
			for o := 0; o < L; o++ {
				var cover [][2]int
				var lpf []bool
				add := func(a, b int) {
					if _, ok := index[[2]int{a, b}]; ok {
						cover, lpf = append(cover, [2]int{a, b}), append(lpf, lp)
						return
					}
					for i := a; i < b; i++ {
						cover, lpf = append(cover, [2]int{i, i + 1}), append(lpf, false)
					}
				}
				if o > 0 {
					add(0, min(o, nb))
				}
				for a := o; a < nb; a += L {
					add(a, min(a+L, nb))
				}
				own := map[int]int{} // cover piece -> table segment
				for k, r := range cover {
					if lpf[k] == lp && r[1]-r[0] == L && r[0]%L == o%L {
						own[k] = index[r]
					}
				}
				if len(own) == 0 {
					continue
				}
				mg, names, err := c.tiled(cover, lpf)
				if err != nil {
					return nil, err
				}
				byName := map[string]int{}
				for k, seg := range own {
					byName[names[k]] = seg
				}
				out = append(out, &tiling{cand: &candidate{g: mg, ctx: true}, own: byName})
			}
		}
	}
	return out, nil
}

// regions returns, for every step of cd's program, the region it belongs to:
// a block index, or -1 (stem), -2 (head), -3 (classifier).
func (c *chain) regions(cd *candidate, steps []runtime.StepInfo) ([]int, error) {
	block := map[string]int{}
	for i, b := range c.blocks {
		block[b.Name] = i
	}
	nodes := map[string]string{}
	for _, n := range cd.g.Nodes {
		nodes[n.Name] = n.Block
	}
	out := make([]int, len(steps))
	seen, cls := false, false
	for k, s := range steps {
		b, ok := nodes[s.Name]
		if !ok {
			return nil, fmt.Errorf("latency: %s: step %s names no node", cd.g.Name, s.Name)
		}
		if b != "" {
			i, ok := block[b]
			if !ok {
				return nil, fmt.Errorf("latency: %s: step %s in unknown block %q", cd.g.Name, s.Name, b)
			}
			out[k], seen = i, true
			continue
		}
		switch {
		case !seen:
			out[k] = -1
		case cls || s.Kind == "gap":
			cls = true
			out[k] = -3
		default:
			out[k] = -2
		}
	}
	return out, nil
}

// applyContext replaces the kept single-block entries and the fixed parts
// by their in-context times in the whole model (medians over rounds of the
// summed step medians of their steps), and every merged segment by the
// steps of its merged convolution in its tiling (see tilings).
func (c *chain) applyContext(t *Table, whole *candidate, tilings []*tiling) error {
	reg, err := c.regions(whole, whole.prog.Steps())
	if err != nil {
		return err
	}
	ko := map[int][]float64{}
	for _, round := range whole.stepRounds {
		sums := map[int]float64{}
		for k, v := range round {
			sums[reg[k]] += v
		}
		for r, v := range sums {
			ko[r] = append(ko[r], v)
		}
	}
	for k := range t.Fixed {
		p := &t.Fixed[k]
		r, known := map[string]int{"stem": -1, "head": -2, "classifier": -3}[p.Name]
		if v, ok := ko[r]; ok && known {
			p.Ms, p.Spread = summary(v)
			p.Context = true
		}
	}
	for k := range t.Segments {
		s := &t.Segments[k]
		if s.Merged {
			continue
		}
		v, ok := ko[s.Start]
		if !ok {
			return fmt.Errorf("latency: block %s has no steps in context", c.blocks[s.Start].Name)
		}
		s.Ms, s.Spread = summary(v)
		s.Context = true
	}
	for _, tl := range tilings {
		steps := tl.cand.prog.Steps()
		per := map[int][]float64{}
		for _, round := range tl.cand.stepRounds {
			sums := map[int]float64{}
			for k, v := range round {
				if seg, ok := tl.own[steps[k].Name]; ok {
					sums[seg] += v
				}
			}
			for seg, v := range sums {
				per[seg] = append(per[seg], v)
			}
		}
		for name, seg := range tl.own {
			v, ok := per[seg]
			if !ok {
				return fmt.Errorf("latency: merged convolution %s (blocks %s) has no step in %s", name, c.span(t.Segments[seg].Start, t.Segments[seg].End), tl.cand.g.Name)
			}
			s := &t.Segments[seg]
			s.Ms, s.Spread = summary(v)
			s.Context = true
		}
	}
	for _, s := range t.Segments {
		if !s.Context {
			return fmt.Errorf("latency: segment %s was not timed in context", c.span(s.Start, s.End))
		}
	}
	return nil
}

// timeCandidates compiles every candidate and times them in interleaved
// rounds (the starting candidate rotating), with the garbage collector off.
func timeCandidates(cands []*candidate, o ProfileOptions) error {
	if err := prepareCandidates(cands, o); err != nil {
		return err
	}
	defer releaseCandidates(cands)
	return timeRounds(cands, o, 0, o.Rounds, o.Rounds)
}

// prepareCandidates compiles every candidate and runs it o.Warmup times.
func prepareCandidates(cands []*candidate, o ProfileOptions) error {
	for _, cd := range cands {
		p, err := runtime.Compile(cd.g, runtime.Options{Batch: o.Batch, Threads: o.Threads})
		if err != nil {
			return fmt.Errorf("latency: compile %s: %w", cd.g.Name, err)
		}
		cd.prog = p
		cd.skip = make([]bool, len(p.Steps()))
		for k, s := range p.Steps() {
			cd.skip[k] = s.Name == carrierName
		}
		cd.x = benchInput(o.Batch * p.InputLen())
		cd.y = make([]float32, o.Batch*p.OutputLen())
		for k := 0; k < o.Warmup; k++ {
			if err := p.Run(cd.x, cd.y); err != nil {
				return fmt.Errorf("latency: run %s: %w", cd.g.Name, err)
			}
		}
	}
	return nil
}

// timeRounds times the prepared candidates for rounds first .. first+n-1
// (the round number rotates the starting candidate), appending to their
// per-round medians, with the garbage collector off. total is the number of
// rounds planned in all, for the progress line and its estimate of the time
// left.
func timeRounds(cands []*candidate, o ProfileOptions, first, n, total int) error {
	goruntime.GC()
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	buf := make([]float64, o.Iters)
	t0, last := time.Now(), time.Now()
	for r := first; r < first+n; r++ {
		for j := range cands {
			cd := cands[(j+r)%len(cands)]
			if !cd.run {
				ms, err := cd.prog.StepTimes(cd.x, o.Iters)
				if err != nil {
					return fmt.Errorf("latency: run %s: %w", cd.g.Name, err)
				}
				if cd.ctx {
					cd.stepRounds = append(cd.stepRounds, ms)
				}
				var sum float64
				for k, v := range ms {
					if !cd.skip[k] {
						sum += v
					}
				}
				cd.meds = append(cd.meds, sum)
				continue
			}
			ms, err := cd.prog.StepTimes(cd.x, o.Iters)
			if err != nil {
				return fmt.Errorf("latency: run %s: %w", cd.g.Name, err)
			}
			var sum float64
			for _, v := range ms {
				sum += v
			}
			cd.stepMeds = append(cd.stepMeds, sum)
			if cd.ctx {
				cd.stepRounds = append(cd.stepRounds, ms)
			}
			for k := range buf {
				s := time.Now()
				if err := cd.prog.Run(cd.x, cd.y); err != nil {
					return fmt.Errorf("latency: run %s: %w", cd.g.Name, err)
				}
				buf[k] = float64(time.Since(s).Nanoseconds()) / 1e6
			}
			slices.Sort(buf)
			cd.meds = append(cd.meds, buf[len(buf)/2])
		}
		// A line for the first round, every fifth, the last one, and at least
		// every 10 seconds, with the time left at this round's pace.
		done := r + 1 - first
		if r == first || (r+1)%5 == 0 || r+1 == first+n || time.Since(last) > 10*time.Second {
			el := time.Since(t0)
			left := time.Duration(float64(el) / float64(done) * float64(total-r-1))
			fmt.Fprintf(o.Log, "timing: round %d/%d (%.1fs, about %s left)\n", r+1, total, el.Seconds(), left.Round(time.Second))
			last = time.Now()
		}
	}
	return nil
}

// releaseCandidates drops the compiled programs of the candidates that are
// no longer run (in-context candidates keep theirs for their steps).
func releaseCandidates(cands []*candidate) {
	for _, cd := range cands {
		if !cd.ctx {
			cd.prog = nil // release the arenas
		}
	}
}

// summary returns the median and interquartile range of v.
func summary(v []float64) (med, iqr float64) {
	if len(v) == 0 {
		return 0, 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(math.Round(p*float64(len(s)-1))))] }
	return q(0.5), q(0.75) - q(0.25)
}

// benchInput returns the deterministic input the bench command uses.
func benchInput(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(0.001 * float64(i)))
	}
	return x
}

// Timing is the measured latency of a whole model.
type Timing struct {
	// RunMs is the median over rounds of the per-round median Run time.
	RunMs float64 `json:"run_ms"`
	// StepsMs is the median over rounds of the sum of per-step medians, the
	// quantity the table's entries add up to; it is less disturbed than RunMs
	// when other processes share the cores (a preempted step is an outlier
	// of its own median, a preempted run is a slow run).
	StepsMs float64 `json:"steps_ms"`
	// CI is the relative half-width of the 95% confidence interval of RunMs
	// (MedianCI of the per-round medians): the measurement's own noise.
	CI float64 `json:"ci"`
	// Rounds is the number of rounds timed.
	Rounds int `json:"rounds"`
}

// Measure times whole models in interleaved rounds as Profile times
// segments.
func Measure(gs []*graph.Graph, opts ProfileOptions) ([]Timing, error) {
	opts = opts.withDefaults()
	if ort, err := useORT(opts.Runtime); err != nil || ort {
		if err != nil {
			return nil, err
		}
		return measureORT(gs, opts)
	}
	cands := make([]*candidate, len(gs))
	for i, g := range gs {
		cands[i] = &candidate{g: g, run: true}
	}
	if err := prepareCandidates(cands, opts); err != nil {
		return nil, err
	}
	defer releaseCandidates(cands)
	// Repeat until every model's median is known to TargetCI, or MaxRounds.
	done := 0
	for done < opts.MaxRounds {
		n := min(opts.Rounds, opts.MaxRounds-done)
		if err := timeRounds(cands, opts, done, n, done+n); err != nil {
			return nil, err
		}
		done += n
		worst := 0.0
		for _, cd := range cands {
			worst = max(worst, MedianCI(cd.meds))
		}
		if worst <= opts.TargetCI {
			break
		}
		if done < opts.MaxRounds {
			fmt.Fprintf(opts.Log, "timing: medians known to +-%.1f%% after %d rounds (target +-%.1f%%): %d more rounds\n",
				100*worst, done, 100*opts.TargetCI, min(opts.Rounds, opts.MaxRounds-done))
		}
	}
	out := make([]Timing, len(gs))
	for i, cd := range cands {
		out[i].RunMs, _ = summary(cd.meds)
		out[i].StepsMs, _ = summary(cd.stepMeds)
		out[i].CI = MedianCI(cd.meds)
		out[i].Rounds = len(cd.meds)
	}
	return out, nil
}

// MedianCI returns the relative half-width of a distribution-free 95%
// confidence interval of the median of v (order statistics at ranks
// n/2 -+ 0.98 sqrt(n), after the binomial distribution of the count below
// the median): the interval is median * (1 -+ MedianCI) roughly. It is 0 for
// fewer than 2 values or a zero median.
func MedianCI(v []float64) float64 {
	n := len(v)
	if n < 2 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	h := 0.98 * math.Sqrt(float64(n))
	lo := max(int(math.Floor(float64(n)/2-h)), 0)
	hi := min(int(math.Ceil(float64(n)/2+h)), n-1)
	med, _ := summary(v)
	if med == 0 {
		return 0
	}
	return (s[hi] - s[lo]) / 2 / med
}
