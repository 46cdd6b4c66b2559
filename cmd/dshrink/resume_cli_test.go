//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/internal/testref"
	"github.com/dshrink/dshrink/plan"
)

// needFashionMNIST skips (or fails, when references are required) a test
// that trains on Fashion-MNIST when the data set is not installed.
func needFashionMNIST(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(data.DefaultFashionMNISTDir, "train-images-idx3-ubyte.gz")); err != nil {
		testref.Missing(t, "Fashion-MNIST in "+data.DefaultFashionMNISTDir, "apt-get install dataset-fashion-mnist: "+err.Error())
	}
}

// tinyStage are the flags of a search or fine-tune that runs in a second:
// 100 images, batches of 50 (2 steps an epoch), one thread.
var tinyStage = []string{"--train-subset", "100", "--test-subset", "50", "--batch", "50", "--threads", "1", "-q"}

// TestResumeEpochsCLI: `search --resume` and `finetune --resume` keep the
// checkpoint's number of epochs unless --epochs is given, as train does;
// with --epochs the finished run continues to the new length.
func TestResumeEpochsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	needFashionMNIST(t)
	bin := buildCLI(t)
	dir := t.TempDir()
	run(t, bin, dir, "new", "mobilenet_v2", "--width", "0.1", "--classes", "10", "--in-channels", "1", "--resolution", "28", "-o", "m.dsk")

	t.Run("search", func(t *testing.T) {
		search := func(extra ...string) map[string]string {
			t.Helper()
			args := append([]string{"search", "--model", "m.dsk", "--keep", "2", "-o", "plan.json"}, tinyStage...)
			run(t, bin, dir, append(args, extra...)...)
			p, err := plan.Load(filepath.Join(dir, "plan.json"))
			if err != nil {
				t.Fatal(err)
			}
			return p.Meta
		}
		if m := search("--epochs", "1"); m["epochs"] != "1" || m["steps"] != "2" {
			t.Fatalf("first search: epochs %s, steps %s; want 1 and 2", m["epochs"], m["steps"])
		}
		// Without --epochs the checkpoint's single epoch is kept (not the
		// configuration's default of 5).
		if m := search("--resume"); m["epochs"] != "1" || m["steps"] != "2" {
			t.Errorf("search --resume: epochs %s, steps %s; want the checkpoint's 1 and 2", m["epochs"], m["steps"])
		}
		if m := search("--resume", "--epochs", "2"); m["epochs"] != "2" || m["steps"] != "4" {
			t.Errorf("search --resume --epochs 2: epochs %s, steps %s; want 2 and 4", m["epochs"], m["steps"])
		}
	})

	t.Run("finetune", func(t *testing.T) {
		finetune := func(extra ...string) (epochs, steps int) {
			t.Helper()
			args := append([]string{"finetune", "--model", "m.dsk", "--plan", "ds-d", "-o", "ft", "--json"}, tinyStage...)
			out := run(t, bin, dir, append(args, extra...)...)
			var rep struct {
				Epochs, Steps int
				Outputs       map[string]string `json:"outputs"`
			}
			if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &rep); err != nil {
				t.Fatalf("finetune --json: %v\n%s", err, out)
			}
			for _, k := range []string{"finetuned", "merged", "report", "plan"} {
				if _, err := os.Stat(filepath.Join(dir, rep.Outputs[k])); rep.Outputs[k] == "" || err != nil {
					t.Errorf("finetune --json: outputs[%q] = %q does not name a written file (%v)", k, rep.Outputs[k], err)
				}
			}
			return rep.Epochs, rep.Steps
		}
		if e, s := finetune("--epochs", "1"); e != 1 || s != 2 {
			t.Fatalf("first fine-tune: %d epochs, %d steps; want 1 and 2", e, s)
		}
		if e, s := finetune("--resume"); e != 1 || s != 2 {
			t.Errorf("finetune --resume: %d epochs, %d steps; want the checkpoint's 1 and 2", e, s)
		}
		if e, s := finetune("--resume", "--epochs", "2"); e != 2 || s != 4 {
			t.Errorf("finetune --resume --epochs 2: %d epochs, %d steps; want 2 and 4", e, s)
		}
	})
}

