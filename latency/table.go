// Package latency plans DepthShrinker-style activation removal under a
// latency budget measured on the machine that will run the model
// (docs/method.md, latency-aware planning; after Kim et al., ICML 2023,
// "Efficient Latency-Aware CNN Depth Compression via Two-Stage Dynamic
// Programming").
//
// The pieces:
//
//   - Profile measures a latency Table: for a model made of a chain of blocks
//     (MobileNetV2 inverted residuals), the time of every block kept as it is
//     (its original convolutions), of every run of consecutive blocks (one or
//     several) merged into one convolution, exactly the convolution the
//     merger builds for that run (merge.Run, pad-first form; while the
//     merged kernel stays within the cap), optionally of runs merged with
//     their blocks' depthwise layers pruned (LayerMerge), and of the fixed
//     parts (stem, head, classifier), each timed in context inside whole
//     models in interleaved rounds.
//   - PlanFor writes a solution as a plan file listing its segments and
//     pruned blocks and layers; Realize (ApplyPlanned, MergePlanned) builds
//     exactly that model; PredictPlan and MeasureMerge compare a merged
//     model with the original per chain (merge only where it pays).
//   - Importance estimates, in minutes, how much each block's activations
//     matter: the increase of the held-out loss when that unit alone runs as
//     the identity (optionally after recalibrating BatchNorm);
//     PruneImportance and LayerPruneImportance do the same for pruned blocks
//     and layers, and FinetuneImportance is the expensive check of all three.
//   - Solve is the two-stage dynamic program: stage 1 finds, for every run of
//     blocks [i, j), the fastest split into merged segments; stage 2 picks,
//     over segment boundaries, the blocks that keep their activations, are
//     pruned, or are merged (optionally with their layers pruned) to maximise
//     the kept importance subject to the predicted latency (the sum of table
//     entries) staying within a budget in milliseconds.
//   - Pareto sweeps budgets and draws the importance (or accuracy) against
//     latency front.
package latency

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/runtime"
)

// TableVersion is the format version of a table file.
const TableVersion = 1

// RuntimeVersion identifies the inference runtime whose timings a table
// holds; it is part of the cache key. It is overridden by the VCS revision
// of the binary when Go embedded one.
const RuntimeVersion = "dshrink-runtime-1"

// Key identifies the conditions a table was measured under; a cached table
// is reused only when its key equals the current one.
type Key struct {
	CPU      string `json:"cpu"`      // CPU model and family/model numbers from /proc/cpuinfo
	Runtime  string `json:"runtime"`  // runtime version (VCS revision or RuntimeVersion) and kernel ISA
	Executor string `json:"executor"` // "ours" (package runtime)
	Batch    int    `json:"batch"`
	Threads  int    `json:"threads"`
	Model    string `json:"model"` // fingerprint of the model's structure (not its weights)
	// Timing is how the entries were measured: "context" (inside the whole
	// model, the default) or "isolated" (each segment on its own).
	Timing string `json:"timing,omitempty"`
	// LayerPruning says the table also holds layer-pruned segments
	// (ProfileOptions.LayerPruning).
	LayerPruning bool `json:"layer_pruning,omitempty"`
}

// String returns a one-line description of k.
func (k Key) String() string {
	lp := ""
	if k.LayerPruning {
		lp = ", layer pruning"
	}
	return fmt.Sprintf("cpu %q, runtime %s, executor %s, batch %d, threads %d, model %s, timing %s%s", k.CPU, k.Runtime, k.Executor, k.Batch, k.Threads, k.Model, k.Timing, lp)
}

