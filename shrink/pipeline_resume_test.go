package shrink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/safetensors"
	"github.com/dshrink/dshrink/train"
)

// pollCtx is a context that reports cancellation from its limit-th Err
// call on: the pipeline's stages poll Err between steps and stages, so a
// limit interrupts a run at one exact point, as Ctrl-C at that moment does.
// onPoll, when set, sees every poll (e.g. to copy the run directory: the
// files as a kill -9 at that moment would leave them).
type pollCtx struct {
	context.Context
	polls  *int
	limit  int
	onPoll func(n int)
}

func (c pollCtx) Err() error {
	*c.polls++
	if c.onPoll != nil {
		c.onPoll(*c.polls)
	}
	if c.limit > 0 && *c.polls >= c.limit {
		return context.Canceled
	}
	return nil
}

func tinyPipeline(out string) Config {
	cfg := DefaultConfig()
	cfg.Method, cfg.Target = MethodSearch, Target{} // the search path, resumed everywhere
	cfg.Out = out
	cfg.Quiet = true
	cfg.Data.RandomCropPad, cfg.Data.HFlip = 0, false
	cfg.Base.Arch = train.ModelConfig{Arch: "mobilenet_v2", Width: 0.1, StemStride: 2}
	for _, st := range []*StageTrain{&cfg.Base.Train, &cfg.Search.Train, &cfg.Finetune.Train} {
		st.Epochs, st.BatchSize, st.EvalBatchSize = 2, 50, 100
	}
	cfg.Bench.Iters = 3
	cfg.Verify.RealImages = 4
	cfg.Compare = CompareConfig{Baselines: []string{"random"}, Seeds: 1}
	return cfg
}

// pipelineFiles are the results that must not depend on interruptions.
var pipelineFiles = []string{"base/model.dsk", "search/plan.json", "finetune/model.dsk", "finetune/merged.dsk"}

func readPipelineFiles(t *testing.T, out string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, f := range pipelineFiles {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		m[f] = b
	}
	return m
}

// TestPipelineResumeEverywhere interrupts `shrink` (Ctrl-C) at points in
// every stage and resumes each time, and restarts it from copies of its
// directory taken in every stage (kill -9): the base model, the plan, the
// fine-tuned model and the merged model are the same bytes as an
// uninterrupted run's.
func TestPipelineResumeEverywhere(t *testing.T) {
	ds := fmnist(t, 200, 100)
	ref := t.TempDir()
	polls := 0
	if _, err := RunPipeline(pollCtx{Context: context.Background(), polls: &polls}, tinyPipeline(ref), PipelineOptions{Data: ds, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	want := readPipelineFiles(t, ref)
	total := polls
	t.Logf("an uninterrupted run polls the context %d times", total)

	// Ctrl-C: five interruptions spread over the run, each resumed.
	out := t.TempDir()
	runs := 0
	for _, frac := range []int{5, 25, 45, 65, 85} {
		n := 0
		_, err := RunPipeline(pollCtx{Context: context.Background(), polls: &n, limit: max(1, total*frac/100/2)}, tinyPipeline(out), PipelineOptions{Data: ds, Log: io.Discard})
		if err != nil && !errors.Is(err, ErrInterrupted) {
			t.Fatalf("cut at %d%%: %v", frac, err)
		}
		runs++
	}
	n := 0
	if _, err := RunPipeline(pollCtx{Context: context.Background(), polls: &n}, tinyPipeline(out), PipelineOptions{Data: ds, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for f, b := range readPipelineFiles(t, out) {
		if !bytes.Equal(b, want[f]) {
			t.Errorf("Ctrl-C and resume (%d runs): %s differs from the uninterrupted run's: %s", runs, f, whatDiffers(b, want[f]))
		}
	}

	// kill -9: the directory as it was at points in every stage.
	src := t.TempDir()
	cuts := map[int]string{}
	for _, frac := range []int{10, 30, 50, 70, 90} {
		cuts[max(1, total*frac/100)] = filepath.Join(t.TempDir(), "snap")
	}
	n = 0
	onPoll := func(k int) {
		if dst, ok := cuts[k]; ok {
			if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := RunPipeline(pollCtx{Context: context.Background(), polls: &n, onPoll: onPoll}, tinyPipeline(src), PipelineOptions{Data: ds, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for k, dst := range cuts {
		n := 0
		if _, err := RunPipeline(pollCtx{Context: context.Background(), polls: &n}, tinyPipeline(dst), PipelineOptions{Data: ds, Log: io.Discard}); err != nil {
			t.Fatalf("restart from the copy at poll %d: %v", k, err)
		}
		for f, b := range readPipelineFiles(t, dst) {
			if !bytes.Equal(b, want[f]) {
				t.Errorf("kill -9 at poll %d of %d and restart: %s differs from the uninterrupted run's: %s", k, total, f, whatDiffers(b, want[f]))
			}
		}
	}
}

// whatDiffers names the metadata keys and tensors that differ between two
// safetensors files (or the first differing line of two text files).
func whatDiffers(a, b []byte) string {
	fa, ea := safetensors.Decode(a)
	fb, eb := safetensors.Decode(b)
	if ea != nil || eb != nil {
		la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
		for i := range min(len(la), len(lb)) {
			if !bytes.Equal(la[i], lb[i]) {
				return fmt.Sprintf("line %d: %q vs %q", i+1, la[i], lb[i])
			}
		}
		return "lengths differ"
	}
	var d []string
	for k, v := range fa.Metadata {
		if fb.Metadata[k] != v {
			d = append(d, "metadata "+k)
		}
	}
	for k, v := range fa.Tensors {
		w, ok := fb.Tensors[k]
		if !ok || len(w.Data) != len(v.Data) {
			d = append(d, "tensor "+k+" (shape)")
			continue
		}
		for i := range v.Data {
			if math.Float32bits(v.Data[i]) != math.Float32bits(w.Data[i]) {
				d = append(d, "tensor "+k)
				break
			}
		}
	}
	sort.Strings(d)
	if len(d) > 4 {
		d = append(d[:4], fmt.Sprintf("and %d more", len(d)-4))
	}
	return strings.Join(d, ", ")
}
