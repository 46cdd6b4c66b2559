package main

import (
	"testing"
	"time"
)

// TestBenchSize checks how bench sizes its rounds and runs to the budget.
func TestBenchSize(t *testing.T) {
	o := benchOpts{rounds: 10, iters: 5, budget: 40 * time.Second}
	for _, c := range []struct {
		perRun        time.Duration
		combos        int
		rounds, iters int
		why           string
	}{
		{time.Millisecond, 4, 10, 5, "fits: rounds x iters as given"},
		{500 * time.Millisecond, 1, 10, 5, "exactly fits (80 runs allowed)"},
		{2 * time.Second, 1, 10, 2, "20 runs: fewer runs per round"},
		{5 * time.Second, 1, 8, 1, "8 runs: one per round"},
		{time.Minute, 4, 3, 1, "too slow: the floor of 3 runs"},
	} {
		r, i := o.size(c.perRun, c.combos)
		if r != c.rounds || i != c.iters {
			t.Errorf("%s: perRun %v, %d combos: %d x %d, want %d x %d", c.why, c.perRun, c.combos, r, i, c.rounds, c.iters)
		}
	}
	exact := benchOpts{rounds: 7, iters: 3}
	if r, i := exact.size(time.Hour, 1); r != 7 || i != 3 {
		t.Errorf("no budget: %d x %d, want 7 x 3", r, i)
	}
}
