package latency

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteRun returns the fastest cover of [i, j) by merge segments, by
// enumerating every composition of the run.
func bruteRun(p *Problem, i, j int) float64 {
	if i == j {
		return 0
	}
	n := j - i
	best := math.Inf(1)
	for cuts := 0; cuts < 1<<(n-1); cuts++ {
		var s float64
		start := i
		for k := i + 1; k <= j; k++ {
			if k == j || cuts&(1<<(k-i-1)) != 0 {
				s += p.merge(start, k)
				start = k
			}
		}
		best = math.Min(best, s)
	}
	return best
}

// brute enumerates every keep subset and returns the best kept importance
// within the budget (and its latency), with latencies as given.
func brute(p *Problem, budget float64) (bestImp, bestLat float64, ok bool) {
	n := len(p.Keep)
	bestImp, bestLat = math.Inf(-1), math.Inf(1)
	for mask := 0; mask < 1<<n; mask++ {
		lat, imp := p.Fixed, 0.0
		i := 0
		for i < n {
			if mask&(1<<i) != 0 {
				lat += p.Keep[i]
				imp += p.Importance[i]
				i++
				continue
			}
			j := i
			for j < n && mask&(1<<j) == 0 {
				j++
			}
			lat += bruteRun(p, i, j)
			i = j
		}
		if lat <= budget+1e-9 && (imp > bestImp+1e-12 || (math.Abs(imp-bestImp) <= 1e-12 && lat < bestLat)) {
			bestImp, bestLat, ok = imp, lat, true
		}
	}
	return bestImp, bestLat, ok
}

// randomProblem returns a problem whose latencies are multiples of res
// (so the discretisation is exact) with some multi-block segments missing.
func randomProblem(rng *rand.Rand, n int, res float64) *Problem {
	p := &Problem{Fixed: float64(rng.IntN(20)) * res, Keep: make([]float64, n), Merge: make([][]float64, n), Importance: make([]float64, n)}
	for i := range n {
		p.Keep[i] = float64(5+rng.IntN(40)) * res
		p.Importance[i] = rng.Float64()*2 - 0.2 // a few negative ones
		p.Merge[i] = make([]float64, n+1)
		for j := range p.Merge[i] {
			p.Merge[i][j] = math.Inf(1)
		}
		for j := i + 1; j <= n && j-i <= 4; j++ {
			if j == i+1 || rng.IntN(3) > 0 {
				p.Merge[i][j] = float64(1+rng.IntN(30*(j-i))) * res
			}
		}
	}
	return p
}

func TestSolveMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const res = 0.01
	for trial := 0; trial < 60; trial++ {
		n := 1 + rng.IntN(10)
		p := randomProblem(rng, n, res)
		lo, hi := p.MinLatency(), p.BaseLatency()
		for _, frac := range []float64{-0.1, 0, 0.2, 0.5, 0.8, 1, 1.2} {
			budget := math.Round((lo+(hi-lo)*frac)/res)*res + res/10
			sol, err := p.Solve(budget, res)
			wantImp, wantLat, ok := brute(p, budget)
			if !ok {
				if err == nil {
					t.Fatalf("trial %d n=%d budget %.3f: brute force finds no plan, Solve gave %+v", trial, n, budget, sol)
				}
				continue
			}
			if err != nil {
				t.Fatalf("trial %d n=%d budget %.3f: %v (brute force: importance %.4f at %.3f ms)", trial, n, budget, err, wantImp, wantLat)
			}
			if math.Abs(sol.Importance-wantImp) > 1e-9 {
				t.Fatalf("trial %d n=%d budget %.3f: importance %.6f, brute force %.6f", trial, n, budget, sol.Importance, wantImp)
			}
			if sol.LatencyMs > budget+1e-9 {
				t.Fatalf("trial %d: latency %.4f above budget %.4f", trial, sol.LatencyMs, budget)
			}
			if math.Abs(sol.LatencyMs-wantLat) > 1e-9 {
				t.Fatalf("trial %d n=%d budget %.3f: latency %.4f, brute force %.4f at equal importance", trial, n, budget, sol.LatencyMs, wantLat)
			}
			lat, imp, _ := p.Evaluate(sol.Keep, p.Stage1())
			if math.Abs(lat-sol.LatencyMs) > 1e-9 || math.Abs(imp-sol.Importance) > 1e-9 {
				t.Fatalf("trial %d: solution reports %.4f/%.4f, evaluates to %.4f/%.4f", trial, sol.LatencyMs, sol.Importance, lat, imp)
			}
		}
	}
}

