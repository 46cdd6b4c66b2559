package conv

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa"
	"github.com/dshrink/dshrink/kernels/isa/isatest"
	"github.com/dshrink/dshrink/kernels/parallel"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// refForward is the naive float64 convolution with epilogue.
func refForward(p Params, x, w, bias []float32, ep Epilogue) []float64 {
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	y := make([]float64, p.OutputLen())
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			g := k / kg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var s float64
					if bias != nil {
						s = float64(bias[k])
					}
					for c := 0; c < cg; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih, iw := i*p.StrideH-p.PadT+kh, j*p.StrideW-p.PadL+kw
								if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
									continue
								}
								xv := x[((n*p.C+g*cg+c)*p.H+ih)*p.W+iw]
								wv := w[((k*cg+c)*p.KH+kh)*p.KW+kw]
								s += float64(xv) * float64(wv)
							}
						}
					}
					o := ((n*p.K+k)*oh+i)*ow + j
					if ep.Residual != nil {
						s += float64(ep.Residual[o])
					}
					switch ep.Act {
					case ActReLU:
						s = math.Max(s, 0)
					case ActReLU6:
						s = math.Min(math.Max(s, 0), 6)
					}
					y[o] = s
				}
			}
		}
	}
	return y
}

// refBackward returns the float64 adjoints dx, dw, dbias for output gradient dy.
func refBackward(p Params, x, w, dy []float32) (dx, dw, db []float64) {
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	dx = make([]float64, p.InputLen())
	dw = make([]float64, p.WeightLen())
	db = make([]float64, p.K)
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			g := k / kg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					d := float64(dy[((n*p.K+k)*oh+i)*ow+j])
					db[k] += d
					for c := 0; c < cg; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih, iw := i*p.StrideH-p.PadT+kh, j*p.StrideW-p.PadL+kw
								if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
									continue
								}
								xi := ((n*p.C+g*cg+c)*p.H+ih)*p.W + iw
								wi := ((k*cg+c)*p.KH+kh)*p.KW + kw
								dx[xi] += d * float64(w[wi])
								dw[wi] += d * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	return dx, dw, db
}

func compare(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > tol*(1+math.Abs(w)) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, want %v (diff %g)", what, i, got[i], w, d)
		}
	}
}

type shape struct {
	name string
	p    Params
}

