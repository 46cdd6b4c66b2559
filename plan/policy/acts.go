package policy

import (
	"fmt"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
)

// RemovedAct is one activation node that a plan turns into the identity,
// and what becomes of it in the merge.
type RemovedAct struct {
	Unit  string `json:"unit"`  // the plan's unit
	Block string `json:"block"` // the unit's block ("" for a stem or head unit)
	Node  string `json:"node"`  // the activation node
	Kind  string `json:"kind"`  // its activation in the model as given (relu6, silu, identity when already fine-tuned away)
	// Chain is the merged convolution that absorbs the now-linear layers on
	// both sides of the activation ("" when none does).
	Chain string `json:"chain,omitempty"`
	// Merged: a merged chain spans the activation, so its removal buys a
	// merge. False: the activation is gone but the layers around it are
	// left as they were (Why says why).
	Merged bool   `json:"merged"`
	Why    string `json:"why,omitempty"`
}

// UnitNote is a unit with the reason of a decision about it.
type UnitNote struct {
	Unit string `json:"unit"`
	Why  string `json:"why"`
}

// RemovedActs lists every activation node of the units p removes, stem and
// head included, in model order, and whether a merged chain of rep spans
// it. orig is the model as given, applied the plan-applied model that
// merge.Merge read, rep its report.
func RemovedActs(orig, applied *graph.Graph, p *plan.Plan, rep *merge.Report) []RemovedAct {
	removed := map[string]bool{}
	for _, u := range p.Removed() {
		removed[u] = true
	}
	unitBlock := map[string]string{}
	for _, u := range applied.Units {
		unitBlock[u.Name] = u.Block
	}
	inChain := map[string]int{} // node name -> index in rep.Chains
	for i, c := range rep.Chains {
		for _, n := range c.Nodes {
			inChain[n] = i
		}
	}
	prod := map[string]*graph.Node{}
	cons := map[string][]*graph.Node{}
	for _, n := range applied.Nodes {
		prod[n.Output] = n
		for _, in := range n.Inputs {
			cons[in] = append(cons[in], n)
		}
	}
	// passThrough: nodes the merger removes or folds before it looks for
	// chains (identity activations, dropout, BatchNorm after a conv).
	passThrough := func(n *graph.Node) bool {
		switch n.Op {
		case graph.OpDropout, graph.OpBatchNorm:
			return true
		case graph.OpAct:
			return n.Act != nil && n.Act.Kind == graph.ActIdentity
		}
		return false
	}
	var out []RemovedAct
	for _, n := range applied.Nodes {
		if n.Op != graph.OpAct || n.Act == nil || !removed[n.Act.Unit] {
			continue
		}
		ra := RemovedAct{Unit: n.Act.Unit, Block: unitBlock[n.Act.Unit], Node: n.Name, Kind: string(graph.ActIdentity)}
		if o := orig.Node(n.Name); o != nil && o.Act != nil {
			ra.Kind = string(o.Act.Kind)
		}
		// The layer before: walk back over folded and vanishing nodes.
		before := prod[n.Inputs[0]]
		for before != nil && passThrough(before) {
			before = prod[before.Inputs[0]]
		}
		// The layers after: every reader, past vanishing nodes.
		var after []*graph.Node
		var walk func(v string, depth int)
		walk = func(v string, depth int) {
			for _, c := range cons[v] {
				if passThrough(c) && depth < 64 {
					walk(c.Output, depth+1)
					continue
				}
				after = append(after, c)
			}
		}
		walk(n.Output, 0)
		ra.Merged, ra.Chain, ra.Why = spanned(before, after, applied, inChain, rep)
		out = append(out, ra)
	}
	return out
}