func TestStage1MatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 30; trial++ {
		n := 1 + rng.IntN(9)
		p := randomProblem(rng, n, 0.01)
		s := p.Stage1()
		for i := 0; i <= n; i++ {
			for j := i; j <= n; j++ {
				want := bruteRun(p, i, j)
				if math.Abs(s.Ms[i][j]-want) > 1e-9 && !(math.IsInf(want, 1) && math.IsInf(s.Ms[i][j], 1)) {
					t.Fatalf("trial %d [%d,%d): %.4f, brute force %.4f", trial, i, j, s.Ms[i][j], want)
				}
				if !math.IsInf(want, 1) {
					var sum float64
					for _, seg := range s.Segments(i, j) {
						sum += p.merge(seg[0], seg[1])
					}
					if math.Abs(sum-want) > 1e-9 {
						t.Fatalf("trial %d [%d,%d): segments sum to %.4f, want %.4f", trial, i, j, sum, want)
					}
				}
			}
		}
	}
}

func TestSolveRejects(t *testing.T) {
	p := &Problem{Fixed: 1, Keep: []float64{1}, Merge: [][]float64{{math.Inf(1), 0.5}}, Importance: []float64{1}}
	if _, err := p.Solve(0, 0); err == nil {
		t.Error("zero budget accepted")
	}
	if _, err := p.Solve(1.2, 0.01); err == nil {
		t.Error("infeasible budget accepted")
	}
	if _, err := p.Solve(math.NaN(), 0.01); err == nil {
		t.Error("NaN budget accepted")
	}
	p.Importance[0] = math.NaN()
	if _, err := p.Solve(3, 0.01); err == nil {
		t.Error("NaN importance accepted")
	}
	p.Importance[0] = 1
	sol, err := p.Solve(1.6, 0.01)
	if err != nil || sol.Keep[0] {
		t.Errorf("budget 1.6: %+v, %v; want the block removed", sol, err)
	}
	sol, err = p.Solve(2, 0.01)
	if err != nil || !sol.Keep[0] {
		t.Errorf("budget 2: %+v, %v; want the block kept", sol, err)
	}
}

// brutePrune enumerates every choice per block (0 merged, 1 kept, 2 pruned)
// and returns the best objective within the budget and its latency. A
// pruned block costs nothing and ends the merged runs around it.
func brutePrune(p *Problem, budget float64) (bestImp, bestLat float64, ok bool) {
	n := len(p.Keep)
	bestImp, bestLat = math.Inf(-1), math.Inf(1)
	choice := make([]int, n)
	total := 1
	for range n {
		total *= 3
	}
	for code := 0; code < total; code++ {
		c := code
		feasible := true
		for i := range choice {
			choice[i] = c % 3
			c /= 3
			if choice[i] == 2 && math.IsInf(p.Prune[i], 1) {
				feasible = false
			}
		}
		if !feasible {
			continue
		}
		lat, imp := p.Fixed, 0.0
		i := 0
		for i < n {
			switch choice[i] {
			case 1:
				lat += p.Keep[i]
				imp += p.Importance[i]
				i++
				continue
			case 2:
				imp += p.Importance[i] - p.Prune[i]
				i++
				continue
			}
			j := i
			for j < n && choice[j] == 0 {
				j++
			}
			lat += bruteRun(p, i, j)
			i = j
		}
		if lat <= budget+1e-9 && (imp > bestImp+1e-12 || (math.Abs(imp-bestImp) <= 1e-12 && lat < bestLat)) {
			bestImp, bestLat, ok = imp, lat, true
		}
	}
	return bestImp, bestLat, ok
}

