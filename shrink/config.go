package shrink

import (
	"fmt"
	"math"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/internal/yamlstrict"
	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/train"
)

// Config is the whole DepthShrinker pipeline as read from a YAML file (see
// configs/shrink-fmnist.yaml). The search, finetune and shrink commands all
// read this format; each uses the sections it needs. Missing keys keep the
// values of DefaultConfig; unknown or mistyped keys are errors.
type Config struct {
	// Out is the run directory of the pipeline (one sub-directory per stage).
	Out string `yaml:"out" json:"out"`
	// Data is the data set shared by every stage.
	Data train.DataConfig `yaml:"data" json:"data"`
	// Threads is the number of compute threads (0: every core).
	Threads int `yaml:"threads" json:"threads"`
	// Quiet turns the progress bars off.
	Quiet bool `yaml:"quiet" json:"quiet"`

	// Method is how the plan is chosen: "planner" (the latency planner,
	// the default: it wins at equal measured latency, docs/method.md),
	// "search" (the paper's gate search), "random" or "last-k".
	Method string `yaml:"method" json:"method"`
	// Target is the latency target of the plan: a speedup over the base or
	// a latency in ms (batch-1, single-thread latency table). The planner
	// needs one; the other methods read their ranking off at it, or, without
	// one, remove the units the keep ratio leaves.
	Target Target `yaml:"target" json:"target"`
	// Planner configures the latency planner (method planner).
	Planner PlannerConfig `yaml:"planner" json:"planner"`

	// Base says where the base model comes from.
	Base BaseConfig `yaml:"base" json:"base"`
	// Search configures stage 1 (docs/method.md, stage 1).
	Search SearchConfig `yaml:"search" json:"search"`
	// Finetune configures stage 2 (docs/method.md, stage 2).
	Finetune FinetuneConfig `yaml:"finetune" json:"finetune"`
	// Merge configures stage 3 (docs/merge.md).
	Merge MergeConfig `yaml:"merge" json:"merge"`
	// Verify configures the equivalence check of the merged model.
	Verify VerifyConfig `yaml:"verify" json:"verify"`
	// Bench configures the latency measurement.
	Bench BenchConfig `yaml:"bench" json:"bench"`
	// Compare configures the comparison of the searched plan with baselines.
	Compare CompareConfig `yaml:"compare" json:"compare"`
}

// StageTrain is the training recipe of one stage (the data set, threads and
// run directory come from the pipeline).
type StageTrain struct {
	// Epochs is the number of passes over the training set.
	Epochs int `yaml:"epochs" json:"epochs"`
	// BatchSize is the number of images per optimiser step.
	BatchSize int `yaml:"batch_size" json:"batch_size"`
	// EvalBatchSize is the evaluation batch (BatchSize when 0).
	EvalBatchSize int `yaml:"eval_batch_size" json:"eval_batch_size"`
	// LR is the peak learning rate.
	LR float64 `yaml:"lr" json:"lr"`
	// Optimizer configures the optimiser (gate_lr_scale and gate_no_decay
	// apply to the search gates).
	Optimizer train.OptimizerConfig `yaml:"optimizer" json:"optimizer"`
	// Schedule configures the learning-rate schedule.
	Schedule train.ScheduleConfig `yaml:"schedule" json:"schedule"`
	// LabelSmoothing is the label smoothing of the cross-entropy.
	LabelSmoothing float64 `yaml:"label_smoothing" json:"label_smoothing"`
	// Seed drives data order, augmentation and dropout.
	Seed uint64 `yaml:"seed" json:"seed"`
	// MaxSteps stops the stage after this many steps (0: no limit).
	MaxSteps int `yaml:"max_steps" json:"max_steps"`
	// EvalEvery evaluates every this many epochs (negative: never).
	EvalEvery int `yaml:"eval_every" json:"eval_every"`
}

