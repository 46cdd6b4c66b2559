package runtime

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/dshrink/dshrink/graph"
)

// opKind enumerates the intermediate operations built from graph nodes.
type opKind uint8

const (
	opConv opKind = iota
	opGAP
	opAdd
	opAct
	opBN
	opPad
	opFlatten
	opPool    // max or average pooling window
	opMul     // x * gate (gate [C,1,1] or x's shape)
	opGather  // output channels gathered from channels of srcs (Concat, Slice, ChannelShuffle)
	opSoftmax // softmax over the features of a flat value
)

// gsrc is one output channel of a gather: channel ch of srcs[src].
type gsrc struct{ src, ch int }

// op is a fused operation before layouts and weights are fixed.
type op struct {
	kind   opKind
	node   string
	fused  []string
	in     string // input value
	in2    string // second input (Add) or residual (conv)
	out    string
	linear bool
	// conv
	a       graph.ConvAttr // pads after Pad folding
	dw      bool
	groups  int       // a grouped conv's groups (its weight is expanded to dense; each output block reads only its groups' input blocks)
	wino    bool      // runs as Winograd F(2x2, 3x3)
	weight  []float64 // dense [OutC][InC][KH][KW] (groups expanded) or depthwise [C][KH][KW]
	bias    []float64 // [OutC]
	bmap    []float64 // [OutC][Ho][Wo] or nil
	act     graph.ActKind
	scale   []float64 // BN standalone
	shift   []float64
	padding [4]int // Pad standalone
	pool    graph.PoolAttr
	poolMax bool
	srcs    []string // gather sources
	gmap    []gsrc   // gather: the source of every output channel
}

// inputs returns every value o reads.
func (o *op) inputs() []string {
	if o.kind == opGather {
		return o.srcs
	}
	if o.in2 != "" {
		return []string{o.in, o.in2}
	}
	return []string{o.in}
}

type compiler struct {
	g       *graph.Graph
	batch   int
	threads int
	wino    WinogradMode
	shapes  map[string][]int
	vals    map[string]*value
	alias   map[string]string
	ops     []*op
	// spatialGAP marks global average pools whose [N,C,1,1] output feeds
	// spatial work (a squeeze-and-excitation gate): it stays a spatial
	// 1x1 value computed image by image instead of a flat one.
	spatialGAP map[string]bool
	gathers    map[string]*op // gather ops by output, for composing chains
}

// resolve follows aliases (Dropout, identity activations, Flatten of flat values).
func (c *compiler) resolve(v string) string {
	for {
		a, ok := c.alias[v]
		if !ok {
			return v
		}
		v = a
	}
}

func (c *compiler) param(n *graph.Node, i int) ([]float64, error) {
	t := c.g.Param(n, i)
	if t == nil {
		return nil, fmt.Errorf("node %s: parameter %d missing", n.Name, i)
	}
	out := make([]float64, len(t.Data))
	for j, v := range t.Data {
		out[j] = float64(v)
	}
	return out, nil
}

