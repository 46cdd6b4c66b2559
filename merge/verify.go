package merge

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"text/tabwriter"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/graph/reference"
	"github.com/dshrink/dshrink/internal/memlimit"
	"github.com/dshrink/dshrink/nn"
)

// DefaultTolerance is the default relative tolerance of Verify: the largest
// output difference divided by the largest output magnitude.
const DefaultTolerance = 1e-4

// VerifyOptions configures Verify.
type VerifyOptions struct {
	Random int       // seeded random N(0,1) images to run (0 means 2)
	Seed   uint64    // seed of the random images
	Real   []float32 // optional real images, [RealN, C, H, W] in the model's input layout
	RealN  int       // number of real images in Real
	Tol    float64   // relative tolerance (0 means DefaultTolerance)
	// Intermediates also compares every value both models share (by name
	// and shape), e.g. each merged chain's output, not only the model output.
	Intermediates bool
	// Values lists further values to compare (by name, when both models
	// have them with the same shape), e.g. the outputs of the merged chains
	// (Report.ChainOutputs). A model output can hide a wrong merge (e.g.
	// behind a saturated ReLU6); the chain outputs cannot.
	Values []string
	// Executor runs the models: ExecNN (the default: the float32 nn
	// executor, what the tolerance is set for) or ExecReference (the float64
	// reference, slow but free of float32 rounding in the activations).
	Executor string
}

// Executors accepted by VerifyOptions.Executor.
const (
	ExecNN        = "nn"
	ExecReference = "reference"
)

// runner runs a model on one image and returns every value it can see
// (name -> data) and their shapes.
type runner func(x []float32) (map[string][]float64, map[string][]int, error)

func newRunner(g *graph.Graph, exec string, all bool) (runner, error) {
	switch exec {
	case ExecReference:
		return func(x []float32) (map[string][]float64, map[string][]int, error) {
			return reference.Forward(g, x, 1)
		}, nil
	case "", ExecNN:
		m, err := nn.NewModel(g, 1)
		if err != nil {
			return nil, err
		}
		shapes, err := g.Shapes(1)
		if err != nil {
			return nil, err
		}
		return func(x []float32) (vals map[string][]float64, _ map[string][]int, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("nn executor: %v", r)
				}
			}()
			vals = map[string][]float64{g.Output: f64(m.Forward(x, 1, false))}
			if all {
				for _, n := range g.Nodes {
					if v := m.Value(n.Output); v != nil {
						vals[n.Output] = f64(v)
					}
				}
			}
			return vals, shapes, nil
		}, nil
	}
	return nil, fmt.Errorf("verify: unknown executor %q (want %s or %s)", exec, ExecNN, ExecReference)
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// Result is the outcome of Verify.
type Result struct {
	Images     int     `json:"images"`      // images run (random plus real)
	RealImages int     `json:"real_images"` // of which real
	MaxAbs     float64 `json:"max_abs"`     // largest |merged - original| on the model output
	Scale      float64 `json:"scale"`       // largest |original output|
	MaxRel     float64 `json:"max_rel"`     // MaxAbs / Scale
	// WorstValue and WorstRel give the shared intermediate value with the
	// largest relative difference (relative to that value's largest magnitude).
	WorstValue string  `json:"worst_value,omitempty"`
	WorstRel   float64 `json:"worst_rel,omitempty"`
	Tol        float64 `json:"tolerance"`
	OK         bool    `json:"ok"`       // MaxRel and WorstRel are within Tol
	Executor   string  `json:"executor"` // what ran the models
	// Float32MaxRel is set when the float32 executor's output differed by
	// more than Tol while every compared chain output agreed, and the
	// figures above come from a rerun in float64 (see Verify).
	Float32MaxRel float64 `json:"float32_max_rel,omitempty"`
}

