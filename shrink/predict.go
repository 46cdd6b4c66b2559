package shrink

import (
	"fmt"
	"time"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/nn"
	"github.com/dshrink/dshrink/train"
)

// EvaluatePredict runs g in eval mode over ds in batches of batch images and
// returns the evaluation (loss, top-1, top-5) and the predicted class (the
// arg-max logit) of every image, in data set order.
func EvaluatePredict(g *graph.Graph, ds data.Dataset, batch int) (train.EvalResult, []int, error) {
	if batch < 1 {
		return train.EvalResult{}, nil, fmt.Errorf("eval batch %d, want at least 1", batch)
	}
	if ds.Len() == 0 {
		return train.EvalResult{}, nil, fmt.Errorf("evaluate %s: empty data set", g.Name)
	}
	c, h, w := ds.Shape()
	if s := g.Input.Shape; len(s) != 3 || s[0] != c || s[1] != h || s[2] != w {
		return train.EvalResult{}, nil, fmt.Errorf("model %s takes input %v, the data is [%d %d %d]", g.Name, s, c, h, w)
	}
	batch = min(batch, ds.Len())
	m, err := nn.NewModel(g, batch)
	if err != nil {
		return train.EvalResult{}, nil, fmt.Errorf("plan model: %w", err)
	}
	classes := ds.NumClasses()
	if m.OutputSize() != classes {
		return train.EvalResult{}, nil, fmt.Errorf("model %s has %d outputs, the data has %d classes", g.Name, m.OutputSize(), classes)
	}
	l, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: batch})
	if err != nil {
		return train.EvalResult{}, nil, err
	}
	it, err := l.Epoch(0, 0)
	if err != nil {
		return train.EvalResult{}, nil, err
	}
	defer it.Close()
	labels := make([]int32, batch)
	preds := make([]int, 0, ds.Len())
	var acc train.Accum
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
		loss, c1, err := nn.CrossEntropy(logits, labels, n, classes, 0, nil)
		if err != nil {
			return train.EvalResult{}, nil, err
		}
		acc.Add(loss, c1, train.TopK(logits, b.Labels, classes, min(5, classes)), n)
		for i := 0; i < n; i++ {
			row := logits[i*classes : (i+1)*classes]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			preds = append(preds, best)
		}
	}
	sec := time.Since(t0).Seconds()
	r := train.EvalResult{Loss: acc.Loss(), Top1: acc.Top1(), Top5: acc.Top5(), Count: acc.Count, Seconds: sec}
	if sec > 0 {
		r.ImgPerSec = float64(acc.Count) / sec
	}
	return r, preds, nil
}