func (c *compiler) compile() (*Program, error) {
	g := c.g
	shapes, err := g.Shapes(c.batch)
	if err != nil {
		return nil, err
	}
	c.shapes = shapes
	if len(g.Nodes) == 0 {
		return nil, fmt.Errorf("%w: graph has no nodes", errUnsupported)
	}
	// consumers of each raw value, and the index of the node producing it.
	cons := map[string][]*graph.Node{}
	prodIdx := map[string]int{g.Input.Name: -1}
	for i, n := range g.Nodes {
		prodIdx[n.Output] = i
		for _, in := range n.Inputs {
			cons[in] = append(cons[in], n)
		}
	}
	single := func(v string) *graph.Node {
		if v == g.Output || len(cons[v]) != 1 {
			return nil
		}
		return cons[v][0]
	}
	c.markSpatialGAP(cons)
	c.gathers = map[string]*op{}
	used := map[*graph.Node]bool{}
	// Pad nodes read only by convolutions fold into them.
	padFold := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		if n.Op != graph.OpPad || n.Output == g.Output || len(cons[n.Output]) == 0 {
			continue
		}
		ok := true
		for _, cn := range cons[n.Output] {
			if cn.Op != graph.OpConv {
				ok = false
			}
		}
		if ok {
			padFold[n.Output] = n
			used[n] = true
		}
	}
	for idx, n := range g.Nodes {
		if used[n] {
			continue
		}
		used[n] = true
		switch n.Op {
		case graph.OpConv, graph.OpLinear:
			o, err := c.convOp(n)
			if err != nil {
				return nil, err
			}
			if pn, ok := padFold[n.Inputs[0]]; ok {
				pp := pn.Pad.Pads
				for i := range 4 {
					o.a.Pads[i] += pp[i]
				}
				o.in = c.resolve(pn.Inputs[0])
				o.fused = append(o.fused, "pad")
			}
			v := n.Output
			// BatchNorm folding.
			for {
				nx := single(v)
				if nx == nil || nx.Op != graph.OpBatchNorm || used[nx] {
					break
				}
				if err := c.foldBN(o, nx); err != nil {
					return nil, err
				}
				used[nx] = true
				o.fused = append(o.fused, "bn")
				v = nx.Output
			}
			// Residual add: the other input must exist before this conv runs.
			if nx := single(v); nx != nil && nx.Op == graph.OpAdd && !used[nx] && !o.linear {
				other := nx.Inputs[0]
				if other == v {
					other = nx.Inputs[1]
				}
				if other != v && prodIdx[other] < idx {
					o.in2 = c.resolve(other)
					used[nx] = true
					o.fused = append(o.fused, "add")
					v = nx.Output
				}
			}
			// Activation.
			for {
				nx := single(v)
				if nx == nil || used[nx] {
					break
				}
				if nx.Op == graph.OpDropout {
					c.alias[nx.Output] = v
					used[nx] = true
					v = nx.Output
					continue
				}
				if nx.Op != graph.OpAct || o.act != graph.ActIdentity {
					break
				}
				o.act = nx.Act.Kind
				used[nx] = true
				if o.act != graph.ActIdentity {
					o.fused = append(o.fused, string(o.act))
				}
				v = nx.Output
				if o.act != graph.ActIdentity {
					break
				}
			}
			o.out = c.resolve(v)
			c.ops = append(c.ops, o)
		case graph.OpBatchNorm:
			w, _ := c.param(n, 0)
			b, _ := c.param(n, 1)
			mu, _ := c.param(n, 2)
			va, err := c.param(n, 3)
			if err != nil {
				return nil, err
			}
			o := &op{kind: opBN, node: n.Name, in: c.resolve(n.Inputs[0]), out: n.Output}
			for i := range w {
				s := w[i] / math.Sqrt(va[i]+n.BN.Eps)
				o.scale = append(o.scale, s)
				o.shift = append(o.shift, b[i]-mu[i]*s)
			}
			c.ops = append(c.ops, o)
		case graph.OpAct:
			if n.Act.Kind == graph.ActIdentity && n.Output != g.Output {
				c.alias[n.Output] = n.Inputs[0]
				continue
			}
			if _, _, _, err := actRange(n.Act.Kind); err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			c.ops = append(c.ops, &op{kind: opAct, node: n.Name, in: c.resolve(n.Inputs[0]), out: n.Output, act: n.Act.Kind})
		case graph.OpAdd:
			c.ops = append(c.ops, &op{kind: opAdd, node: n.Name, in: c.resolve(n.Inputs[0]), in2: c.resolve(n.Inputs[1]), out: n.Output})
		case graph.OpGlobalAvgPool:
			c.ops = append(c.ops, &op{kind: opGAP, node: n.Name, in: c.resolve(n.Inputs[0]), out: n.Output})
		case graph.OpDropout:
			if n.Output == g.Output {
				c.ops = append(c.ops, &op{kind: opAct, node: n.Name, in: c.resolve(n.Inputs[0]), out: n.Output, act: graph.ActIdentity})
				continue
			}
			c.alias[n.Output] = n.Inputs[0]
		case graph.OpFlatten:
			in := c.resolve(n.Inputs[0])
			s := shapes[n.Inputs[0]]
			if c.isFlat(in) || (len(s) == 4 && s[2] == 1 && s[3] == 1 && c.producedBy(in) == opGAP && !c.spatialGAP[in]) {
				if n.Output == g.Output {
					c.ops = append(c.ops, &op{kind: opAct, node: n.Name, in: in, out: n.Output, act: graph.ActIdentity})
				} else {
					c.alias[n.Output] = in
				}
				continue
			}
			c.ops = append(c.ops, &op{kind: opFlatten, node: n.Name, in: in, out: n.Output})
		case graph.OpPad:
			c.ops = append(c.ops, &op{kind: opPad, node: n.Name, in: c.resolve(n.Inputs[0]), out: n.Output, padding: n.Pad.Pads})
		case graph.OpMaxPool, graph.OpAvgPool:
			c.ops = append(c.ops, &op{kind: opPool, node: n.Name, in: c.resolve(n.Inputs[0]), out: n.Output, pool: *n.Pool, poolMax: n.Op == graph.OpMaxPool})
		case graph.OpMul:
			c.ops = append(c.ops, &op{kind: opMul, node: n.Name, in: c.resolve(n.Inputs[0]), in2: c.resolve(n.Inputs[1]), out: n.Output})
		case graph.OpConcat, graph.OpSlice, graph.OpShuffle:
			c.gatherOp(n)
		case graph.OpSoftmax:
			c.ops = append(c.ops, &op{kind: opSoftmax, node: n.Name, in: c.resolve(n.Inputs[0]), out: n.Output})
		default:
			return nil, fmt.Errorf("%w: node %s: op %s", errUnsupported, n.Name, n.Op)
		}
	}
	c.dropDead()
	return c.finish()
}