// TestSolveWithPruningMatchesBruteForce checks the DP with layer pruning
// against exhaustive enumeration of keep / merge / prune on small chains.
func TestSolveWithPruningMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const res = 0.01
	prunedSeen := 0
	for trial := 0; trial < 60; trial++ {
		n := 1 + rng.IntN(7)
		p := randomProblem(rng, n, res)
		p.Prune = make([]float64, n)
		for i := range p.Prune {
			if rng.IntN(3) == 0 {
				p.Prune[i] = math.Inf(1)
			} else {
				// Usually costlier than removing the activations alone.
				p.Prune[i] = p.Importance[i] + rng.Float64()*1.5 - 0.1
			}
		}
		lo, hi := p.MinLatency(), p.BaseLatency()
		for _, frac := range []float64{-0.1, 0, 0.1, 0.3, 0.6, 1} {
			budget := math.Round((lo+(hi-lo)*frac)/res)*res + res/10
			sol, err := p.Solve(budget, res)
			wantImp, wantLat, ok := brutePrune(p, budget)
			if !ok {
				if err == nil {
					t.Fatalf("trial %d n=%d budget %.3f: brute force finds no plan, Solve gave %+v", trial, n, budget, sol)
				}
				continue
			}
			if err != nil {
				t.Fatalf("trial %d n=%d budget %.3f: %v (brute force: %.4f at %.3f ms)", trial, n, budget, err, wantImp, wantLat)
			}
			if math.Abs(sol.Importance-wantImp) > 1e-9 || math.Abs(sol.LatencyMs-wantLat) > 1e-9 {
				t.Fatalf("trial %d n=%d budget %.3f: %.6f at %.4f ms, brute force %.6f at %.4f ms", trial, n, budget, sol.Importance, sol.LatencyMs, wantImp, wantLat)
			}
			lat, imp, _ := p.EvaluatePruned(sol.Keep, sol.Pruned, p.Stage1())
			if math.Abs(lat-sol.LatencyMs) > 1e-9 || math.Abs(imp-sol.Importance) > 1e-9 {
				t.Fatalf("trial %d: solution reports %.4f/%.4f, evaluates to %.4f/%.4f", trial, sol.LatencyMs, sol.Importance, lat, imp)
			}
			for i, pr := range sol.Pruned {
				if pr {
					prunedSeen++
					if sol.Keep[i] || !p.Prunable(i) {
						t.Fatalf("trial %d: block %d pruned and kept, or not prunable (%+v)", trial, i, sol)
					}
				}
			}
		}
	}
	if prunedSeen == 0 {
		t.Error("no solution pruned a block: the test does not exercise pruning")
	}
}

// TestSolveAtAPlansOwnLatency plans at budgets equal to the exact predicted
// latency of random plans (latencies off the bucket grid): the answer fits
// the budget and keeps at least the importance of the plan whose latency
// set the budget, although the rounded-up costs of that plan exceed the
// budget's buckets (plan --match relies on it).
func TestSolveAtAPlansOwnLatency(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(9)
		p := randomProblem(rng, n, 0.01)
		for i := range p.Keep {
			p.Keep[i] += rng.Float64() * 0.01 // off the grid
			for j := range p.Merge[i] {
				p.Merge[i][j] += rng.Float64() * 0.01
			}
		}
		keep := make([]bool, n)
		for i := range keep {
			keep[i] = rng.IntN(2) == 0
		}
		s := p.Stage1()
		lat, imp, _ := p.Evaluate(keep, s)
		if math.IsInf(lat, 1) {
			continue
		}
		sol, err := p.Solve(lat, 0)
		if err != nil {
			t.Fatalf("trial %d: budget %.5f (a plan's own latency): %v", trial, lat, err)
		}
		if sol.LatencyMs > lat*(1+1e-12) || sol.Importance < imp-1e-9 {
			t.Fatalf("trial %d: budget %.5f: %.5f ms, importance %.5f; the plan that set the budget keeps %.5f", trial, lat, sol.LatencyMs, sol.Importance, imp)
		}
	}
}

// bruteAll enumerates every way to cover the blocks from i on: keep a
// block, prune it, or merge a segment [i, j) plainly or with its layers
// pruned, and returns the best objective within budget (lat so far given).
func bruteAll(p *Problem, i int, lat, val, budget float64, bestV, bestL *float64) {
	n := len(p.Keep)
	if lat > budget+1e-9 {
		return
	}
	if i == n {
		if val > *bestV+1e-12 || (math.Abs(val-*bestV) <= 1e-12 && lat < *bestL) {
			*bestV, *bestL = val, lat
		}
		return
	}
	bruteAll(p, i+1, lat+p.Keep[i], val+p.Importance[i], budget, bestV, bestL)
	if p.Prunable(i) {
		bruteAll(p, i+1, lat, val+p.Importance[i]-p.Prune[i], budget, bestV, bestL)
	}
	for j := i + 1; j <= n; j++ {
		if m := p.merge(i, j); !math.IsInf(m, 1) {
			bruteAll(p, j, lat+m, val, budget, bestV, bestL)
		}
		if m, c := p.mergeLP(i, j), p.layerCost(i, j); !math.IsInf(m, 1) && !math.IsInf(c, 1) {
			bruteAll(p, j, lat+m, val-c, budget, bestV, bestL)
		}
	}
}

