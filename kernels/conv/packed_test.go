package conv

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/parallel"
)

func TestForwardPacked(t *testing.T) {
	defer parallel.SetThreads(parallel.Threads())
	r := rand.New(rand.NewSource(3))
	for _, s := range testShapes() {
		p := s.p
		w := randSlice(r, p.WeightLen())
		pw, err := PackWeights(p, w)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		wantW := append([]float32(nil), w...)
		for i := range w {
			w[i] = 1e9 // the packed copy must not depend on w any more
		}
		for _, n := range []int{p.N, p.N + 2} {
			q := p
			q.N = n
			x, bias, res := randSlice(r, q.InputLen()), randSlice(r, q.K), randSlice(r, q.OutputLen())
			ws := make([]float32, WorkspaceSize(q))
			y := make([]float32, q.OutputLen())
			for _, th := range []int{1, 2} {
				parallel.SetThreads(th)
				for ei, ep := range []Epilogue{{}, {Residual: res, Act: ActReLU6}} {
					if err := ForwardPacked(q, pw, x, bias, y, ws, ep); err != nil {
						t.Fatal(err)
					}
					compare(t, fmt.Sprintf("%s N=%d threads=%d ep=%d", s.name, n, th, ei), y, refForward(q, x, wantW, bias, ep), 1e-4)
				}
			}
		}
	}
}

func TestForwardPackedErrors(t *testing.T) {
	p := Params{N: 1, C: 4, H: 5, W: 5, K: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, Groups: 2}
	if _, err := PackWeights(p, make([]float32, 3)); err == nil {
		t.Error("PackWeights accepted short weights")
	}
	bad := p
	bad.Groups = 3
	if _, err := PackWeights(bad, make([]float32, 100)); err == nil {
		t.Error("PackWeights accepted invalid Params")
	}
	pw, err := PackWeights(p, make([]float32, p.WeightLen()))
	if err != nil {
		t.Fatal(err)
	}
	if pw.Params() != p {
		t.Errorf("Params() = %+v", pw.Params())
	}
	x, y := make([]float32, p.InputLen()), make([]float32, p.OutputLen())
	ws := make([]float32, WorkspaceSize(p))
	if ForwardPacked(p, nil, x, nil, y, ws, Epilogue{}) == nil {
		t.Error("ForwardPacked accepted nil PackedWeights")
	}
	q := p
	q.K = 2
	if ForwardPacked(q, pw, x, nil, y, ws, Epilogue{}) == nil {
		t.Error("ForwardPacked accepted different Params")
	}
	if ForwardPacked(p, pw, x[:3], nil, y, ws, Epilogue{}) == nil {
		t.Error("ForwardPacked accepted a short input")
	}
	q = p
	q.N = 0
	if ForwardPacked(q, pw, x, nil, y, ws, Epilogue{}) == nil {
		t.Error("ForwardPacked accepted N=0")
	}
}

func TestForwardPackedAllocs(t *testing.T) {
	defer parallel.SetThreads(parallel.Threads())
	r := rand.New(rand.NewSource(4))
	ps := []Params{
		{N: 1, C: 16, H: 13, W: 11, K: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 16},
		{N: 2, C: 16, H: 13, W: 11, K: 8, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1},
		{N: 1, C: 8, H: 13, W: 11, K: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 2},
	}
	for _, th := range []int{1, 2} {
		parallel.SetThreads(th)
		for _, p := range ps {
			pw, err := PackWeights(p, randSlice(r, p.WeightLen()))
			if err != nil {
				t.Fatal(err)
			}
			x, b, y := randSlice(r, p.InputLen()), randSlice(r, p.K), make([]float32, p.OutputLen())
			ws := make([]float32, WorkspaceSize(p))
			ep := Epilogue{Residual: randSlice(r, p.OutputLen()), Act: ActReLU6}
			f := func() { _ = ForwardPacked(p, pw, x, b, y, ws, ep) }
			f()
			if n := testing.AllocsPerRun(20, f); n != 0 && (th == 1 || parallelAllocFree) {
				t.Errorf("threads=%d %+v: %v allocs per run", th, p, n)
			}
		}
	}
}
