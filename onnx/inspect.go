package onnx

import (
	"fmt"
	"strings"

	"github.com/dshrink/dshrink/graph"
)

// Report describes a model for `dshrink inspect`: its layers with shapes and
// costs, its inverted residual blocks and the chains of convolutions that
// could be merged into one dense convolution.
type Report struct {
	Model   string      `json:"model"`
	Input   []int       `json:"input"` // [C, H, W]
	Layers  []Layer     `json:"layers"`
	MACs    int64       `json:"macs"`   // per image
	Params  int64       `json:"params"` // BatchNorm running statistics excluded
	Blocks  []BlockInfo `json:"blocks"`
	Units   []string    `json:"units"`
	Chains  []Chain     `json:"chains"`
	Summary string      `json:"summary"`
}

// Layer is one node of the model.
type Layer struct {
	Name   string `json:"name"`
	Op     string `json:"op"`
	Detail string `json:"detail,omitempty"` // e.g. "3x3/2 g=16" or "relu6 unit=features.1"
	Shape  []int  `json:"shape"`            // output shape for one image
	MACs   int64  `json:"macs"`
	Params int64  `json:"params"`
	Block  string `json:"block,omitempty"`
}

// BlockInfo summarises one recognised block.
type BlockInfo struct {
	graph.Block
	Unit string `json:"unit,omitempty"`
}

// Chain is the run of convolutions of a recognised block (see Annotate:
// inverted residual, basic, bottleneck, ShuffleNetV2 branch; the
// squeeze-and-excitation gate excluded), or, outside blocks, of expand 1x1
// -> depthwise kxk -> project 1x1 convolutions (or depthwise -> project)
// connected through optional BatchNorms and activations, with an optional
// residual Add.
type Chain struct {
	Name        string   `json:"name"` // block name, else the first conv's name
	Convs       []string `json:"convs"`
	Activations []string `json:"activations"` // activations inside the chain, "name (kind, unit)"
	Kernel      int      `json:"kernel"`
	Stride      int      `json:"stride"`
	Residual    bool     `json:"residual"`
	InC         int      `json:"in_channels"`
	OutC        int      `json:"out_channels"`
	// Mergeable is true when every activation inside the chain is the
	// identity: the chain is linear and merges exactly into one kxk conv.
	Mergeable bool `json:"mergeable"`
	// Removable is true when every non-identity activation belongs to a
	// removable unit, so a plan that removes those units makes it mergeable.
	Removable bool   `json:"removable"`
	Reason    string `json:"reason"`
	// MergedMACs is the cost of the merged dense conv per image, to compare
	// with ChainMACs, the cost of the chain as it is.
	MergedMACs int64 `json:"merged_macs"`
	ChainMACs  int64 `json:"chain_macs"`
}

// Describe builds the inspection report of g.
func Describe(g *graph.Graph) (*Report, error) {
	shapes, err := g.Shapes(1)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", g.Name, err)
	}
	r := &Report{Model: g.Name, Input: append([]int(nil), g.Input.Shape...)}
	for _, n := range g.Nodes {
		l := Layer{Name: n.Name, Op: string(n.Op), Shape: append([]int(nil), shapes[n.Output][1:]...), MACs: graph.NodeMACs(n, shapes), Block: n.Block}
		for i, p := range n.Params {
			if n.Op == graph.OpBatchNorm && i >= 2 {
				continue
			}
			if t := g.Params[p]; t != nil {
				l.Params += int64(len(t.Data))
			}
		}
		switch n.Op {
		case graph.OpConv:
			a := n.Conv
			l.Detail = fmt.Sprintf("%dx%d/%d %d->%d", a.KH, a.KW, a.StrideH, a.InC, a.OutC)
			if a.Groups > 1 {
				l.Detail += fmt.Sprintf(" g=%d", a.Groups)
			}
			if a.Pads != [4]int{} {
				l.Detail += fmt.Sprintf(" pad=%v", a.Pads)
			}
			if a.Bias {
				l.Detail += " +bias"
			}
			if a.BiasMap {
				l.Detail += " +bias_map"
			}
		case graph.OpAct:
			l.Detail = string(n.Act.Kind)
			if n.Act.Unit != "" {
				l.Detail += " unit=" + n.Act.Unit
			}
		case graph.OpLinear:
			l.Detail = fmt.Sprintf("%d->%d", n.Linear.In, n.Linear.Out)
		case graph.OpPad:
			l.Detail = fmt.Sprintf("pad=%v", n.Pad.Pads)
		case graph.OpBatchNorm:
			l.Detail = fmt.Sprintf("eps=%g", n.BN.Eps)
		case graph.OpMaxPool, graph.OpAvgPool:
			a := n.Pool
			l.Detail = fmt.Sprintf("%dx%d/%d", a.KH, a.KW, a.StrideH)
			if a.Pads != [4]int{} {
				l.Detail += fmt.Sprintf(" pad=%v", a.Pads)
			}
			if a.CeilMode {
				l.Detail += " ceil"
			}
			if a.CountIncludePad {
				l.Detail += " count_include_pad"
			}
		case graph.OpSlice:
			l.Detail = fmt.Sprintf("channels [%d, %d)", n.Slice.Start, n.Slice.End)
		case graph.OpShuffle:
			l.Detail = fmt.Sprintf("groups=%d", n.Shuffle.Groups)
		case graph.OpMul:
			l.Detail = "x * gate"
		case graph.OpConcat:
			l.Detail = fmt.Sprintf("%d inputs", len(n.Inputs))
		}
		r.MACs += l.MACs
		r.Params += l.Params
		r.Layers = append(r.Layers, l)
	}
	for _, u := range g.Units {
		r.Units = append(r.Units, u.Name)
	}
	for _, b := range g.Blocks {
		bi := BlockInfo{Block: b}
		for _, u := range g.Units {
			if u.Block == b.Name {
				bi.Unit = u.Name
			}
		}
		r.Blocks = append(r.Blocks, bi)
	}
	r.Chains = chains(g, shapes)
	merge, removable := 0, 0
	for _, c := range r.Chains {
		if c.Mergeable {
			merge++
		} else if c.Removable {
			removable++
		}
	}
	r.Summary = fmt.Sprintf("%d layers, %.2f M MACs, %.3f M params; %d blocks, %d units; %d chains: %d mergeable now, %d after removing their units",
		len(r.Layers), float64(r.MACs)/1e6, float64(r.Params)/1e6, len(r.Blocks), len(r.Units), len(r.Chains), merge, removable)
	return r, nil
}

