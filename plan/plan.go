// Package plan holds the activation plan shared by search, fine-tuning,
// merging and the latency planner: which removable activation units of a
// model keep their activation and which become the identity (and are then
// merged away). A plan is stored as JSON:
//
//	{"version":1, "model":"mobilenet_v2_1", "source":"preset",
//	 "units":[{"name":"features.0","keep":true}, {"name":"features.1","keep":false,"gate":0.83}, ...]}
//
// A valid plan lists every unit of its model exactly once.
package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
)

// Version is the plan file format version written by Save; Load rejects others.
const Version = 1

// maxPlanBytes bounds the size of a plan file read by Load.
const maxPlanBytes = 1 << 24

// Sources of a plan (Plan.Source).
const (
	SourceSearch  = "search"
	SourcePreset  = "preset"
	SourceManual  = "manual"
	SourcePlanner = "planner"
)

// Unit is the decision for one removable activation unit.
type Unit struct {
	Name string   `json:"name"`           // unit name, as in graph.Graph.Units
	Keep bool     `json:"keep"`           // true: the activation stays; false: it becomes the identity
	Gate *float64 `json:"gate,omitempty"` // the learned gate value s in [0,1], when the plan comes from a search
}

// Plan says which activation units of a model are kept.
type Plan struct {
	Version int               `json:"version"`
	Model   string            `json:"model"`            // the graph name (graph.Graph.Name) or architecture it applies to
	Units   []Unit            `json:"units"`            // one entry per unit of the model
	Source  string            `json:"source,omitempty"` // search, preset, manual or planner
	Name    string            `json:"name,omitempty"`   // e.g. the preset name
	Meta    map[string]string `json:"meta,omitempty"`   // free-form provenance (keep ratio, latency budget, ...)
	// Segments lists runs of removed blocks that merge into one convolution
	// each (block names, consecutive in model order; a run of one block is
	// allowed), as the latency planner chose them. Removed blocks in no
	// segment merge on their own. Empty: every removed block on its own.
	Segments [][]string `json:"segments,omitempty"`
	// Pruned lists blocks removed whole (layer pruning, LayerMerge): a
	// residual block whose branch is dropped and whose identity is kept
	// (Apply makes its output its input). Their units stay listed in Units.
	Pruned []string `json:"pruned,omitempty"`
	// PrunedLayers lists convolutions removed inside merged runs (layer
	// pruning, LayerMerge): each keeps its input's shape (equal input and
	// output channels, stride 1, "same" padding) and lies in a block whose
	// units are removed; Apply replaces it and the BatchNorm reading it by
	// the identity, so the merged kernel does not grow.
	PrunedLayers []string `json:"pruned_layers,omitempty"`
}

// Removed returns the names of the units whose activation is removed, in plan order.
func (p *Plan) Removed() []string {
	var out []string
	for _, u := range p.Units {
		if !u.Keep {
			out = append(out, u.Name)
		}
	}
	return out
}

// Keep reports whether unit name keeps its activation (false for a unit not in the plan).
func (p *Plan) Keep(name string) bool {
	for _, u := range p.Units {
		if u.Name == name {
			return u.Keep
		}
	}
	return false
}

// Vector returns the plan as a 0/1 keep vector in the order of g.Units.
func (p *Plan) Vector(g *graph.Graph) []int {
	v := make([]int, len(g.Units))
	for i, u := range g.Units {
		if p.Keep(u.Name) {
			v[i] = 1
		}
	}
	return v
}

