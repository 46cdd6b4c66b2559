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
var knownCrashes = []string{
	// nn's depthwise convolution (kernels/conv dwFlat) on a 1x1 depthwise
	// convolution with stride 2 across and padding [0 1 2 1] of a 7x1 input:
	// "slice bounds out of range [:-1]" in gatherRow.
	"kernels/conv.gatherRow",
}

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

// TestKnownCrashes reproduces the known crashes: it is skipped while one
// still happens and passes once it is fixed (then remove it from
// knownCrashes).
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
	if stack := callKnown(func() { m.Forward(make([]float32, 14), 2, false) }); stack != "" {
		if isKnown(stack) {
			t.Skipf("known crash, not fixed yet:\n%s", stack)
		}
		t.Fatal(stack)
	}
}
