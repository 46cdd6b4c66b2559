// Package merge turns activation-free runs of layers into single
// convolutions, exactly (docs/merge.md): BatchNorm is folded into the
// preceding convolution, identity activations and eval-mode dropout inside a
// chain disappear, and every maximal linear chain of convolutions (1x1,
// depthwise, grouped, dense, Pad nodes, residual adds) is composed into one
// convolution whose border behaviour is exact: either the graph is in the
// pad-first form (a Pad node, then unpadded convolutions) and the merged
// convolution keeps the Pad's padding, or a constant border bias map
// [OutC, Ho, Wo] makes the merged convolution equal the chain everywhere.
// Verify runs the original and the merged model side by side.
//
// Runs across blocks: a Segment names a run of layers by the values entering
// and leaving it; Merge with Options.Segments merges exactly the named runs
// (whatever their kernel growth), Run returns what one run merges into (the
// node a latency table should time), Extract the unmerged run, and PadFirst
// the pad-first form in which every linear run is one convolution exactly
// (runs with two padded spatial layers in a row are not, as they are:
// ErrNeedsPadFirst; docs/merge.md, section 4).
package merge

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// Default option values.
const (
	DefaultMaxKernel    = 7
	DefaultMaxMACGrowth = 2.0
)

// Options configures Merge.
type Options struct {
	// MaxKernel caps the merged kernel size (height and width); 0 means
	// DefaultMaxKernel. A chain stops growing before it would exceed it.
	MaxKernel int `json:"max_kernel"`
	// MaxMACGrowth skips a chain whose merged convolution would cost more
	// than this factor times the MACs of the layers it replaces (the
	// modelled cost: a dense convolution runs several times closer to peak
	// than a depthwise one, so a moderate growth still pays off, a large one
	// does not). 0 means DefaultMaxMACGrowth; a negative value disables the
	// check. With the default, MobileNetV2's expansion-1 block (10 M -> 57.8 M
	// MACs at 224) is not merged, as in the official code.
	MaxMACGrowth float64 `json:"max_mac_growth"`
	// Force merges chains that the MAC check would skip.
	Force bool `json:"force"`
	// CrossBlocks lets a chain run across block boundaries (graph.Node.Block).
	// By default each chain stays inside one block (or one run of nodes
	// outside blocks), which merges each removed inverted residual block into
	// its own convolution as the paper does. Across blocks, composing two
	// padded spatial convolutions is exact only in the pad-first form over the
	// whole run; otherwise the chain stops there and the report says why.
	CrossBlocks bool `json:"cross_blocks"`
	// Segments, when not empty, lists exactly the runs to merge (value
	// ranges, see Segment): each becomes one convolution whatever its kernel
	// growth (MaxKernel, MaxMACGrowth and Force do not apply: a caller that
	// names a run has priced it, e.g. with a latency table), and nothing else
	// is merged (BatchNorm is still folded and identity activations still
	// removed everywhere). Runs must not overlap. A run that is not linear,
	// or not one convolution in the form the model is in (ErrNeedsPadFirst),
	// is an error naming the node.
	Segments []Segment `json:"segments,omitempty"`
	// PadFirst (Run only) rewrites the run into the pad-first form before
	// merging it (see PadFirst). Merge refuses it: call PadFirst, then Merge,
	// and verify against PadFirst's result.
	PadFirst bool `json:"pad_first,omitempty"`
}

func (o Options) withDefaults() Options {
	if o.MaxKernel <= 0 {
		o.MaxKernel = DefaultMaxKernel
	}
	if o.MaxMACGrowth == 0 {
		o.MaxMACGrowth = DefaultMaxMACGrowth
	}
	return o
}

// Chain describes one linear chain the merger found, merged or not.
type Chain struct {
	Name        string   `json:"name"`             // name of the merged node
	Blocks      []string `json:"blocks,omitempty"` // blocks the chain's nodes belong to
	Nodes       []string `json:"nodes"`            // nodes replaced, in order
	Input       string   `json:"input"`            // value read by the chain
	Output      string   `json:"output"`           // value produced by the chain
	Kernels     []string `json:"kernels"`          // the layers before merging, e.g. "1x1", "3x3/s2 dw", "+residual"
	Kernel      string   `json:"kernel"`           // the merged convolution, e.g. "3x3/s2"
	MACs        int64    `json:"macs_before"`      // MACs per image of the replaced layers
	MACsAfter   int64    `json:"macs_after"`       // MACs per image of the merged convolution
	Params      int64    `json:"params_before"`    // parameters of the replaced layers (BatchNorm folded)
	ParamsAfter int64    `json:"params_after"`     // parameters of the merged convolution (bias map included)
	BiasMap     bool     `json:"bias_map"`         // the merged convolution needs a border bias map
	Merged      bool     `json:"merged"`           // false: left as it was
	Reason      string   `json:"reason"`           // why it was (not) merged
	Stop        string   `json:"stop,omitempty"`   // why the chain ends where it does
}

