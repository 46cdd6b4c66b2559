// Package policy decides what a merge does to a model, so that a plan and
// the merge agree and a merge happens only where it pays (issue 16):
//
//   - an activation is removed only where a merged chain takes away the
//     layers on both of its sides; the others are listed (Decision.Orphans)
//     and the caller asks for --force, or, for the preset "all" (Auto), the
//     units get their activation back (Decision.Restored);
//   - every candidate chain is timed (or predicted from a latency table)
//     kept and merged on this machine; a chain predicted slower merged is
//     declined (Auto) or listed (Decision.Losers);
//   - the whole merged model is predicted against the original, and
//     Decision.Slower says when it would run slower;
//   - Compare says how much the model's function changed when its
//     activations were removed without fine-tuning.
//
// cmd/dshrink merge and the torchvision test matrix (internal/zoo) use it.
package policy

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/latency"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/plan"
)

// Errors wrapped by Decide's refusals (the message carries the figures).
var (
	// ErrOrphans: the plan removes activations that no merged chain spans.
	ErrOrphans = errors.New("the plan removes activations that no merge takes away")
	// ErrLosers: chains of the plan are predicted slower merged.
	ErrLosers = errors.New("merging some of the plan's chains is predicted to make them slower")
	// ErrSlower: the merged model is predicted slower than the original.
	ErrSlower = errors.New("the merged model is predicted slower than the original")
)

// Options configures Decide.
type Options struct {
	Apply plan.ApplyOptions
	Merge merge.Options
	// Auto: the plan means "every unit whose removal pays" (the preset
	// all): units whose activations no merged chain spans, and units of
	// chains predicted slower merged, get their activations back.
	Auto bool
	// Force keeps the plan as given: activations no chain spans are removed
	// anyway, chains predicted slower are merged, and a model predicted
	// slower is still returned without an error (the Decision says so).
	Force bool
	// Predictor times or predicts the chains; nil decides by the merge's
	// MAC-growth rule alone (Merge.MaxMACGrowth) and skips the whole-model
	// check.
	Predictor Predictor
	// Log receives progress (nothing when nil).
	Log io.Writer
}

// Decision is what Decide settled on.
type Decision struct {
	Requested *plan.Plan    `json:"-"`
	Plan      *plan.Plan    `json:"plan"` // the plan applied (Requested, less Restored)
	Applied   *graph.Graph  `json:"-"`    // the model with Plan applied, unmerged
	Merged    *graph.Graph  `json:"-"`
	Report    *merge.Report `json:"-"`
	// Acts lists every activation Plan removes and what the merge makes of it.
	Acts []RemovedAct `json:"removed_activations"`
	// Restored: units of the requested plan that keep their activation
	// (Auto), and why.
	Restored []UnitNote `json:"restored,omitempty"`
	// Orphans: removed units with an activation no merged chain spans.
	Orphans []UnitNote `json:"orphans,omitempty"`
	// Losers: merged chains predicted slower than the layers they replace.
	Losers []ChainCost `json:"losers,omitempty"`
	// Declined: chains linear in the model as given (no removed activation
	// inside, e.g. a depthwise then a 1x1 convolution) that were not merged
	// because they are predicted slower merged (Chain is "input->output").
	Declined []ChainCost `json:"declined,omitempty"`
	// Prediction is the timing of the final merge (nil without a Predictor).
	Prediction *Prediction `json:"prediction,omitempty"`
	// Slower: the merged model is predicted slower than the original.
	Slower bool `json:"predicted_slower"`
	// FunctionChanged: the model as given computes its removed units'
	// activations (they were not fine-tuned away), so the merged model is a
	// different function from it (see Compare).
	FunctionChanged bool `json:"function_changed"`
}