// BaseConfig says where the base model comes from.
type BaseConfig struct {
	// Model is an existing .dsk model file; empty trains a base first.
	Model string `yaml:"model" json:"model"`
	// Arch is the network trained when Model is empty.
	Arch train.ModelConfig `yaml:"arch" json:"arch"`
	// Train is the base training recipe.
	Train StageTrain `yaml:"train" json:"train"`
}

// SearchConfig configures the search (docs/method.md, stage 1).
type SearchConfig struct {
	// KeepRatio is the fraction r of candidate units that keep their
	// activation: int(r*U) units keep it (0.4 in the paper).
	KeepRatio float64 `yaml:"keep_ratio" json:"keep_ratio"`
	// Keep, when >= 0, is the exact number of candidate units that keep
	// their activation and overrides KeepRatio (-1: use KeepRatio).
	Keep int `yaml:"keep" json:"keep"`
	// PerActivation gives each activation its own gate instead of one per block.
	PerActivation bool `yaml:"per_activation" json:"per_activation"`
	// AllUnits makes the stem and head activations candidates too (by
	// default only the inverted residual blocks are).
	AllUnits bool `yaml:"all_units" json:"all_units"`
	// IncludeUnmergeable gates units whose blocks the merge (merge section)
	// would leave unmerged; by default they keep their activation and the
	// budget goes to blocks that merge (see MergeableCandidates).
	IncludeUnmergeable bool `yaml:"include_unmergeable" json:"include_unmergeable"`
	// Gumbel samples the ranking of the first epochs (the official
	// DS.GS_SAMPLE; off when gumbel.epochs is 0, the official default).
	Gumbel GumbelOptions `yaml:"gumbel" json:"gumbel"`
	// LatencyWeight is the weight of the official latency term (0: off; see
	// SearchOptions.LatencyWeight for its sign).
	LatencyWeight float64 `yaml:"latency_weight" json:"latency_weight"`
	// Train is the search recipe (weights and gates train together).
	Train StageTrain `yaml:"train" json:"train"`
}

// Methods of choosing a plan (Config.Method).
const (
	MethodPlanner = "planner"
	MethodSearch  = "search"
	MethodRandom  = "random"
	MethodLastK   = "last-k"
)

// ParseMethod normalises a method name; it fails on an unknown one.
func ParseMethod(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "planner", "plan", "dp":
		return MethodPlanner, nil
	case "search", "gates":
		return MethodSearch, nil
	case "random", "rand":
		return MethodRandom, nil
	case "last-k", "lastk", "last_k", "last":
		return MethodLastK, nil
	}
	return "", fmt.Errorf("unknown method %q (want planner, search, random or last-k)", s)
}

// PlannerConfig configures the latency planner of method planner.
type PlannerConfig struct {
	// Table is the latency table file, reused when its key matches this
	// machine and model ("" = OUT/plan/table.json).
	Table string `yaml:"table" json:"table"`
	// ImportanceImages is the number of held-out training images of the
	// importance estimate (the held-out loss increase of each unit alone).
	ImportanceImages int `yaml:"importance_images" json:"importance_images"`
	// CalibBatches recalibrates BatchNorm on this many batches before each
	// importance measurement (0: none).
	CalibBatches int `yaml:"calib_batches" json:"calib_batches"`
	// MultiBlock lets the planner merge several blocks into one
	// convolution (the merger builds exactly the planned runs).
	MultiBlock bool `yaml:"multi_block" json:"multi_block"`
	// Prune lets the planner also prune whole residual blocks (LayerMerge),
	// priced by the held-out loss increase with the block pruned.
	Prune bool `yaml:"prune" json:"prune"`
	// PruneWeight multiplies the pruning importance (1 when 0).
	PruneWeight float64 `yaml:"prune_weight" json:"prune_weight"`
}

