// Package train trains dshrink models on the CPU: optimisers (SGD with
// momentum and Nesterov, AdamW, global-norm clipping), per-step learning-rate
// schedules (cosine with warm-up, step, constant), the training loop with
// label smoothing and knowledge distillation, evaluation (loss, top-1,
// top-5), per-epoch JSON-lines metrics, a progress bar, and checkpoints that
// resume a run exactly where it stopped.
//
// A run writes into its directory (Config.Out):
//
//	checkpoint.safetensors  weights, optimiser state and run state (every epoch, on Ctrl-C)
//	metrics.jsonl           one EpochMetrics per line
//	model.dsk               the final model (graph.Load reads it)
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/internal/memlimit"
	"github.com/dshrink/dshrink/kernels/parallel"
	"github.com/dshrink/dshrink/models"
	"github.com/dshrink/dshrink/nn"
)

// File names inside a run directory.
const (
	CheckpointFile = "checkpoint.safetensors"
	MetricsFile    = "metrics.jsonl"
	ModelFile      = "model.dsk"
)

// ErrNonFinite is returned (wrapped) when the loss or the gradient norm
// becomes NaN or infinite, or a parameter or BatchNorm statistic does after a
// step; the run stops without touching the last (finite) checkpoint.
var ErrNonFinite = errors.New("non-finite loss")

// Options are the parts of a run that are not configuration.
type Options struct {
	// Resume continues from Out/checkpoint.safetensors. The checkpoint's
	// configuration is used, except MaxSteps, EvalEvery, Threads, Quiet and
	// Data.Workers, which come from the given configuration, and Epochs,
	// which comes from Options.Epochs when it is set (a different Epochs
	// rebuilds the schedule for the new length, so only an unchanged Epochs
	// resumes bit for bit).
	Resume bool
	// Overwrite lets a fresh run replace the checkpoint of an earlier run in
	// the same directory (otherwise an error, so a run is not lost by mistake).
	Overwrite bool
	// Log receives the progress bar and messages (os.Stderr when nil).
	Log io.Writer
	// Data, when set, replaces the data sets described by Config.Data.
	Data *Datasets
	// Graph, when set, is the model to train instead of the one Config.Model
	// describes (ignored when resuming).
	Graph *graph.Graph
	// Setup, when set, runs once on the model after it is built and before
	// a checkpoint's weights and gate values are restored, e.g. to enable
	// search gates; every gate of m.Gates is then trained as a scalar
	// parameter (and saved in checkpoints).
	Setup func(m *nn.Model) error
	// BeforeStep, when set, runs before each training step with the global
	// step number (e.g. to set the search's gate masks).
	BeforeStep func(m *nn.Model, step int)
	// AfterBackward, when set, runs after the backward pass of each step and
	// before the optimiser update (e.g. to add a latency term to the gates'
	// gradients).
	AfterBackward func(m *nn.Model, step int)
	// SaveExtra, when set, returns state of the caller (as JSON) that every
	// checkpoint stores, and LoadExtra receives it when a run resumes (nil
	// from a checkpoint without it), so that a caller with state of its own
	// (the search's tie-break statistics) resumes bit for bit too.
	SaveExtra func() ([]byte, error)
	// Epochs, when resuming, is the run's new number of epochs; 0 keeps the
	// checkpoint's (Config.Epochs is ignored on resume, so that a default
	// never silently turns a 3-epoch run into 30).
	Epochs    int
	LoadExtra func(extra []byte) error
	// AfterLoss, when set, may replace the loss of each step before it is
	// checked (a test hook for the non-finite check).
	AfterLoss func(step int, loss float64) float64
	// OnEpoch, when set, receives each epoch's metrics.
	OnEpoch func(EpochMetrics)
}