// Decide applies p to g, merges, and reconciles the plan with the merge and
// the timing as Options says. On a refusal it returns the Decision so far
// (for printing) and an error wrapping ErrOrphans, ErrLosers or ErrSlower.
func Decide(g *graph.Graph, p *plan.Plan, o Options) (*Decision, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if len(p.Segments) > 0 || len(p.Pruned) > 0 {
		return decidePlanned(g, p, o)
	}
	d := &Decision{Requested: p}
	cur := clonePlan(p)
	cache := map[string]ChainCost{}
	var origMs float64
	// declined: chains that are linear without the plan's help (no removed
	// activation inside, e.g. ShuffleNet's depthwise then 1x1) and are
	// predicted slower merged: they are simply not merged.
	declined := map[string]ChainCost{}
	for iter := 0; ; iter++ {
		if iter > 2*len(g.Units)+len(g.Nodes)+2 {
			return d, fmt.Errorf("policy: the plan did not settle after %d rounds (a bug)", iter)
		}
		applied, err := plan.Apply(g, cur, o.Apply)
		if err != nil {
			return d, err
		}
		merged, rep, err := mergeDeclining(applied, o.Merge, declined)
		if err != nil {
			return d, err
		}
		d.Plan, d.Applied, d.Merged, d.Report = cur, applied, merged, rep
		d.Acts = RemovedActs(g, applied, cur, rep)
		d.Orphans = Orphans(d.Acts)
		if o.Auto && len(d.Orphans) > 0 {
			for _, u := range d.Orphans {
				d.Restored = append(d.Restored, UnitNote{Unit: u.Unit, Why: "no merge would take its activation away: " + u.Why})
			}
			cur = restore(cur, d.Orphans)
			continue
		}
		d.Losers, d.Prediction = nil, nil
		if len(d.Orphans) > 0 && !o.Force {
			break // refused below; timing would be wasted
		}
		if o.Predictor == nil || rep.Merged == 0 {
			break
		}
		pred, err := predictCached(o.Predictor, g, applied, merged, rep, cache, &origMs, log)
		if err != nil {
			return d, err
		}
		d.Prediction = pred
		lose := map[string]bool{}
		for _, c := range pred.Chains {
			if !c.Pays {
				d.Losers = append(d.Losers, c)
				lose[c.Chain] = true
			}
		}
		if o.Force || len(lose) == 0 {
			break
		}
		// Losers that no removed activation made linear are declined.
		withUnits := map[string]bool{}
		for _, a := range d.Acts {
			if lose[a.Chain] {
				withUnits[a.Chain] = true
			}
		}
		again := false
		for _, c := range rep.Chains {
			if c.Merged && lose[c.Name] && !withUnits[c.Name] {
				cc := cacheGet(cache, c)
				cc.Chain = chainKey(c)
				declined[chainKey(c)] = cc
				again = true
			}
		}
		if again {
			continue
		}
		if o.Auto {
			units := unitsOfChains(d.Acts, lose)
			byChain := map[string]ChainCost{}
			for _, c := range d.Losers {
				byChain[c.Chain] = c
			}
			var notes []UnitNote
			for _, a := range d.Acts {
				if c, ok := byChain[a.Chain]; ok && contains(units, a.Unit) && !hasUnit(notes, a.Unit) {
					notes = append(notes, UnitNote{Unit: a.Unit, Why: fmt.Sprintf("merging chain %s (%s, MACs %s -> %s) is predicted slower: %.4f ms merged vs %.4f ms kept",
						c.Chain, c.Kernel, human(c.MACs), human(c.MACsAfter), c.MergedMs, c.KeptMs)})
				}
			}
			d.Restored = append(d.Restored, notes...)
			cur = restore(cur, notes)
			continue
		}
		break
	}
	for _, c := range declined {
		d.Declined = append(d.Declined, c)
	}
	sort.Slice(d.Declined, func(i, j int) bool { return d.Declined[i].Chain < d.Declined[j].Chain })
	d.FunctionChanged = functionChanged(g, d.Plan)
	if d.Prediction != nil {
		d.Slower = d.Prediction.MergedMs > d.Prediction.OriginalMs
	}
	if o.Force {
		return d, nil
	}
	if len(d.Orphans) > 0 {
		var b strings.Builder
		for _, u := range d.Orphans {
			fmt.Fprintf(&b, "\n  %s: %s", u.Unit, u.Why)
		}
		return d, fmt.Errorf("%w (they would change the model and make nothing faster):%s\n"+
			"keep them in the plan, use --plan all (which keeps them), or --force to remove them anyway", ErrOrphans, b.String())
	}
	if len(d.Losers) > 0 {
		var b strings.Builder
		for _, c := range d.Losers {
			fmt.Fprintf(&b, "\n  %s (%s, MACs %s -> %s): %.4f ms merged vs %.4f ms kept", c.Chain, c.Kernel, human(c.MACs), human(c.MACsAfter), c.MergedMs, c.KeptMs)
		}
		units := unitsOfChains(d.Acts, loserSet(d.Losers))
		return d, fmt.Errorf("%w (%s):%s\nkeep the activations of %s, use --plan all (which keeps them), or --force to merge anyway",
			ErrLosers, d.Prediction.Source, b.String(), strings.Join(units, ","))
	}
	if d.Slower {
		pr := d.Prediction
		return d, fmt.Errorf("%w: %.4f ms vs %.4f ms (%.2fx as fast; MACs %s -> %s; %s); nothing written (--force writes it anyway)",
			ErrSlower, pr.MergedMs, pr.OriginalMs, pr.OriginalMs/pr.MergedMs, human(d.Report.Before.MACs), human(d.Report.After.MACs), pr.Source)
	}
	return d, nil
}

