package shrink

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/dshrink/dshrink/merge"
	"github.com/dshrink/dshrink/nn"
)

// TestGumbelScoresRankLikeNoise checks the official sampled ranking
// (softmax((log_softmax(s) + G) / T)) against its closed form: the order of
// s + G, whatever the temperature, with the scores a probability vector.
func TestGumbelScoresRankLikeNoise(t *testing.T) {
	s := []float64{0, -0.3, 0.2, 0.05, 0.9, -1.2, 0.4, 0.4}
	for _, temp := range []float64{3, 1, 0.2} {
		for seed := uint64(1); seed <= 20; seed++ {
			y := gumbelScores(s, temp, rand.New(rand.NewPCG(seed, 9)))
			// The same noise, drawn again.
			rng := rand.New(rand.NewPCG(seed, 9))
			z := make([]float64, len(s))
			for i, v := range s {
				u := rng.Float64()
				z[i] = v - math.Log(-math.Log(u+1e-20)+1e-20)
			}
			var sum float64
			for _, v := range y {
				if !(v >= 0) {
					t.Fatalf("score %v is not a probability", v)
				}
				sum += v
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Fatalf("scores sum to %v, want 1", sum)
			}
			order := func(v []float64) []int {
				idx := make([]int, len(v))
				for i := range idx {
					idx[i] = i
				}
				sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
				return idx
			}
			oy, oz := order(y), order(z)
			for i := range oy {
				if oy[i] != oz[i] {
					t.Fatalf("T=%g seed %d: ranking %v, want the order of s+G %v", temp, seed, oy, oz)
				}
			}
		}
	}
	g := GumbelOptions{}
	if got := g.temp(2); math.Abs(got-3*0.95*0.95) > 1e-12 {
		t.Errorf("default temperature at epoch 2 = %v, want 3*0.95^2", got)
	}
}

// TestSearchGumbelSamples checks that the sampled ranking changes the masks
// from step to step while the gates are still equal, and only for the
// configured epochs.
func TestSearchGumbelSamples(t *testing.T) {
	ds := fmnist(t, 200, 100)
	g := tinyMBV2(t)
	tc := quickTrain(t.TempDir(), 2, 0.05)
	tc.Optimizer.ScalarLRScale = 0 // 1: gates move, but slowly
	masks := map[int]string{}
	_, err := Search(context.Background(), g, SearchOptions{KeepRatio: 0.4, Keep: -1, Train: tc, Data: ds, Log: io.Discard,
		Gumbel: GumbelOptions{Epochs: 1},
		OnStep: func(step int, gates map[string]*nn.Gate) {
			us := make([]string, 0, len(gates))
			for u := range gates {
				us = append(us, u)
			}
			sort.Strings(us)
			b := make([]byte, len(us))
			for i, u := range us {
				b[i] = '0' + byte(gates[u].Mask)
			}
			masks[step] = string(b)
		}})
	if err != nil {
		t.Fatal(err)
	}
	// 200 images, batch 50: 4 steps per epoch; epoch 0 sampled.
	distinct := map[string]bool{}
	for s := 0; s < 4; s++ {
		distinct[masks[s]] = true
	}
	if len(distinct) < 2 {
		t.Errorf("sampled epoch: the same mask at every step (%v)", masks)
	}
}

// TestSearchLatencyTerm checks the official latency term's direction: with
// a positive weight the gates of the units whose removal saves most are
// pushed down (their activation is kept, as the official code writes it), a
// negative weight pushes them up (removed).
func TestSearchLatencyTerm(t *testing.T) {
	ds := fmnist(t, 200, 100)
	g := tinyMBV2(t)
	cands, _, err := SearchCandidates(g, false, false, merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	big := map[string]float64{}
	for _, u := range cands[len(cands)-3:] {
		big[u] = 1000 // a saving that dominates the loss gradient
	}
	for _, c := range []struct {
		w        float64
		wantKeep bool
	}{{1, true}, {-1, false}} {
		tc := quickTrain(t.TempDir(), 1, 0.05)
		res, err := Search(context.Background(), g, SearchOptions{Keep: 5, Train: tc, Data: ds, Log: io.Discard,
			LatencyWeight: c.w, LatencySaving: big})
		if err != nil {
			t.Fatal(err)
		}
		for u := range big {
			if res.Plan.Keep(u) != c.wantKeep {
				t.Errorf("w=%g: unit %s keep %v (raw gate %v), want %v", c.w, u, res.Plan.Keep(u), res.Raw[u], c.wantKeep)
			}
			if (res.Raw[u] < 0) != c.wantKeep || (res.Raw[u] > 1) == c.wantKeep {
				t.Errorf("w=%g: unit %s raw gate %v: the latency term should push it out of [0, 1] on the %v side", c.w, u, res.Raw[u], c.wantKeep)
			}
		}
	}
}