// Validate checks that p applies to g: right model, every unit of g listed
// exactly once, no unknown or duplicate units.
func (p *Plan) Validate(g *graph.Graph) error {
	if p == nil {
		return errors.New("plan: nil plan")
	}
	if p.Version != Version {
		return fmt.Errorf("plan: format version %d, this dshrink reads version %d", p.Version, Version)
	}
	if p.Model != "" && p.Model != g.Name && p.Model != g.Meta["architecture"] {
		return fmt.Errorf("plan: made for model %q, but the model is %q (architecture %q)", p.Model, g.Name, g.Meta["architecture"])
	}
	if len(g.Units) == 0 {
		return fmt.Errorf("plan: model %q has no removable activation units", g.Name)
	}
	known := make(map[string]bool, len(g.Units))
	for _, u := range g.Units {
		known[u.Name] = true
	}
	seen := map[string]bool{}
	for i, u := range p.Units {
		if !known[u.Name] {
			return fmt.Errorf("plan: unit %d %q is not a unit of model %q (units: %s)", i, u.Name, g.Name, unitRange(g))
		}
		if seen[u.Name] {
			return fmt.Errorf("plan: unit %q is listed more than once", u.Name)
		}
		seen[u.Name] = true
		if u.Gate != nil && (*u.Gate < 0 || *u.Gate > 1) {
			return fmt.Errorf("plan: unit %q has gate %g outside [0, 1]", u.Name, *u.Gate)
		}
	}
	if len(p.Units) != len(g.Units) {
		var missing []string
		for _, u := range g.Units {
			if !seen[u.Name] {
				missing = append(missing, u.Name)
			}
		}
		return fmt.Errorf("plan: lists %d units, model %q has %d (missing: %s)", len(p.Units), g.Name, len(g.Units), strings.Join(missing, ", "))
	}
	return p.validateBlocks(g)
}

// Prunable reports whether block b can be pruned: a residual block whose
// output has its input's shape (stride 1, equal channels), so that the
// identity can replace it.
func Prunable(b *graph.Block) bool {
	return b != nil && b.Residual && b.InC == b.OutC && b.Stride <= 1
}

// PrunableLayer reports whether n is a convolution the identity can
// replace: equal input and output channels, stride 1 and padding that keeps
// the spatial size.
func PrunableLayer(n *graph.Node) bool {
	if n == nil || n.Op != graph.OpConv || n.Conv == nil {
		return false
	}
	a := n.Conv
	return a.InC == a.OutC && a.StrideH == 1 && a.StrideW == 1 && a.Pads[0]+a.Pads[2] == a.KH-1 && a.Pads[1]+a.Pads[3] == a.KW-1
}

// validateBlocks checks Segments, Pruned and PrunedLayers against g.
func (p *Plan) validateBlocks(g *graph.Graph) error {
	index := map[string]int{}
	for i, b := range g.Blocks {
		index[b.Name] = i
	}
	pruned := map[string]bool{}
	for _, name := range p.Pruned {
		i, ok := index[name]
		if !ok {
			return fmt.Errorf("plan: pruned block %q is not a block of model %q", name, g.Name)
		}
		if pruned[name] {
			return fmt.Errorf("plan: pruned block %q is listed more than once", name)
		}
		if !Prunable(&g.Blocks[i]) {
			b := g.Blocks[i]
			return fmt.Errorf("plan: block %q cannot be pruned: want a residual block with equal input and output channels and stride 1 (residual %v, %d -> %d channels, stride %d)",
				name, b.Residual, b.InC, b.OutC, b.Stride)
		}
		pruned[name] = true
	}
	removedBlock := map[string]bool{}
	for _, u := range g.Units {
		if u.Block != "" && !p.Keep(u.Name) {
			removedBlock[u.Block] = true
		}
	}
	seenLayer := map[string]bool{}
	for _, name := range p.PrunedLayers {
		n := g.Node(name)
		switch {
		case n == nil:
			return fmt.Errorf("plan: pruned layer %q is not a node of model %q", name, g.Name)
		case seenLayer[name]:
			return fmt.Errorf("plan: pruned layer %q is listed more than once", name)
		case !PrunableLayer(n):
			return fmt.Errorf("plan: layer %q cannot be pruned: want a convolution that keeps its input's shape (equal channels, stride 1, same padding)", name)
		case n.Block == "" || !removedBlock[n.Block]:
			return fmt.Errorf("plan: pruned layer %q is not in a block whose activations are removed (a merged run)", name)
		case pruned[n.Block]:
			return fmt.Errorf("plan: pruned layer %q lies in pruned block %q", name, n.Block)
		}
		seenLayer[name] = true
	}
	inSeg := map[string]bool{}
	for k, seg := range p.Segments {
		if len(seg) == 0 {
			return fmt.Errorf("plan: segment %d is empty", k)
		}
		for j, name := range seg {
			i, ok := index[name]
			switch {
			case !ok:
				return fmt.Errorf("plan: segment %d: %q is not a block of model %q", k, name, g.Name)
			case j > 0 && i != index[seg[j-1]]+1:
				return fmt.Errorf("plan: segment %d: block %q does not follow %q in the model", k, name, seg[j-1])
			case inSeg[name]:
				return fmt.Errorf("plan: block %q is in more than one segment", name)
			case pruned[name]:
				return fmt.Errorf("plan: segment %d: block %q is pruned", k, name)
			case !removedBlock[name]:
				return fmt.Errorf("plan: segment %d: block %q keeps its activations (a merged segment needs them removed)", k, name)
			}
			inSeg[name] = true
		}
	}
	return nil
}

