package conv

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa/isatest"
	"github.com/dshrink/dshrink/kernels/parallel"
)

// dwEdgeShapes are depthwise shapes at the edges of the flat phase
// formulation: 1x1 and 2x2 kernels, strides larger than the kernel, pads
// larger than KH-1 or KW-1 (whole phase rows or columns of padding), planes
// of one row or one column, and stride 2 in one direction only.
func dwEdgeShapes() []shape {
	var s []shape
	add := func(p Params) {
		if p.Validate() == nil {
			s = append(s, shape{fmt.Sprintf("%+v", p), p})
		}
	}
	// The fuzzed model of issue 17: 1x1 kernel, stride 2 across, pads
	// (top, left, bottom, right) = (0, 1, 2, 1) on a 7x1 plane.
	add(Params{N: 2, C: 1, H: 7, W: 1, K: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 2, PadT: 0, PadL: 1, PadB: 2, PadR: 1, Groups: 1})
	// Its transpose: stride 2 down a 1x7 plane.
	add(Params{N: 2, C: 1, H: 1, W: 7, K: 1, KH: 1, KW: 1, StrideH: 2, StrideW: 1, PadT: 1, PadL: 0, PadB: 1, PadR: 2, Groups: 1})
	sizes := [][2]int{{1, 1}, {1, 2}, {2, 1}, {1, 7}, {7, 1}, {3, 2}, {5, 6}}
	kernels := [][2]int{{1, 1}, {2, 2}, {3, 3}, {1, 3}, {3, 1}}
	strides := [][2]int{{1, 1}, {2, 1}, {1, 2}, {2, 2}, {3, 3}, {4, 1}}
	pads := [][4]int{{0, 0, 0, 0}, {0, 1, 2, 1}, {2, 0, 1, 3}, {3, 3, 3, 3}, {1, 2, 0, 0}}
	for _, hw := range sizes {
		for _, k := range kernels {
			for _, st := range strides {
				for _, pd := range pads {
					add(Params{N: 3, C: 2, H: hw[0], W: hw[1], K: 2, KH: k[0], KW: k[1],
						StrideH: st[0], StrideW: st[1], PadT: pd[0], PadL: pd[1], PadB: pd[2], PadR: pd[3], Groups: 2})
				}
			}
		}
	}
	return s
}

// TestDepthwiseEdges checks every depthwise algorithm on dwEdgeShapes
// against the float64 reference under every level, with the flat paths'
// chunking and plane-size switches at both ends (issue 17).
func TestDepthwiseEdges(t *testing.T) {
	shapes := dwEdgeShapes()
	isatest.ForEach(t, func(t *testing.T) {
		defer parallel.SetThreads(parallel.Threads())
		defer func(v bool) { useDWTiny = v }(useDWTiny)
		defer func(v int) { dwFlatTarget = v }(dwFlatTarget)
		defer func(v int) { dwFlatMaxPlane = v }(dwFlatMaxPlane)
		r := rand.New(rand.NewSource(17))
		testConvList(t, r, shapes)
		useDWTiny = false
		testConvList(t, r, shapes)
		dwFlatTarget = 1
		dwFlatMaxPlane = 1 << 30
		testConvList(t, r, shapes)
		dwFlatMaxPlane = 0
		testConvList(t, r, shapes)
	})
}

// TestGatherRow checks gatherRow against its definition, including starts
// and steps that leave no index inside src.
func TestGatherRow(t *testing.T) {
	src := []float32{1, 2, 3, 4, 5, 6, 7}
	for n := 0; n <= len(src); n++ {
		for step := 1; step <= 4; step++ {
			for start := -9; start <= 9; start++ {
				for dl := 0; dl <= 5; dl++ {
					dst := make([]float32, dl)
					sentinel(dst)
					gatherRow(dst, src[:n], start, step)
					for j, v := range dst {
						var want float32
						if i := start + step*j; i >= 0 && i < n {
							want = src[i]
						}
						if v != want {
							t.Fatalf("n=%d step=%d start=%d len=%d: dst[%d] = %v, want %v", n, step, start, dl, j, v, want)
						}
					}
				}
			}
		}
	}
}