// Segment is one measured candidate: blocks [Start, End) either kept as
// they are (Merged false, End = Start+1) or merged into one convolution.
type Segment struct {
	Start  int      `json:"start"`
	End    int      `json:"end"`
	Blocks []string `json:"blocks"`
	// From and To are the values the segment reads and writes (the first
	// block's input, the last block's output): the merge.Segment that
	// merges it.
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Merged bool   `json:"merged"`
	// LayerPruned says the merged segment has the prunable layer of every
	// block pruned first (LayerMerge: the shape-keeping convolutions named
	// in PrunedLayers replaced by the identity, so the kernel does not grow).
	LayerPruned  bool     `json:"layer_pruned,omitempty"`
	PrunedLayers []string `json:"pruned_layers,omitempty"`
	// Kernel describes the merged convolution, e.g. "5x5/s2" (empty when kept).
	Kernel string `json:"kernel,omitempty"`
	// MACs and MACsKept are the multiply-accumulates per image of this
	// segment and of the same blocks kept.
	MACs     int64 `json:"macs"`
	MACsKept int64 `json:"macs_kept"`
	// Ms is the median latency in milliseconds; Spread is the interquartile
	// range of the per-round medians, in milliseconds.
	Ms     float64 `json:"ms"`
	Spread float64 `json:"spread_ms"`
	// IsolatedMs is the segment's latency compiled and run on its own
	// (weights and activations warm in the caches); Ms is the in-context
	// figure when Context is set, else the same as IsolatedMs.
	IsolatedMs float64 `json:"isolated_ms,omitempty"`
	// Context says Ms was measured inside a whole model (see ProfileOptions).
	Context bool `json:"context,omitempty"`
	// Realizable says the segment was built by the merger (merge.Run on the
	// run From..To in the pad-first form): Realize puts exactly this
	// convolution in the model of a plan with this segment. Tables of older
	// versions timed synthesised multi-block convolutions (false).
	Realizable bool   `json:"realizable"`
	Note       string `json:"note,omitempty"`
}

// Part is a fixed part of the model (stem, head, classifier) and its latency.
type Part struct {
	Name       string  `json:"name"`
	Ms         float64 `json:"ms"`
	Spread     float64 `json:"spread_ms"`
	MACs       int64   `json:"macs"`
	IsolatedMs float64 `json:"isolated_ms,omitempty"`
	Context    bool    `json:"context,omitempty"`
}

// Table is a latency table of one model on one machine.
type Table struct {
	Version int    `json:"version"`
	Key     Key    `json:"key"`
	Model   string `json:"model"`
	// Blocks are the model's blocks in order, Units the removable unit of
	// each block (same order).
	Blocks   []string  `json:"blocks"`
	Units    []string  `json:"units"`
	Fixed    []Part    `json:"fixed"`
	Segments []Segment `json:"segments"`
	// WholeMs is the measured latency of the whole unmodified model in the
	// same session (0 when not measured), a check on the table's sum.
	WholeMs float64 `json:"whole_ms,omitempty"`
	// WholeStepsMs is the whole model's sum of per-step medians (see Timing).
	WholeStepsMs float64 `json:"whole_steps_ms,omitempty"`
	Rounds       int     `json:"rounds"`
	Created      string  `json:"created"`
}

// FixedMs returns the total latency of the fixed parts.
func (t *Table) FixedMs() float64 {
	var s float64
	for _, p := range t.Fixed {
		s += p.Ms
	}
	return s
}

// Calibration returns WholeStepsMs / BaseMs: how much slower the segments
// run inside the whole model (cold caches between layers) than alone; 1
// when the whole model was not measured. Multiply a prediction by it to
// compare with a whole-model measurement.
func (t *Table) Calibration() float64 {
	b := t.BaseMs()
	if t.WholeStepsMs <= 0 || b <= 0 {
		return 1
	}
	return t.WholeStepsMs / b
}

// Kept returns the segment of block i kept as it is, or nil.
func (t *Table) Kept(i int) *Segment {
	for k := range t.Segments {
		s := &t.Segments[k]
		if !s.Merged && s.Start == i {
			return s
		}
	}
	return nil
}

// Merged returns the merged segment of blocks [i, j), or nil when the table
// has none (the kernel would exceed the cap, or the shapes do not compose).
func (t *Table) Merged(i, j int) *Segment {
	for k := range t.Segments {
		s := &t.Segments[k]
		if s.Merged && !s.LayerPruned && s.Start == i && s.End == j {
			return s
		}
	}
	return nil
}

// MergedLayerPruned returns the merged segment of blocks [i, j) with their
// layers pruned, or nil.
func (t *Table) MergedLayerPruned(i, j int) *Segment {
	for k := range t.Segments {
		s := &t.Segments[k]
		if s.LayerPruned && s.Start == i && s.End == j {
			return s
		}
	}
	return nil
}

// BaseMs returns the predicted latency of the unmodified model (fixed parts
// plus every block kept).
func (t *Table) BaseMs() float64 {
	s := t.FixedMs()
	for i := range t.Blocks {
		if k := t.Kept(i); k != nil {
			s += k.Ms
		}
	}
	return s
}