func unitRange(g *graph.Graph) string {
	if len(g.Units) == 0 {
		return "none"
	}
	return g.Units[0].Name + " ... " + g.Units[len(g.Units)-1].Name
}

// New returns a plan for g in which every unit keeps its activation except
// those in removed.
func New(g *graph.Graph, source string, removed map[string]bool) *Plan {
	p := &Plan{Version: Version, Model: g.Name, Source: source}
	for _, u := range g.Units {
		p.Units = append(p.Units, Unit{Name: u.Name, Keep: !removed[u.Name]})
	}
	return p
}

// Encode writes p as indented JSON.
func (p *Plan) Encode(w io.Writer) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Save writes p to path atomically (temporary file, sync, rename).
func (p *Plan) Save(path string) error {
	if p.Version == 0 {
		p.Version = Version
	}
	return fsutil.WriteFileAtomic(path, p.Encode)
}

// Decode parses a plan from JSON, rejecting unknown fields and other versions.
func Decode(data []byte) (*Plan, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	p := &Plan{}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("plan: not a valid plan file: %w", err)
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(data[off:])) != 0 {
		return nil, fmt.Errorf("plan: not a valid plan file: data after the plan's JSON object (at byte %d)", off)
	}
	if p.Version != Version {
		return nil, fmt.Errorf("plan: format version %d, this dshrink reads version %d", p.Version, Version)
	}
	return p, nil
}

// Load reads a plan file written by Save (or by hand).
func Load(path string) (*Plan, error) {
	data, err := fsutil.ReadFile(path, maxPlanBytes)
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	p, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("load plan %s: %w", path, err)
	}
	return p, nil
}