// FinetuneConfig configures the fine-tuning (docs/method.md, stage 2).
type FinetuneConfig struct {
	// Plan is a plan file, a preset (all, ds-a ... ds-f) or a list of units
	// ("features.3,features.5-8"); empty uses the searched plan.
	Plan string `yaml:"plan" json:"plan"`
	// FinalAct adds a ReLU6 after each removed block (the paper's ADD_FINAL_ACT).
	FinalAct bool `yaml:"final_act" json:"final_act"`
	// PadFirst trains the removed blocks in the pad-first form, which makes
	// the merge exact without a border bias map.
	PadFirst bool `yaml:"pad_first" json:"pad_first"`
	// DistillWeight is the weight of the distillation term (0 turns the
	// teacher off; 0.7 in the paper).
	DistillWeight float64 `yaml:"distill_weight" json:"distill_weight"`
	// Temperature is the distillation temperature (1 in the paper).
	Temperature float64 `yaml:"temperature" json:"temperature"`
	// Train is the fine-tuning recipe.
	Train StageTrain `yaml:"train" json:"train"`
}

// MergeConfig mirrors merge.Options.
type MergeConfig struct {
	// MaxKernel caps the merged kernel size (0: merge's default).
	MaxKernel int `yaml:"max_kernel" json:"max_kernel"`
	// MaxMACGrowth skips chains whose merged MACs grow more than this factor
	// (0: merge's default; negative: no check).
	MaxMACGrowth float64 `yaml:"max_mac_growth" json:"max_mac_growth"`
	// Force merges chains the MAC check would skip.
	Force bool `yaml:"force" json:"force"`
	// CrossBlocks lets chains run across block boundaries.
	CrossBlocks bool `yaml:"cross_blocks" json:"cross_blocks"`
}

// Options returns the merge options.
func (c MergeConfig) Options() merge.Options {
	return merge.Options{MaxKernel: c.MaxKernel, MaxMACGrowth: c.MaxMACGrowth, Force: c.Force, CrossBlocks: c.CrossBlocks}
}

// VerifyConfig configures the check of the merged model against the
// fine-tuned one.
type VerifyConfig struct {
	// Tol is the relative tolerance (0: merge.DefaultTolerance).
	Tol float64 `yaml:"tol" json:"tol"`
	// RandomImages is the number of seeded random images compared.
	RandomImages int `yaml:"random_images" json:"random_images"`
	// RealImages is the number of held-out images compared.
	RealImages int `yaml:"real_images" json:"real_images"`
}

// BenchConfig configures the latency measurement.
type BenchConfig struct {
	// Skip turns the measurement off.
	Skip bool `yaml:"skip" json:"skip"`
	// Batch is the batch size timed (1: latency).
	Batch int `yaml:"batch" json:"batch"`
	// Threads is the number of threads of the timed runs.
	Threads int `yaml:"threads" json:"threads"`
	// Iters is the number of timed runs per model (after a warm-up).
	Iters int `yaml:"iters" json:"iters"`
}

// CompareConfig configures the comparison of the searched plan with random
// plans and with "remove the last k blocks" at the same budget.
type CompareConfig struct {
	// Baselines lists the plans compared with the search: "random",
	// "last-k" (empty: no comparison).
	Baselines []string `yaml:"baselines" json:"baselines"`
	// Seeds is the number of seeds of each arm (searched plans included).
	Seeds int `yaml:"seeds" json:"seeds"`
}

// DefaultStageTrain returns the fine-tuning style recipe shared by the
// stage defaults: SGD Nesterov 0.9, cosine schedule, weight decay 4e-5,
// batch 128.
func DefaultStageTrain(epochs int, lr float64) StageTrain {
	return StageTrain{
		Epochs: epochs, BatchSize: 128, EvalBatchSize: 500, LR: lr,
		Optimizer: train.OptimizerConfig{Name: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 4e-5},
		Schedule:  train.ScheduleConfig{Name: "cosine"},
		Seed:      1,
	}
}

