package train

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/safetensors"
	"github.com/dshrink/dshrink/tensor"
)

// CheckpointVersion is written into every checkpoint; readers reject others.
const CheckpointVersion = 1

// Checkpoint metadata keys and tensor name prefixes.
const (
	metaCkptGraph   = "dshrink.graph" // the same key and encoding as a model file
	metaCkptVersion = "dshrink.checkpoint_version"
	metaCkptState   = "dshrink.train_state"
	metaCkptExtra   = "dshrink.extra_state"
	prefixModel     = "model/"
	prefixScalar    = "scalar/"
	prefixOptim     = "optim/"
	prefixEMA       = "ema/"
	metaOptimPrefix = "optim."
)

// State is the position of a run and everything else, besides tensors, that
// resuming needs.
type State struct {
	// Epoch is the epoch in progress (0-based) and EpochStep the number of its
	// steps already done; a checkpoint written at the end of an epoch has
	// Epoch set to the next one and EpochStep 0.
	Epoch     int `json:"epoch"`
	EpochStep int `json:"epoch_step"`
	// Step is the number of optimiser steps done over the whole run.
	Step int `json:"step"`
	// Seed is the run's seed (data order, augmentation and dropout derive from it).
	Seed uint64 `json:"seed"`
	// LR is the learning rate of the last step.
	LR float64 `json:"lr"`
	// Partial holds the running sums of the epoch in progress.
	Partial Accum `json:"partial"`
	// History holds the metrics of every finished epoch.
	History []EpochMetrics `json:"history"`
	// Config is the configuration of the run.
	Config Config `json:"config"`
	// Finished is set when the run completed all its epochs (or MaxSteps).
	Finished bool `json:"finished"`
}

// Checkpoint is a training checkpoint: model (structure and every
// parameter, BatchNorm statistics included), scalar parameters (search
// gates), optimiser state and run state.
type Checkpoint struct {
	Graph      *graph.Graph
	Scalars    map[string]float32
	OptimState map[string]*tensor.Tensor
	OptimMeta  map[string]string
	// EMA holds the moving average of every parameter when EMA is on.
	EMA   map[string]*tensor.Tensor
	State State
	// Extra is the caller's own state (Options.SaveExtra), as JSON; nil when
	// there is none.
	Extra json.RawMessage
}

// Encode writes the checkpoint as one safetensors file: tensors "model/<param>",
// "scalar/<name>", "optim/<buffer>" and "ema/<param>", and the structure and state as JSON
// metadata.
func (c *Checkpoint) Encode(w io.Writer) error {
	if err := c.Graph.Validate(); err != nil {
		return fmt.Errorf("checkpoint: invalid model: %w", err)
	}
	gjs, err := json.Marshal(c.Graph)
	if err != nil {
		return fmt.Errorf("checkpoint: encode model structure: %w", err)
	}
	sjs, err := json.Marshal(c.State)
	if err != nil {
		return fmt.Errorf("checkpoint: encode state: %w", err)
	}
	ts := make(map[string]*tensor.Tensor, len(c.Graph.Params)+len(c.OptimState)+len(c.Scalars))
	for n, t := range c.Graph.Params {
		ts[prefixModel+n] = t
	}
	for n, v := range c.Scalars {
		ts[prefixScalar+n] = &tensor.Tensor{Shape: []int{1}, Data: []float32{v}}
	}
	for n, t := range c.OptimState {
		ts[prefixOptim+n] = t
	}
	for n, t := range c.EMA {
		ts[prefixEMA+n] = t
	}
	meta := map[string]string{
		metaCkptGraph:            string(gjs),
		"dshrink.format_version": fmt.Sprint(graph.FormatVersion),
		metaCkptVersion:          fmt.Sprint(CheckpointVersion),
		metaCkptState:            string(sjs),
	}
	if c.Extra != nil {
		meta[metaCkptExtra] = string(c.Extra)
	}
	for k, v := range c.OptimMeta {
		meta[metaOptimPrefix+strings.TrimPrefix(k, "optim.")] = v
	}
	return safetensors.Write(w, ts, meta)
}

