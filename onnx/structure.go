package onnx

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/dshrink/dshrink/graph"
)

// Annotate recognises the block structure of g and sets g.Blocks, g.Units,
// Node.Block and ActAttr.Unit (existing annotations are replaced). The
// blocks of torchvision's compact CNN families are recognised:
//
//   - inverted residual (MobileNetV2, MNASNet; graph.BlockInvertedResidual):
//     [1x1 conv [-> BN] -> act ->] kxk depthwise conv [-> BN] -> act -> 1x1
//     conv [-> BN] [-> Add with the block input];
//   - the same with squeeze-and-excitation after the depthwise stage
//     (MobileNetV3, EfficientNet; graph.BlockInvertedResidualSE, Block.SE):
//     x * gate(x), gate = GlobalAvgPool -> 1x1 conv -> act -> 1x1 conv ->
//     (hard) sigmoid;
//   - basic (ResNet; graph.BlockBasic): kxk conv [-> BN] -> act -> kxk conv
//     [-> BN] [-> Add with the block input or its projection];
//   - bottleneck (RegNet X, ResNet-50; graph.BlockBottleneck): 1x1 conv ->
//     act -> kxk (grouped, Block.Groups) conv -> act -> 1x1 conv [-> Add
//     with the block input or its projection];
//
// A projection shortcut (1x1 conv [-> BN] of the block input: ResNet's
// downsample, RegNet's proj) belongs to the block with its Add, and
// Block.Residual is set, as for an identity shortcut: the block computes
// the Add's output, a linear function of its input once the units are gone.
//   - ShuffleNetV2's branch (graph.BlockShuffleBranch): 1x1 conv -> act ->
//     kxk depthwise conv [-> BN] -> 1x1 conv (its trailing act, before the
//     Concat, stays outside the block).
//
// Each intermediate value must have no other reader. The activations inside
// a block (not those of the squeeze-and-excitation gate, nor the one after a
// residual Add) form one removable unit named after the block. Any other
// conv [-> BN] -> act whose activation does not feed only Concats or Adds
// (the stem, the head) is a unit of its own.
//
// Blocks are named after the PyTorch module holding their convolutions (the
// common prefix of the convs' module paths, less a trailing container such
// as "conv", "block", "layers" or "f"): features.3, layers.8.0, layer1.0,
// stage2.0.branch2, trunk_output.block1.block1-0; stem and head units after
// their conv's module (features.0.0 -> features.0). Units are listed in graph
// order.
func Annotate(g *graph.Graph) {
	g.Blocks, g.Units = nil, nil
	for _, n := range g.Nodes {
		n.Block = ""
		if n.Act != nil {
			n.Act.Unit = ""
		}
	}
	a := &annotator{g: g, readers: map[string]int{}, cons: map[string][]*graph.Node{}, prod: map[string]*graph.Node{}, taken: map[*graph.Node]bool{}, pos: map[*graph.Node]int{}, names: map[string]bool{}}
	for i, n := range g.Nodes {
		for _, v := range n.Inputs {
			a.readers[v]++
			a.cons[v] = append(a.cons[v], n)
		}
		a.prod[n.Output] = n
		a.pos[n] = i
	}
	a.readers[g.Output]++
	for _, c := range g.Nodes {
		if c.Op != graph.OpConv || a.taken[c] {
			continue
		}
		for _, match := range []func(*graph.Node) *match{a.invertedResidual, a.bottleneck, a.basic, a.shuffleBranch} {
			if m := match(c); m != nil {
				a.accept(m)
				break
			}
		}
	}
	a.stemHead()
	sort.SliceStable(a.units, func(i, j int) bool { return a.units[i].pos < a.units[j].pos })
	for _, u := range a.units {
		g.Units = append(g.Units, u.unit)
	}
}

type annotator struct {
	g       *graph.Graph
	readers map[string]int
	cons    map[string][]*graph.Node
	prod    map[string]*graph.Node
	taken   map[*graph.Node]bool
	pos     map[*graph.Node]int
	units   []unitAt
	names   map[string]bool // block and unit names given so far
}

