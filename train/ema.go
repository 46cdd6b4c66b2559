package train

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// EMA is an exponential moving average of every parameter of a graph
// (BatchNorm running statistics included). Update allocates nothing.
type EMA struct {
	Decay  float64
	g      *graph.Graph
	names  []string
	avg    map[string]*tensor.Tensor
	backup map[string][]float32
}

// NewEMA starts an average of g's parameters at their current values.
func NewEMA(g *graph.Graph, decay float64) (*EMA, error) {
	if decay <= 0 || decay >= 1 {
		return nil, fmt.Errorf("ema decay %g out of range (0, 1)", decay)
	}
	e := &EMA{Decay: decay, g: g, names: g.ParamNames(), avg: map[string]*tensor.Tensor{}, backup: map[string][]float32{}}
	for _, n := range e.names {
		e.avg[n] = g.Params[n].Clone()
		e.backup[n] = make([]float32, len(g.Params[n].Data))
	}
	return e, nil
}

// Update moves the average towards the current parameters:
// avg = Decay*avg + (1-Decay)*w.
func (e *EMA) Update() {
	d := float32(e.Decay)
	for _, n := range e.names {
		a, w := e.avg[n].Data, e.g.Params[n].Data
		w = w[:len(a)]
		for i := range a {
			a[i] = d*a[i] + (1-d)*w[i]
		}
	}
}

// Tensors returns the averages by parameter name (shared, not copied).
func (e *EMA) Tensors() map[string]*tensor.Tensor { return e.avg }

// Load restores the averages from a checkpoint's tensors.
func (e *EMA) Load(ts map[string]*tensor.Tensor) error {
	for _, n := range e.names {
		t, ok := ts[n]
		if !ok {
			return fmt.Errorf("ema: checkpoint has no average of %q", n)
		}
		if len(t.Data) != len(e.avg[n].Data) {
			return fmt.Errorf("ema: average of %q has %d values, want %d", n, len(t.Data), len(e.avg[n].Data))
		}
		copy(e.avg[n].Data, t.Data)
	}
	return nil
}

// Swap exchanges the graph's parameters and the averages in place (call it
// twice to restore): evaluation and saving then see the averaged weights.
func (e *EMA) Swap() {
	for _, n := range e.names {
		a, w, b := e.avg[n].Data, e.g.Params[n].Data, e.backup[n]
		copy(b, w)
		copy(w, a)
		copy(a, b)
	}
}