// markSpatialGAP finds the global average pools whose output reaches, through
// convolutions, batch norms, activations, dropouts and adds, an op that needs
// spatial values (a Mul gate above all): those outputs stay spatial.
func (c *compiler) markSpatialGAP(cons map[string][]*graph.Node) {
	c.spatialGAP = map[string]bool{}
	for _, n := range c.g.Nodes {
		if n.Op != graph.OpGlobalAvgPool {
			continue
		}
		seen := map[string]bool{}
		stack := []string{n.Output}
		for len(stack) > 0 && !c.spatialGAP[n.Output] {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[v] {
				continue
			}
			seen[v] = true
			for _, m := range cons[v] {
				switch m.Op {
				case graph.OpConv, graph.OpBatchNorm, graph.OpAct, graph.OpDropout, graph.OpAdd:
					stack = append(stack, m.Output)
				case graph.OpFlatten, graph.OpLinear, graph.OpSoftmax:
				default:
					c.spatialGAP[n.Output] = true
				}
			}
		}
	}
}

// gatherOp builds the channel gather of a Concat, Slice or ChannelShuffle
// node. A source that is itself a gather's output is replaced by that
// gather's sources (chains such as ShuffleNet's concat, shuffle and slices
// become one copy); a gather that copies one whole value is an alias.
func (c *compiler) gatherOp(n *graph.Node) {
	o := &op{kind: opGather, node: n.Name, out: n.Output}
	srcIdx := map[string]int{}
	add := func(v string, ch int) {
		v = c.resolve(v)
		if g, ok := c.gathers[v]; ok {
			s := g.gmap[ch]
			v, ch = g.srcs[s.src], s.ch
		}
		i, ok := srcIdx[v]
		if !ok {
			i = len(o.srcs)
			srcIdx[v] = i
			o.srcs = append(o.srcs, v)
		}
		o.gmap = append(o.gmap, gsrc{i, ch})
	}
	channels := func(v string) int { return c.shapes[v][1] }
	switch n.Op {
	case graph.OpConcat:
		for _, in := range n.Inputs {
			for ch := 0; ch < channels(in); ch++ {
				add(in, ch)
			}
		}
	case graph.OpSlice:
		for ch := n.Slice.Start; ch < n.Slice.End; ch++ {
			add(n.Inputs[0], ch)
		}
	case graph.OpShuffle:
		cc, g := channels(n.Inputs[0]), n.Shuffle.Groups
		per := cc / g
		for j := 0; j < cc; j++ {
			// output channel j = a*g + i is input channel i*per + a
			add(n.Inputs[0], (j%g)*per+j/g)
		}
	}
	o.in = o.srcs[0]
	identity := len(o.srcs) == 1 && len(o.gmap) == channels(o.srcs[0])
	for j, s := range o.gmap {
		identity = identity && s.ch == j
	}
	if identity && n.Output != c.g.Output {
		c.alias[n.Output] = o.srcs[0]
		return
	}
	c.gathers[n.Output] = o
	c.ops = append(c.ops, o)
}