func loserSet(cs []ChainCost) map[string]bool {
	m := map[string]bool{}
	for _, c := range cs {
		m[c.Chain] = true
	}
	return m
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func hasUnit(ns []UnitNote, u string) bool {
	for _, n := range ns {
		if n.Unit == u {
			return true
		}
	}
	return false
}

func clonePlan(p *plan.Plan) *plan.Plan {
	c := *p
	c.Units = append([]plan.Unit(nil), p.Units...)
	if p.Meta != nil {
		c.Meta = map[string]string{}
		for k, v := range p.Meta {
			c.Meta[k] = v
		}
	}
	return &c
}

// restore returns p with the units named in notes kept.
func restore(p *plan.Plan, notes []UnitNote) *plan.Plan {
	c := clonePlan(p)
	back := map[string]bool{}
	for _, n := range notes {
		back[n.Unit] = true
	}
	for i := range c.Units {
		if back[c.Units[i].Name] {
			c.Units[i].Keep = true
		}
	}
	return c
}

// functionChanged reports whether g computes a non-identity activation
// for some unit p removes.
func functionChanged(g *graph.Graph, p *plan.Plan) bool {
	removed := map[string]bool{}
	for _, u := range p.Removed() {
		removed[u] = true
	}
	for _, n := range g.Nodes {
		if n.Op == graph.OpAct && n.Act != nil && removed[n.Act.Unit] && n.Act.Kind != graph.ActIdentity {
			return true
		}
	}
	return false
}

// RestoredUnits returns the names of d.Restored, sorted.
func (d *Decision) RestoredUnits() []string {
	var out []string
	for _, u := range d.Restored {
		out = append(out, u.Unit)
	}
	sort.Strings(out)
	return out
}

func human(v int64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", float64(v)/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", float64(v)/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", float64(v)/1e3)
	}
	return fmt.Sprint(v)
}

func chainKey(c merge.Chain) string { return c.Input + "->" + c.Output }

func cacheGet(cache map[string]ChainCost, c merge.Chain) ChainCost {
	return cache[c.Input+"->"+c.Output+"@"+c.Kernel]
}

