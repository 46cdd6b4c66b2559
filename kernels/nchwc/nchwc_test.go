package nchwc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/dshrink/dshrink/kernels/isa"
	"github.com/dshrink/dshrink/kernels/isa/isatest"
)

func TestArgsLayout(t *testing.T) {
	var a Args
	want := map[string][2]uintptr{
		"In": {unsafe.Offsetof(a.In), 0}, "W": {unsafe.Offsetof(a.W), 8}, "Out": {unsafe.Offsetof(a.Out), 16},
		"Bias": {unsafe.Offsetof(a.Bias), 24}, "Res": {unsafe.Offsetof(a.Res), 32}, "Bmap": {unsafe.Offsetof(a.Bmap), 40},
		"CB": {unsafe.Offsetof(a.CB), 48}, "CBStride": {unsafe.Offsetof(a.CBStride), 56}, "KH": {unsafe.Offsetof(a.KH), 64},
		"RowStride": {unsafe.Offsetof(a.RowStride), 72}, "KW": {unsafe.Offsetof(a.KW), 80}, "KWStep": {unsafe.Offsetof(a.KWStep), 88},
		"Cnt": {unsafe.Offsetof(a.Cnt), 96}, "Lo": {unsafe.Offsetof(a.Lo), 104}, "Hi": {unsafe.Offsetof(a.Hi), 108},
		"CntLast": {unsafe.Offsetof(a.CntLast), 112},
	}
	for k, v := range want {
		if v[0] != v[1] {
			t.Errorf("Args.%s at offset %d, assembly expects %d", k, v[0], v[1])
		}
	}
}

func TestWinoArgsLayout(t *testing.T) {
	var a WinoArgs
	want := map[string][2]uintptr{
		"Src": {unsafe.Offsetof(a.Src), 0}, "Dst": {unsafe.Offsetof(a.Dst), 8}, "SrcRow": {unsafe.Offsetof(a.SrcRow), 16},
		"Pos": {unsafe.Offsetof(a.Pos), 24}, "N": {unsafe.Offsetof(a.N), 32}, "DstRow": {unsafe.Offsetof(a.DstRow), 40},
		"Bias": {unsafe.Offsetof(a.Bias), 48}, "Res": {unsafe.Offsetof(a.Res), 56}, "Bmap": {unsafe.Offsetof(a.Bmap), 64},
		"ResRow": {unsafe.Offsetof(a.ResRow), 72}, "BmapRow": {unsafe.Offsetof(a.BmapRow), 80},
		"Lo": {unsafe.Offsetof(a.Lo), 88}, "Hi": {unsafe.Offsetof(a.Hi), 92},
	}
	for k, v := range want {
		if v[0] != v[1] {
			t.Errorf("WinoArgs.%s at offset %d, assembly expects %d", k, v[0], v[1])
		}
	}
}

// TestFamilies checks that the machine's best level has its assembly
// family, so that an AVX2 or AVX-512 CPU never runs the Go kernels.
func TestFamilies(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		want := map[isa.Level]string{isa.AVX512: "avx512", isa.AVX2: "avx2", isa.NEON: "neon", isa.Generic: "go"}[isa.Active()]
		if want != "" && ISA() != want {
			t.Errorf("ISA() = %q at level %v, want %q", ISA(), isa.Active(), want)
		}
	})
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func at(s []float32, byteOff int) float64 { return float64(s[byteOff/4]) }

// directCase is one call of Conv or DW: buffers and arguments (byte strides).
type directCase struct {
	in, w, bias, res, bmap, out []float32
	a                           Args
	pix, n                      int
}

// newDirectCase builds a case of n output pixels; dense with cb input blocks
// of cnt channels (cntLast in the last), or depthwise when dw is set.
func newDirectCase(rng *rand.Rand, dw bool, pix, n, cb, cnt, cntLast, kh, kw, kwStep int, epi bool) *directCase {
	c := &directCase{pix: pix, n: n}
	rowStride := (n*pix + kw*kwStep + 64) / 4 // floats
	cbStride := rowStride * (kh + 1)
	c.in = randSlice(rng, cb*cbStride)
	steps := kh * kw
	if !dw {
		steps *= (cb-1)*cnt + cntLast
	}
	c.w = randSlice(rng, steps*Block)
	c.bias = randSlice(rng, Block)
	c.out = make([]float32, n*Block)
	c.a = Args{In: unsafe.Pointer(&c.in[0]), W: unsafe.Pointer(&c.w[0]), Out: unsafe.Pointer(&c.out[0]),
		Bias: unsafe.Pointer(&c.bias[0]), CB: cb, CBStride: 4 * cbStride, KH: kh, RowStride: 4 * rowStride,
		KW: kw, KWStep: kwStep, Cnt: cnt, CntLast: cntLast, Lo: -1.5, Hi: 2.5}
	if epi {
		c.res, c.bmap = randSlice(rng, n*Block), randSlice(rng, n*Block)
		c.a.Res, c.a.Bmap = unsafe.Pointer(&c.res[0]), unsafe.Pointer(&c.bmap[0])
	} else {
		c.a.Lo, c.a.Hi = float32(math.Inf(-1)), float32(math.Inf(1))
	}
	return c
}