// Result is the outcome of Run.
type Result struct {
	// State is the final run state (epoch, step, history).
	State State
	// Graph is the trained model (parameters included; the moving average
	// of the weights when EMA is on).
	Graph *graph.Graph
	// Gates holds the final value of every scalar parameter (search gates).
	Gates map[string]float32
	// Final is the last held-out evaluation (zero when none ran).
	Final EvalResult
	// Interrupted is set when the context was cancelled: the checkpoint
	// holds the position reached and Run may be resumed.
	Interrupted bool
	// Checkpoint and Model are the paths written.
	Checkpoint, Model string
	// TrainImgPerSec is the training throughput over the steps of this call
	// (the first, warm-up, step excluded; time waiting for data included).
	TrainImgPerSec float64
	// PeakRSSMiB is the peak resident memory of the process (VmHWM).
	PeakRSSMiB float64
}

// stepSeed derives the dropout seed of a step from the run seed, so that a
// resumed run draws the same masks (splitmix64).
func stepSeed(seed uint64, step int) uint64 {
	z := seed + uint64(step+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// BuildModel returns the network described by c: a fresh MobileNetV2 for
// the data shape (c, h, w) and classes, initialised from seed, or the model
// file c.Init.
func BuildModel(c ModelConfig, ch, h, w, classes int, seed uint64) (*graph.Graph, error) {
	if c.Init != "" {
		g, err := graph.Load(c.Init)
		if err != nil {
			return nil, err
		}
		if s := g.Input.Shape; len(s) != 3 || s[0] != ch || s[1] != h || s[2] != w || g.Classes != classes {
			return nil, fmt.Errorf("model %s takes %v with %d classes, the data is [%d %d %d] with %d", c.Init, g.Input.Shape, g.Classes, ch, h, w, classes)
		}
		return g, nil
	}
	if h != w {
		return nil, fmt.Errorf("mobilenet_v2 needs square images, the data is %dx%d", h, w)
	}
	o := models.Options{Width: c.Width, InChannels: ch, Resolution: h, Classes: classes, StemStride: c.StemStride, Dropout: c.Dropout, Seed: seed}
	g, err := models.MobileNetV2(o)
	if err != nil {
		return nil, fmt.Errorf("build model: %w", err)
	}
	return g, nil
}

// mergeResumeConfig takes the run-shape fields of the new configuration into
// the checkpoint's.
func mergeResumeConfig(saved, now Config) Config {
	saved.Epochs = now.Epochs
	saved.MaxSteps = now.MaxSteps
	saved.EvalEvery = now.EvalEvery
	saved.Threads = now.Threads
	saved.Quiet = now.Quiet
	saved.Data.Workers = now.Data.Workers
	saved.Out = now.Out
	return saved
}

// configDiff names the top-level settings that differ between a and b.
func configDiff(a, b Config) []string {
	var d []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name := strings.Split(va.Type().Field(i).Tag.Get("yaml"), ",")[0]
			d = append(d, name)
		}
	}
	return d
}