func testShapes() []shape {
	mk := func(n, c, h, w, k, kh, kw, sh, sw, pt, pl, pb, pr, g int) Params {
		return Params{N: n, C: c, H: h, W: w, K: k, KH: kh, KW: kw, StrideH: sh, StrideW: sw,
			PadT: pt, PadL: pl, PadB: pb, PadR: pr, Groups: g}
	}
	var s []shape
	add := func(p Params) { s = append(s, shape{fmt.Sprintf("%+v", p), p}) }
	// 1x1 dense and grouped, also strided / padded 1x1 (im2col path).
	add(mk(2, 7, 5, 9, 11, 1, 1, 1, 1, 0, 0, 0, 0, 1))
	add(mk(1, 6, 7, 4, 4, 1, 1, 1, 1, 0, 0, 0, 0, 2))
	add(mk(2, 5, 9, 8, 3, 1, 1, 2, 2, 0, 0, 0, 0, 1))
	add(mk(1, 3, 6, 5, 4, 1, 1, 1, 1, 1, 0, 0, 1, 1))
	add(mk(5, 7, 3, 3, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1))
	add(mk(5, 6, 2, 3, 4, 1, 1, 1, 1, 0, 0, 0, 0, 2))
	add(mk(40, 6, 3, 3, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1)) // image-parallel chunks of several images
	add(mk(33, 4, 2, 3, 6, 1, 1, 1, 1, 0, 0, 0, 0, 2)) // same, grouped, uneven last chunk
	// dense kxk, odd sizes, asymmetric padding, strides, groups.
	add(mk(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1))
	add(mk(1, 5, 11, 8, 6, 3, 3, 2, 2, 0, 0, 1, 1, 1))
	add(mk(1, 4, 10, 7, 6, 3, 3, 2, 1, 1, 2, 0, 1, 2))
	add(mk(1, 3, 13, 12, 4, 5, 5, 1, 1, 2, 2, 2, 2, 1))
	add(mk(1, 2, 15, 10, 3, 7, 7, 2, 2, 3, 3, 3, 3, 1))
	add(mk(1, 4, 9, 9, 8, 3, 5, 1, 2, 1, 2, 1, 0, 4))
	add(mk(1, 3, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3)) // depth multiplier 2
	// depthwise: 3x3 / 5x5 at stride 1 / 2, even and odd inputs, asymmetric pads,
	// generic kernels 1, 7, and 3x5.
	for _, hw := range [][2]int{{9, 7}, {8, 10}, {1, 3}, {17, 16}, {6, 37}, {5, 70}} {
		for _, k := range []int{3, 5} {
			for _, st := range []int{1, 2} {
				pd := k / 2
				if hw[0]+2*pd < k || hw[1]+2*pd < k {
					continue
				}
				add(mk(2, 5, hw[0], hw[1], 5, k, k, st, st, pd, pd, pd, pd, 5))
				if st == 2 && hw[0]+2 >= k && hw[1]+2 >= k {
					add(mk(1, 3, hw[0]+1, hw[1]+1, 3, k, k, st, st, 0, 0, 1, 1, 3)) // TF-style "same"
				}
			}
		}
	}
	add(mk(1, 3, 12, 11, 3, 3, 3, 1, 1, 0, 0, 0, 0, 3))
	add(mk(5, 3, 7, 7, 3, 3, 3, 2, 2, 1, 1, 1, 1, 3)) // batch > 1 image per flat chunk
	add(mk(3, 2, 4, 4, 2, 3, 3, 2, 2, 1, 1, 1, 1, 2)) // tiny planes
	add(mk(3, 2, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2)) // 2x2 planes
	// tiny planes (at most 16 positions) over batches that fill the
	// eight-image groups of the tiny kernels and leave a tail
	add(mk(19, 3, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3))
	add(mk(17, 2, 4, 4, 2, 3, 3, 2, 2, 1, 1, 1, 1, 2))
	add(mk(9, 3, 2, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3))
	add(mk(11, 2, 3, 5, 2, 5, 5, 1, 1, 2, 2, 2, 2, 2))
	add(mk(8, 2, 1, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2))
	add(mk(10, 2, 4, 4, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2))
	add(mk(16, 1, 4, 3, 1, 3, 3, 1, 1, 0, 1, 2, 1, 1)) // one channel: the last plane ends the tensor
	add(mk(2, 2, 9, 11, 2, 3, 3, 3, 2, 1, 2, 2, 1, 2)) // strides 3 and 2, asymmetric pads
	add(mk(2, 2, 9, 11, 2, 5, 5, 2, 2, 2, 2, 2, 2, 2))
	add(mk(2, 2, 8, 8, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2)) // 2x2 stride 2
	add(mk(1, 4, 6, 7, 4, 1, 1, 1, 1, 0, 0, 0, 0, 4))
	add(mk(1, 3, 13, 14, 3, 7, 7, 1, 1, 3, 3, 3, 3, 3))
	add(mk(2, 3, 11, 9, 3, 7, 7, 2, 2, 3, 2, 1, 3, 3))
	add(mk(1, 2, 9, 10, 2, 3, 5, 2, 1, 1, 2, 1, 2, 2))
	add(mk(1, 2, 9, 10, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2))
	add(mk(1, 2, 9, 40, 2, 3, 5, 1, 1, 1, 2, 1, 2, 2))
	add(mk(1, 2, 8, 35, 2, 7, 7, 1, 1, 3, 3, 3, 3, 2))
	add(mk(1, 2, 5, 33, 2, 1, 1, 1, 1, 0, 0, 0, 0, 2))
	add(mk(1, 2, 5, 33, 2, 3, 3, 1, 1, 0, 2, 1, 0, 2))
	// eight-lane tails of the AVX2 kernels: widths around multiples of 8,
	// stride-2 rows split at odd and even left pads, tiny planes of more
	// and of fewer than 8 positions
	add(mk(3, 2, 5, 23, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2))
	add(mk(2, 2, 4, 25, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2))
	add(mk(3, 2, 6, 33, 2, 3, 3, 2, 2, 1, 1, 1, 1, 2))
	add(mk(2, 2, 7, 34, 2, 3, 3, 2, 2, 0, 2, 1, 1, 2))
	add(mk(2, 2, 9, 50, 2, 3, 3, 2, 2, 1, 1, 1, 1, 2))
	add(mk(2, 2, 6, 41, 2, 5, 5, 1, 1, 2, 2, 2, 2, 2))
	add(mk(13, 2, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2))
	add(mk(13, 2, 3, 4, 2, 3, 3, 2, 2, 1, 1, 1, 1, 2))
	add(mk(6, 2, 2, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2))
	return s
}