// spanned reports whether one merged chain holds the layer before an
// activation and every layer after it.
func spanned(before *graph.Node, after []*graph.Node, g *graph.Graph, inChain map[string]int, rep *merge.Report) (bool, string, string) {
	if before == nil {
		return false, "", "it reads the model input: no layer before it to merge with"
	}
	if len(after) == 0 {
		return false, "", "it ends the model: no layer after it to merge with"
	}
	ci, ok := inChain[before.Name]
	if !ok {
		var sides []string
		for _, a := range after {
			sides = append(sides, fmt.Sprintf("%s (%s)", a.Name, describe(a)))
		}
		why := fmt.Sprintf("no linear chain runs through it: before it %s (%s)%s, after it %s", before.Name, describe(before), outsideBlock(before), strings.Join(sides, ", "))
		for _, a := range after {
			if !linearOp(a) {
				why += fmt.Sprintf("; %s is not a linear layer", a.Name)
				break
			}
		}
		if before.Block != "" && linearOp(before) && allLinear(after) {
			why += "; the merger does not compose them in this form (e.g. two padded spatial convolutions in a row need --pad-form pad-first)"
		}
		return false, "", why
	}
	c := rep.Chains[ci]
	for _, a := range after {
		if j, ok := inChain[a.Name]; !ok || j != ci {
			where := "in no linear chain"
			if ok {
				where = "in another chain (" + chainLabel(rep.Chains[j]) + ")"
			}
			return false, "", fmt.Sprintf("the layers on its two sides are not merged together: %s is in chain %s, %s (%s) is %s%s",
				before.Name, chainLabel(c), a.Name, describe(a), where, stopNote(c))
		}
	}
	if !c.Merged {
		return false, "", fmt.Sprintf("its chain %s is not merged: %s", chainLabel(c), c.Reason)
	}
	return true, c.Name, ""
}

func chainLabel(c merge.Chain) string {
	if c.Name != "" {
		return c.Name
	}
	if len(c.Blocks) > 0 {
		return strings.Join(c.Blocks, "+")
	}
	if len(c.Nodes) > 0 {
		return c.Nodes[0] + ".." + c.Nodes[len(c.Nodes)-1]
	}
	return "?"
}

func stopNote(c merge.Chain) string {
	if c.Stop == "" {
		return ""
	}
	return "; the chain stops there: " + c.Stop
}

func outsideBlock(n *graph.Node) string {
	if n.Block == "" {
		return " (outside every block: chains do not reach the stem or the head)"
	}
	return ""
}

func describe(n *graph.Node) string {
	switch n.Op {
	case graph.OpConv:
		a := n.Conv
		dw := ""
		if a.Groups == a.InC && a.Groups > 1 {
			dw = " depthwise"
		} else if a.Groups > 1 {
			dw = fmt.Sprintf(" grouped(%d)", a.Groups)
		}
		return fmt.Sprintf("%dx%d%s conv", a.KH, a.KW, dw)
	case graph.OpAct:
		return string(n.Act.Kind)
	}
	return strings.ToLower(string(n.Op))
}

// Orphans returns the removed units with at least one activation that no
// merged chain spans, with the first such reason, sorted by model order.
func Orphans(acts []RemovedAct) []UnitNote {
	seen := map[string]bool{}
	var out []UnitNote
	for _, a := range acts {
		if a.Merged || seen[a.Unit] {
			continue
		}
		seen[a.Unit] = true
		out = append(out, UnitNote{Unit: a.Unit, Why: fmt.Sprintf("%s (%s): %s", a.Node, a.Kind, a.Why)})
	}
	return out
}

// unitsOfChains returns the units whose activations lie in the chains
// named (merged node names), in model order.
func unitsOfChains(acts []RemovedAct, chains map[string]bool) []string {
	set := map[string]bool{}
	var out []string
	for _, a := range acts {
		if a.Chain != "" && chains[a.Chain] && !set[a.Unit] {
			set[a.Unit] = true
			out = append(out, a.Unit)
		}
	}
	return out
}

// linearOp reports whether n is a layer a merged chain can contain.
func linearOp(n *graph.Node) bool {
	switch n.Op {
	case graph.OpConv, graph.OpPad, graph.OpBatchNorm, graph.OpAdd, graph.OpDropout:
		return true
	case graph.OpAct:
		return n.Act != nil && n.Act.Kind == graph.ActIdentity
	}
	return false
}

func allLinear(ns []*graph.Node) bool {
	for _, n := range ns {
		if !linearOp(n) {
			return false
		}
	}
	return true
}