// Run trains a model as cfg says, writing checkpoints, metrics and the final
// model into cfg.Out. Cancelling ctx (e.g. on SIGINT) finishes the current
// step, saves a checkpoint and returns with Result.Interrupted set. A
// non-finite loss returns an error wrapping ErrNonFinite and leaves the last
// checkpoint as it was.
func Run(ctx context.Context, cfg Config, opts Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	// One run at a time per directory: a second one fails at once.
	unlock, err := fsutil.LockDir(cfg.Out)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ckptPath := filepath.Join(cfg.Out, CheckpointFile)
	metricsPath := filepath.Join(cfg.Out, MetricsFile)
	modelPath := filepath.Join(cfg.Out, ModelFile)

	var ckpt *Checkpoint
	if !opts.Resume && !opts.Overwrite {
		if _, err := os.Stat(ckptPath); err == nil {
			return nil, fmt.Errorf("%s already holds a checkpoint: continue it with --resume, or start over with --overwrite or another --out", ckptPath)
		}
	}
	if opts.Resume {
		var err error
		ckpt, err = LoadCheckpoint(ckptPath)
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if opts.Epochs > 0 {
			cfg.Epochs = opts.Epochs
		} else {
			cfg.Epochs = ckpt.State.Config.Epochs
		}
		merged := mergeResumeConfig(ckpt.State.Config, cfg)
		if d := configDiff(merged, cfg); len(d) > 0 {
			fmt.Fprintf(logw, "resume: keeping the checkpoint's %s (changed values are ignored when resuming)\n", strings.Join(d, ", "))
		}
		cfg = merged
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	}
	// The thread count is set for every run (0: every core), not inherited
	// from whatever ran before in the process (a benchmark at 1 thread):
	// a resumed run in a new process then computes as the uninterrupted one.
	prevThreads := parallel.Threads()
	parallel.SetThreads(cfg.Threads)
	defer parallel.SetThreads(prevThreads)

	ds := opts.Data
	if ds == nil {
		var err error
		ds, err = LoadDatasets(cfg.Data, cfg.Seed)
		if err != nil {
			return nil, err
		}
	}
	ch, h, w := ds.Train.Shape()
	classes := ds.Train.NumClasses()

	// Model.
	var g *graph.Graph
	switch {
	case ckpt != nil:
		g = ckpt.Graph
	case opts.Graph != nil:
		g = opts.Graph
	default:
		var err error
		if g, err = BuildModel(cfg.Model, ch, h, w, classes, cfg.Seed); err != nil {
			return nil, err
		}
	}
	if s := g.Input.Shape; len(s) != 3 || s[0] != ch || s[1] != h || s[2] != w {
		return nil, fmt.Errorf("model %s takes input %v, the data is [%d %d %d]", g.Name, s, ch, h, w)
	}
	RecordData(g, cfg.Data, ds) // preprocessing and class names travel with the model
	if err := checkModelMemory(g, cfg.BatchSize, true, "training"); err != nil {
		return nil, err
	}
	m, err := nn.NewModel(nn.LogitsGraph(g), cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("plan model: %w", err)
	}
	if m.OutputSize() != classes {
		return nil, fmt.Errorf("model %s has %d outputs, the data has %d classes", g.Name, m.OutputSize(), classes)
	}
	if opts.Setup != nil {
		if err := opts.Setup(m); err != nil {
			return nil, fmt.Errorf("model setup: %w", err)
		}
	}
	units := make([]string, 0, len(m.Gates))
	for u := range m.Gates {
		units = append(units, u)
	}
	sort.Strings(units)
	scalars := make([]ScalarParam, len(units))
	for i, u := range units {
		gt := m.Gates[u]
		scalars[i] = ScalarParam{Name: u, Value: &gt.Value, Grad: &gt.Grad}
	}

	// Teacher.
	var teacher *nn.Model
	if cfg.Distill.Teacher != "" {
		tg, err := graph.Load(cfg.Distill.Teacher)
		if err != nil {
			return nil, fmt.Errorf("teacher: %w", err)
		}
		if err := checkModelMemory(tg, cfg.BatchSize, false, "the teacher"); err != nil {
			return nil, err
		}
		if teacher, err = nn.NewModel(nn.LogitsGraph(tg), cfg.BatchSize); err != nil {
			return nil, fmt.Errorf("teacher %s: %w", cfg.Distill.Teacher, err)
		}
		if teacher.InputSize() != m.InputSize() || teacher.OutputSize() != classes {
			return nil, fmt.Errorf("teacher %s: input %d / output %d values, the student has %d / %d", cfg.Distill.Teacher, teacher.InputSize(), teacher.OutputSize(), m.InputSize(), classes)
		}
	}

	// Optimiser.
	params, err := GraphParams(g, m.Grads, cfg.Optimizer.NoDecayBNBias)
	if err != nil {
		return nil, err
	}
	opt, err := NewOptimizer(cfg.Optimizer, params, scalars)
	if err != nil {
		return nil, err
	}

	// Data.
	dropLast := ds.Train.Len()%cfg.BatchSize == 1 // a batch of one breaks BatchNorm
	trainLoader, err := data.NewLoader(ds.Train, data.LoaderConfig{BatchSize: cfg.BatchSize, Shuffle: true, DropLast: dropLast,
		Seed: cfg.Seed, Transforms: cfg.Data.Transforms(ds.Norm, ch), Workers: cfg.Data.Workers})
	if err != nil {
		return nil, fmt.Errorf("training loader: %w", err)
	}
	trainSteps := trainLoader.StepsPerEpoch()
	if trainSteps == 0 {
		return nil, fmt.Errorf("training set of %d images gives no batch of %d", ds.Train.Len(), cfg.BatchSize)
	}
	evalBatch := cfg.EvalBatchSize
	if evalBatch == 0 {
		evalBatch = cfg.BatchSize
	}
	sched, err := cfg.Schedule.Build(cfg.LR, cfg.Epochs, trainSteps)
	if err != nil {
		return nil, err
	}

	// State.
	st := State{Seed: cfg.Seed, Config: cfg, History: []EpochMetrics{}}
	if ckpt != nil {
		if err := copyParams(g, ckpt.Graph); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		for _, sp := range scalars {
			v, ok := ckpt.Scalars[sp.Name]
			if !ok {
				return nil, fmt.Errorf("resume: checkpoint has no value for gate %q", sp.Name)
			}
			*sp.Value = v
		}
		if err := opt.SetState(ckpt.OptimState, ckpt.OptimMeta); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if opts.LoadExtra != nil {
			if err := opts.LoadExtra(ckpt.Extra); err != nil {
				return nil, fmt.Errorf("resume %s: %w", ckptPath, err)
			}
		}
		st = ckpt.State
		st.Config = cfg
		if int64(st.Step) != opt.Steps() {
			return nil, fmt.Errorf("resume: checkpoint at step %d but its optimiser made %d steps", st.Step, opt.Steps())
		}
		if st.Epoch >= cfg.Epochs {
			fmt.Fprintf(logw, "%s: the run already finished its %d epochs (step %d)\n", ckptPath, cfg.Epochs, st.Step)
		} else {
			fmt.Fprintf(logw, "resuming %s at epoch %d, step %d\n", ckptPath, st.Epoch+1, st.Step)
		}
	} else {
		// A fresh run starts a fresh metrics file.
		if err := os.Remove(metricsPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	if ckpt != nil {
		// The metrics file holds exactly the checkpoint's epochs: lines of an
		// epoch whose checkpoint was never saved are dropped.
		if err := writeMetrics(metricsPath, st.History); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}

	var ema *EMA
	if cfg.EMA.Decay > 0 {
		if ema, err = NewEMA(g, cfg.EMA.Decay); err != nil {
			return nil, err
		}
		if ckpt != nil {
			if err := ema.Load(ckpt.EMA); err != nil {
				return nil, fmt.Errorf("resume: %w", err)
			}
		}
	}
	evaluate := func() (EvalResult, error) {
		if ema != nil {
			ema.Swap()
			defer ema.Swap()
		}
		return Evaluate(m, ds.Eval, evalBatch)
	}

	save := func() error {
		ts, meta := opt.State()
		c := &Checkpoint{Graph: g, Scalars: map[string]float32{}, OptimState: ts, OptimMeta: meta, State: st}
		if ema != nil {
			c.EMA = ema.Tensors()
		}
		for _, sp := range scalars {
			c.Scalars[sp.Name] = *sp.Value
		}
		if opts.SaveExtra != nil {
			x, err := opts.SaveExtra()
			if err != nil {
				return fmt.Errorf("save checkpoint: %w", err)
			}
			c.Extra = x
		}
		if err := c.Save(ckptPath); err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		return nil
	}

	res := &Result{Checkpoint: ckptPath, Graph: g}
	// A resumed run reports the last evaluation it made, also when it has
	// nothing left to do (killed after its last checkpoint).
	for _, em := range st.History {
		if em.Test != nil {
			res.Final = *em.Test
		}
	}
	prog := newProgress(logw, cfg.Quiet)
	labels32 := make([]int32, cfg.BatchSize)
	dlogits := make([]float32, cfg.BatchSize*classes)
	var tlogits []float32
	if teacher != nil {
		tlogits = make([]float32, cfg.BatchSize*classes)
	}
	dopt := nn.DistillOptions{Weight: float32(cfg.Distill.Weight), Temperature: float32(cfg.Distill.Temperature), Smoothing: float32(cfg.LabelSmoothing)}
	// Throughput over this call's steps, the first (warm-up) step excluded.
	runImgs, runSec, runSteps := 0, 0.0, 0
	lastGood := "none yet"
	finite := newFiniteChecker(g.Params, scalars)
	if ckpt != nil {
		lastGood = fmt.Sprintf("%s (epoch %d, step %d)", ckptPath, st.Epoch+1, st.Step)
	}
	maxStepsHit := func() bool { return cfg.MaxSteps > 0 && st.Step >= cfg.MaxSteps }

	for st.Epoch < cfg.Epochs && !maxStepsHit() {
		it, err := trainLoader.Epoch(st.Epoch, st.EpochStep)
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", st.Epoch+1, err)
		}
		prog.start(st.Epoch+1, cfg.Epochs, trainSteps, st.EpochStep)
		interrupted := false
		for {
			if ctx.Err() != nil {
				interrupted = true
				break
			}
			if maxStepsHit() {
				break
			}
			t0 := time.Now()
			b, ok := it.Next()
			if !ok {
				break
			}
			n := b.Len()
			for i, l := range b.Labels {
				labels32[i] = int32(l)
			}
			if opts.BeforeStep != nil {
				opts.BeforeStep(m, st.Step)
			}
			m.SetSeed(stepSeed(cfg.Seed, st.Step))
			logits := m.Forward(b.X.Data, n, true)
			var loss float64
			var c1 int
			if teacher != nil {
				copy(tlogits, teacher.Forward(b.X.Data, n, false))
				loss, c1, err = nn.Distill(logits, tlogits, labels32, n, classes, dopt, dlogits)
			} else {
				loss, c1, err = nn.CrossEntropy(logits, labels32, n, classes, float32(cfg.LabelSmoothing), dlogits)
			}
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("epoch %d step %d: loss: %w", st.Epoch+1, st.EpochStep+1, err)
			}
			if opts.AfterLoss != nil {
				loss = opts.AfterLoss(st.Step, loss)
			}
			lr := sched.LR(st.Step)
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				it.Close()
				prog.abort()
				return nil, fmt.Errorf("%w: training diverged at epoch %d, step %d: the loss is %v (global step %d, lr %g); stopping. "+
					"Lower the learning rate or enable gradient clipping. Last finite checkpoint: %s, left intact",
					ErrNonFinite, st.Epoch+1, st.EpochStep+1, loss, st.Step+1, lr, lastGood)
			}
			c5 := TopK(logits, b.Labels, classes, min(5, classes))
			m.Backward(dlogits[:n*classes])
			if opts.AfterBackward != nil {
				opts.AfterBackward(m, st.Step)
			}
			if gn := opt.GradNorm(); math.IsNaN(gn) || math.IsInf(gn, 0) {
				it.Close()
				prog.abort()
				return nil, fmt.Errorf("%w: training diverged at epoch %d, step %d: the gradient norm is %v (global step %d, lr %g); stopping. "+
					"Last finite checkpoint: %s, left intact", ErrNonFinite, st.Epoch+1, st.EpochStep+1, gn, st.Step+1, lr, lastGood)
			}
			opt.Step(lr)
			if ema != nil {
				ema.Update()
			}
			// The parameters and BatchNorm running statistics after the step:
			// a state that is not finite is never saved.
			if bad := finite.check(); bad != "" {
				it.Close()
				prog.abort()
				return nil, fmt.Errorf("%w: training diverged at epoch %d, step %d (global step %d, lr %g): %s; stopping. "+
					"Lower the learning rate or enable gradient clipping. Last finite checkpoint: %s, left intact",
					ErrNonFinite, st.Epoch+1, st.EpochStep+1, st.Step+1, lr, bad, lastGood)
			}
			st.Step++
			st.EpochStep++
			st.LR = lr
			st.Partial.Add(loss, c1, c5, n)
			st.Partial.Seconds += time.Since(t0).Seconds()
			if runSteps++; runSteps > 1 {
				runImgs += n
				runSec += time.Since(t0).Seconds()
			}
			prog.update(st.EpochStep, st.Partial)
		}
		it.Close()
		if interrupted {
			prog.abort()
			if err := save(); err != nil {
				return nil, err
			}
			res.State, res.Interrupted = st, true
			res.Gates = gateValues(scalars)
			fmt.Fprintf(logw, "interrupted: checkpoint saved to %s at epoch %d, step %d; continue with --resume\n", ckptPath, st.Epoch+1, st.Step)
			return res, nil
		}
		if st.EpochStep < trainSteps {
			// Stopped by MaxSteps within the epoch.
			prog.finish()
			break
		}
		prog.finish()
		em := EpochMetrics{Epoch: st.Epoch + 1, Step: st.Step, LR: st.LR, TrainLoss: st.Partial.Loss(), TrainTop1: st.Partial.Top1(),
			TrainTop5: st.Partial.Top5(), EpochSeconds: st.Partial.Seconds}
		if st.Partial.Seconds > 0 {
			em.TrainImgPerSec = float64(st.Partial.Count) / st.Partial.Seconds
		}
		last := st.Epoch+1 == cfg.Epochs
		if cfg.EvalEvery >= 0 && (last || (st.Epoch+1)%max(cfg.EvalEvery, 1) == 0) {
			er, err := evaluate()
			if err != nil {
				return nil, fmt.Errorf("epoch %d: evaluate: %w", st.Epoch+1, err)
			}
			em.Test = &er
			res.Final = er
		}
		em.PeakRSSMiB = PeakRSSMiB()
		em = finiteMetrics(em)
		st.History = append(st.History, em)
		st.Epoch++
		st.EpochStep = 0
		st.Partial = Accum{}
		if err := writeMetrics(metricsPath, st.History); err != nil {
			return nil, err
		}
		if err := save(); err != nil {
			return nil, err
		}
		lastGood = fmt.Sprintf("%s (epoch %d, step %d)", ckptPath, st.Epoch, st.Step)
		if opts.OnEpoch != nil {
			opts.OnEpoch(em)
		}
		prog.epochLine(em, ds.EvalName)
	}

	// The final checkpoint (also the exact position when MaxSteps stopped
	// the run within an epoch), then the model: the averaged weights when
	// EMA is on, which Result.Graph then holds too.
	st.Finished = st.Epoch >= cfg.Epochs
	if err := save(); err != nil {
		return nil, err
	}
	if ema != nil {
		ema.Swap()
	}
	if err := g.Save(modelPath); err != nil {
		return nil, fmt.Errorf("save model: %w", err)
	}
	res.State = st
	res.Model = modelPath
	res.Gates = gateValues(scalars)
	if runSec > 0 {
		res.TrainImgPerSec = float64(runImgs) / runSec
	}
	res.PeakRSSMiB = PeakRSSMiB()
	return res, nil
}

