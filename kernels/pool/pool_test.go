package pool

import (
	"math"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/parallel"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func near(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	for i, w := range want {
		if math.Abs(float64(got[i])-w) > 1e-5*(1+math.Abs(w)) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], w)
		}
	}
}

// ref computes forward outputs and input gradients for dy in float64.
func ref(p Params, isMax bool, x, dy []float32) (y, dx []float64) {
	oh, ow := p.OutH(), p.OutW()
	y = make([]float64, p.N*p.C*oh*ow)
	dx = make([]float64, len(x))
	for pl := 0; pl < p.N*p.C; pl++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				o := (pl*oh+i)*ow + j
				best, m, s, cnt, padded := -1, math.Inf(-1), 0.0, 0, 0
				for kh := 0; kh < p.KH; kh++ {
					for kw := 0; kw < p.KW; kw++ {
						ih, iw := i*p.StrideH-p.PadT+kh, j*p.StrideW-p.PadL+kw
						if ih < p.H+p.PadB && iw < p.W+p.PadR {
							padded++ // PyTorch's count_include_pad divisor: input and padding, not beyond
						}
						if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
							continue
						}
						xi := (pl*p.H+ih)*p.W + iw
						if v := float64(x[xi]); v > m {
							best, m = xi, v
						}
						s += float64(x[xi])
						cnt++
					}
				}
				if isMax {
					y[o] = m
					dx[best] += float64(dy[o])
					continue
				}
				div := float64(cnt)
				if p.CountIncludePad {
					div = float64(padded)
				}
				y[o] = s / div
				for kh := 0; kh < p.KH; kh++ {
					for kw := 0; kw < p.KW; kw++ {
						ih, iw := i*p.StrideH-p.PadT+kh, j*p.StrideW-p.PadL+kw
						if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
							dx[(pl*p.H+ih)*p.W+iw] += float64(dy[o]) / div
						}
					}
				}
			}
		}
	}
	return y, dx
}