// Verify runs orig and merged on the same inputs and compares their outputs
// (and, optionally, every shared intermediate value). By default the models
// run on the float32 nn executor; with ExecReference they run in float64 on
// the float32 parameters, so the figures measure the merge itself (float32
// rounding of the merged weights included).
func Verify(orig, merged *graph.Graph, opts VerifyOptions) (*Result, error) {
	if opts.Random < 0 || opts.RealN < 0 {
		return nil, fmt.Errorf("verify: %d random and %d real images, want counts >= 0", opts.Random, opts.RealN)
	}
	if opts.Tol < 0 || math.IsNaN(opts.Tol) || math.IsInf(opts.Tol, 0) {
		return nil, fmt.Errorf("verify: tolerance %v, want a finite value >= 0 (0: the default %g)", opts.Tol, DefaultTolerance)
	}
	if opts.Random <= 0 {
		opts.Random = 2
	}
	if opts.Tol <= 0 {
		opts.Tol = DefaultTolerance
	}
	if !sameShape(orig.Input.Shape, merged.Input.Shape) {
		return nil, fmt.Errorf("verify: input shapes differ: %v vs %v", orig.Input.Shape, merged.Input.Shape)
	}
	if err := orig.Validate(); err != nil {
		return nil, fmt.Errorf("verify: original model: %w", err)
	}
	per := 1
	for _, d := range orig.Input.Shape {
		per *= d // bounded by Validate
	}
	// Every random image is generated up front.
	if err := memlimit.Check(fmt.Sprintf("verify: %d random images of %v", opts.Random, orig.Input.Shape), memlimit.Mul(int64(opts.Random), int64(per), 4)); err != nil {
		return nil, err
	}
	res := &Result{Tol: opts.Tol, Executor: "nn (float32)"}
	if opts.Executor == ExecReference {
		res.Executor = "graph/reference (float64)"
	}
	all := opts.Intermediates || len(opts.Values) > 0
	runA, err := newRunner(orig, opts.Executor, all)
	if err != nil {
		return nil, fmt.Errorf("verify: original model: %w", err)
	}
	runB, err := newRunner(merged, opts.Executor, all)
	if err != nil {
		return nil, fmt.Errorf("verify: merged model: %w", err)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x7e51f7))
	var batches [][]float32
	for i := 0; i < opts.Random; i++ {
		x := make([]float32, per)
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		batches = append(batches, x)
	}
	if opts.RealN > 0 {
		if len(opts.Real) != opts.RealN*per {
			return nil, fmt.Errorf("verify: %d real values for %d images of %v", len(opts.Real), opts.RealN, orig.Input.Shape)
		}
		for i := 0; i < opts.RealN; i++ {
			batches = append(batches, opts.Real[i*per:(i+1)*per])
		}
		res.RealImages = opts.RealN
	}
	worst := map[string][2]float64{} // value -> max abs diff, max |orig|
	want := map[string]bool{}
	for _, v := range opts.Values {
		want[v] = true
	}
	for _, x := range batches {
		va, sa, err := runA(x)
		if err != nil {
			return nil, fmt.Errorf("verify: run original: %w", err)
		}
		vb, sb, err := runB(x)
		if err != nil {
			return nil, fmt.Errorf("verify: run merged: %w", err)
		}
		a, b := va[orig.Output], vb[merged.Output]
		if len(a) != len(b) {
			return nil, fmt.Errorf("verify: outputs differ in size: %v vs %v", sa[orig.Output], sb[merged.Output])
		}
		d, s := maxDiff(b, a)
		res.MaxAbs = math.Max(res.MaxAbs, d)
		res.Scale = math.Max(res.Scale, s)
		if opts.Intermediates || len(opts.Values) > 0 {
			for name, av := range va {
				bv, ok := vb[name]
				if !ok || name == orig.Input.Name || !sameShape(sa[name], sb[name]) || !opts.Intermediates && !want[name] {
					continue
				}
				d, s := maxDiff(bv, av)
				w := worst[name]
				worst[name] = [2]float64{math.Max(w[0], d), math.Max(w[1], s)}
			}
		}
		res.Images++
	}
	res.MaxRel = res.MaxAbs / math.Max(res.Scale, 1e-30)
	for name, w := range worst {
		r := w[0] / math.Max(w[1], 1e-30)
		if r > res.WorstRel || res.WorstValue == "" {
			res.WorstRel, res.WorstValue = r, name
		}
	}
	res.OK = res.MaxRel <= res.Tol && res.WorstRel <= res.Tol && !math.IsNaN(res.MaxRel)
	if !res.OK && len(worst) > 0 && res.WorstRel <= res.Tol && (opts.Executor == "" || opts.Executor == ExecNN) {
		// Every merged chain's output agrees, the model output does not:
		// float32 rounding (of the activations in both models, and of the
		// merged weights) amplified by the layers after the chains, as in a
		// model that was not fine-tuned without its activations, whose
		// values grow without bound and then meet a ReLU6. Whether the merge
		// itself is exact is a question for float64: rerun both models in
		// graph/reference on the same inputs and judge by that.
		ro := opts
		ro.Executor = ExecReference
		r64, err := Verify(orig, merged, ro)
		if err != nil {
			return nil, err
		}
		r64.Float32MaxRel = res.MaxRel
		return r64, nil
	}
	return res, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func maxDiff(a, b []float64) (d, s float64) {
	for i := range b {
		d = math.Max(d, math.Abs(a[i]-b[i]))
		s = math.Max(s, math.Abs(b[i]))
	}
	return d, s
}