// TestSolveWithLayerPruningMatchesBruteForce checks the DP with block
// pruning and layer-pruned merged segments against exhaustive enumeration.
func TestSolveWithLayerPruningMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	const res = 0.01
	lpSeen := 0
	for trial := 0; trial < 60; trial++ {
		n := 1 + rng.IntN(6)
		p := randomProblem(rng, n, res)
		p.Prune = make([]float64, n)
		p.LayerPrune = make([]float64, n)
		p.MergeLayerPruned = make([][]float64, n)
		for i := range n {
			p.Prune[i] = math.Inf(1)
			if rng.IntN(2) == 0 {
				p.Prune[i] = p.Importance[i] + rng.Float64()
			}
			p.LayerPrune[i] = math.Inf(1)
			if rng.IntN(3) > 0 {
				p.LayerPrune[i] = rng.Float64() * 0.5
			}
			p.MergeLayerPruned[i] = make([]float64, n+1)
			for j := range p.MergeLayerPruned[i] {
				p.MergeLayerPruned[i][j] = math.Inf(1)
				if j > i && rng.IntN(2) == 0 {
					p.MergeLayerPruned[i][j] = float64(1+rng.IntN(10*(j-i))) * res
				}
			}
		}
		lo, hi := p.MinLatency(), p.BaseLatency()
		for _, frac := range []float64{-0.1, 0, 0.1, 0.3, 0.6, 1} {
			budget := math.Round((lo+(hi-lo)*frac)/res)*res + res/10
			wantV, wantL := math.Inf(-1), math.Inf(1)
			bruteAll(p, 0, p.Fixed, 0, budget, &wantV, &wantL)
			sol, err := p.Solve(budget, res)
			if math.IsInf(wantV, -1) {
				if err == nil {
					t.Fatalf("trial %d n=%d budget %.3f: brute force finds no plan, Solve gave %+v", trial, n, budget, sol)
				}
				continue
			}
			if err != nil {
				t.Fatalf("trial %d n=%d budget %.3f: %v (brute force %.4f at %.3f ms)", trial, n, budget, err, wantV, wantL)
			}
			if math.Abs(sol.Importance-wantV) > 1e-9 || math.Abs(sol.LatencyMs-wantL) > 1e-9 {
				t.Fatalf("trial %d n=%d budget %.3f: %.6f at %.4f ms, brute force %.6f at %.4f ms (%+v)", trial, n, budget, sol.Importance, sol.LatencyMs, wantV, wantL, sol)
			}
			for _, lp := range sol.LayerPruned {
				if lp {
					lpSeen++
				}
			}
		}
		// The fastest plan by enumeration: minimise latency alone.
		fast := math.Inf(1)
		var walk func(i int, lat float64)
		walk = func(i int, lat float64) {
			if i == n {
				fast = math.Min(fast, lat)
				return
			}
			walk(i+1, lat+p.Keep[i])
			if p.Prunable(i) {
				walk(i+1, lat)
			}
			for j := i + 1; j <= n; j++ {
				if m := p.merge(i, j); !math.IsInf(m, 1) {
					walk(j, lat+m)
				}
				if m, c := p.mergeLP(i, j), p.layerCost(i, j); !math.IsInf(m, 1) && !math.IsInf(c, 1) {
					walk(j, lat+m)
				}
			}
		}
		walk(0, p.Fixed)
		if math.Abs(fast-lo) > 1e-9 {
			t.Fatalf("trial %d: MinLatency %.4f, enumeration %.4f", trial, lo, fast)
		}
	}
	if lpSeen == 0 {
		t.Error("no solution used a layer-pruned segment: the test does not exercise them")
	}
}