func TestPool(t *testing.T) {
	defer parallel.SetThreads(parallel.Threads())
	r := rand.New(rand.NewSource(1))
	ps := []Params{
		{N: 2, C: 3, H: 9, W: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1},
		{N: 1, C: 5, H: 8, W: 10, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
		{N: 1, C: 2, H: 11, W: 6, KH: 3, KW: 2, StrideH: 1, StrideW: 2, PadT: 2, PadL: 0, PadB: 0, PadR: 1},
		{N: 3, C: 7, H: 64, W: 65, KH: 5, KW: 5, StrideH: 3, StrideW: 1, PadT: 2, PadL: 1, PadB: 2, PadR: 3},
		// Ceil mode: the last windows hang over the end (past the padding).
		{N: 2, C: 3, H: 6, W: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, CeilMode: true},
		{N: 1, C: 2, H: 10, W: 9, KH: 3, KW: 2, StrideH: 2, StrideW: 2, CeilMode: true},
		{N: 1, C: 3, H: 13, W: 14, KH: 3, KW: 3, StrideH: 2, StrideW: 3, PadR: 2, CeilMode: true},
	}
	for _, th := range []int{1, 2} {
		parallel.SetThreads(th)
		for _, p0 := range ps {
			for _, inc := range []bool{false, true} {
				p := p0
				p.CountIncludePad = inc
				x := randSlice(r, p.N*p.C*p.H*p.W)
				dy := randSlice(r, p.N*p.C*p.OutH()*p.OutW())
				y := make([]float32, len(dy))
				dx := make([]float32, len(x))
				for _, isMax := range []bool{true, false} {
					wy, wdx := ref(p, isMax, x, dy)
					if isMax {
						must(t, MaxForward(p, x, y))
						must(t, MaxBackward(p, x, dy, dx))
					} else {
						must(t, AvgForward(p, x, y))
						must(t, AvgBackward(p, dy, dx))
					}
					near(t, "y", y, wy)
					near(t, "dx", dx, wdx)
				}
			}
		}
		for _, sz := range [][3]int{{2, 3, 49}, {1, 7, 1}, {4, 64, 300}} {
			n, c, hw := sz[0], sz[1], sz[2]
			x, dy := randSlice(r, n*c*hw), randSlice(r, n*c)
			y, dx := make([]float32, n*c), make([]float32, n*c*hw)
			must(t, GlobalAvgForward(x, y, n, c, hw))
			must(t, GlobalAvgBackward(dy, dx, n, c, hw))
			wy, wdx := make([]float64, n*c), make([]float64, n*c*hw)
			for i := range wy {
				for j := 0; j < hw; j++ {
					wy[i] += float64(x[i*hw+j]) / float64(hw)
					wdx[i*hw+j] = float64(dy[i]) / float64(hw)
				}
			}
			near(t, "gap y", y, wy)
			near(t, "gap dx", dx, wdx)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCeilOut checks the output sizes against PyTorch's rule, including a
// window that would start past the input and its leading padding.
func TestCeilOut(t *testing.T) {
	cases := []struct {
		p    Params
		h, w int
	}{
		{Params{H: 112, W: 113, KH: 3, KW: 3, StrideH: 2, StrideW: 2, CeilMode: true}, 56, 56},
		{Params{H: 6, W: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, CeilMode: true}, 4, 4},
		{Params{H: 5, W: 5, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, CeilMode: true}, 3, 3},
		{Params{H: 6, W: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, 3, 3},
	}
	for _, c := range cases {
		if c.p.OutH() != c.h || c.p.OutW() != c.w {
			t.Errorf("%+v: out %dx%d, want %dx%d", c.p, c.p.OutH(), c.p.OutW(), c.h, c.w)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Params{
		{N: 1, C: 1, H: 4, W: 4, KH: 0, KW: 2, StrideH: 1, StrideW: 1},
		{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 1, StrideW: 1, PadT: 2},
		{N: 0, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 1, StrideW: 1},
		{N: 1, C: 1, H: 1, W: 4, KH: 3, KW: 2, StrideH: 1, StrideW: 1, PadT: 1},
	}
	for _, p := range bad {
		if p.Validate() == nil || MaxForward(p, nil, nil) == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	p := Params{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	if AvgForward(p, make([]float32, 3), make([]float32, 4)) == nil {
		t.Error("short input accepted")
	}
}

func TestAllocs(t *testing.T) {
	p := Params{N: 1, C: 8, H: 63, W: 63, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
	x, dx := make([]float32, 8*63*63), make([]float32, 8*63*63)
	y := make([]float32, 8*32*32)
	defer parallel.SetThreads(parallel.Threads())
	parallel.SetThreads(2)
	n := testing.AllocsPerRun(10, func() {
		_ = MaxForward(p, x, y)
		_ = MaxBackward(p, x, y, dx)
		_ = AvgForward(p, x, y)
		_ = AvgBackward(p, y, dx)
		_ = GlobalAvgForward(x, y, 1, 8, 63*63)
		_ = GlobalAvgBackward(y, dx, 1, 8, 63*63)
	})
	if n != 0 {
		t.Errorf("%v allocs per run", n)
	}
}

// BenchmarkResNetStemPool times ResNet-18's max pool (64 x 112 x 112, 3x3,
// stride 2, padding 1) forward and backward, and the average pool over the
// same window, for one image.
func BenchmarkResNetStemPool(b *testing.B) {
	p := Params{N: 1, C: 64, H: 112, W: 112, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
	r := rand.New(rand.NewSource(1))
	x := randSlice(r, 64*112*112)
	dx := make([]float32, len(x))
	y := make([]float32, 64*56*56)
	for _, c := range []struct {
		name string
		f    func() error
	}{
		{"max_fwd", func() error { return MaxForward(p, x, y) }},
		{"max_bwd", func() error { return MaxBackward(p, x, y, dx) }},
		{"avg_fwd", func() error { return AvgForward(p, x, y) }},
		{"avg_bwd", func() error { return AvgBackward(p, y, dx) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				if err := c.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMaxTiesAndNaN checks PyTorch's choices: a tied window sends its
// gradient to the first maximum in row-major order; a NaN wins the forward
// pass and the last NaN of the window gets the gradient.
func TestMaxTiesAndNaN(t *testing.T) {
	nan := float32(math.NaN())
	p := Params{N: 1, C: 1, H: 2, W: 3, KH: 2, KW: 3, StrideH: 1, StrideW: 1}
	for _, c := range []struct {
		x    []float32
		want int // index receiving the gradient
	}{
		{[]float32{1, 3, 3, 3, 2, 3}, 1},
		{[]float32{-1, -1, -1, -1, -1, -1}, 0},
		{[]float32{1, nan, 3, nan, 2, 0}, 3},
		{[]float32{nan, 5, 3, 4, 2, 0}, 0},
	} {
		y, dx := make([]float32, 1), make([]float32, 6)
		must(t, MaxForward(p, c.x, y))
		must(t, MaxBackward(p, c.x, []float32{1}, dx))
		hasNaN := false
		for _, v := range c.x {
			hasNaN = hasNaN || v != v
		}
		if hasNaN != (y[0] != y[0]) || !hasNaN && y[0] != c.x[c.want] {
			t.Errorf("max of %v = %v", c.x, y[0])
		}
		want := make([]float32, 6)
		want[c.want] = 1
		for i := range dx {
			if dx[i] != want[i] {
				t.Errorf("x %v: gradient %v, want %v", c.x, dx, want)
				break
			}
		}
	}
}