// Explain writes a human-readable account of the merge: the cost before and
// after, then per chain its layers, merged kernel, MACs and parameters before
// and after, and the decision.
func (r *Report) Explain(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "model: %s MACs, %s params -> %s MACs, %s params (%d -> %d nodes)\n",
		human(r.Before.MACs), human(r.Before.Params), human(r.After.MACs), human(r.After.Params), r.OriginalNodeCount, r.MergedNodeCount)
	fmt.Fprintf(&b, "folded %d BatchNorm, removed %d identity activations, merged %d of %d chains (%d with a border bias map)\n",
		r.FoldedBN, r.RemovedIdentity, r.Merged, len(r.Chains), r.BiasMaps)
	mode := "per block"
	if r.Options.CrossBlocks {
		mode = "across blocks"
	}
	if len(r.Options.Segments) > 0 {
		mode = fmt.Sprintf("as %d requested runs", len(r.Options.Segments))
	}
	fmt.Fprintf(&b, "options: chains %s, max kernel %d, max MAC growth %.2gx, force %v\n\n", mode, r.Options.MaxKernel, r.Options.MaxMACGrowth, r.Options.Force)
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "chain\tlayers\tmerged\tMACs before\tafter\tparams before\tafter\tbias map\tdecision")
	for _, c := range r.Chains {
		name := c.Name
		if name == "" {
			name = strings.Join(c.Blocks, "+")
			if name == "" {
				name = c.Nodes[0]
			}
		}
		bm := "-"
		if c.BiasMap {
			bm = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, strings.Join(c.Kernels, " > "), c.Kernel,
			human(c.MACs), human(c.MACsAfter), human(c.Params), human(c.ParamsAfter), bm, c.Reason)
	}
	tw.Flush()
	stops := false
	for _, c := range r.Chains {
		if c.Stop != "" && !strings.Contains(c.Stop, "non-linear") && !strings.Contains(c.Stop, "block boundary") {
			if !stops {
				b.WriteString("\nchain ends:\n")
				stops = true
			}
			fmt.Fprintf(&b, "  %s: ends at %s: %s\n", strings.Join(c.Blocks, "+"), c.Output, c.Stop)
		}
	}
	for _, n := range r.UnmergedNotes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if v := r.Verification; v != nil {
		fmt.Fprintf(&b, "\nverification against %s:\n", r.VerifiedAgainst)
		fmt.Fprintf(&b, "  %d images (%d real), %s: max abs error %.3g, max relative error %.3g (output scale %.3g)",
			v.Images, v.RealImages, v.Executor, v.MaxAbs, v.MaxRel, v.Scale)
		if v.WorstValue != "" {
			fmt.Fprintf(&b, "; worst compared value %s: %.3g relative", v.WorstValue, v.WorstRel)
		}
		status := "PASS"
		if !v.OK {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "\n  tolerance %.3g relative: %s\n", v.Tol, status)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// VerifyRun checks what the run from..to of g merges into (Run) against the
// unmerged run (Extract; rewritten by PadFirst first when opts.PadFirst) on
// vo's inputs, which are images of the run's input value. It returns the
// merged run and its chain with the result.
func VerifyRun(g *graph.Graph, from, to string, opts Options, vo VerifyOptions) (*graph.Graph, Chain, *Result, error) {
	merged, ch, err := Run(g, from, to, opts)
	if err != nil {
		return nil, Chain{}, nil, err
	}
	sub, err := Extract(g, from, to)
	if err != nil {
		return nil, Chain{}, nil, err
	}
	if opts.PadFirst {
		if sub, err = PadFirst(sub, []Segment{{from, to}}); err != nil {
			return nil, Chain{}, nil, err
		}
	}
	res, err := Verify(sub, merged, vo)
	if err != nil {
		return nil, Chain{}, nil, err
	}
	return merged, ch, res, nil
}
