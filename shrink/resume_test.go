package shrink

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/train"
)

// sameParams fails unless a and b hold bit-identical parameters.
func sameParams(t *testing.T, what string, a, b *graph.Graph) {
	t.Helper()
	if len(a.Params) != len(b.Params) {
		t.Fatalf("%s: %d vs %d parameters", what, len(a.Params), len(b.Params))
	}
	names := make([]string, 0, len(a.Params))
	for n := range a.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		x, y := a.Params[n].Data, b.Params[n].Data
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s: parameter %s[%d] = %v, uninterrupted %v", what, n, i, y[i], x[i])
			}
		}
	}
}

func planBytes(t *testing.T, r *SearchResult) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.Plan.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSearchResumeBitIdentical interrupts a search at several points (Ctrl-C
// in the middle of an epoch, at an epoch boundary, and a kill -9 simulated by
// going back to the files of an earlier checkpoint while the run went on)
// and checks that the resumed search ends with the same gates, plan and
// weights, bit for bit, as the uninterrupted one.
func TestSearchResumeBitIdentical(t *testing.T) {
	ds := fmnist(t, 200, 100)
	opts := func(out string) SearchOptions {
		tc := quickTrain(out, 3, 0.05)
		tc.Optimizer.ScalarLRScale = 10
		return SearchOptions{KeepRatio: 0.4, Keep: -1, Train: tc, Data: ds, Log: io.Discard}
	}
	full, err := Search(context.Background(), tinyMBV2(t), opts(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	want := planBytes(t, full)

	// Ctrl-C at steps 2 and 6 (mid-epoch: 4 steps an epoch) and at the end
	// of epoch 2, each followed by --resume.
	dir := t.TempDir()
	legs := 0
	for _, stopAt := range []int{2, 6, 8} {
		ctx, cancel := context.WithCancel(context.Background())
		o := opts(dir)
		o.Resume = legs > 0
		o.OnStep = func(step int, _ map[string]*nn.Gate) {
			if step == stopAt {
				cancel()
			}
		}
		r, err := Search(ctx, tinyMBV2(t), o)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !r.Interrupted {
			t.Fatalf("leg %d: not interrupted at step %d", legs, stopAt)
		}
		legs++
	}
	o := opts(dir)
	o.Resume = true
	r, err := Search(context.Background(), tinyMBV2(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := planBytes(t, r); !bytes.Equal(got, want) {
		t.Fatalf("plan after Ctrl-C and --resume:\n%s\nuninterrupted:\n%s", got, want)
	}
	sameParams(t, "Ctrl-C", full.Graph, r.Graph)

	// kill -9 during epoch 3: the files as they were at the end of epoch 2.
	dir = t.TempDir()
	snap := t.TempDir()
	o = opts(dir)
	o.OnStep = func(step int, _ map[string]*nn.Gate) {
		if step == 9 { // epoch 3 under way: the epoch-2 checkpoint is the last one
			if err := os.CopyFS(snap, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := Search(context.Background(), tinyMBV2(t), o); err != nil {
		t.Fatal(err)
	}
	o = opts(snap)
	o.Resume = true
	r, err = Search(context.Background(), tinyMBV2(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := planBytes(t, r); !bytes.Equal(got, want) {
		t.Fatalf("plan after kill -9 and --resume:\n%s\nuninterrupted:\n%s", got, want)
	}
	sameParams(t, "kill -9", full.Graph, r.Graph)
	if _, err := os.Stat(filepath.Join(snap, train.CheckpointFile)); err != nil {
		t.Fatal(err)
	}
}