// match is a recognised block.
type match struct {
	block graph.Block
	convs []*graph.Node // the block's convolutions (not the gate's), for its name
	nodes []*graph.Node // every node of the block
	acts  []*graph.Node // the removable activations
	extra []*graph.Node // nodes that belong to no unit and no other block (a trailing act)
}

type unitAt struct {
	unit graph.Unit
	pos  int
}

// next returns the only reader of v when it has the given op.
func (a *annotator) next(v string, op graph.Op) *graph.Node {
	if a.readers[v] != 1 || len(a.cons[v]) != 1 || a.cons[v][0].Op != op || a.taken[a.cons[v][0]] {
		return nil
	}
	return a.cons[v][0]
}

// Activation requirements of stage.
const (
	actNone  = iota // stop after the BN
	actNeed         // an activation must follow
	actMaybe        // take one when it follows
)

// stage matches conv [-> BN] [-> act] starting at conv c.
func (a *annotator) stage(c *graph.Node, want int) (nodes []*graph.Node, act *graph.Node, out string, ok bool) {
	nodes = []*graph.Node{c}
	out = c.Output
	if bn := a.next(out, graph.OpBatchNorm); bn != nil {
		nodes = append(nodes, bn)
		out = bn.Output
	}
	if want == actNone {
		return nodes, nil, out, true
	}
	if ac := a.next(out, graph.OpAct); ac != nil && ac.Act.Kind != graph.ActSigmoid {
		return append(nodes, ac), ac, ac.Output, true
	}
	return nodes, nil, out, want == actMaybe
}

func is1x1(c *graph.Node) bool {
	if c == nil || c.Op != graph.OpConv {
		return false
	}
	x := c.Conv
	return x.KH == 1 && x.KW == 1 && x.Groups == 1 && x.StrideH == 1 && x.StrideW == 1 && x.Pads == [4]int{}
}

func isDW(c *graph.Node) bool {
	if c == nil || c.Op != graph.OpConv {
		return false
	}
	x := c.Conv
	return x.Groups == x.InC && x.InC == x.OutC && x.Groups > 1 && x.KH == x.KW && x.StrideH == x.StrideW
}

// isKxK reports a square conv larger than 1x1 with equal strides, not depthwise.
func isKxK(c *graph.Node) bool {
	if c == nil || c.Op != graph.OpConv || isDW(c) {
		return false
	}
	x := c.Conv
	return x.KH == x.KW && x.KH > 1 && x.StrideH == x.StrideW
}

// se matches squeeze-and-excitation at value v: v is read by a
// GlobalAvgPool and a Mul, the pool feeds 1x1 conv -> act -> 1x1 conv ->
// (hard) sigmoid, which gates the Mul. It returns the gate's nodes and the
// Mul's output.
func (a *annotator) se(v string) ([]*graph.Node, string) {
	if a.readers[v] != 2 || len(a.cons[v]) != 2 {
		return nil, ""
	}
	var pool, mul *graph.Node
	for _, n := range a.cons[v] {
		switch {
		case n.Op == graph.OpGlobalAvgPool:
			pool = n
		case n.Op == graph.OpMul && n.Inputs[0] == v:
			mul = n
		}
	}
	if pool == nil || mul == nil || a.taken[pool] || a.taken[mul] {
		return nil, ""
	}
	fc1 := a.next(pool.Output, graph.OpConv)
	if fc1 == nil || fc1.Conv.KH != 1 || fc1.Conv.KW != 1 {
		return nil, ""
	}
	n1, _, out, ok := a.stage(fc1, actNeed)
	if !ok {
		return nil, ""
	}
	fc2 := a.next(out, graph.OpConv)
	if fc2 == nil || fc2.Conv.KH != 1 || fc2.Conv.KW != 1 {
		return nil, ""
	}
	n2 := []*graph.Node{fc2}
	out = fc2.Output
	if bn := a.next(out, graph.OpBatchNorm); bn != nil {
		n2 = append(n2, bn)
		out = bn.Output
	}
	gate := a.next(out, graph.OpAct)
	if gate == nil || (gate.Act.Kind != graph.ActSigmoid && gate.Act.Kind != graph.ActHardSigmoid) || mul.Inputs[1] != gate.Output {
		return nil, ""
	}
	nodes := append([]*graph.Node{pool}, n1...)
	nodes = append(nodes, n2...)
	return append(nodes, gate, mul), mul.Output
}

