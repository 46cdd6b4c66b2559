package nchwc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa/isatest"
)

// TestMaxMatchesFloat64 checks the max-pooling kernel of every family
// against its definition: windows 1x1 to 3x3 and 2x3, pixel strides of
// 1, 2 and 3 blocks, every pixel count up to past two calls, with and
// without the epilogue, -Inf and finite starting values.
func TestMaxMatchesFloat64(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, k := range [][2]int{{1, 1}, {2, 2}, {3, 3}, {2, 3}} {
			for _, s := range []int{1, 2, 3} {
				for n := 1; n <= 2*MaxR+3; n++ {
					epi := n%3 == 0
					c := newDirectCase(rng, true, 64*s, n, 1, 1, 1, k[0], k[1], 64, epi)
					if n%2 == 1 {
						for i := range c.bias {
							c.bias[i] = float32(math.Inf(-1))
						}
					}
					Max(&c.a, 64*s, n)
					a := c.a
					for r := 0; r < n; r++ {
						for l := 0; l < Block; l++ {
							v := float64(c.bias[l])
							for kh := 0; kh < a.KH; kh++ {
								for kw := 0; kw < a.KW; kw++ {
									v = max(v, at(c.in, r*c.pix+kh*a.RowStride+kw*a.KWStep+4*l))
								}
							}
							if c.res != nil {
								v += float64(c.res[r*Block+l]) + float64(c.bmap[r*Block+l])
							}
							v = min(max(v, float64(a.Lo)), float64(a.Hi))
							if got := float64(c.out[r*Block+l]); math.Abs(got-v) > 1e-6*(1+math.Abs(v)) {
								t.Fatalf("%s: k %v s %d n %d: out[%d][%d] = %v, want %v", fmt.Sprint(a.KH, a.KW), k, s, n, r, l, got, v)
							}
						}
					}
				}
			}
		}
	})
}
