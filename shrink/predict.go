package shrink

import (
	"fmt"

	"github.com/dshrink/dshrink/data"
	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/train"
)

// EvaluatePredict runs g in eval mode over ds in batches of batch images and
// returns the evaluation (loss, top-1, top-5) and the predicted class (the
// arg-max logit) of every image, in data set order.
func EvaluatePredict(g *graph.Graph, ds data.Dataset, batch int) (train.EvalResult, []int, error) {
	if ds.Len() == 0 {
		return train.EvalResult{}, nil, fmt.Errorf("evaluate %s: empty data set", g.Name)
	}
	classes := ds.NumClasses()
	preds := make([]int, 0, ds.Len())
	r, err := train.EvaluateGraphEach(g, ds, batch, func(logits []float32, n int) {
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
	})
	if err != nil {
		return train.EvalResult{}, nil, err
	}
	return r, preds, nil
}
