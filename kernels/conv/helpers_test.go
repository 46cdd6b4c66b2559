package conv

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa/isatest"
)

// sentinel fills s with a value the kernels never produce.
func sentinel(s []float32) {
	for i := range s {
		s[i] = -12345
	}
}

func equalF32(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestRowHelpers checks the strided row copies against their Go references
// under every level, over row lengths around the vector widths, with
// guard values around every row.
func TestRowHelpers(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(5))
		for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 40, 47, 63, 64, 65, 100} {
			for _, rows := range []int{1, 3} {
				name := fmt.Sprintf("n=%d rows=%d", n, rows)
				ss, ds := n+3, n+5
				src := randSlice(r, (rows-1)*ss+n)
				got, want := make([]float32, (rows-1)*ds+n+4), make([]float32, (rows-1)*ds+n+4)
				sentinel(got)
				sentinel(want)
				copyRows(got, ds, src, ss, n, rows)
				copyRowsGo(want, ds, src, ss, n, rows)
				equalF32(t, "copyRows "+name, got, want, 0)

				h := (n + 1) / 2
				dsh := h + 2
				g0, g1 := make([]float32, (rows-1)*dsh+h+3), make([]float32, (rows-1)*dsh+h+3)
				w0, w1 := make([]float32, len(g0)), make([]float32, len(g1))
				for _, s := range [][]float32{g0, g1, w0, w1} {
					sentinel(s)
				}
				deintRows(g0, g1, dsh, src, ss, n, rows)
				deintRowsGo(w0, w1, dsh, src, ss, n, rows)
				equalF32(t, "deintRows even "+name, g0, w0, 0)
				equalF32(t, "deintRows odd "+name, g1, w1, 0)

				s0, s1 := randSlice(r, (rows-1)*dsh+h), randSlice(r, (rows-1)*dsh+h)
				sentinel(got)
				sentinel(want)
				intlvRows(got, ds, s0, s1, dsh, n, rows)
				intlvRowsGo(want, ds, s0, s1, dsh, n, rows)
				equalF32(t, "intlvRows "+name, got, want, 0)
			}
		}
	})
}

// TestTapHelpers checks dotTaps and gatherTaps against their Go references
// under every level, for every number of taps of a 7x7 kernel.
func TestTapHelpers(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(6))
		for _, l := range []int{16, 48, 64, 192, 256} {
			for nt := 1; nt <= dwFlatMaxTaps; nt += 3 {
				offs := make([]int, nt)
				for i := range offs {
					offs[i] = r.Intn(40)
				}
				src := randSlice(r, l+40)
				d := randSlice(r, l)
				got, want := make([]float32, 16*nt), make([]float32, 16*nt)
				for i := range got {
					got[i] = float32(i)
					want[i] = float32(i)
				}
				dotTaps(d, src, offs, got)
				dotTapsGo(d, src, offs, want)
				for k := 0; k < nt; k++ {
					g, w := sum16(got[16*k:]), sum16(want[16*k:])
					if math.Abs(float64(g-w)) > 1e-4*(1+math.Abs(float64(w))) {
						t.Fatalf("dotTaps l=%d nt=%d tap %d: %v, want %v", l, nt, k, g, w)
					}
				}
				if l%64 != 0 {
					continue
				}
				ws := randSlice(r, nt)
				gt, wt := make([]float32, l), make([]float32, l)
				gatherTaps(gt, src, offs, ws)
				gatherTapsGo(wt, src, offs, ws)
				equalF32(t, fmt.Sprintf("gatherTaps l=%d nt=%d", l, nt), gt, wt, 1e-5)
			}
		}
	})
}

// TestTinyHelpers checks tinyMV and tinyOuter against their Go references
// under every level, for every plane size up to 16 and image counts around
// the kernels' groups of images.
func TestTinyHelpers(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(7))
		var m [dwTinyMax * dwTinyMax]float32
		copy(m[:], randSlice(r, len(m)))
		for nin := 1; nin <= dwTinyMax; nin++ {
			for _, nout := range []int{1, 3, 4, 7, 8, 9, 12, 16} {
				for _, n := range []int{1, 3, 4, 5, 8, 9, 17} {
					name := fmt.Sprintf("nin=%d nout=%d n=%d", nin, nout, n)
					xs, ys := nin+2, nout+3
					x := randSlice(r, (n-1)*xs+nin)
					got, want := make([]float32, (n-1)*ys+nout), make([]float32, (n-1)*ys+nout)
					sentinel(got)
					sentinel(want)
					tinyMV(got, ys, x, xs, &m, nin, nout, n, 0.5)
					tinyMVGo(want, ys, x, xs, &m, nin, nout, n, 0.5)
					equalF32(t, "tinyMV "+name, got, want, 1e-5)

					// outer: nd = nout rows of dy, nx = nin values of x; the
					// last plane ends the slice.
					dy := randSlice(r, (n-1)*ys+nout)
					var g, gw [dwTinyMax * dwTinyMax]float32
					var bs, bw [dwTinyMax]float32
					tinyOuter(&g, &bs, dy, ys, x, xs, nout, nin, n)
					tinyOuterGo(&gw, &bw, dy, ys, x, xs, nout, nin, n)
					for q := 0; q < nout; q++ {
						equalF32(t, "tinyOuter "+name, g[q*dwTinyMax:q*dwTinyMax+nin], gw[q*dwTinyMax:q*dwTinyMax+nin], 1e-5)
					}
					equalF32(t, "tinyOuter bias "+name, bs[:nout], bw[:nout], 1e-5)
				}
			}
		}
	})
}
