package fuzzcompile

import (
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/nn"
)

// knownCrashes are panics FuzzOps found in packages outside this one's
// owners' reach, by a function of their stack; the fuzz target skips them
// (so that fuzzing goes on finding others) and TestKnownCrashes reproduces
// each until it is fixed.
var knownCrashes []string

// callKnown runs f and returns the stack of a panic it raised ("" when
// none).
func callKnown(f func()) (stack string) {
	defer func() {
		if r := recover(); r != nil {
			stack = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	f()
	return ""
}

// isKnown reports whether stack is one of knownCrashes.
func isKnown(stack string) bool {
	for _, k := range knownCrashes {
		if strings.Contains(stack, k) {
			return true
		}
	}
	return false
}

// TestKnownCrashes replays the crashes FuzzOps found, fixed since; each
// must run without a panic. The first was in kernels/conv's flat depthwise
// path (gatherRow: "slice bounds out of range [:-1]") on a 1x1 depthwise
// convolution with stride 2 across and padding [0 1 2 1] of a 7x1 input,
// in evaluation and in a training step (issue 17).
func TestKnownCrashes(t *testing.T) {
	g := graph.New("dw1x1", 1, 7, 1)
	g.Nodes = []*graph.Node{{Name: "c", Op: graph.OpConv, Inputs: []string{"input"}, Output: "c", Params: []string{"c.weight"},
		Conv: &graph.ConvAttr{InC: 1, OutC: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 2, Pads: [4]int{0, 1, 2, 1}, Groups: 1}}}
	g.Output = "c"
	if err := g.AllocParams(1 << 10); err != nil {
		t.Fatal(err)
	}
	g.InitParams(1)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := nn.NewModel(g, 2)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, 14)
	for i := range in {
		in[i] = float32(i + 1)
	}
	if stack := callKnown(func() { m.Forward(in, 2, false) }); stack != "" {
		t.Fatal(stack)
	}
	if stack := callKnown(func() {
		y := m.Forward(in, 2, true)
		dy := make([]float32, len(y))
		for i := range dy {
			dy[i] = 1
		}
		m.Backward(dy)
	}); stack != "" {
		t.Fatal(stack)
	}
}
