package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/internal/yamlstrict"
)

// Config is a whole training run, as read from a YAML file (see
// configs/fmnist-mbv2-0.5.yaml for a documented example). Zero values take
// the defaults of DefaultConfig when loaded with LoadConfig.
type Config struct {
	// Model says which network to build (or load) and train.
	Model ModelConfig `yaml:"model" json:"model"`
	// Data says where the images come from and how they are augmented.
	Data DataConfig `yaml:"data" json:"data"`

	// Epochs is the number of passes over the training set.
	Epochs int `yaml:"epochs" json:"epochs"`
	// BatchSize is the number of images per optimiser step.
	BatchSize int `yaml:"batch_size" json:"batch_size"`
	// EvalBatchSize is the batch used for evaluation (BatchSize when 0; no
	// more than BatchSize, as evaluation reuses the training model's buffers).
	EvalBatchSize int `yaml:"eval_batch_size" json:"eval_batch_size"`
	// LR is the base (peak) learning rate.
	LR float64 `yaml:"lr" json:"lr"`
	// Optimizer configures the optimiser.
	Optimizer OptimizerConfig `yaml:"optimizer" json:"optimizer"`
	// Schedule configures the learning-rate schedule (per step).
	Schedule ScheduleConfig `yaml:"schedule" json:"schedule"`
	// LabelSmoothing is the label smoothing of the cross-entropy loss.
	LabelSmoothing float64 `yaml:"label_smoothing" json:"label_smoothing"`
	// Distill configures knowledge distillation from a teacher (off when Teacher is empty).
	Distill DistillConfig `yaml:"distill" json:"distill"`
	// EMA keeps an exponential moving average of the weights (off when
	// EMA.Decay is 0); evaluation and the final model then use the average.
	EMA EMAConfig `yaml:"ema" json:"ema"`

	// Seed drives initialisation, data order, augmentation and dropout.
	Seed uint64 `yaml:"seed" json:"seed"`
	// Threads is the number of compute threads (0: every core).
	Threads int `yaml:"threads" json:"threads"`
	// MaxSteps stops the run after this many optimiser steps in total (0: no limit);
	// useful for benchmarks and smoke tests.
	MaxSteps int `yaml:"max_steps" json:"max_steps"`
	// EvalEvery evaluates on the held-out set every this many epochs (1 when 0;
	// the last epoch is always evaluated). Negative disables evaluation.
	EvalEvery int `yaml:"eval_every" json:"eval_every"`
	// Out is the run directory: checkpoint.safetensors, metrics.jsonl, model.dsk.
	Out string `yaml:"out" json:"out"`
	// Quiet turns the progress bar off.
	Quiet bool `yaml:"quiet" json:"quiet"`
}

// ModelConfig says which network to train.
type ModelConfig struct {
	// Arch is "mobilenet_v2" (the only builder wired in here).
	Arch string `yaml:"arch" json:"arch"`
	// Width is the width multiplier.
	Width float64 `yaml:"width" json:"width"`
	// StemStride is the stride of the first convolution (1 for 28x28 inputs).
	StemStride int `yaml:"stem_stride" json:"stem_stride"`
	// Dropout is the dropout before the classifier.
	Dropout float64 `yaml:"dropout" json:"dropout"`
	// Init, when set, is a .dsk model file to start from instead of a fresh
	// network (fine-tuning); Arch, Width, StemStride and Dropout are then ignored.
	Init string `yaml:"init" json:"init"`
}