func algosFor(p Params) []algo {
	as := []algo{algoIm2col}
	if c := choose(p); c == algoGEMM1x1 {
		as = append(as, algoGEMM1x1)
	}
	if p.IsDepthwise() {
		as = append(as, algoDepthwise, algoDWGeneric)
	}
	return as
}

// TestConv checks every algorithm against the float64 reference under every
// instruction-set level this machine runs.
func TestConv(t *testing.T) {
	isatest.ForEach(t, func(t *testing.T) {
		defer parallel.SetThreads(parallel.Threads())
		r := rand.New(rand.NewSource(1))
		defer func(v int) { colTarget = v }(colTarget)
		testConvShapes(t, r)
		defer func(v bool) { useDWTiny = v }(useDWTiny)
		useDWTiny = false // tiny planes on the flat and per-plane paths
		testConvShapes(t, r)
		useDWTiny = true
		defer func(v int) { dwFlatTarget = v }(dwFlatTarget)
		dwFlatTarget = 1 // one image per depthwise flat chunk
		testConvShapes(t, r)
		defer func(v int) { dwFlatMaxPlane = v }(dwFlatMaxPlane)
		dwFlatMaxPlane = 1 << 30 // flat backward data at stride 1 too
		testConvShapes(t, r)
		dwFlatMaxPlane = 0
		testConvShapes(t, r)
		defer func(v int) { pwBatchCols = v }(pwBatchCols)
		pwBatchCols = 20 // 1x1 backward: a few images per GEMM, uneven last chunk
		testConvShapes(t, r)
		pwBatchCols = 1 // 1x1 backward: one GEMM per image
		testConvShapes(t, r)
		pwBatchCols = 512
		dwFlatTarget = 24 << 10
		colTarget = 1 // one output row per im2col chunk
		testConvShapes(t, r)
		colTarget = 100 // a few rows per chunk, uneven last chunk
		testConvShapes(t, r)
	})
}

func testConvShapes(t *testing.T, r *rand.Rand) { testConvList(t, r, testShapes()) }

func testConvList(t *testing.T, r *rand.Rand, shapes []shape) {
	for _, s := range shapes {
		p := s.p
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		x := randSlice(r, p.InputLen())
		w := randSlice(r, p.WeightLen())
		bias := randSlice(r, p.K)
		res := randSlice(r, p.OutputLen())
		dy := randSlice(r, p.OutputLen())
		rdx, rdw, rdb := refBackward(p, x, w, dy)
		for _, a := range algosFor(p) {
			for _, th := range []int{1, 2} {
				parallel.SetThreads(th)
				name := fmt.Sprintf("%s algo=%d threads=%d isa=%v", s.name, a, th, isa.Active())
				ws := make([]float32, workspaceFor(p, a))
				y := make([]float32, p.OutputLen())
				for ei, ep := range []Epilogue{{}, {Act: ActReLU}, {Residual: res, Act: ActReLU6}, {Residual: res}} {
					b := bias
					if ei == 0 {
						b = nil
					}
					for i := range y {
						y[i] = float32(math.NaN())
					}
					if err := forward(p, a, x, w, b, y, ws, ep); err != nil {
						t.Fatal(err)
					}
					compare(t, name+fmt.Sprintf(" forward ep=%d y", ei), y, refForward(p, x, w, b, ep), 1e-4)
				}
				dx := make([]float32, p.InputLen())
				for i := range dx {
					dx[i] = float32(math.NaN())
				}
				if err := backwardData(p, a, dy, w, dx, ws); err != nil {
					t.Fatal(err)
				}
				compare(t, name+" dx", dx, rdx, 1e-4)
				dw := randSlice(r, p.WeightLen())
				db := randSlice(r, p.K)
				if err := backwardWeight(p, a, x, dy, dw, db, ws); err != nil {
					t.Fatal(err)
				}
				compare(t, name+" dw", dw, rdw, 1e-4)
				compare(t, name+" db", db, rdb, 1e-4)
				clear(dw)
				if err := backwardWeight(p, a, x, dy, dw, nil, ws); err != nil {
					t.Fatal(err)
				}
				compare(t, name+" dw (no dbias)", dw, rdw, 1e-4)
			}
		}
	}
}