// mergeDeclining merges g, except the chains in declined (by chainKey): it
// merges with the chain finder, then, when some of its chains are declined,
// again with exactly the others as segments (or nothing merged when none is
// left). The declined chains stay in the report, not merged, with the
// reason and figures.
func mergeDeclining(g *graph.Graph, mo merge.Options, declined map[string]ChainCost) (*graph.Graph, *merge.Report, error) {
	merged, rep, err := merge.Merge(g, mo)
	if err != nil || len(declined) == 0 {
		return merged, rep, err
	}
	var segs []merge.Segment
	var skipped, unmerged []merge.Chain
	for _, c := range rep.Chains {
		if !c.Merged {
			unmerged = append(unmerged, c)
			continue
		}
		if cc, ok := declined[chainKey(c)]; ok {
			c.Merged, c.Name = false, ""
			c.Reason = fmt.Sprintf("skipped: predicted slower merged (%.4f ms vs %.4f ms kept); no removed activation is inside it", cc.MergedMs, cc.KeptMs)
			skipped = append(skipped, c)
			continue
		}
		segs = append(segs, merge.Segment{From: c.Input, To: c.Output})
	}
	if len(skipped) == 0 {
		return merged, rep, nil
	}
	o := mo
	if len(segs) > 0 {
		o.Segments = segs
	} else {
		// Nothing left to merge: BatchNorm folding and identity removal only.
		o.MaxMACGrowth, o.Force = 1e-300, false
	}
	merged, rep2, err := merge.Merge(g, o)
	if err != nil {
		return nil, nil, err
	}
	var chains []merge.Chain
	for _, c := range rep2.Chains {
		if c.Merged {
			chains = append(chains, c)
		}
	}
	rep2.Chains = append(append(chains, unmerged...), skipped...)
	rep2.Options = rep.Options
	return merged, rep2, nil
}

// decidePlanned handles a latency planner's plan (merged segments or
// pruned blocks, as dshrink plan writes them): the model is put in the
// planned form (latency.ApplyPlanned: every run pad-first over the whole
// run, pruned blocks the identity) unless it already is in it (a model
// fine-tuned in that form), and merged along exactly the plan's runs
// (latency.MergePlanned). The planner chose the runs from a latency table,
// so chains are not declined one by one; the whole-model check and the
// agreement check apply as for any plan.
func decidePlanned(g *graph.Graph, p *plan.Plan, o Options) (*Decision, error) {
	d := &Decision{Requested: p, Plan: p}
	student := g
	if !plannedForm(g) {
		var err error
		if student, err = latency.ApplyPlanned(g, p); err != nil {
			return d, err
		}
		d.FunctionChanged = true // activations removed and borders padded once per run
	}
	merged, rep, err := latency.MergePlanned(student, p)
	if err != nil {
		return d, err
	}
	d.Applied, d.Merged, d.Report = student, merged, rep
	d.Acts = RemovedActs(g, student, p, rep)
	d.Orphans = Orphans(d.Acts)
	d.FunctionChanged = d.FunctionChanged || functionChanged(g, p)
	if len(d.Orphans) > 0 && !o.Force {
		var b strings.Builder
		for _, u := range d.Orphans {
			fmt.Fprintf(&b, "\n  %s: %s", u.Unit, u.Why)
		}
		return d, fmt.Errorf("%w:%s\n--force removes them anyway", ErrOrphans, b.String())
	}
	if o.Predictor != nil && rep.Merged > 0 {
		pred, err := o.Predictor.Predict(g, student, merged, rep, nil, true)
		if err != nil {
			return d, err
		}
		pred.MergedMs = pred.OriginalMs
		for _, c := range pred.Chains {
			pred.MergedMs -= c.KeptMs - c.MergedMs
			if !c.Pays {
				d.Losers = append(d.Losers, c)
			}
		}
		d.Prediction = pred
		d.Slower = pred.MergedMs > pred.OriginalMs
	}
	if d.Slower && !o.Force {
		pr := d.Prediction
		return d, fmt.Errorf("%w: %.4f ms vs %.4f ms (%.2fx as fast; MACs %s -> %s; %s); nothing written (--force writes it anyway)",
			ErrSlower, pr.MergedMs, pr.OriginalMs, pr.OriginalMs/pr.MergedMs, human(d.Report.Before.MACs), human(d.Report.After.MACs), pr.Source)
	}
	return d, nil
}

// plannedForm reports whether g is already in a planned form (merge.PadFirst
// recorded its runs in the metadata, e.g. a model fine-tuned in that form).
func plannedForm(g *graph.Graph) bool { return g.Meta[merge.MetaRuns] != "" }