// OfficialSearchTrain returns the official search recipe
// (facebookresearch/DepthShrinker configs/mbv2*.yaml and misc/: SGD
// Nesterov 0.9, the base LR 0.1 scaled by batch/256 as the official code
// scales it, cosine to 5e-6 scaled the same way, no warm-up, weight decay
// 1e-5 on the weights and the gates but not on BatchNorm parameters and
// biases, gradient clipping at 5, label smoothing 0.1, gates at the
// weights' learning rate) for the given epochs and batch 128.
func OfficialSearchTrain(epochs int) StageTrain {
	const batch = 128
	scale := float64(batch) / 256
	return StageTrain{
		Epochs: epochs, BatchSize: batch, EvalBatchSize: 500, LR: 0.1 * scale,
		Optimizer: train.OptimizerConfig{Name: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 1e-5,
			NoDecayBNBias: true, ClipGradNorm: 5, ScalarLRScale: 1},
		Schedule:       train.ScheduleConfig{Name: "cosine", FinalLR: 5e-6 * scale},
		LabelSmoothing: 0.1,
		Seed:           1,
	}
}

// DefaultConfig returns the Fashion-MNIST MobileNetV2-0.5 pipeline: a base
// trained 15 epochs (LR 0.1), a plan by the latency planner at a 1.5x
// target speedup (method planner; the 5-epoch search with the official
// recipe at keep ratio 0.4 is --method search), a 10-epoch fine-tune (LR
// 0.01) with distillation (weight 0.7, T=1) in the pad-first form, the
// default merge, verification on 2 random and 16 real images, and batch-1
// single-thread latency.
func DefaultConfig() Config {
	tc := train.DefaultConfig()
	search := OfficialSearchTrain(5)
	return Config{
		Method:  MethodPlanner,
		Target:  Target{Speedup: 1.5},
		Planner: PlannerConfig{ImportanceImages: 512},
		Out:     "runs/shrink-fmnist",
		Data:    tc.Data,
		Base:    BaseConfig{Arch: tc.Model, Train: DefaultStageTrain(15, 0.1)},
		Search: SearchConfig{
			KeepRatio: 0.4, Keep: -1, Train: search,
			Gumbel: GumbelOptions{InitTemp: 3, DecayRate: 0.95}, // off (epochs 0); the official values when on
		},
		Finetune: FinetuneConfig{PadFirst: true, DistillWeight: 0.7, Temperature: 1, Train: DefaultStageTrain(10, 0.01)},
		Verify:   VerifyConfig{RandomImages: 2, RealImages: 16},
		Bench:    BenchConfig{Batch: 1, Threads: 1, Iters: 200},
		Compare:  CompareConfig{Seeds: 3},
	}
}