func TestChoose(t *testing.T) {
	cases := []struct {
		p    Params
		want algo
	}{
		{Params{N: 1, C: 8, H: 4, W: 4, K: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 8}, algoDepthwise},
		{Params{N: 1, C: 8, H: 4, W: 4, K: 16, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}, algoGEMM1x1},
		{Params{N: 1, C: 8, H: 4, W: 4, K: 16, KH: 1, KW: 1, StrideH: 2, StrideW: 2, Groups: 1}, algoIm2col},
		{Params{N: 1, C: 8, H: 4, W: 4, K: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Groups: 2}, algoIm2col},
	}
	for _, c := range cases {
		if got := choose(c.p); got != c.want {
			t.Errorf("choose(%+v) = %d, want %d", c.p, got, c.want)
		}
		if (WorkspaceSize(c.p) > 0) != (c.want == algoIm2col) {
			t.Errorf("WorkspaceSize(%+v) = %d", c.p, WorkspaceSize(c.p))
		}
	}
}

func TestValidate(t *testing.T) {
	good := Params{N: 1, C: 4, H: 5, W: 5, K: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Groups: 2}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(p *Params){
		func(p *Params) { p.N = 0 },
		func(p *Params) { p.KH = 0 },
		func(p *Params) { p.StrideW = 0 },
		func(p *Params) { p.PadL = -1 },
		func(p *Params) { p.Groups = 3 },
		func(p *Params) { p.H = 2 },
	}
	for i, f := range bad {
		p := good
		f(&p)
		if p.Validate() == nil {
			t.Errorf("case %d: %+v validated", i, p)
		}
		if Forward(p, nil, nil, nil, nil, nil, Epilogue{}) == nil {
			t.Errorf("case %d: Forward accepted invalid params", i)
		}
	}
	if Forward(good, make([]float32, 10), nil, nil, nil, nil, Epilogue{}) == nil {
		t.Error("Forward accepted short slices")
	}
	if good.MACs() != int64(1*4*3*3*2*3*3) {
		t.Errorf("MACs = %d", good.MACs())
	}
}

func TestAllocs(t *testing.T) { isatest.ForEach(t, testAllocs) }

func testAllocs(t *testing.T) {
	defer parallel.SetThreads(parallel.Threads())
	r := rand.New(rand.NewSource(2))
	ps := []Params{
		{N: 1, C: 16, H: 13, W: 11, K: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 16},
		{N: 1, C: 16, H: 13, W: 11, K: 8, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1},
		{N: 1, C: 8, H: 13, W: 11, K: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 1},
		// flat depthwise paths (stride 2, 5x5 stride 2 forward, small planes)
		{N: 3, C: 16, H: 13, W: 11, K: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 16},
		{N: 2, C: 8, H: 13, W: 11, K: 8, KH: 5, KW: 5, StrideH: 2, StrideW: 2, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Groups: 8},
		{N: 4, C: 8, H: 4, W: 4, K: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 8},
		// per-plane depthwise kernels: 5x5 stride 1, 3x3 stride 2 without
		// the flat path's batch
		{N: 1, C: 4, H: 13, W: 11, K: 4, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadT: 2, PadL: 2, PadB: 2, PadR: 2, Groups: 4},
		{N: 1, C: 4, H: 13, W: 11, K: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 4},
		// batched 1x1 backward
		{N: 6, C: 12, H: 3, W: 3, K: 8, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 2},
	}
	for _, th := range []int{1, 2} {
		parallel.SetThreads(th)
		for _, p := range ps {
			x, w, b := randSlice(r, p.InputLen()), randSlice(r, p.WeightLen()), randSlice(r, p.K)
			y, dy := make([]float32, p.OutputLen()), randSlice(r, p.OutputLen())
			dx, dw, db := make([]float32, p.InputLen()), make([]float32, p.WeightLen()), make([]float32, p.K)
			ws := make([]float32, WorkspaceSize(p))
			ep := Epilogue{Residual: randSlice(r, p.OutputLen()), Act: ActReLU6}
			f := func() {
				_ = Forward(p, x, w, b, y, ws, ep)
				_ = BackwardData(p, dy, w, dx, ws)
				_ = BackwardWeight(p, x, dy, dw, db, ws)
			}
			f()
			if n := testing.AllocsPerRun(20, f); n != 0 && (th == 1 || parallelAllocFree) {
				t.Errorf("threads=%d %+v: %v allocs per run", th, p, n)
			}
		}
	}
}