// residual extends a block ending at value out with an Add of the block
// input x (an identity shortcut) when out's only reader is one.
func (a *annotator) residual(m *match, x, out string) string {
	add := a.next(out, graph.OpAdd)
	if add == nil {
		return out
	}
	other := add.Inputs[0]
	if other == out {
		other = add.Inputs[1]
	}
	switch {
	case other == x:
		if m.block.InC != m.block.OutC || m.block.Stride != 1 {
			return out
		}
	case m.block.Kind == graph.BlockBasic || m.block.Kind == graph.BlockBottleneck:
		// A projection shortcut (ResNet's downsample, RegNet's proj):
		// 1x1 conv [-> BN] of the block input, read only by the Add.
		proj := a.projection(x, other, m.block.OutC)
		if proj == nil {
			return out
		}
		m.nodes = append(m.nodes, proj...)
	default:
		return out
	}
	m.block.Residual = true
	m.nodes = append(m.nodes, add)
	return add.Output
}

// projection returns the 1x1 conv [-> BN] computing v from the block input
// x with outC channels, each value read only along it, or nil.
func (a *annotator) projection(x, v string, outC int) []*graph.Node {
	var nodes []*graph.Node
	p := a.prod[v]
	if p != nil && p.Op == graph.OpBatchNorm && a.readers[p.Output] == 1 {
		nodes = append(nodes, p)
		p = a.prod[p.Inputs[0]]
	}
	if p == nil || p.Op != graph.OpConv || a.taken[p] || p.Inputs[0] != x || a.readers[p.Output] != 1 ||
		p.Conv.KH != 1 || p.Conv.KW != 1 || p.Conv.Groups != 1 || p.Conv.OutC != outC {
		return nil
	}
	return append([]*graph.Node{p}, nodes...)
}

func (a *annotator) invertedResidual(c *graph.Node) *match {
	m := &match{}
	var dw *graph.Node
	switch {
	case is1x1(c):
		ns, a1, out, ok := a.stage(c, actNeed)
		if !ok {
			return nil
		}
		dw = a.next(out, graph.OpConv)
		if !isDW(dw) || dw.Conv.InC != c.Conv.OutC {
			return nil
		}
		m.nodes, m.acts, m.convs = ns, []*graph.Node{a1}, []*graph.Node{c}
	case isDW(c):
		dw = c
	default:
		return nil
	}
	ns, a2, out, ok := a.stage(dw, actNeed)
	if !ok {
		return nil
	}
	m.nodes = append(m.nodes, ns...)
	m.acts = append(m.acts, a2)
	m.convs = append(m.convs, dw)
	kind := graph.BlockInvertedResidual
	if sn, sout := a.se(out); sn != nil {
		m.nodes = append(m.nodes, sn...)
		out = sout
		kind = graph.BlockInvertedResidualSE
	}
	p := a.next(out, graph.OpConv)
	if !is1x1(p) || p.Conv.InC != dw.Conv.OutC {
		return nil
	}
	ps, _, pout, _ := a.stage(p, actNone)
	m.nodes = append(m.nodes, ps...)
	m.convs = append(m.convs, p)
	in, hidden := c.Conv.InC, dw.Conv.OutC
	e := 1
	if c != dw {
		e = int(math.Round(float64(hidden) / float64(in)))
	}
	m.block = graph.Block{Kind: kind, SE: kind == graph.BlockInvertedResidualSE, InC: in, OutC: p.Conv.OutC, Hidden: hidden, Expand: e,
		Kernel: dw.Conv.KH, Stride: dw.Conv.StrideH, Input: c.Inputs[0]}
	m.block.Output = a.residual(m, c.Inputs[0], pout)
	return m
}