func gateValues(s []ScalarParam) map[string]float32 {
	out := make(map[string]float32, len(s))
	for _, sp := range s {
		out[sp.Name] = *sp.Value
	}
	return out
}

// Evaluate runs m in eval mode over ds in batches of up to batch images (no
// larger than m.MaxBatch()) and returns the mean cross-entropy and the top-1
// and top-5 accuracy.
func Evaluate(m *nn.Model, ds data.Dataset, batch int) (EvalResult, error) {
	return EvaluateEach(m, ds, batch, nil)
}

// EvaluateEach is Evaluate that also hands every batch's logits ([n, classes],
// valid only during the call) to each, when each is not nil, in data set order.
func EvaluateEach(m *nn.Model, ds data.Dataset, batch int, each func(logits []float32, n int)) (EvalResult, error) {
	if batch <= 0 || batch > m.MaxBatch() {
		batch = m.MaxBatch()
	}
	l, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: batch})
	if err != nil {
		return EvalResult{}, err
	}
	classes := ds.NumClasses()
	if m.OutputSize() != classes {
		return EvalResult{}, fmt.Errorf("model has %d outputs, the data has %d classes", m.OutputSize(), classes)
	}
	it, err := l.Epoch(0, 0)
	if err != nil {
		return EvalResult{}, err
	}
	defer it.Close()
	labels := make([]int32, batch)
	var acc Accum
	t0 := time.Now()
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		n := b.Len()
		for i, y := range b.Labels {
			labels[i] = int32(y)
		}
		logits := m.Forward(b.X.Data, n, false)
		loss, _, err := nn.CrossEntropy(logits, labels, n, classes, 0, nil)
		if err != nil {
			return EvalResult{}, err
		}
		// Top-1 and top-5 by the same rule, under which NaN scores never count as correct.
		acc.Add(loss, TopK(logits, b.Labels, classes, 1), TopK(logits, b.Labels, classes, min(5, classes)), n)
		if each != nil {
			each(logits, n)
		}
	}
	sec := time.Since(t0).Seconds()
	r := EvalResult{Loss: acc.Loss(), Top1: acc.Top1(), Top5: acc.Top5(), Count: acc.Count, Seconds: sec}
	if sec > 0 {
		r.ImgPerSec = float64(acc.Count) / sec
	}
	return r, nil
}