// Report describes what Merge did.
type Report struct {
	Options           Options    `json:"options"`
	Before            graph.Cost `json:"before"`           // the input model
	After             graph.Cost `json:"after"`            // the merged model
	FoldedBN          int        `json:"folded_batchnorm"` // BatchNorm nodes folded into convolutions
	RemovedIdentity   int        `json:"removed_identity"` // identity activations removed
	Chains            []Chain    `json:"chains"`           // every chain of two or more layers
	Merged            int        `json:"merged"`           // chains merged
	BiasMaps          int        `json:"bias_maps"`        // merged convolutions with a border bias map
	UnmergedNotes     []string   `json:"notes,omitempty"`  // other things left alone, and why
	VerifiedAgainst   string     `json:"verified_against"` // what the equivalence proof compares
	Verification      *Result    `json:"verification,omitempty"`
	MergedNodeCount   int        `json:"nodes_after"`
	OriginalNodeCount int        `json:"nodes_before"`
}

// ChainOutputs returns the values produced by the merged chains: both the
// unmerged and the merged model have them, so Verify can compare them.
func (r *Report) ChainOutputs() []string {
	var out []string
	for _, c := range r.Chains {
		if c.Merged {
			out = append(out, c.Output)
		}
	}
	return out
}

// Merge returns a copy of g with BatchNorm folded and every activation-free
// linear chain merged into one convolution, and a report. g is not modified.
// The merged graph computes the same function as g (up to float32 rounding
// of the merged weights); use Verify to check it.
func Merge(g *graph.Graph, opts Options) (*graph.Graph, *Report, error) {
	if opts.MaxKernel < 0 || opts.MaxKernel > graph.MaxDim {
		return nil, nil, fmt.Errorf("merge: max kernel %d, want 1 to %d (0: the default %d)", opts.MaxKernel, graph.MaxDim, DefaultMaxKernel)
	}
	if math.IsNaN(opts.MaxMACGrowth) {
		return nil, nil, fmt.Errorf("merge: MAC growth limit is NaN")
	}
	if opts.PadFirst {
		return nil, nil, fmt.Errorf("merge: the PadFirst option is for Run; for a whole model call PadFirst, then Merge, and verify against PadFirst's result")
	}
	for _, seg := range opts.Segments {
		if err := checkEndpoints(g, seg); err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
	}
	opts = opts.withDefaults()
	before, err := g.Cost()
	if err != nil {
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	rep := &Report{Options: opts, Before: before, OriginalNodeCount: len(g.Nodes),
		VerifiedAgainst: "the input model as given (with the plan's activations already removed, when a plan was applied)"}
	m := &merger{g: g.Clone(), opts: opts, rep: rep, mergedBlocks: map[string]bool{}, alias: map[string]string{}}
	m.removeIdentities()
	if err := m.foldBN(); err != nil {
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	if len(opts.Segments) > 0 {
		rep.VerifiedAgainst = "the input model as given (its runs merged as requested)"
		if err := m.mergeSegments(); err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
	} else {
		recorded, err := RecordedRuns(g)
		if err != nil {
			return nil, nil, err
		}
		if err := m.findChains(recorded); err != nil {
			return nil, nil, fmt.Errorf("merge: %w", err)
		}
	}
	if err := m.apply(); err != nil {
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	m.tidyAnnotations()
	if err := m.g.Validate(); err != nil {
		return nil, nil, fmt.Errorf("merge: merged model is not valid (a bug): %w", err)
	}
	if rep.After, err = m.g.Cost(); err != nil {
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	rep.MergedNodeCount = len(m.g.Nodes)
	m.g.Meta["merged"] = "true"
	return m.g, rep, nil
}

type merger struct {
	g        *graph.Graph
	opts     Options
	rep      *Report
	shapes   map[string][]int
	cons     map[string][]*graph.Node
	used     map[*graph.Node]bool
	chains   []*chain
	blockOut map[string]bool
	// blocks with at least one merged node
	mergedBlocks map[string]bool
	// alias maps a value removed with an identity activation to the value
	// that replaces it.
	alias map[string]string
}

type chain struct {
	info  Chain
	nodes []*graph.Node
	l     *lin
	in    string
	out   string
	block string
	name  string // base of the merged node's name ("" : from the block or first node)
}

// rename makes every reader of value from read value to instead.
func (m *merger) rename(from, to string) {
	for _, n := range m.g.Nodes {
		for i, in := range n.Inputs {
			if in == from {
				n.Inputs[i] = to
			}
		}
	}
	if m.g.Output == from {
		m.g.Output = to
	}
	for i := range m.g.Blocks {
		if m.g.Blocks[i].Input == from {
			m.g.Blocks[i].Input = to
		}
		if m.g.Blocks[i].Output == from {
			m.g.Blocks[i].Output = to
		}
	}
}

// removeIdentities drops identity activations (a removed unit's activation).
func (m *merger) removeIdentities() {
	var keep []*graph.Node
	for _, n := range m.g.Nodes {
		if n.Op == graph.OpAct && n.Act != nil && n.Act.Kind == graph.ActIdentity && n.Inputs[0] != m.g.Input.Name {
			m.rename(n.Output, n.Inputs[0])
			if m.alias != nil {
				m.alias[n.Output] = n.Inputs[0]
			}
			m.rep.RemovedIdentity++
			continue
		}
		keep = append(keep, n)
	}
	m.g.Nodes = keep
}

// foldBN folds every BatchNorm whose input is a convolution read by nothing
// else into that convolution.
func (m *merger) foldBN() error {
	var keep []*graph.Node
	byOut := map[string]*graph.Node{}
	readers := map[string]int{}
	for _, n := range m.g.Nodes {
		for _, in := range n.Inputs {
			readers[in]++
		}
	}
	for _, n := range m.g.Nodes {
		if n.Op == graph.OpBatchNorm {
			c := byOut[n.Inputs[0]]
			if c != nil && c.Op == graph.OpConv && readers[c.Output] == 1 && c.Output != m.g.Output && c.Conv.OutC == n.BN.C {
				if err := m.fold(c, n); err != nil {
					return err
				}
				delete(byOut, n.Inputs[0])
				byOut[c.Output] = c
				m.rep.FoldedBN++
				continue
			}
			m.rep.UnmergedNotes = append(m.rep.UnmergedNotes, fmt.Sprintf("BatchNorm %s not folded: its input is not a convolution read only by it", n.Name))
		}
		byOut[n.Output] = n
		keep = append(keep, n)
	}
	m.g.Nodes = keep
	return nil
}

func (m *merger) fold(c, bn *graph.Node) error {
	g := m.g
	w, beta, mu, v := g.Param(bn, 0), g.Param(bn, 1), g.Param(bn, 2), g.Param(bn, 3)
	if w == nil || beta == nil || mu == nil || v == nil {
		return fmt.Errorf("BatchNorm %s: parameters missing", bn.Name)
	}
	a := c.Conv
	wt := g.Param(c, 0)
	per := len(wt.Data) / a.OutC
	scale := make([]float64, a.OutC)
	for o := range scale {
		scale[o] = float64(w.Data[o]) / math.Sqrt(float64(v.Data[o])+bn.BN.Eps)
		for i := o * per; i < (o+1)*per; i++ {
			wt.Data[i] = float32(float64(wt.Data[i]) * scale[o])
		}
	}
	var bias *tensor.Tensor
	if a.Bias {
		bias = g.Param(c, 1)
	} else {
		name := uniqueParam(g, c.Name+".bias")
		bias = tensor.New(a.OutC)
		g.Params[name] = bias
		c.Params = append([]string{c.Params[0], name}, c.Params[1:]...)
		a.Bias = true
	}
	for o := range scale {
		bias.Data[o] = float32(float64(beta.Data[o]) + (float64(bias.Data[o])-float64(mu.Data[o]))*scale[o])
	}
	if a.BiasMap {
		bm := g.Params[c.Params[len(c.Params)-1]]
		hw := len(bm.Data) / a.OutC
		for i := range bm.Data {
			bm.Data[i] = float32(float64(bm.Data[i]) * scale[i/hw])
		}
	}
	for _, p := range bn.Params {
		delete(g.Params, p)
	}
	m.renameValue(c.Output, bn.Output, c)
	return nil
}

// renameValue makes node p produce value to instead of from (from has no other readers).
func (m *merger) renameValue(from, to string, p *graph.Node) {
	p.Output = to
	for i := range m.g.Blocks {
		if m.g.Blocks[i].Input == from {
			m.g.Blocks[i].Input = to
		}
		if m.g.Blocks[i].Output == from {
			m.g.Blocks[i].Output = to
		}
	}
}

func uniqueParam(g *graph.Graph, name string) string {
	if _, ok := g.Params[name]; !ok {
		return name
	}
	for i := 1; ; i++ {
		n := fmt.Sprintf("%s_%d", name, i)
		if _, ok := g.Params[n]; !ok {
			return n
		}
	}
}

// walk is the state of a chain being grown.
type walk struct {
	l        *lin
	nodes    []*graph.Node
	kernels  []string
	cur      string
	block    string
	blockSet bool
	stop     string
	// snap is the walk as it was at the last block output it reached.
	snap *walk
}

// findChains finds the chains to merge: first the recorded pad-first runs
// (PadFirst), then every maximal linear chain in the rest.
func (m *merger) findChains(recorded []Segment) error {
	shapes, err := m.g.Shapes(1)
	if err != nil {
		return err
	}
	m.shapes = shapes
	m.cons = map[string][]*graph.Node{}
	for _, n := range m.g.Nodes {
		seen := map[string]bool{}
		for _, in := range n.Inputs {
			if !seen[in] {
				m.cons[in] = append(m.cons[in], n)
				seen[in] = true
			}
		}
	}
	m.used = map[*graph.Node]bool{}
	m.blockOut = map[string]bool{}
	for _, b := range m.g.Blocks {
		m.blockOut[b.Output] = true
	}
	for _, s := range recorded {
		seg := Segment{From: m.resolve(s.From), To: m.resolve(s.To)}
		if err := m.runChain(seg, "pad-first run"); err != nil {
			m.rep.UnmergedNotes = append(m.rep.UnmergedNotes, fmt.Sprintf("run %s recorded by the pad-first rewrite not merged as one: %v", s, err))
		}
	}
	tried := map[string]bool{}
	for _, n := range m.g.Nodes {
		if m.used[n] || (n.Op != graph.OpConv && n.Op != graph.OpPad) {
			continue
		}
		if !m.opts.CrossBlocks && n.Block != "" && !tried[n.Block] {
			tried[n.Block] = true
			if m.projectionBlock(n.Block) {
				continue
			}
		}
		// Start at the value n reads (this catches a residual around the
		// whole chain); fall back to starting with n itself.
		w := &walk{cur: n.Inputs[0]}
		m.extend(w)
		if len(w.nodes) == 0 || w.nodes[0] != n && !contains(w.nodes, n) {
			w = &walk{cur: n.Inputs[0]}
			if reason := m.absorb(w, n); reason != "" {
				continue
			}
			m.extend(w)
		}
		// Across blocks, a chain that stops inside a block is cut back to
		// the last block output it passed: the block's remaining layers
		// then merge on their own instead of widening this chain's output.
		if m.opts.CrossBlocks && !m.blockOut[w.cur] && w.snap != nil && len(w.snap.nodes) >= 2 && len(w.snap.nodes) < len(w.nodes) {
			stop := fmt.Sprintf("cut back to the block output %s (the next block cannot be taken whole: %s)", w.snap.cur, w.stop)
			w = w.snap
			w.stop = stop
		}
		if w.l == nil || len(w.nodes) < 2 {
			continue
		}
		m.record(n.Inputs[0], w)
	}
	// A block none of whose layers merged because it is not one
	// convolution as it is (two padded spatial layers in a row: a ResNet
	// basic block) says so: the pad-first form would merge it.
	for _, b := range m.g.Blocks {
		r, err := findRegion(m.g, Segment{From: b.Input, To: b.Output})
		if err != nil {
			continue
		}
		touched := false
		for _, n := range r.nodes {
			touched = touched || m.used[n]
		}
		if touched {
			continue
		}
		if _, _, err := linearize(m.g, m.shapes, r); errors.Is(err, ErrNeedsPadFirst) {
			m.rep.UnmergedNotes = append(m.rep.UnmergedNotes, fmt.Sprintf("block %s not merged: its layers are linear but not one convolution as they are (%v); merge.PadFirst makes it one", b.Name, err))
		}
	}
	for _, n := range m.g.Nodes {
		if n.Op == graph.OpMul {
			where := ""
			if n.Block != "" {
				where = " of block " + n.Block
			}
			m.rep.UnmergedNotes = append(m.rep.UnmergedNotes, fmt.Sprintf("%s%s is a squeeze-and-excitation gate (it multiplies by a function of the input): not linear, so the layers after it (projection, residual) are not merged with those before it", n.Name, where))
		}
	}
	// Report the chains in graph order.
	pos := map[*graph.Node]int{}
	for i, n := range m.g.Nodes {
		pos[n] = i
	}
	sort.SliceStable(m.chains, func(i, j int) bool { return pos[m.chains[i].nodes[0]] < pos[m.chains[j].nodes[0]] })
	return nil
}

// runChain records the run seg as one merged chain, whatever its kernel
// growth (a requested or recorded run was priced or planned as one); how
// says which ("requested run", "pad-first run").
func (m *merger) runChain(seg Segment, how string) error {
	r, err := findRegion(m.g, seg)
	if err != nil {
		return err
	}
	for _, n := range r.nodes {
		if m.used[n] {
			return fmt.Errorf("node %s already belongs to another run (runs must not overlap)", n.Name)
		}
	}
	l, kernels, err := linearize(m.g, m.shapes, r)
	if err != nil {
		return err
	}
	if l == nil {
		return fmt.Errorf("run %s has no layer to merge (only no-op nodes)", seg)
	}
	if err := checkWeight(l.outC, l.cpg(), l.kh, l.kw); err != nil {
		return err
	}
	ch := m.newChain(seg.From, seg.To, r.nodes, l, kernels, how)
	info := &ch.info
	if len(info.Blocks) == 1 {
		ch.block = info.Blocks[0]
	} else if len(info.Blocks) > 1 {
		ch.name = info.Blocks[0] + "-" + info.Blocks[len(info.Blocks)-1]
	}
	growth := float64(info.MACsAfter) / math.Max(1, float64(info.MACs))
	info.Merged = true
	depth := 0 // convolutions of the run, pads and crops aside
	for _, k := range kernels {
		if k != "" && k[0] >= '0' && k[0] <= '9' {
			depth++
		}
	}
	info.Reason = fmt.Sprintf("merged (%s): MACs %.2fx, %d convolutions -> 1", how, growth, depth)
	if m.opts.MaxMACGrowth > 0 && growth > m.opts.MaxMACGrowth {
		info.Reason += fmt.Sprintf(", above the default limit %.2fx (priced by the caller)", m.opts.MaxMACGrowth)
	}
	m.chains = append(m.chains, ch)
	return nil
}

// projectionBlock merges block name as one run when its residual add sums
// two computed branches (a ResNet downsample or RegNet projection skip: an
// add of two linear functions of the block input, which the chain walk does
// not follow) and the whole block is linear. It reports whether it recorded
// a chain.
func (m *merger) projectionBlock(name string) bool {
	b := m.g.Block(name)
	if b == nil {
		return false
	}
	r, err := findRegion(m.g, Segment{From: b.Input, To: b.Output})
	if err != nil {
		return false
	}
	projection := false
	for _, n := range r.nodes {
		if m.used[n] || n.Block != name {
			return false
		}
		if n.Op == graph.OpAdd && n.Inputs[0] != b.Input && n.Inputs[1] != b.Input {
			projection = true
		}
	}
	if !projection {
		return false
	}
	l, kernels, err := linearize(m.g, m.shapes, r)
	if err != nil || l == nil || l.kh > m.opts.MaxKernel || l.kw > m.opts.MaxKernel {
		return false
	}
	m.record(b.Input, &walk{l: l, nodes: r.nodes, kernels: kernels, cur: b.Output, block: name, blockSet: true, stop: "the block output"})
	return true
}

func contains(ns []*graph.Node, n *graph.Node) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// stage returns the linear map of a node, nil for a no-op node (identity
// activation, dropout), or a reason why it cannot be part of a chain.
func (m *merger) stage(n *graph.Node) (*lin, bool, string) {
	in := m.shapes[n.Inputs[0]]
	switch n.Op {
	case graph.OpConv:
		l, err := linFromConv(m.g, n, in)
		if err != nil {
			return nil, false, err.Error()
		}
		return l, true, ""
	case graph.OpPad:
		return linPad(in[1], in[2], in[3], n.Pad.Pads), true, ""
	case graph.OpBatchNorm:
		w, b, mu, v := m.g.Param(n, 0), m.g.Param(n, 1), m.g.Param(n, 2), m.g.Param(n, 3)
		scale, shift := make([]float64, n.BN.C), make([]float64, n.BN.C)
		for c := range scale {
			scale[c] = float64(w.Data[c]) / math.Sqrt(float64(v.Data[c])+n.BN.Eps)
			shift[c] = float64(b.Data[c]) - float64(mu.Data[c])*scale[c]
		}
		return linAffine(in[1], in[2], in[3], scale, shift), true, ""
	case graph.OpDropout:
		return nil, true, ""
	case graph.OpAct:
		if n.Act.Kind == graph.ActIdentity {
			return nil, true, ""
		}
		return nil, false, fmt.Sprintf("%s is a non-linear activation (%s)", n.Name, n.Act.Kind)
	}
	return nil, false, fmt.Sprintf("%s is a %s, not a linear convolution-like op", n.Name, n.Op)
}

func (m *merger) blockOK(w *walk, n *graph.Node) bool {
	return m.opts.CrossBlocks || !w.blockSet || w.block == n.Block
}

func (m *merger) setBlock(w *walk, n *graph.Node) {
	if !w.blockSet {
		w.block, w.blockSet = n.Block, true
	}
}

// then composes next after the walk's map, checking the kernel cap.
func (m *merger) then(w *walk, next *lin) (*lin, string) {
	if w.l == nil {
		if next.kh > m.opts.MaxKernel || next.kw > m.opts.MaxKernel {
			return nil, fmt.Sprintf("kernel %dx%d exceeds the cap %d", next.kh, next.kw, m.opts.MaxKernel)
		}
		return next, ""
	}
	c, err := compose(w.l, next)
	if err != nil {
		return nil, err.Error()
	}
	if c.kh > m.opts.MaxKernel || c.kw > m.opts.MaxKernel {
		return nil, fmt.Sprintf("the merged kernel would grow to %dx%d, above the cap %d", c.kh, c.kw, m.opts.MaxKernel)
	}
	return c, ""
}

// absorb appends the single-input node n (which reads w.cur) to the walk, or
// returns why it cannot.
func (m *merger) absorb(w *walk, n *graph.Node) string {
	if m.used[n] {
		return n.Name + " already belongs to another chain"
	}
	if !m.blockOK(w, n) {
		return fmt.Sprintf("block boundary (%s belongs to %q, the chain to %q)", n.Name, n.Block, w.block)
	}
	l, ok, reason := m.stage(n)
	if !ok {
		return reason
	}
	if l != nil {
		c, reason := m.then(w, l)
		if reason != "" {
			return fmt.Sprintf("%s: %s", n.Name, reason)
		}
		w.l = c
		w.kernels = append(w.kernels, l.kernelString())
	} else {
		w.kernels = append(w.kernels, strings.ToLower(string(n.Op)))
	}
	m.setBlock(w, n)
	w.nodes = append(w.nodes, n)
	w.cur = n.Output
	return ""
}

// extend grows the walk along single-reader values and residual diamonds.
func (m *merger) extend(w *walk) {
	for {
		if w.cur == m.g.Output {
			w.stop = "the model output"
			return
		}
		if m.blockOut[w.cur] && len(w.nodes) > 0 {
			w.snap = &walk{l: w.l, nodes: w.nodes[:len(w.nodes):len(w.nodes)], kernels: w.kernels[:len(w.kernels):len(w.kernels)], cur: w.cur, block: w.block, blockSet: w.blockSet}
		}
		cons := m.cons[w.cur]
		switch len(cons) {
		case 0:
			w.stop = "value " + w.cur + " is not read"
			return
		case 1:
			c := cons[0]
			if c.Op == graph.OpMul {
				w.stop = fmt.Sprintf("value %s is scaled by %s (squeeze-and-excitation gate): not linear", w.cur, c.Name)
				return
			}
			if c.Op == graph.OpAdd {
				w.stop = "value " + w.cur + " feeds the add " + c.Name + " (not a residual around this chain)"
				return
			}
			if reason := m.absorb(w, c); reason != "" {
				w.stop = reason
				return
			}
		case 2:
			if reason := m.diamond(w, cons); reason != "" {
				w.stop = reason
				return
			}
		default:
			w.stop = fmt.Sprintf("value %s has %d readers", w.cur, len(cons))
			return
		}
	}
}

// diamond absorbs a residual: w.cur is read by a branch and by an add that
// sums the branch's output with w.cur.
func (m *merger) diamond(w *walk, cons []*graph.Node) string {
	add, first := cons[0], cons[1]
	if add.Op != graph.OpAdd {
		add, first = first, add
	}
	for _, c := range cons {
		if c.Op == graph.OpMul {
			return fmt.Sprintf("value %s is scaled by %s, a gate computed from the input (squeeze-and-excitation): not linear, the chain ends before it", w.cur, c.Name)
		}
	}
	if add.Op != graph.OpAdd || first.Op == graph.OpAdd {
		return fmt.Sprintf("value %s has 2 readers (%s, %s) that do not form a residual", w.cur, cons[0].Name, cons[1].Name)
	}
	if m.used[add] {
		return add.Name + " already belongs to another chain"
	}
	if !m.blockOK(w, add) || !m.blockOK(w, first) {
		return fmt.Sprintf("block boundary at residual %s", add.Name)
	}
	sub := &walk{cur: w.cur, block: w.block, blockSet: w.blockSet}
	if !m.opts.CrossBlocks && !sub.blockSet {
		sub.block, sub.blockSet = add.Block, true
	}
	if reason := m.absorb(sub, first); reason != "" {
		return "residual branch: " + reason
	}
	m.extend(sub)
	if sub.l == nil {
		return "residual branch " + first.Name + " has no convolution"
	}
	other := add.Inputs[0]
	if other == w.cur {
		other = add.Inputs[1]
	}
	if sub.cur != other || len(m.cons[sub.cur]) != 1 || m.cons[sub.cur][0] != add {
		return fmt.Sprintf("value %s has 2 readers and the branch through %s does not end in %s (%s)", w.cur, first.Name, add.Name, sub.stop)
	}
	shape := m.shapes[w.cur]
	branch, err := sum(sub.l, linIdentity(shape[1], shape[2], shape[3]))
	if err != nil {
		return "residual " + add.Name + ": " + err.Error()
	}
	c, reason := m.then(w, branch)
	if reason != "" {
		return fmt.Sprintf("residual %s: %s", add.Name, reason)
	}
	m.setBlock(w, add)
	w.l = c
	w.kernels = append(w.kernels, sub.kernels...)
	w.kernels = append(w.kernels, "+residual")
	w.nodes = append(w.nodes, sub.nodes...)
	w.nodes = append(w.nodes, add)
	w.cur = add.Output
	return ""
}

func (m *merger) record(in string, w *walk) {
	ch := m.newChain(in, w.cur, w.nodes, w.l, w.kernels, w.stop)
	ch.block = w.block
	info := &ch.info
	growth := float64(info.MACsAfter) / math.Max(1, float64(info.MACs))
	switch {
	case m.opts.MaxMACGrowth > 0 && growth > m.opts.MaxMACGrowth && !m.opts.Force:
		info.Reason = fmt.Sprintf("skipped: MACs would grow %.2fx (%s -> %s), above the limit %.2fx (use force to merge anyway)",
			growth, human(info.MACs), human(info.MACsAfter), m.opts.MaxMACGrowth)
	default:
		info.Merged = true
		info.Reason = fmt.Sprintf("merged: MACs %.2fx, depth %d -> 1", growth, countLayers(w.nodes))
		if m.opts.MaxMACGrowth > 0 && growth > m.opts.MaxMACGrowth {
			info.Reason += " (forced)"
		}
	}
	m.chains = append(m.chains, ch)
}

// newChain describes the run of nodes from value in to value out whose
// single convolution is l, and marks its nodes used.
func (m *merger) newChain(in, out string, nodes []*graph.Node, l *lin, kernels []string, stop string) *chain {
	ch := &chain{nodes: nodes, l: l, in: in, out: out}
	for _, n := range nodes {
		m.used[n] = true
	}
	info := &ch.info
	info.Input, info.Output, info.Kernels, info.Stop = in, out, kernels, stop
	seen := map[string]bool{}
	for _, n := range nodes {
		info.Nodes = append(info.Nodes, n.Name)
		if n.Block != "" && !seen[n.Block] {
			seen[n.Block] = true
			info.Blocks = append(info.Blocks, n.Block)
		}
		info.MACs += graph.NodeMACs(n, m.shapes)
		for _, p := range n.Params {
			info.Params += int64(len(m.g.Params[p].Data))
		}
	}
	info.Kernel = l.kernelString()
	info.MACsAfter = l.macs()
	info.ParamsAfter = l.params()
	info.BiasMap = l.m != nil
	return ch
}

// resolve follows the aliases of values removed with identity activations.
func (m *merger) resolve(v string) string {
	for i := 0; i < len(m.alias)+1; i++ {
		a, ok := m.alias[v]
		if !ok {
			break
		}
		v = a
	}
	return v
}

// mergeSegments merges exactly the requested runs (Options.Segments).
func (m *merger) mergeSegments() error {
	shapes, err := m.g.Shapes(1)
	if err != nil {
		return err
	}
	m.shapes = shapes
	m.used = map[*graph.Node]bool{}
	for _, s := range m.opts.Segments {
		if err := m.runChain(Segment{From: m.resolve(s.From), To: m.resolve(s.To)}, "requested run"); err != nil {
			return fmt.Errorf("segment %s: %w", s, err)
		}
	}
	return nil
}

func countLayers(ns []*graph.Node) int {
	k := 0
	for _, n := range ns {
		if n.Op == graph.OpConv || n.Op == graph.OpPad || n.Op == graph.OpBatchNorm {
			k++
		}
	}
	return k
}

// apply replaces every merged chain by one convolution.
func (m *merger) apply() error {
	replace := map[*graph.Node]*graph.Node{} // last node of a chain -> merged node
	drop := map[*graph.Node]bool{}
	names := map[string]bool{}
	for _, n := range m.g.Nodes {
		names[n.Name] = true
	}
	for _, ch := range m.chains {
		if !ch.info.Merged {
			m.rep.Chains = append(m.rep.Chains, ch.info)
			continue
		}
		base := ch.nodes[0].Name
		if ch.block != "" && (len(ch.info.Blocks) == 1) {
			base = ch.block
		}
		if ch.name != "" {
			base = ch.name
		}
		name := base + ".merged"
		for i := 1; names[name]; i++ {
			name = fmt.Sprintf("%s.merged%d", base, i)
		}
		names[name] = true
		l := ch.l
		a := &graph.ConvAttr{InC: l.inC, OutC: l.outC, KH: l.kh, KW: l.kw, StrideH: l.sh, StrideW: l.sw, Pads: l.pads, Groups: l.groups}
		n := &graph.Node{Name: name, Op: graph.OpConv, Inputs: []string{ch.in}, Output: ch.out, Conv: a}
		if len(ch.info.Blocks) == 1 {
			n.Block = ch.info.Blocks[0]
		}
		wName := uniqueParam(m.g, name+".weight")
		m.g.Params[wName] = &tensor.Tensor{Shape: []int{l.outC, l.cpg(), l.kh, l.kw}, Data: to32(l.w)}
		n.Params = []string{wName}
		if l.b != nil {
			a.Bias = true
			bName := uniqueParam(m.g, name+".bias")
			m.g.Params[bName] = &tensor.Tensor{Shape: []int{l.outC}, Data: to32(l.b)}
			n.Params = append(n.Params, bName)
		}
		if l.m != nil {
			a.BiasMap = true
			mName := uniqueParam(m.g, name+".bias_map")
			m.g.Params[mName] = &tensor.Tensor{Shape: []int{l.outC, l.outH, l.outW}, Data: to32(l.m)}
			n.Params = append(n.Params, mName)
			m.rep.BiasMaps++
		}
		for _, x := range ch.nodes {
			drop[x] = true
		}
		for _, b := range ch.info.Blocks {
			m.mergedBlocks[b] = true
		}
		replace[ch.nodes[len(ch.nodes)-1]] = n
		ch.info.Name = name
		m.rep.Merged++
		m.rep.Chains = append(m.rep.Chains, ch.info)
	}
	var out []*graph.Node
	for _, n := range m.g.Nodes {
		if r := replace[n]; r != nil {
			out = append(out, r)
			continue
		}
		if !drop[n] {
			out = append(out, n)
		}
	}
	m.g.Nodes = out
	// Drop parameters no longer referenced.
	ref := map[string]bool{}
	for _, n := range m.g.Nodes {
		for _, p := range n.Params {
			ref[p] = true
		}
	}
	for p := range m.g.Params {
		if !ref[p] {
			delete(m.g.Params, p)
		}
	}
	return nil
}

// tidyAnnotations drops block annotations whose layers were merged away and
// units that no longer have an activation node.
func (m *merger) tidyAnnotations() {
	hasAct := map[string]bool{}
	values := map[string]bool{m.g.Input.Name: true}
	for _, n := range m.g.Nodes {
		if n.Op == graph.OpAct && n.Act != nil && n.Act.Unit != "" {
			hasAct[n.Act.Unit] = true
		}
		values[n.Output] = true
	}
	var units []graph.Unit
	for _, u := range m.g.Units {
		if hasAct[u.Name] {
			units = append(units, u)
		}
	}
	m.g.Units = units
	var blocks []graph.Block
	var merged []string
	for _, b := range m.g.Blocks {
		if !m.mergedBlocks[b.Name] && values[b.Input] && values[b.Output] {
			blocks = append(blocks, b)
		} else {
			merged = append(merged, b.Name)
		}
	}
	m.g.Blocks = blocks
	if len(merged) > 0 {
		m.g.Meta["merged_blocks"] = strings.Join(merged, ",")
	}
}

// ErrTolerance is wrapped by errors from a verification above tolerance.
var ErrTolerance = errors.New("merged model differs from the unmerged model above tolerance")

func human(v int64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f G", float64(v)/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", float64(v)/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", float64(v)/1e3)
	}
	return fmt.Sprint(v)
}