// blockChains describes the chain of each recognised block: its
// convolutions on the main path (squeeze-and-excitation's excluded) in
// graph order, the activations between them, and the dense conv they merge
// into (kernel k1 + sum (ki-1) * stride before i, stride the product).
func blockChains(g *graph.Graph, shapes map[string][]int, used map[*graph.Node]bool) []Chain {
	var out []Chain
	for _, b := range g.Blocks {
		var convs, acts []*graph.Node
		se := map[string]bool{}
		hasSE := false
		// A projection shortcut (conv of the block input [-> BN] read by the
		// block's Add) is not on the chain.
		addIn := map[string]bool{}
		for _, n := range g.Nodes {
			if n.Block == b.Name && n.Op == graph.OpAdd {
				addIn[n.Inputs[0]], addIn[n.Inputs[1]] = true, true
			}
		}
		proj := map[*graph.Node]bool{}
		for _, n := range g.Nodes {
			if n.Block != b.Name || n.Op != graph.OpConv || n.Inputs[0] != b.Input {
				continue
			}
			if addIn[n.Output] {
				proj[n] = true
			}
			for _, r := range g.Consumers(n.Output) {
				if r.Op == graph.OpBatchNorm && addIn[r.Output] {
					proj[n] = true
				}
			}
		}
		for _, n := range g.Nodes {
			if n.Block != b.Name || proj[n] {
				continue
			}
			inSE := n.Op == graph.OpGlobalAvgPool
			if n.Op != graph.OpMul {
				for _, v := range n.Inputs {
					inSE = inSE || se[v]
				}
			}
			if inSE {
				se[n.Output] = true
				hasSE = true
				continue
			}
			switch n.Op {
			case graph.OpConv:
				convs = append(convs, n)
			case graph.OpAct:
				acts = append(acts, n)
			}
		}
		if len(convs) == 0 {
			continue
		}
		ch := Chain{Name: b.Name, Kernel: b.Kernel, Stride: b.Stride, Residual: b.Residual, InC: convs[0].Conv.InC, OutC: convs[len(convs)-1].Conv.OutC}
		k, s := 1, 1
		for _, c := range convs {
			ch.Convs = append(ch.Convs, c.Name)
			ch.ChainMACs += graph.NodeMACs(c, shapes)
			used[c] = true
			k += (c.Conv.KH - 1) * s
			s *= c.Conv.StrideH
		}
		last := convs[len(convs)-1]
		os := shapes[last.Output]
		ch.MergedMACs = int64(ch.OutC) * int64(os[2]*os[3]) * int64(ch.InC*k*k)
		describeActs(&ch, acts)
		if hasSE {
			ch.Mergeable, ch.Removable = false, false
			ch.Reason = "squeeze-and-excitation scales the depthwise output by a gate computed from it: the projection chain is not linear and is not merged"
		}
		out = append(out, ch)
	}
	return out
}