// Save writes the checkpoint to path atomically: a temporary file in the
// same folder, synced, then renamed over path, so an interrupted save never
// damages the previous checkpoint.
//
// A state holding a NaN or infinite value (a parameter, a BatchNorm running
// statistic, a gate, an optimiser buffer or an EMA weight) is never saved:
// Save returns an error wrapping ErrNonFinite and leaves path as it was.
func (c *Checkpoint) Save(path string) error {
	if bad := c.nonFinite(); bad != "" {
		return fmt.Errorf("%w: refusing to save %s: %s", ErrNonFinite, path, bad)
	}
	return fsutil.WriteFileAtomic(path, c.Encode)
}

// nonFinite describes the first NaN or infinite value of the checkpoint, or "".
func (c *Checkpoint) nonFinite() string {
	if bad := nonFinite("parameter", c.Graph.Params); bad != "" {
		return bad
	}
	names := make([]string, 0, len(c.Scalars))
	for n := range c.Scalars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if v := c.Scalars[n]; v-v != v-v {
			return fmt.Sprintf("gate %s is %v", n, v)
		}
	}
	if bad := nonFinite("optimiser buffer", c.OptimState); bad != "" {
		return bad
	}
	return nonFinite("EMA weight", c.EMA)
}

// LoadCheckpoint reads a checkpoint written by Save.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	c, err := decodeCheckpoint(f)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return c, nil
}

func decodeCheckpoint(f *safetensors.File) (*Checkpoint, error) {
	if v := f.Metadata[metaCkptVersion]; v != fmt.Sprint(CheckpointVersion) {
		return nil, fmt.Errorf("not a dshrink checkpoint of version %d (metadata %q is %q)", CheckpointVersion, metaCkptVersion, v)
	}
	g := &graph.Graph{}
	if err := json.Unmarshal([]byte(f.Metadata[metaCkptGraph]), g); err != nil {
		return nil, fmt.Errorf("model structure is not valid: %w", err)
	}
	if g.Meta == nil {
		g.Meta = map[string]string{}
	}
	c := &Checkpoint{Graph: g, Scalars: map[string]float32{}, OptimState: map[string]*tensor.Tensor{}, OptimMeta: map[string]string{}}
	g.Params = map[string]*tensor.Tensor{}
	for n, t := range f.Tensors {
		switch {
		case strings.HasPrefix(n, prefixModel):
			g.Params[strings.TrimPrefix(n, prefixModel)] = t
		case strings.HasPrefix(n, prefixScalar):
			if len(t.Data) != 1 {
				return nil, fmt.Errorf("scalar %q has %d values, want 1", n, len(t.Data))
			}
			c.Scalars[strings.TrimPrefix(n, prefixScalar)] = t.Data[0]
		case strings.HasPrefix(n, prefixOptim):
			c.OptimState[strings.TrimPrefix(n, prefixOptim)] = t
		case strings.HasPrefix(n, prefixEMA):
			if c.EMA == nil {
				c.EMA = map[string]*tensor.Tensor{}
			}
			c.EMA[strings.TrimPrefix(n, prefixEMA)] = t
		default:
			return nil, fmt.Errorf("unexpected tensor %q", n)
		}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	for k, v := range f.Metadata {
		if strings.HasPrefix(k, metaOptimPrefix) {
			c.OptimMeta[k] = v
		}
	}
	if err := json.Unmarshal([]byte(f.Metadata[metaCkptState]), &c.State); err != nil {
		return nil, fmt.Errorf("run state (metadata %q) is not valid: %w", metaCkptState, err)
	}
	if x, ok := f.Metadata[metaCkptExtra]; ok {
		if !json.Valid([]byte(x)) {
			return nil, fmt.Errorf("extra state (metadata %q) is not valid JSON", metaCkptExtra)
		}
		c.Extra = json.RawMessage(x)
	}
	return c, nil
}

// copyParams copies every parameter of src into the same-named tensor of
// dst (which keeps its buffers); names and sizes must match exactly.
func copyParams(dst, src *graph.Graph) error {
	if len(dst.Params) != len(src.Params) {
		return fmt.Errorf("model has %d parameters, checkpoint %d", len(dst.Params), len(src.Params))
	}
	names := make([]string, 0, len(dst.Params))
	for n := range dst.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s, ok := src.Params[n]
		if !ok {
			return fmt.Errorf("checkpoint has no parameter %q", n)
		}
		d := dst.Params[n]
		if !tensor.SameShape(d.Shape, s.Shape) {
			return fmt.Errorf("parameter %q: model shape %v, checkpoint %v", n, d.Shape, s.Shape)
		}
		copy(d.Data, s.Data)
	}
	return nil
}