// dropDead removes the ops whose outputs nothing reads (gathers composed
// into later ones, above all).
func (c *compiler) dropDead() {
	live := map[string]bool{c.resolve(c.g.Output): true}
	keep := make([]bool, len(c.ops))
	for i := len(c.ops) - 1; i >= 0; i-- {
		o := c.ops[i]
		if !live[o.out] {
			continue
		}
		keep[i] = true
		for _, r := range o.inputs() {
			live[r] = true
		}
	}
	var ops []*op
	for i, o := range c.ops {
		if keep[i] {
			ops = append(ops, o)
		}
	}
	c.ops = ops
}

// producedBy returns the kind of the op producing v (opConv when unknown).
func (c *compiler) producedBy(v string) opKind {
	for _, o := range c.ops {
		if o.out == v {
			return o.kind
		}
	}
	return opConv
}

// isFlat reports whether v (already built) is a flat value.
func (c *compiler) isFlat(v string) bool {
	for _, o := range c.ops {
		if o.out == v {
			switch o.kind {
			case opGAP:
				return !c.spatialGAP[o.out]
			case opFlatten, opSoftmax:
				return true
			case opPool, opMul, opGather:
				return false
			case opConv:
				return o.linear || c.isFlat(o.in)
			default:
				return c.isFlat(o.in)
			}
		}
	}
	return false
}

// convOp builds the op of a Conv or Linear node with float64 weights.
func (c *compiler) convOp(n *graph.Node) (*op, error) {
	o := &op{kind: opConv, node: n.Name, in: c.resolve(n.Inputs[0]), act: graph.ActIdentity}
	w, err := c.param(n, 0)
	if err != nil {
		return nil, err
	}
	if n.Op == graph.OpLinear {
		l := n.Linear
		o.linear = true
		o.a = graph.ConvAttr{InC: l.In, OutC: l.Out, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1, Bias: l.Bias}
		o.weight = w
		o.bias = make([]float64, l.Out)
		if l.Bias {
			if o.bias, err = c.param(n, 1); err != nil {
				return nil, err
			}
		}
		return o, nil
	}
	a := *n.Conv
	o.a = a
	o.bias = make([]float64, a.OutC)
	k := 1
	if a.Bias {
		if o.bias, err = c.param(n, 1); err != nil {
			return nil, err
		}
		k++
	}
	if a.BiasMap {
		if o.bmap, err = c.param(n, k); err != nil {
			return nil, err
		}
	}
	khw := a.KH * a.KW
	if a.Groups == a.InC && a.InC == a.OutC && a.Groups > 1 {
		o.dw = true
		o.weight = w
		return o, nil
	}
	if a.Groups == 1 {
		o.weight = w
		return o, nil
	}
	// Grouped: expand to a dense kernel with zeros; the step then reads, for
	// each output block, only the input blocks of its groups (blockRange),
	// or runs the expansion as Winograd when those are most of them.
	cg, kg := a.InC/a.Groups, a.OutC/a.Groups
	d := make([]float64, a.OutC*a.InC*khw)
	for oc := 0; oc < a.OutC; oc++ {
		gi := oc / kg
		for ic := 0; ic < cg; ic++ {
			copy(d[(oc*a.InC+gi*cg+ic)*khw:][:khw], w[(oc*cg+ic)*khw:][:khw])
		}
	}
	o.weight = d
	o.a.Groups = 1
	o.groups = a.Groups
	return o, nil
}

// foldBN folds BatchNorm node bn into conv op o.
func (c *compiler) foldBN(o *op, bn *graph.Node) error {
	g, _ := c.param(bn, 0)
	b, _ := c.param(bn, 1)
	mu, _ := c.param(bn, 2)
	va, err := c.param(bn, 3)
	if err != nil {
		return err
	}
	oc := o.a.OutC
	if len(g) != oc {
		return fmt.Errorf("node %s: %d channels after a conv of %d", bn.Name, len(g), oc)
	}
	per := len(o.weight) / oc
	var hw int
	if o.bmap != nil {
		hw = len(o.bmap) / oc
	}
	for k := 0; k < oc; k++ {
		s := g[k] / math.Sqrt(va[k]+bn.BN.Eps)
		for i := range o.weight[k*per : (k+1)*per] {
			o.weight[k*per+i] *= s
		}
		o.bias[k] = b[k] + (o.bias[k]-mu[k])*s
		for i := 0; i < hw; i++ {
			o.bmap[k*hw+i] *= s
		}
	}
	return nil
}