// want computes the case in float64 straight from the definition in Args.
func (c *directCase) want(dw bool) []float64 {
	a := c.a
	out := make([]float64, c.n*Block)
	for r := 0; r < c.n; r++ {
		for l := 0; l < Block; l++ {
			v := float64(c.bias[l])
			wi := 0
			if dw {
				for kh := 0; kh < a.KH; kh++ {
					for kw := 0; kw < a.KW; kw++ {
						v += float64(c.w[wi*Block+l]) * at(c.in, r*c.pix+kh*a.RowStride+kw*a.KWStep+4*l)
						wi++
					}
				}
			} else {
				for cb := 0; cb < a.CB; cb++ {
					cnt := a.Cnt
					if cb == a.CB-1 {
						cnt = a.CntLast
					}
					for kh := 0; kh < a.KH; kh++ {
						for kw := 0; kw < a.KW; kw++ {
							for ch := 0; ch < cnt; ch++ {
								v += float64(c.w[wi*Block+l]) * at(c.in, r*c.pix+cb*a.CBStride+kh*a.RowStride+kw*a.KWStep+4*ch)
								wi++
							}
						}
					}
				}
			}
			if c.res != nil {
				v += float64(c.res[r*Block+l]) + float64(c.bmap[r*Block+l])
			}
			out[r*Block+l] = min(max(v, float64(a.Lo)), float64(a.Hi))
		}
	}
	return out
}

func (c *directCase) check(t *testing.T, name string, want []float64) {
	t.Helper()
	for i, w := range want {
		if d := math.Abs(float64(c.out[i]) - w); d > 2e-5*(1+math.Abs(w))*float64(1+c.a.CB*c.a.KH*c.a.KW) {
			t.Fatalf("%s: out[%d] = %v, float64 reference %v", name, i, c.out[i], w)
		}
	}
}

// TestConvMatchesFloat64 checks the dense kernel of every family against the
// float64 definition: every pixel stride with multi-pixel kernels, an odd
// one, every pixel count up to past two calls, partial last blocks, with and
// without the epilogue.
func TestConvMatchesFloat64(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, pix := range []int{16, 32, 64, 128, 192} {
			cnt := 16
			if pix < 64 {
				cnt = pix / 8
			}
			for n := 1; n <= 2*MaxR+3; n++ {
				for _, k := range []int{1, 3} {
					epi := n%2 == 1
					c := newDirectCase(rng, false, pix, n, 2, cnt, max(1, cnt-5), k, k, pix/2, epi)
					Conv(&c.a, pix, n)
					c.check(t, fmt.Sprintf("pix %d n %d k %d", pix, n, k), c.want(false))
				}
			}
		}
	})
}

// TestDWMatchesFloat64 checks the depthwise kernels (row-reuse 3x3 and 5x5
// at stride 1 and 2, and the general one) against the float64 definition.
func TestDWMatchesFloat64(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, k := range []int{3, 5, 7} {
			for _, s := range []int{1, 2, 3} {
				for _, kwStep := range []int{64, 128} {
					for n := 1; n <= 2*MaxR+3; n++ {
						c := newDirectCase(rng, true, 64*s, n, 1, 1, 1, k, k, kwStep, n%3 != 0)
						DW(&c.a, 64*s, n)
						c.check(t, fmt.Sprintf("k %d s %d kwStep %d n %d", k, s, kwStep, n), c.want(true))
					}
				}
			}
		}
	})
}

// winoIn64 is the input transform in float64 (B^T d B).
func winoIn64(d [4][4]float64) (v [16]float64) {
	bt := [4][4]float64{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			var s float64
			for k := 0; k < 4; k++ {
				for l := 0; l < 4; l++ {
					s += bt[i][k] * d[k][l] * bt[j][l]
				}
			}
			v[4*i+j] = s
		}
	}
	return v
}