// Validate checks that t is complete: a kept and a merged single-block entry
// for every block, finite non-negative times, segments inside the model.
func (t *Table) Validate() error {
	if t.Version != TableVersion {
		return fmt.Errorf("latency table: format version %d, this dshrink reads version %d", t.Version, TableVersion)
	}
	if len(t.Blocks) == 0 || len(t.Units) != len(t.Blocks) {
		return fmt.Errorf("latency table: %d blocks and %d units", len(t.Blocks), len(t.Units))
	}
	for _, s := range t.Segments {
		if s.Start < 0 || s.End > len(t.Blocks) || s.Start >= s.End || (!s.Merged && s.End != s.Start+1) {
			return fmt.Errorf("latency table: segment [%d, %d) does not fit %d blocks", s.Start, s.End, len(t.Blocks))
		}
		if math.IsNaN(s.Ms) || math.IsInf(s.Ms, 0) || s.Ms < 0 {
			return fmt.Errorf("latency table: segment [%d, %d) has latency %g", s.Start, s.End, s.Ms)
		}
	}
	for i := range t.Blocks {
		if t.Kept(i) == nil || t.Merged(i, i+1) == nil {
			return fmt.Errorf("latency table: block %d (%s) lacks a kept or merged entry", i, t.Blocks[i])
		}
	}
	for _, p := range t.Fixed {
		if math.IsNaN(p.Ms) || math.IsInf(p.Ms, 0) || p.Ms < 0 {
			return fmt.Errorf("latency table: part %s has latency %g", p.Name, p.Ms)
		}
	}
	return nil
}

// Save writes t to path as indented JSON, atomically.
func (t *Table) Save(path string) error {
	err := fsutil.WriteFileAtomic(path, func(w io.Writer) error {
		b, err := json.MarshalIndent(t, "", " ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("save latency table %s: %w", path, err)
	}
	return nil
}

// maxTableBytes bounds the size of a latency table file.
const maxTableBytes = 256 << 20

// LoadTable reads a table written by Save and validates it; path must be a
// regular file (a FIFO or a device is refused, never waited on).
func LoadTable(path string) (*Table, error) {
	b, err := fsutil.ReadFile(path, maxTableBytes)
	if err != nil {
		return nil, fmt.Errorf("load latency table: %w", err)
	}
	t := &Table{}
	if err := json.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("load latency table %s: %w", path, err)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("load latency table %s: %w", path, err)
	}
	return t, nil
}

// ErrKeyMismatch is wrapped by Cached when a table file exists but was
// measured under other conditions.
var ErrKeyMismatch = errors.New("latency table measured under other conditions")

// Cached loads the table at path when it exists and its key equals key. It
// returns (nil, nil) when there is no file, and an error wrapping
// ErrKeyMismatch when the file's key differs.
func Cached(path string, key Key) (*Table, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	t, err := LoadTable(path)
	if err != nil {
		return nil, err
	}
	if t.Key != key {
		return nil, fmt.Errorf("%w: file %s has [%s], now [%s]", ErrKeyMismatch, path, t.Key, key)
	}
	return t, nil
}

// CPUModel returns the CPU's model name with its family, model and stepping
// numbers from /proc/cpuinfo (machines sold under one name differ), or
// GOARCH when the file cannot be read.
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return goruntime.GOARCH
	}
	defer f.Close()
	fields := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" && len(fields) > 0 {
			break // the first processor is enough
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	name := fields["model name"]
	if name == "" {
		name = goruntime.GOARCH
	}
	if fields["cpu family"] != "" {
		name += fmt.Sprintf(" (family %s model %s stepping %s)", fields["cpu family"], fields["model"], fields["stepping"])
	}
	return name
}

// RuntimeID returns the runtime version used in keys: the VCS revision the
// binary was built from (with "+dirty" when modified) or RuntimeVersion,
// followed by the kernel ISA.
func RuntimeID() string {
	v := RuntimeVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			v = rev[:min(12, len(rev))] + dirty
		}
	}
	return v + "/" + runtime.KernelISA()
}

// CurrentKey returns the key of a table for the model with fingerprint
// model, measured now with our runtime at batch and threads.
func CurrentKey(model string, batch, threads int, isolated bool) Key {
	timing := "context"
	if isolated {
		timing = "isolated"
	}
	return Key{CPU: CPUModel(), Runtime: RuntimeID(), Executor: "ours", Batch: batch, Threads: threads, Model: model, Timing: timing}
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }
