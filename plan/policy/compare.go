package policy

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/runtime"
)

// Change says how much a model's function changed: the original (with its
// activations) against the merged model, on the same images.
type Change struct {
	Images     int     `json:"images"`
	RealImages int     `json:"real_images"`
	Top1Agree  float64 `json:"top1_agreement"` // fraction of images with the same top-1 class
	MaxAbs     float64 `json:"max_abs_diff"`   // largest |merged - original| over outputs
	MeanAbs    float64 `json:"mean_abs_diff"`  // mean |merged - original|
	Scale      float64 `json:"scale"`          // largest |original output|
	MaxRel     float64 `json:"max_rel_diff"`   // MaxAbs / Scale
	// Inputs says what the images were.
	Inputs string `json:"inputs"`
}

// Compare runs orig and merged (compiled by package runtime) on random
// seeded N(0, 1) images and on real images ([realN, C, H, W], may be
// empty), and returns how their outputs differ.
func Compare(orig, merged *graph.Graph, random int, seed uint64, real []float32, realN int) (*Change, error) {
	per := 1
	for _, d := range orig.Input.Shape {
		per *= d
	}
	if len(real) != realN*per {
		return nil, fmt.Errorf("policy: compare: %d real values for %d images of %d", len(real), realN, per)
	}
	n := random + realN
	if n == 0 {
		return nil, fmt.Errorf("policy: compare: no images")
	}
	x := make([]float32, 0, n*per)
	x = append(x, real...)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := 0; i < random*per; i++ {
		x = append(x, float32(r.NormFloat64()))
	}
	run := func(g *graph.Graph) ([]float32, int, error) {
		p, err := runtime.Compile(g, runtime.Options{Batch: 1, Threads: 1})
		if err != nil {
			return nil, 0, fmt.Errorf("policy: compare: compile %s: %w", g.Name, err)
		}
		k := p.OutputLen()
		out := make([]float32, n*k)
		for i := 0; i < n; i++ {
			if err := p.Run(x[i*per:(i+1)*per], out[i*k:(i+1)*k]); err != nil {
				return nil, 0, fmt.Errorf("policy: compare: run %s: %w", g.Name, err)
			}
		}
		return out, k, nil
	}
	a, k, err := run(orig)
	if err != nil {
		return nil, err
	}
	b, k2, err := run(merged)
	if err != nil {
		return nil, err
	}
	if k != k2 {
		return nil, fmt.Errorf("policy: compare: outputs of %d and %d values per image", k, k2)
	}
	c := &Change{Images: n, RealImages: realN}
	switch {
	case realN > 0 && random > 0:
		c.Inputs = fmt.Sprintf("%d real images (--inputs) and %d seeded random N(0,1) images (seed %d)", realN, random, seed)
	case realN > 0:
		c.Inputs = fmt.Sprintf("%d real images (--inputs)", realN)
	default:
		c.Inputs = fmt.Sprintf("%d seeded random N(0,1) images (seed %d): give --inputs for real ones", random, seed)
	}
	var sum float64
	agree := 0
	for i := 0; i < n; i++ {
		ya, yb := a[i*k:(i+1)*k], b[i*k:(i+1)*k]
		if argmax(ya) == argmax(yb) {
			agree++
		}
		for j := range ya {
			d := math.Abs(float64(yb[j]) - float64(ya[j]))
			sum += d
			c.MaxAbs = math.Max(c.MaxAbs, d)
			c.Scale = math.Max(c.Scale, math.Abs(float64(ya[j])))
		}
	}
	c.Top1Agree = float64(agree) / float64(n)
	c.MeanAbs = sum / float64(n*k)
	if c.Scale > 0 {
		c.MaxRel = c.MaxAbs / c.Scale
	}
	return c, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] || (math.IsNaN(float64(v[best])) && !math.IsNaN(float64(x))) {
			best = i
		}
	}
	return best
}