// TestWinoTransformsMatchFloat64 checks the input and output transforms of
// every family against the float64 matrix products.
func TestWinoTransformsMatchFloat64(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for n := 1; n <= 7; n++ {
			rowPix := 2*n + 5
			src := randSlice(rng, 4*rowPix*Block)
			pos := n*Block + Block
			dst := make([]float32, 16*pos)
			a := WinoArgs{Src: unsafe.Pointer(&src[0]), Dst: unsafe.Pointer(&dst[0]), SrcRow: rowPix * BlockBytes, Pos: 4 * pos, N: n}
			WinoIn(&a)
			for tt := 0; tt < n; tt++ {
				for l := 0; l < Block; l++ {
					var d [4][4]float64
					for i := 0; i < 4; i++ {
						for j := 0; j < 4; j++ {
							d[i][j] = float64(src[i*rowPix*Block+(2*tt+j)*Block+l])
						}
					}
					v := winoIn64(d)
					for q := 0; q < 16; q++ {
						if got := float64(dst[q*pos+tt*Block+l]); math.Abs(got-v[q]) > 1e-5*(1+math.Abs(v[q])) {
							t.Fatalf("in n %d tile %d lane %d pos %d: %v, want %v", n, tt, l, q, got, v[q])
						}
					}
				}
			}
			// Output transform: A^T m A + bias + res + bmap, clamped.
			m := randSlice(rng, 16*pos)
			bias := randSlice(rng, Block)
			rowOut := 2*n + 3
			out := make([]float32, 2*rowOut*Block)
			res, bm := randSlice(rng, 2*rowOut*Block), randSlice(rng, 2*rowOut*Block)
			o := WinoArgs{Src: unsafe.Pointer(&m[0]), Dst: unsafe.Pointer(&out[0]), Pos: 4 * pos, N: n, DstRow: rowOut * BlockBytes,
				Bias: unsafe.Pointer(&bias[0]), Res: unsafe.Pointer(&res[0]), Bmap: unsafe.Pointer(&bm[0]),
				ResRow: rowOut * BlockBytes, BmapRow: rowOut * BlockBytes, Lo: -2, Hi: 3}
			if n%2 == 0 {
				o.Res, o.Bmap = nil, nil
			}
			WinoOut(&o)
			at := [2][4]float64{{1, 1, 1, 0}, {0, 1, -1, -1}}
			for tt := 0; tt < n; tt++ {
				for l := 0; l < Block; l++ {
					for y := 0; y < 2; y++ {
						for x := 0; x < 2; x++ {
							v := float64(bias[l])
							for i := 0; i < 4; i++ {
								for j := 0; j < 4; j++ {
									v += at[y][i] * float64(m[(4*i+j)*pos+tt*Block+l]) * at[x][j]
								}
							}
							idx := y*rowOut*Block + (2*tt+x)*Block + l
							if o.Res != nil {
								v += float64(res[idx]) + float64(bm[idx])
							}
							v = min(max(v, -2), 3)
							if got := float64(out[idx]); math.Abs(got-v) > 1e-5*(1+math.Abs(v)) {
								t.Fatalf("out n %d tile %d (%d,%d) lane %d: %v, want %v", n, tt, y, x, l, got, v)
							}
						}
					}
				}
			}
		}
	})
}

// TestWinoGemmMatchesFloat64 checks the product kernels for every tile count
// up to WinoMaxR and partial last input blocks.
func TestWinoGemmMatchesFloat64(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, cb := range []int{1, 3} {
			for r := 1; r <= WinoMaxR; r++ {
				cntLast := 16 - r%7
				cbStride := (WinoMaxR + 1) * Block // floats
				in := randSlice(rng, cb*cbStride)
				w := randSlice(rng, ((cb-1)*16+cntLast)*Block)
				out := make([]float32, r*Block)
				a := Args{In: unsafe.Pointer(&in[0]), W: unsafe.Pointer(&w[0]), Out: unsafe.Pointer(&out[0]),
					CB: cb, CBStride: 4 * cbStride, Cnt: 16, CntLast: cntLast}
				WinoGemm(&a, r)
				for tt := 0; tt < r; tt++ {
					for l := 0; l < Block; l++ {
						var v float64
						wi := 0
						for b := 0; b < cb; b++ {
							cnt := 16
							if b == cb-1 {
								cnt = cntLast
							}
							for c := 0; c < cnt; c++ {
								v += float64(w[wi*Block+l]) * float64(in[b*cbStride+tt*Block+c])
								wi++
							}
						}
						if got := float64(out[tt*Block+l]); math.Abs(got-v) > 1e-5*(1+math.Abs(v))*float64(cb*16) {
							t.Fatalf("cb %d r %d tile %d lane %d: %v, want %v", cb, r, tt, l, got, v)
						}
					}
				}
			}
		}
	})
}

// BenchmarkConv times the dense kernel with hot caches (GMAC/s) under every
// level: a 1x1 and a 3x3 kernel over 6 input blocks, 56 pixels per call.
func BenchmarkConv(b *testing.B) {
	isatest.ForEachB(b, func(b *testing.B) {
		for _, k := range []int{1, 3} {
			rng := rand.New(rand.NewPCG(1, 1))
			const n = 56
			c := newDirectCase(rng, false, 64, n, 6, 16, 16, k, k, 64, false)
			b.Run(fmt.Sprintf("k%d", k), func(b *testing.B) {
				for b.Loop() {
					a := c.a
					Conv(&a, 64, n)
				}
				macs := float64(n*16*6*16*k*k) * float64(b.N)
				b.ReportMetric(macs/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	})
}

// BenchmarkDW times the depthwise 3x3 stride-1 kernel (GMAC/s).
func BenchmarkDW(b *testing.B) {
	isatest.ForEachB(b, func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 1))
		const n = 56
		c := newDirectCase(rng, true, 64, n, 1, 1, 1, 3, 3, 64, false)
		for b.Loop() {
			a := c.a
			DW(&a, 64, n)
		}
		b.ReportMetric(float64(n*16*9)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
	})
}