// DataConfig says which data set to use and how to augment it.
type DataConfig struct {
	// Dataset is "fashion-mnist", "mnist", "cifar10", "cifar100" or "folder"
	// (Dir/train and Dir/test, or Dir/val, each with one sub-folder of PNG or
	// JPEG images per class).
	Dataset string `yaml:"dataset" json:"dataset"`
	// Dir is the folder holding the files (the Debian location for Fashion-MNIST when empty).
	Dir string `yaml:"dir" json:"dir"`
	// ImageSize is the side of the square crop of folder images (folder only, required).
	ImageSize int `yaml:"image_size" json:"image_size,omitempty"`
	// Resize scales the shorter side of folder images to this length before
	// the centre crop (0: ImageSize; e.g. 256 for a 224 crop).
	Resize int `yaml:"resize" json:"resize,omitempty"`
	// Gray stores folder images as one luma channel instead of RGB.
	Gray bool `yaml:"gray" json:"gray,omitempty"`
	// TrainSubset uses only the first N training images of a seeded shuffle (0: all).
	TrainSubset int `yaml:"train_subset" json:"train_subset"`
	// TestSubset evaluates on only the first N test images (0: all).
	TestSubset int `yaml:"test_subset" json:"test_subset"`
	// ValSplit holds out N training images as the validation set, evaluated each epoch
	// instead of the test set (0: evaluate on the test set).
	ValSplit int `yaml:"val_split" json:"val_split"`
	// RandomCropPad is the padding of the random-crop augmentation (0: off).
	RandomCropPad int `yaml:"random_crop_pad" json:"random_crop_pad"`
	// HFlip mirrors training images left-right with probability 0.5.
	HFlip bool `yaml:"hflip" json:"hflip"`
	// RandomErasing is the probability of random erasing (0: off).
	RandomErasing float64 `yaml:"random_erasing" json:"random_erasing"`
	// Workers is the number of loader goroutines (0: default).
	Workers int `yaml:"workers" json:"workers"`
}

// DistillConfig configures knowledge distillation:
// loss = Weight * softCE(teacher/T, student/T) * T^2 + (1-Weight) * CE(label).
type DistillConfig struct {
	// Teacher is a .dsk model file; empty turns distillation off.
	Teacher string `yaml:"teacher" json:"teacher"`
	// Weight is the weight of the distillation term (0.7 in DepthShrinker).
	Weight float64 `yaml:"weight" json:"weight"`
	// Temperature softens both distributions (1 in DepthShrinker).
	Temperature float64 `yaml:"temperature" json:"temperature"`
}

// EMAConfig configures the exponential moving average of the weights:
// after every step, avg = Decay*avg + (1-Decay)*w for every parameter
// (BatchNorm running statistics included, as timm's ModelEmaV2 does).
type EMAConfig struct {
	// Decay is the per-step decay, e.g. 0.999; 0 turns EMA off.
	Decay float64 `yaml:"decay" json:"decay"`
}

// DefaultConfig returns the Fashion-MNIST MobileNetV2-0.5 recipe: the PyTorch
// baseline's optimiser (SGD Nesterov 0.9, LR 0.1 cosine to 0, weight decay
// 4e-5, batch 128, 30 epochs) with one epoch of linear warm-up from 0.01,
// label smoothing 0.1 and horizontal flips (random crops made the network
// underfit: train accuracy stayed at the test accuracy).
func DefaultConfig() Config {
	return Config{
		Model:          ModelConfig{Arch: "mobilenet_v2", Width: 0.5, StemStride: 1, Dropout: 0.2},
		Data:           DataConfig{Dataset: "fashion-mnist", HFlip: true},
		Epochs:         30,
		BatchSize:      128,
		LR:             0.1,
		LabelSmoothing: 0.1,
		Optimizer:      OptimizerConfig{Name: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 4e-5},
		Schedule:       ScheduleConfig{Name: "cosine", WarmupEpochs: 1, WarmupStart: 0.1},
		Distill:        DistillConfig{Weight: 0.7, Temperature: 1},
		Seed:           1,
		EvalEvery:      1,
		Out:            "runs/fmnist-mbv2-0.5",
	}
}

// MaxWorkers bounds data.workers and threads; MaxImageSize bounds
// data.image_size and data.resize (in pixels).
const (
	MaxWorkers   = 1024
	MaxImageSize = 8192
)

