package main

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/memlimit"
)

// checkInferenceMemory refuses, before anything is compiled or allocated, a
// model and batch size whose buffers would not fit in memory (the compiled
// program's packed weights and workspaces counted as much again).
func checkInferenceMemory(g *graph.Graph, batch int, file string) error {
	need, err := g.MemoryEstimate(batch, false)
	if err != nil {
		return fmt.Errorf("%s at batch %d: %w", file, batch, err)
	}
	return memlimit.Check(fmt.Sprintf("%s at batch %d", file, batch), memlimit.Mul(need, 2))
}