// LoadConfig reads a YAML pipeline configuration on top of DefaultConfig.
func LoadConfig(path string) (Config, error) {
	b, err := fsutil.ReadFile(path, 1<<20)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses YAML text on top of DefaultConfig and validates it.
func ParseConfig(text []byte) (Config, error) {
	c := DefaultConfig()
	if err := yamlstrict.Decode(text, &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks every section of the configuration.
func (c Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("invalid config: "+f, a...) }
	if c.Out == "" {
		return bad("out (the run directory) is empty")
	}
	if c.Threads < 0 {
		return bad("threads %d is negative", c.Threads)
	}
	if err := c.Search.validate(); err != nil {
		return bad("search: %v", err)
	}
	if _, err := ParseMethod(c.Method); err != nil {
		return bad("method: %v", err)
	}
	if err := c.Target.Validate(); err != nil {
		return bad("target: %v", err)
	}
	if m, _ := ParseMethod(c.Method); m == MethodPlanner && !c.Target.IsSet() && c.Finetune.Plan == "" {
		return bad("method planner needs a target: target.speedup (e.g. 1.5) or target.latency_ms")
	}
	if c.Planner.ImportanceImages < 0 || c.Planner.CalibBatches < 0 || c.Planner.PruneWeight < 0 || math.IsNaN(c.Planner.PruneWeight) {
		return bad("planner.importance_images, calib_batches and prune_weight must be >= 0")
	}
	if c.Planner.Prune && c.Finetune.FinalAct {
		return bad("planner.prune does not fit finetune.final_act (the paper's ReLU6 after each removed block)")
	}
	if c.Planner.MultiBlock && c.Finetune.FinalAct {
		return bad("planner.multi_block does not fit finetune.final_act (the paper's ReLU6 after each removed block)")
	}
	f := c.Finetune
	if f.DistillWeight < 0 || f.DistillWeight > 1 || math.IsNaN(f.DistillWeight) {
		return bad("finetune.distill_weight %g out of range [0, 1]", f.DistillWeight)
	}
	if !(f.Temperature > 0) {
		return bad("finetune.temperature %g must be positive", f.Temperature)
	}
	if c.Verify.Tol < 0 || c.Verify.RandomImages < 0 || c.Verify.RealImages < 0 {
		return bad("verify.tol, random_images and real_images must be >= 0")
	}
	if c.Bench.Batch < 0 || c.Bench.Threads < 0 || c.Bench.Iters < 0 {
		return bad("bench.batch, threads and iters must be >= 0")
	}
	if c.Bench.Batch > graph.MaxDim || c.Bench.Threads > train.MaxWorkers {
		return bad("bench.batch %d / bench.threads %d exceeds %d / %d", c.Bench.Batch, c.Bench.Threads, graph.MaxDim, train.MaxWorkers)
	}
	for _, b := range c.Compare.Baselines {
		if _, err := ParseBaseline(b); err != nil {
			return bad("compare.baselines: %v", err)
		}
	}
	if c.Compare.Seeds < 0 {
		return bad("compare.seeds %d is negative", c.Compare.Seeds)
	}
	for name, st := range map[string]StageTrain{"base.train": c.Base.Train, "search.train": c.Search.Train, "finetune.train": c.Finetune.Train} {
		if _, err := st.TrainConfig(c, "x"); err != nil {
			return bad("%s: %v", name, strings.TrimPrefix(err.Error(), "invalid config: "))
		}
	}
	return nil
}

func (s SearchConfig) validate() error {
	if s.Keep < 0 && (!(s.KeepRatio >= 0) || s.KeepRatio > 1) {
		return fmt.Errorf("keep_ratio %g out of range [0, 1]", s.KeepRatio)
	}
	if s.Gumbel.Epochs < 0 || s.Gumbel.InitTemp < 0 || s.Gumbel.DecayRate < 0 {
		return fmt.Errorf("gumbel epochs %d, init_temp %g, decay_rate %g: want values >= 0", s.Gumbel.Epochs, s.Gumbel.InitTemp, s.Gumbel.DecayRate)
	}
	if math.IsNaN(s.LatencyWeight) || math.IsInf(s.LatencyWeight, 0) {
		return fmt.Errorf("latency_weight %g is not finite", s.LatencyWeight)
	}
	return nil
}

// TrainConfig returns the train.Config of a stage run in directory out,
// with the pipeline's data set, threads and quietness.
func (s StageTrain) TrainConfig(c Config, out string) (train.Config, error) {
	tc := train.DefaultConfig()
	tc.Model = c.Base.Arch
	tc.Data = c.Data
	tc.Threads = c.Threads
	tc.Quiet = c.Quiet
	tc.Out = out
	tc.Epochs = s.Epochs
	tc.BatchSize = s.BatchSize
	tc.EvalBatchSize = s.EvalBatchSize
	tc.LR = s.LR
	tc.Optimizer = s.Optimizer
	tc.Schedule = s.Schedule
	tc.LabelSmoothing = s.LabelSmoothing
	tc.Seed = s.Seed
	tc.MaxSteps = s.MaxSteps
	tc.EvalEvery = s.EvalEvery
	tc.Distill = train.DistillConfig{}
	if err := tc.Validate(); err != nil {
		return train.Config{}, err
	}
	return tc, nil
}