// finish assigns layouts, plans the arena and builds the steps.
func (c *compiler) finish() (*Program, error) {
	g := c.g
	outName := c.resolve(g.Output)
	// Values.
	mk := func(name string, flat bool) (*value, error) {
		s, ok := c.shapes[name]
		if !ok {
			return nil, fmt.Errorf("value %q has no shape", name)
		}
		v := &value{name: name, flat: flat, cbs: blk, h: 1, w: 1, last: -1}
		switch len(s) {
		case 4:
			v.n, v.c, v.h, v.w = s[0], s[1], s[2], s[3]
		case 2:
			v.n, v.c = s[0], s[1]
			v.flat = true
		default:
			return nil, fmt.Errorf("%w: value %q of rank %d", errUnsupported, name, len(s))
		}
		if v.flat && (v.h != 1 || v.w != 1) {
			return nil, fmt.Errorf("%w: value %q: flat value with spatial size", errUnsupported, name)
		}
		c.vals[name] = v
		return v, nil
	}
	in, err := mk(g.Input.Name, false)
	if err != nil {
		return nil, err
	}
	in.isInput = true
	in.def = -1
	for i, o := range c.ops {
		src := c.vals[o.in]
		if src == nil {
			return nil, fmt.Errorf("node %s: input %q not computed", o.node, o.in)
		}
		flat := src.flat
		switch o.kind {
		case opGAP:
			flat = !c.spatialGAP[o.out]
		case opFlatten:
			flat = true
		case opPool, opMul, opGather:
			for _, r := range o.inputs() {
				if rv := c.vals[r]; rv != nil && rv.flat {
					return nil, fmt.Errorf("%w: node %s: %q is a flat value, want a spatial one", errUnsupported, o.node, r)
				}
			}
		case opSoftmax:
			if !flat {
				return nil, fmt.Errorf("%w: node %s: softmax of a spatial value", errUnsupported, o.node)
			}
		case opConv:
			flat = flat || o.linear
			if flat {
				a := o.a
				if a.KH != 1 || a.KW != 1 || a.StrideH != 1 || a.StrideW != 1 || a.Pads != [4]int{} || o.bmap != nil || o.dw {
					return nil, fmt.Errorf("%w: node %s: only 1x1 unpadded convolutions after pooling", errUnsupported, o.node)
				}
			}
		case opPad:
			if flat {
				return nil, fmt.Errorf("%w: node %s: padding a flat value", errUnsupported, o.node)
			}
		}
		if o.kind == opGAP && src.flat {
			return nil, fmt.Errorf("%w: node %s: pooling a flat value", errUnsupported, o.node)
		}
		v, err := mk(o.out, flat)
		if err != nil {
			return nil, err
		}
		v.def = i
		for _, r := range o.inputs() {
			rv := c.vals[r]
			if rv == nil {
				return nil, fmt.Errorf("node %s: input %q not computed", o.node, r)
			}
			rv.last = max(rv.last, i)
			if (o.kind == opAdd || o.kind == opConv) && r == o.in2 && (rv.flat != v.flat || rv.c != v.c || rv.h != v.h || rv.w != v.w) {
				return nil, fmt.Errorf("node %s: residual %q has shape [%d %d %d], output [%d %d %d]", o.node, r, rv.c, rv.h, rv.w, v.c, v.h, v.w)
			}
		}
		if o.kind == opConv && !flat {
			p := slices.Max(o.a.Pads[:])
			src.pad = max(src.pad, p)
			if c.useWinograd(o, src, v) {
				o.wino = true
				src.pad = max(src.pad, winoHalo(o, src, v))
				if v.h%2 != 0 || v.w%2 != 0 {
					// the last tiles write into the output's halo and
					// read the residual's
					v.pad = max(v.pad, 1)
					if o.in2 != "" {
						rv := c.vals[o.in2]
						rv.pad = max(rv.pad, 1)
					}
				}
			}
		}
	}
	out := c.vals[outName]
	if out == nil {
		return nil, fmt.Errorf("output %q is not computed", outName)
	}
	// Spatial steps run image by image (each image through every spatial step,
	// in slots of per-image storage); steps on flat values then run once for
	// the whole batch. Spatial steps never read flat values, so they go first.
	var spatialOps, flatOps []*op
	for _, o := range c.ops {
		if c.vals[o.in].flat {
			flatOps = append(flatOps, o)
		} else {
			spatialOps = append(spatialOps, o)
		}
	}
	c.ops = append(spatialOps, flatOps...)
	slots := min(c.batch, c.threads)
	for _, v := range c.vals {
		v.def, v.last = -1, -1
		v.slots = v.n
		if !v.flat {
			v.slots = slots
		}
	}
	for i, o := range c.ops {
		v := c.vals[o.out]
		v.def = i
		if v.flat && i < len(spatialOps) {
			v.def = 0 // written image by image while spatial values come and go
		}
		for _, r := range o.inputs() {
			c.vals[r].last = max(c.vals[r].last, i)
		}
	}
	out.isOutput = true
	out.last = len(c.ops)
	// A small graph input read only by dense convolutions uses 4-channel blocks.
	if in.c <= 4 && !out.isInput {
		small := true
		for _, o := range c.ops {
			if (o.in == in.name && (o.kind != opConv || o.dw || o.linear || o.wino)) || o.in2 == in.name || (o.kind == opGather && slices.Contains(o.srcs, in.name)) {
				small = false
			}
		}
		if small {
			in.cbs = 4
		}
	}
	// Arena plan: spatial values are planned for one image (one slot) and
	// the slot plan is repeated per slot, so that images in flight in
	// different threads never share memory; flat values follow the slots.
	var spatialVals, flatVals []*value
	for _, v := range c.vals {
		if v.last < v.def {
			v.last = v.def // computed but unused (dead)
		}
		if v.flat {
			flatVals = append(flatVals, v)
		} else {
			v.slots = 1
			spatialVals = append(spatialVals, v)
		}
	}
	slotSize := planArena(spatialVals)
	for _, v := range spatialVals {
		v.slots = slots
		v.imgStride = slotSize
	}
	flatSize := planArena(flatVals)
	for _, v := range flatVals {
		v.off += slots * slotSize
	}
	total := slots*slotSize + flatSize
	p := &Program{name: g.Name, batch: c.batch, in: in, out: out, arena: make([]float32, total+blk),
		nSpatial: len(spatialOps), slotBusy: make([]atomic.Bool, slots)}
	p.imgTask.p = p
	p.inShape = [3]int{in.c, in.h, in.w}
	if out.flat {
		p.outShape = []int{out.c}
		p.outPer = out.c
	} else {
		p.outShape = []int{out.c, out.h, out.w}
		p.outPer = out.c * out.h * out.w
	}
	for _, v := range c.vals {
		p.values = append(p.values, v)
	}
	for _, o := range c.ops {
		s, info, err := c.build(p, o)
		if err != nil {
			return nil, err
		}
		p.steps = append(p.steps, s)
		p.infos = append(p.infos, info)
		if w, ok := s.(interface{ scratchFloats() int }); ok {
			p.scratchPer = max(p.scratchPer, (w.scratchFloats()+15)&^15)
		}
	}
	if p.scratchPer > 0 {
		p.scratch = make([]float32, c.threads*p.scratchPer)
		p.scratchBusy = make([]atomic.Bool, c.threads)
	}
	return p, nil
}