// EvaluateGraph plans g for batches of batch images and evaluates it on ds.
func EvaluateGraph(g *graph.Graph, ds data.Dataset, batch int) (EvalResult, error) {
	return EvaluateGraphEach(g, ds, batch, nil)
}

// EvaluateGraphEach is EvaluateGraph with EvaluateEach's per-batch callback.
func EvaluateGraphEach(g *graph.Graph, ds data.Dataset, batch int, each func(logits []float32, n int)) (EvalResult, error) {
	if batch < 1 {
		return EvalResult{}, fmt.Errorf("eval batch %d, want at least 1", batch)
	}
	c, h, w := ds.Shape()
	if s := g.Input.Shape; len(s) != 3 || s[0] != c || s[1] != h || s[2] != w {
		return EvalResult{}, fmt.Errorf("model %s takes input %v, the data is [%d %d %d]", g.Name, s, c, h, w)
	}
	// A model that records its classes is scored only on data with the same
	// classes in the same order (image-folder labels are class indices).
	if dn, ok := ds.(interface{ ClassNames() []string }); ok {
		if have, want := dn.ClassNames(), modelClasses(g); have != nil && want != nil && !slices.Equal(have, want) {
			return EvalResult{}, fmt.Errorf("model %s was trained on the classes %v, the data has %v: the labels would not match", g.Name, want, have)
		}
	}
	if err := checkModelMemory(g, min(batch, ds.Len()), false, "evaluating"); err != nil {
		return EvalResult{}, err
	}
	m, err := nn.NewModel(nn.LogitsGraph(g), min(batch, ds.Len()))
	if err != nil {
		return EvalResult{}, fmt.Errorf("plan model: %w", err)
	}
	return EvaluateEach(m, ds, batch, each)
}

// checkModelMemory refuses, before anything is allocated, a model and batch
// size whose buffers would not fit in memory.
func checkModelMemory(g *graph.Graph, batch int, training bool, what string) error {
	need, err := g.MemoryEstimate(batch, training)
	if err != nil {
		return fmt.Errorf("%s %s with batch size %d: %w", what, g.Name, batch, err)
	}
	return memlimit.Check(fmt.Sprintf("%s %s with batch size %d", what, g.Name, batch), need)
}

// modelClasses returns the class names g records, or nil (none, or unreadable).
func modelClasses(g *graph.Graph) []string {
	names, err := g.ClassNames()
	if err != nil {
		return nil
	}
	return names
}