// paperPlans are the published MobileNetV2-1.4 plans (docs/method.md, stage 1): 19 units
// in module order (stem, expansion-1 block, 16 blocks, head); 1 = keep.
var paperPlans = map[string][19]int{
	"ds-a": {0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1},
	"ds-b": {1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1},
	"ds-c": {1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1},
	"ds-d": {0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1},
	"ds-e": {0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1},
	"ds-f": {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
}

// PresetNames lists the preset names accepted by Preset.
func PresetNames() []string {
	names := []string{"all"}
	var ds []string
	for k := range paperPlans {
		ds = append(ds, k)
	}
	sort.Strings(ds)
	return append(names, ds...)
}

// IsPreset reports whether name is a preset name (case-insensitive).
func IsPreset(name string) bool {
	n := strings.ToLower(name)
	_, ok := paperPlans[n]
	return ok || n == "all"
}

// Preset returns a named plan for g:
//   - "all": every block's unit is removed (each block becomes linear and
//     mergeable); units outside blocks (stem, head) keep their activation;
//   - "ds-a" ... "ds-f": the paper's MobileNetV2-1.4 plans, mapped onto g's
//     units in order; valid only for a graph with exactly 19 units and 17 blocks.
func Preset(name string, g *graph.Graph) (*Plan, error) {
	n := strings.ToLower(name)
	if n == "all" {
		removed := map[string]bool{}
		for _, u := range g.Units {
			if u.Block != "" {
				removed[u.Name] = true
			}
		}
		if len(removed) == 0 {
			return nil, fmt.Errorf("plan: preset all: model %q has no block units", g.Name)
		}
		p := New(g, SourcePreset, removed)
		p.Name = n
		return p, nil
	}
	vec, ok := paperPlans[n]
	if !ok {
		return nil, fmt.Errorf("plan: unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	if len(g.Units) != len(vec) || len(g.Blocks) != 17 {
		return nil, fmt.Errorf("plan: preset %s is the paper's MobileNetV2 plan over %d units (stem, 17 blocks, head); model %q has %d units and %d blocks",
			n, len(vec), g.Name, len(g.Units), len(g.Blocks))
	}
	removed := map[string]bool{}
	for i, u := range g.Units {
		if vec[i] == 0 {
			removed[u.Name] = true
		}
	}
	p := New(g, SourcePreset, removed)
	p.Name = n
	return p, nil
}

// FromList returns a plan for g that removes the units named in list, a
// comma-separated list of unit names or numeric ranges of them, e.g.
// "features.3,features.5-8" (features.5, 6, 7 and 8). Every other unit keeps
// its activation.
func FromList(g *graph.Graph, list string) (*Plan, error) {
	known := map[string]bool{}
	for _, u := range g.Units {
		known[u.Name] = true
	}
	removed := map[string]bool{}
	var order []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		names, err := expandItem(item)
		if err != nil {
			return nil, fmt.Errorf("plan: list %q: %w", list, err)
		}
		for _, nm := range names {
			if !known[nm] {
				return nil, fmt.Errorf("plan: list %q: %q is not a unit of model %q (units: %s)", list, nm, g.Name, unitRange(g))
			}
			if removed[nm] {
				return nil, fmt.Errorf("plan: list %q: unit %q is listed more than once", list, nm)
			}
			removed[nm] = true
			order = append(order, nm)
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("plan: list %q names no unit", list)
	}
	p := New(g, SourceManual, removed)
	return p, nil
}

// expandItem turns "features.5-8" into features.5 ... features.8; other items
// are returned as they are.
func expandItem(item string) ([]string, error) {
	dash := strings.LastIndexByte(item, '-')
	if dash < 0 {
		return []string{item}, nil
	}
	hi, err := strconv.Atoi(item[dash+1:])
	if err != nil {
		return []string{item}, nil // a name that happens to contain a dash
	}
	head := item[:dash]
	i := len(head)
	for i > 0 && head[i-1] >= '0' && head[i-1] <= '9' {
		i--
	}
	if i == len(head) {
		return nil, fmt.Errorf("range %q: want PREFIXlo-hi, e.g. features.5-8", item)
	}
	lo, _ := strconv.Atoi(head[i:])
	if hi < lo {
		return nil, fmt.Errorf("range %q: end %d before start %d", item, hi, lo)
	}
	if hi-lo > 10000 {
		return nil, fmt.Errorf("range %q is too long", item)
	}
	var out []string
	for k := lo; k <= hi; k++ {
		out = append(out, head[:i]+strconv.Itoa(k))
	}
	return out, nil
}

// Resolve turns a command-line plan argument into a validated plan for g: an
// existing file is loaded as a plan file, a preset name ("all", "ds-a" ...
// "ds-f") gives that preset, anything else is read as an explicit list of
// units for FromList.
func Resolve(spec string, g *graph.Graph) (*Plan, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("plan: empty plan argument (give a plan file, a preset or a list of blocks)")
	}
	var p *Plan
	var err error
	st, serr := os.Stat(spec)
	fromFile := false
	switch {
	case serr == nil && st.Mode().IsRegular():
		p, err = Load(spec)
		fromFile = true
	case serr == nil && !IsPreset(spec):
		return nil, fmt.Errorf("plan: %s is not a regular file (mode %v); give a plan file, a preset or a list of blocks", spec, st.Mode())
	case IsPreset(spec):
		p, err = Preset(spec, g)
	case strings.HasSuffix(spec, ".json"):
		return nil, fmt.Errorf("plan: file %s: %w", spec, serr)
	default:
		p, err = FromList(g, spec)
	}
	if err != nil {
		return nil, err
	}
	if err := p.Validate(g); err != nil {
		if fromFile {
			return nil, fmt.Errorf("plan %s: %w", spec, err)
		}
		return nil, err
	}
	return p, nil
}