// useWinograd reports whether conv o from in to out runs as Winograd.
func (c *compiler) useWinograd(o *op, in, out *value) bool {
	if c.wino == WinogradOff || !winoEligible(o, in) {
		return false
	}
	return c.wino == WinogradOn || winoAuto(o.a.InC, o.a.OutC, out.h, out.w)
}

// build turns an op into an executable step.
func (c *compiler) build(p *Program, o *op) (step, StepInfo, error) {
	in, out := c.vals[o.in], c.vals[o.out]
	info := StepInfo{Name: o.node, Fused: strings.Join(o.fused, "+"), Output: o.out}
	switch o.kind {
	case opConv:
		var s step
		var err error
		info.Kind, info.Kernel = "conv", "direct"
		if o.wino {
			s, err = newWinoStep(p, o, in, out, c.vals[o.in2], c.threads)
			info.Kernel = "winograd"
		} else {
			s, err = newConvStep(p, o, in, out, c.vals[o.in2])
		}
		if err != nil {
			return nil, info, fmt.Errorf("node %s: %w", o.node, err)
		}
		if o.dw {
			info.Kind, info.Kernel = "dwconv", "depthwise"
		} else if o.linear {
			info.Kind = "linear"
		}
		cin := o.a.InC
		if o.dw {
			cin = 1
		} else if o.groups > 1 {
			cin /= o.groups
		}
		info.MACs = int64(out.n) * int64(out.c) * int64(out.h*out.w) * int64(cin*o.a.KH*o.a.KW)
		return s, info, nil
	case opGAP:
		info.Kind = "gap"
		return newGapStep(p, in, out), info, nil
	case opFlatten:
		info.Kind = "flatten"
		return &flattenStep{p: p, in: in, out: out}, info, nil
	case opAdd:
		info.Kind = "add"
		b := c.vals[o.in2]
		if b.flat != in.flat || b.c != in.c || b.h != in.h || b.w != in.w {
			return nil, info, fmt.Errorf("node %s: adding values of different shapes", o.node)
		}
		return &ewStep{p: p, kind: ewAdd, in: in, in2: b, out: out}, info, nil
	case opAct:
		info.Kind = "act"
		return &ewStep{p: p, kind: ewAct, act: o.act, in: in, out: out}, info, nil
	case opBN:
		info.Kind = "bn"
		s := &ewStep{p: p, kind: ewBN, in: in, out: out}
		s.scale = make([]float32, in.cb()*blk)
		s.shift = make([]float32, in.cb()*blk)
		for i := range o.scale {
			s.scale[i] = float32(o.scale[i])
			s.shift[i] = float32(o.shift[i])
		}
		return s, info, nil
	case opPad:
		info.Kind = "pad"
		return &padStep{p: p, in: in, out: out, pads: o.padding}, info, nil
	case opPool:
		info.Kind = "avgpool"
		if o.poolMax {
			info.Kind = "maxpool"
		}
		return newPoolStep(p, o, in, out), info, nil
	case opMul:
		info.Kind = "mul"
		g := c.vals[o.in2]
		if g.c != in.c || !(g.h == in.h && g.w == in.w || g.h == 1 && g.w == 1) {
			return nil, info, fmt.Errorf("node %s: gate [%d %d %d] for [%d %d %d]", o.node, g.c, g.h, g.w, in.c, in.h, in.w)
		}
		return newMulStep(p, in, g, out), info, nil
	case opGather:
		info.Kind = "gather"
		srcs := make([]*value, len(o.srcs))
		for i, r := range o.srcs {
			srcs[i] = c.vals[r]
		}
		return newGatherStep(p, srcs, out, o.gmap), info, nil
	case opSoftmax:
		info.Kind = "softmax"
		return &softmaxStep{p: p, in: in, out: out}, info, nil
	}
	return nil, info, fmt.Errorf("%w: op kind %d", errUnsupported, o.kind)
}

// planArena places vals (sizes from their geometry) at offsets such that
// values alive at the same time do not overlap: greedy by size, first fit.
// It returns the total size in floats.
func planArena(vals []*value) int {
	for _, v := range vals {
		v.size = (v.floats() + 15) &^ 15
	}
	sort.Slice(vals, func(i, j int) bool {
		if vals[i].size != vals[j].size {
			return vals[i].size > vals[j].size
		}
		return vals[i].name < vals[j].name
	})
	type iv struct{ lo, hi int }
	var placed []*value
	total := 0
	for _, v := range vals {
		var busy []iv
		for _, q := range placed {
			if q.def <= v.last && v.def <= q.last {
				busy = append(busy, iv{q.off, q.off + q.size})
			}
		}
		sort.Slice(busy, func(i, j int) bool { return busy[i].lo < busy[j].lo })
		off := 0
		for _, b := range busy {
			if off+v.size <= b.lo {
				break
			}
			off = max(off, b.hi)
		}
		v.off = off
		total = max(total, off+v.size)
		placed = append(placed, v)
	}
	return total
}