// tinyShrinkConfig is a whole `shrink` run of a few seconds: a 0.1-wide
// MobileNetV2 trained, searched and fine-tuned for 3 epochs of 6 steps each
// on 300 images, one thread (bit-identical results need a fixed thread count).
const tinyShrinkConfig = `out: run
threads: 1
quiet: true
method: search          # the gate search at its keep ratio (no target): resumed in every stage
target: {speedup: 0}
data:
  train_subset: 300
  test_subset: 100
  random_crop_pad: 0
  hflip: false
base:
  arch: {arch: mobilenet_v2, width: 0.1, stem_stride: 2}
  train: {epochs: 3, batch_size: 50, eval_batch_size: 100}
search:
  train: {epochs: 3, batch_size: 50, eval_batch_size: 100}
finetune:
  train: {epochs: 3, batch_size: 50, eval_batch_size: 100}
verify:
  real_images: 4
bench:
  iters: 3
`

// shrinkResults are the outputs of `shrink` that must not depend on
// interruptions (the timings in bench.json and summary.json do).
var shrinkResults = []string{"base/model.dsk", "search/plan.json", "finetune/finetuned.dsk", "finetune/merged.dsk", "finetune/plan.json"}

// killPoint is a moment to stop a `shrink` process: delay after a new
// checkpoint of the stage appears (each epoch writes one), with SIGKILL or,
// when interrupt is set, SIGINT (Ctrl-C).
type killPoint struct {
	stage     string
	delay     time.Duration
	interrupt bool
}

// TestShrinkKill9 runs the real `dshrink shrink` process and kills it with
// SIGKILL (and once with SIGINT) at seeded moments in every stage, then
// reruns the same command each time: the base model, plan, fine-tuned and
// merged models are byte-identical to those of an uninterrupted run.
func TestShrinkKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI, several times")
	}
	needFashionMNIST(t)
	bin := buildCLI(t)
	ref := t.TempDir()
	if err := os.WriteFile(filepath.Join(ref, "tiny.yaml"), []byte(tinyShrinkConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	run(t, bin, ref, "shrink", "--config", "tiny.yaml")
	t.Logf("uninterrupted run: %.1fs", time.Since(t0).Seconds())

	const seed = 17
	rng := rand.New(rand.NewPCG(seed, 0))
	delay := func() time.Duration { return time.Duration(rng.IntN(150)) * time.Millisecond }
	points := []killPoint{
		{stage: "base", delay: delay()},
		{stage: "base", delay: delay()},
		{stage: "search", delay: delay()},
		{stage: "search", delay: delay(), interrupt: true},
		{stage: "finetune", delay: delay()},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tiny.yaml"), []byte(tinyShrinkConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	killed := 0
	for i, p := range points {
		stopped := stopShrink(t, bin, dir, p)
		if stopped {
			killed++
		}
		t.Logf("cut %d (seed %d): %s checkpoint + %v, SIGINT %v: stopped %v", i+1, seed, p.stage, p.delay, p.interrupt, stopped)
	}
	if killed == 0 {
		t.Fatal("every run finished before it could be killed: the test interrupted nothing")
	}
	run(t, bin, dir, "shrink", "--config", "tiny.yaml")
	for _, f := range shrinkResults {
		want, err := os.ReadFile(filepath.Join(ref, "run", f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "run", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("after %d kills and reruns, %s differs from the uninterrupted run's", killed, f)
		}
	}
}

// stopShrink starts `shrink` in dir (a rerun resumes), waits until the
// stage's checkpoint file is replaced by a new one, waits p.delay and sends
// the signal. It reports whether the process was stopped by it (false when
// the run ended first).
func stopShrink(t *testing.T, bin, dir string, p killPoint) bool {
	t.Helper()
	ckpt := filepath.Join(dir, "run", p.stage, "checkpoint.safetensors")
	before, _ := os.Stat(ckpt)
	cmd := exec.Command(bin, "shrink", "--config", "tiny.yaml")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
wait:
	for {
		select {
		case err := <-done:
			t.Logf("the run ended before the %s checkpoint (%v)", p.stage, err)
			if err != nil {
				t.Fatalf("shrink: %v\n%s", err, out.String())
			}
			return false
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no new %s checkpoint after 2 minutes\n%s", p.stage, out.String())
		case <-time.After(2 * time.Millisecond):
			if st, err := os.Stat(ckpt); err == nil && (before == nil || !os.SameFile(st, before)) {
				break wait
			}
		}
	}
	time.Sleep(p.delay)
	sig := syscall.SIGKILL
	if p.interrupt {
		sig = syscall.SIGINT
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	err := <-done
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false // it finished in the meantime
	case !errors.As(err, &ee):
		t.Fatalf("shrink: %v", err)
	case p.interrupt && ee.ExitCode() != 130:
		t.Fatalf("shrink after SIGINT: %v, want exit status 130\n%s", err, out.String())
	case !p.interrupt && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL:
		t.Fatalf("shrink: %v, want killed by SIGKILL\n%s", err, out.String())
	}
	return true
}
