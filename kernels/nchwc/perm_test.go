package nchwc

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa/isatest"
)

// TestPermuteMatches checks Perm.Apply under every level against its
// definition: interleaves of two sources (ShuffleNet), shifted runs
// (unaligned concats), random lanes from up to MaxPermSrcs sources, zero
// lanes, the identity, 1 to 19 pixels, output garbage overwritten.
func TestPermuteMatches(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		var cases [][Block]PermSrc
		var inter, shift, ident [Block]PermSrc
		for l := range inter {
			inter[l] = PermSrc{l % 2, 7 + l/2}
			shift[l] = PermSrc{l / 11, (l + 5) % Block}
			ident[l] = PermSrc{0, l}
		}
		cases = append(cases, inter, shift, ident)
		for range 20 {
			var r [Block]PermSrc
			nsrc := 1 + rng.IntN(MaxPermSrcs)
			for l := range r {
				r[l] = PermSrc{rng.IntN(nsrc+1) - 1, rng.IntN(Block)}
			}
			cases = append(cases, r)
		}
		for ci, lanes := range cases {
			p := NewPerm(lanes)
			for _, n := range []int{1, 2, 5, 19} {
				var srcs [MaxPermSrcs]unsafe.Pointer
				data := make([][]float32, MaxPermSrcs)
				for i := range data {
					data[i] = randSlice(rng, n*Block)
					srcs[i] = unsafe.Pointer(&data[i][0])
				}
				out := randSlice(rng, n*Block)
				p.Apply(unsafe.Pointer(&out[0]), &srcs, n)
				for x := 0; x < n; x++ {
					for l, ps := range lanes {
						want := float32(0)
						if ps.Src >= 0 {
							want = data[ps.Src][x*Block+ps.Lane]
						}
						if got := out[x*Block+l]; got != want {
							t.Fatalf("case %d n %d: pixel %d lane %d = %v, want %v (%s)", ci, n, x, l, got, want, fmt.Sprint(ps))
						}
					}
				}
			}
		}
	})
}