func (a *annotator) bottleneck(c *graph.Node) *match {
	if !is1x1(c) {
		return nil
	}
	n1, a1, out, ok := a.stage(c, actNeed)
	if !ok {
		return nil
	}
	b := a.next(out, graph.OpConv)
	if !isKxK(b) || b.Conv.InC != c.Conv.OutC {
		return nil
	}
	n2, a2, out2, ok := a.stage(b, actNeed)
	if !ok {
		return nil
	}
	p := a.next(out2, graph.OpConv)
	if !is1x1(p) || p.Conv.InC != b.Conv.OutC {
		return nil
	}
	n3, _, pout, _ := a.stage(p, actNone)
	m := &match{convs: []*graph.Node{c, b, p}, acts: []*graph.Node{a1, a2}}
	m.nodes = append(append(n1, n2...), n3...)
	groups := 0
	if b.Conv.Groups > 1 {
		groups = b.Conv.Groups
	}
	m.block = graph.Block{Kind: graph.BlockBottleneck, Groups: groups, InC: c.Conv.InC, OutC: p.Conv.OutC, Hidden: b.Conv.OutC,
		Expand: 1, Kernel: b.Conv.KH, Stride: b.Conv.StrideH, Input: c.Inputs[0]}
	m.block.Output = a.residual(m, c.Inputs[0], pout)
	return m
}

func (a *annotator) basic(c *graph.Node) *match {
	if !isKxK(c) || c.Conv.Groups != 1 {
		return nil
	}
	n1, a1, out, ok := a.stage(c, actNeed)
	if !ok {
		return nil
	}
	c2 := a.next(out, graph.OpConv)
	if !isKxK(c2) || c2.Conv.Groups != 1 || c2.Conv.StrideH != 1 || c2.Conv.InC != c.Conv.OutC {
		return nil
	}
	n2, _, out2, _ := a.stage(c2, actNone)
	// A basic block ends in an Add (its shortcut); a plain conv pair is not one.
	if add := a.next(out2, graph.OpAdd); add == nil {
		return nil
	}
	m := &match{convs: []*graph.Node{c, c2}, acts: []*graph.Node{a1}, nodes: append(n1, n2...)}
	m.block = graph.Block{Kind: graph.BlockBasic, InC: c.Conv.InC, OutC: c2.Conv.OutC, Hidden: c.Conv.OutC, Expand: 1,
		Kernel: c.Conv.KH, Stride: c.Conv.StrideH, Input: c.Inputs[0]}
	m.block.Output = a.residual(m, c.Inputs[0], out2)
	return m
}

func (a *annotator) shuffleBranch(c *graph.Node) *match {
	if !is1x1(c) {
		return nil
	}
	n1, a1, out, ok := a.stage(c, actNeed)
	if !ok {
		return nil
	}
	dw := a.next(out, graph.OpConv)
	if !isDW(dw) || dw.Conv.InC != c.Conv.OutC {
		return nil
	}
	n2, _, out2, _ := a.stage(dw, actNone)
	p := a.next(out2, graph.OpConv)
	if !is1x1(p) || p.Conv.InC != dw.Conv.OutC {
		return nil
	}
	n3, a3, _, ok := a.stage(p, actNeed)
	if !ok {
		return nil
	}
	// The branch ends in the Concat of ShuffleNetV2's unit.
	if cat := a.next(a3.Output, graph.OpConcat); cat == nil {
		return nil
	}
	n3 = n3[:len(n3)-1]
	m := &match{convs: []*graph.Node{c, dw, p}, acts: []*graph.Node{a1}, extra: []*graph.Node{a3}}
	m.nodes = append(append(n1, n2...), n3...)
	m.block = graph.Block{Kind: graph.BlockShuffleBranch, InC: c.Conv.InC, OutC: p.Conv.OutC, Hidden: dw.Conv.OutC, Expand: 1,
		Kernel: dw.Conv.KH, Stride: dw.Conv.StrideH, Input: c.Inputs[0], Output: n3[len(n3)-1].Output}
	return m
}

func (a *annotator) accept(m *match) {
	var convNames []string
	for _, c := range m.convs {
		convNames = append(convNames, c.Name)
	}
	name := a.unique(blockName(convNames, fmt.Sprintf("block.%d", len(a.g.Blocks)+1)))
	m.block.Name = name
	a.g.Blocks = append(a.g.Blocks, m.block)
	for _, n := range m.nodes {
		n.Block = name
		a.taken[n] = true
	}
	for _, n := range m.extra {
		a.taken[n] = true
	}
	for _, ac := range m.acts {
		ac.Act.Unit = name
	}
	a.units = append(a.units, unitAt{graph.Unit{Name: name, Block: name}, a.pos[m.acts[0]]})
}