// describeActs sets a chain's activations, Mergeable, Removable and Reason.
func describeActs(ch *Chain, acts []*graph.Node) {
	ch.Mergeable, ch.Removable = true, true
	var active, fixed []string
	for _, a := range acts {
		ch.Activations = append(ch.Activations, fmt.Sprintf("%s (%s, unit %q)", a.Name, a.Act.Kind, a.Act.Unit))
		if a.Act.Kind == graph.ActIdentity {
			continue
		}
		ch.Mergeable = false
		if a.Act.Unit == "" {
			ch.Removable = false
			fixed = append(fixed, fmt.Sprintf("%s (%s)", a.Name, a.Act.Kind))
		} else {
			active = append(active, fmt.Sprintf("%s (%s, unit %s)", a.Name, a.Act.Kind, a.Act.Unit))
		}
	}
	switch {
	case ch.Mergeable:
		ch.Reason = "linear: every activation inside is the identity"
	case !ch.Removable:
		ch.Reason = "activations that belong to no removable unit: " + strings.Join(fixed, ", ")
	default:
		ch.Reason = "active activations: " + strings.Join(active, ", ") + "; a plan removing their units makes it mergeable"
	}
	if ch.MergedMACs > ch.ChainMACs {
		ch.Reason += fmt.Sprintf("; merging raises MACs %.2fx", float64(ch.MergedMACs)/float64(max(ch.ChainMACs, 1)))
	}
}

func chains(g *graph.Graph, shapes map[string][]int) []Chain {
	used := map[*graph.Node]bool{}
	out := blockChains(g, shapes, used)
	readers := map[string][]*graph.Node{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			readers[v] = append(readers[v], n)
		}
	}
	only := func(v string) *graph.Node {
		if v == g.Output || len(readers[v]) != 1 {
			return nil
		}
		return readers[v][0]
	}
	// after follows [BN] [Act] after v; it returns the value reached and the activation.
	after := func(v string) (string, *graph.Node) {
		if n := only(v); n != nil && n.Op == graph.OpBatchNorm {
			v = n.Output
		}
		if n := only(v); n != nil && n.Op == graph.OpAct {
			return n.Output, n
		}
		return v, nil
	}
	isPW := func(n *graph.Node) bool {
		return n != nil && n.Op == graph.OpConv && n.Conv.KH == 1 && n.Conv.KW == 1 && n.Conv.Groups == 1 && n.Conv.StrideH == 1 && n.Conv.StrideW == 1 && n.Conv.Pads == [4]int{}
	}
	isDW := func(n *graph.Node) bool {
		return n != nil && n.Op == graph.OpConv && n.Conv.Groups > 1 && n.Conv.Groups == n.Conv.InC && n.Conv.InC == n.Conv.OutC
	}
	for _, c := range g.Nodes {
		if used[c] || !(isPW(c) || isDW(c)) {
			continue
		}
		var convs, acts []*graph.Node
		v := c.Output
		dw := c
		if isPW(c) {
			var a *graph.Node
			v, a = after(v)
			if a != nil {
				acts = append(acts, a)
			}
			dw = only(v)
			if !isDW(dw) || dw.Conv.InC != c.Conv.OutC {
				continue
			}
			convs = append(convs, c)
		}
		convs = append(convs, dw)
		v, a := after(dw.Output)
		if a != nil {
			acts = append(acts, a)
		}
		p := only(v)
		if !isPW(p) || p.Conv.InC != dw.Conv.OutC {
			continue
		}
		convs = append(convs, p)
		v = p.Output
		if n := only(v); n != nil && n.Op == graph.OpBatchNorm {
			v = n.Output
		}
		in := convs[0].Inputs[0]
		ch := Chain{Kernel: dw.Conv.KH, Stride: dw.Conv.StrideH, InC: convs[0].Conv.InC, OutC: p.Conv.OutC}
		if n := only(v); n != nil && n.Op == graph.OpAdd && (n.Inputs[0] == in || n.Inputs[1] == in) {
			ch.Residual = true
		}
		ch.Name = convs[0].Block
		if ch.Name == "" {
			ch.Name = convs[0].Name
		}
		for _, cv := range convs {
			ch.Convs = append(ch.Convs, cv.Name)
			ch.ChainMACs += graph.NodeMACs(cv, shapes)
			used[cv] = true
		}
		os := shapes[p.Output]
		ch.MergedMACs = int64(ch.OutC) * int64(os[2]*os[3]) * int64(ch.InC*dw.Conv.KH*dw.Conv.KW)
		describeActs(&ch, acts)
		out = append(out, ch)
	}
	return out
}