// LoadConfig reads a YAML configuration file on top of DefaultConfig.
// Unknown or mistyped keys are errors naming the key, the line and the file.
func LoadConfig(path string) (Config, error) {
	b, err := fsutil.ReadFile(path, 1<<20)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses YAML text on top of DefaultConfig and validates it.
func ParseConfig(text []byte) (Config, error) {
	cfg := DefaultConfig()
	if err := yamlstrict.Decode(text, &cfg); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks every field of the configuration.
func (c Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("invalid config: "+f, a...) }
	switch {
	case c.Epochs < 1:
		return bad("epochs %d, want at least 1", c.Epochs)
	case c.BatchSize < 1:
		return bad("batch_size %d, want at least 1", c.BatchSize)
	case c.EvalBatchSize < 0:
		return bad("eval_batch_size %d is negative", c.EvalBatchSize)
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return bad("lr %g, want a finite value >= 0", c.LR)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return bad("label_smoothing %g out of range [0, 1)", c.LabelSmoothing)
	case c.Distill.Teacher != "" && (c.Distill.Weight < 0 || c.Distill.Weight > 1):
		return bad("distill.weight %g out of range [0, 1]", c.Distill.Weight)
	case c.Distill.Teacher != "" && c.Distill.Temperature <= 0:
		return bad("distill.temperature %g must be positive", c.Distill.Temperature)
	case c.EMA.Decay < 0 || c.EMA.Decay >= 1:
		return bad("ema.decay %g out of range [0, 1)", c.EMA.Decay)
	case c.Threads < 0:
		return bad("threads %d is negative", c.Threads)
	case c.MaxSteps < 0:
		return bad("max_steps %d is negative", c.MaxSteps)
	case c.Out == "":
		return bad("out (the run directory) is empty")
	case c.Data.TrainSubset < 0 || c.Data.TestSubset < 0 || c.Data.ValSplit < 0:
		return bad("data.train_subset, test_subset and val_split must be >= 0")
	case c.Data.RandomCropPad < 0 || c.Data.RandomCropPad > MaxImageSize:
		return bad("data.random_crop_pad %d out of range [0, %d]", c.Data.RandomCropPad, MaxImageSize)
	case c.Data.RandomErasing < 0 || c.Data.RandomErasing > 1:
		return bad("data.random_erasing %g out of range [0, 1]", c.Data.RandomErasing)
	case c.Data.Workers < 0 || c.Data.Workers > MaxWorkers:
		return bad("data.workers %d out of range [0, %d]", c.Data.Workers, MaxWorkers)
	case c.Threads > MaxWorkers:
		return bad("threads %d exceeds %d", c.Threads, MaxWorkers)
	case c.BatchSize > graph.MaxDim || c.EvalBatchSize > graph.MaxDim:
		return bad("batch_size %d / eval_batch_size %d exceeds %d", c.BatchSize, c.EvalBatchSize, graph.MaxDim)
	case c.Data.ImageSize > MaxImageSize || c.Data.Resize > MaxImageSize || c.Data.Resize < 0:
		return bad("data.image_size %d / data.resize %d out of range [0, %d]", c.Data.ImageSize, c.Data.Resize, MaxImageSize)
	}
	switch strings.ToLower(c.Data.Dataset) {
	case "fashion-mnist", "fashion_mnist", "fmnist", "mnist", "cifar10", "cifar-10", "cifar100", "cifar-100":
	case "folder":
		switch {
		case c.Data.Dir == "":
			return bad("data.dir is empty: data.dataset folder needs the folder holding train/ and test/ (or val/)")
		case c.Data.ImageSize <= 0:
			return bad("data.image_size %d: data.dataset folder needs the side of the square crop (> 0)", c.Data.ImageSize)
		case c.Data.Resize != 0 && c.Data.Resize < c.Data.ImageSize:
			return bad("data.resize %d is smaller than data.image_size %d", c.Data.Resize, c.Data.ImageSize)
		}
	default:
		return bad("data.dataset %q: want fashion-mnist, mnist, cifar10, cifar100 or folder", c.Data.Dataset)
	}
	if c.Model.Init == "" {
		if a := strings.ToLower(c.Model.Arch); a != "mobilenet_v2" && a != "mobilenetv2" {
			return bad("model.arch %q: want mobilenet_v2 (or set model.init to a .dsk file)", c.Model.Arch)
		}
		if c.Model.Width <= 0 {
			return bad("model.width %g must be positive", c.Model.Width)
		}
	}
	if err := c.Optimizer.Validate(); err != nil {
		return bad("%v", err)
	}
	if err := c.Schedule.Validate(); err != nil {
		return bad("%v", err)
	}
	return nil
}