func (a *annotator) unique(name string) string {
	base := name
	for k := 1; a.names[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	a.names[name] = true
	return name
}

// stemHead makes every other conv [-> BN] -> act a unit of its own, unless
// the activation feeds only Concats, Adds or Muls (removing it merges nothing).
func (a *annotator) stemHead() {
	for _, c := range a.g.Nodes {
		if c.Op != graph.OpConv || a.taken[c] {
			continue
		}
		ns, ac, _, ok := a.stage(c, actNeed)
		if !ok || ac.Act.Unit != "" || a.taken[ac] {
			continue
		}
		joins, convs := 0, 0
		for _, r := range a.cons[ac.Output] {
			switch r.Op {
			case graph.OpConcat, graph.OpAdd, graph.OpMul:
				joins++
			case graph.OpConv:
				convs++
			}
		}
		if joins > 0 && convs == 0 {
			continue
		}
		name := a.unique(a.unitName(c.Name, ns))
		ac.Act.Unit = name
		a.units = append(a.units, unitAt{graph.Unit{Name: name}, a.pos[ac]})
	}
}

// containers are module names that hold a block's layers: a block is named
// after their parent (features.3.conv -> features.3).
var containers = map[string]bool{"conv": true, "block": true, "layers": true, "f": true}

// blockName derives a block's name from its convs' module paths: their
// common prefix, less a trailing container; fallback when there is none.
func blockName(convs []string, fallback string) string {
	var common []string
	for i, c := range convs {
		segs := strings.Split(c, ".")
		if i == 0 {
			common = segs
			continue
		}
		k := 0
		for k < len(common) && k < len(segs) && common[k] == segs[k] {
			k++
		}
		common = common[:k]
	}
	for len(common) > 0 && containers[common[len(common)-1]] {
		common = common[:len(common)-1]
	}
	if len(common) == 0 {
		// The convs are siblings in a flat Sequential (MNASNet's first
		// depthwise separable stage, layers.3 to layers.7): the first
		// conv's module names the block.
		if len(convs) > 0 && strings.Contains(convs[0], ".") {
			return convs[0]
		}
		return fallback
	}
	return strings.Join(common, ".")
}

// unitName derives a stem/head unit's name from its conv's module path:
// "features.0.0" -> "features.0" (torchvision's Conv2dNormActivation) when
// no node outside the stage lies in that module, else the conv's own path
// ("layers.0" in MNASNet's flat Sequential).
func (a *annotator) unitName(conv string, stage []*graph.Node) string {
	loc := numSuffix.FindStringIndex(conv)
	if loc == nil || loc[0] == 0 {
		return conv
	}
	parent := conv[:loc[0]]
	in := map[*graph.Node]bool{}
	for _, n := range stage {
		in[n] = true
	}
	for _, n := range a.g.Nodes {
		if !in[n] && strings.HasPrefix(n.Name, parent+".") {
			return conv
		}
	}
	return parent
}

var numSuffix = regexp.MustCompile(`\.\d+$`)

// pruneIdentity removes identity activations that belong to no unit (an
// ONNX Identity outside the block structure), rewiring their readers.
func pruneIdentity(g *graph.Graph) {
	alias := map[string]string{}
	var nodes []*graph.Node
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if a, ok := alias[v]; ok {
				n.Inputs[i] = a
			}
		}
		if n.Op == graph.OpAct && n.Act.Kind == graph.ActIdentity && n.Act.Unit == "" && n.Output != g.Output {
			alias[n.Output] = n.Inputs[0]
			continue
		}
		nodes = append(nodes, n)
	}
	for i := range g.Blocks {
		b := &g.Blocks[i]
		if a, ok := alias[b.Input]; ok {
			b.Input = a
		}
		if a, ok := alias[b.Output]; ok {
			b.Output = a
		}
	}
	g.Nodes = nodes
}
