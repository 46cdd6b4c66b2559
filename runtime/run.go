package runtime

import (
	"fmt"
	"slices"
	"time"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// Run computes the model on x, n samples laid out [n, C, H, W] (n is
// len(x)/InputLen(), from 1 to Batch()), and writes the n outputs, each of
// OutputLen() floats, to out. Run sets the thread count of package
// kernels/parallel to Threads() and allocates nothing.
func (p *Program) Run(x, out []float32) error {
	per := p.InputLen()
	if len(x) == 0 || len(x)%per != 0 {
		return fmt.Errorf("runtime %s: input has %d floats, want a multiple of %d (C, H, W = %v)", p.name, len(x), per, p.inShape)
	}
	n := len(x) / per
	if n > p.batch {
		return fmt.Errorf("runtime %s: batch %d exceeds the compiled batch %d", p.name, n, p.batch)
	}
	if len(out) < n*p.outPer {
		return fmt.Errorf("runtime %s: output has %d floats, want %d", p.name, len(out), n*p.outPer)
	}
	if parallel.Threads() != p.threads {
		parallel.SetThreads(p.threads)
	}
	p.packInput(x, n)
	for _, s := range p.steps {
		s.exec(n)
	}
	p.unpackOutput(out, n)
	return nil
}

// packInput writes x (NCHW) into the input value, halo and padded lanes zero.
func (p *Program) packInput(x []float32, n int) {
	v := p.in
	is, _, _ := strides(v)
	clear(p.arena[v.off : v.off+n*is])
	hw := v.h * v.w
	for i := 0; i < n; i++ {
		for c := 0; c < v.c; c++ {
			src := x[(i*v.c+c)*hw:][:hw]
			b, l := c/v.cbs, c%v.cbs
			for y := 0; y < v.h; y++ {
				dst := p.arena[interior(v, i, b, y, 0)+l:]
				row := src[y*v.w : (y+1)*v.w]
				for xx, val := range row {
					dst[xx*v.cbs] = val
				}
			}
		}
	}
}

// unpackOutput writes the output value to out in [n, C, H, W] (or [n, F]).
func (p *Program) unpackOutput(out []float32, n int) {
	v := p.out
	if v.flat {
		_, cs, _ := strides(v)
		for i := 0; i < n; i++ {
			for c := 0; c < v.c; c++ {
				out[i*v.c+c] = p.arena[v.off+(c/16)*cs+i*16+c%16]
			}
		}
		return
	}
	hw := v.h * v.w
	for i := 0; i < n; i++ {
		for c := 0; c < v.c; c++ {
			dst := out[(i*v.c+c)*hw:][:hw]
			b, l := c/v.cbs, c%v.cbs
			for y := 0; y < v.h; y++ {
				src := p.arena[interior(v, i, b, y, 0)+l:]
				for xx := 0; xx < v.w; xx++ {
					dst[y*v.w+xx] = src[xx*v.cbs]
				}
			}
		}
	}
}

// StepTimes runs the program runs times on x (as Run does) and returns, for
// every step in Steps() order, its median time in milliseconds. It allocates
// and is meant for profiling, not for the timed path.
func (p *Program) StepTimes(x []float32, runs int) ([]float64, error) {
	if runs < 1 {
		return nil, fmt.Errorf("runtime %s: runs %d, want at least 1", p.name, runs)
	}
	out := make([]float32, p.batch*p.outPer)
	if err := p.Run(x, out); err != nil {
		return nil, err
	}
	n := len(x) / p.InputLen()
	ts := make([][]float64, len(p.steps))
	for r := 0; r < runs; r++ {
		p.packInput(x, n)
		for i, s := range p.steps {
			t0 := time.Now()
			s.exec(n)
			ts[i] = append(ts[i], float64(time.Since(t0).Nanoseconds())/1e6)
		}
	}
	med := make([]float64, len(ts))
	for i, t := range ts {
		slices.Sort(t)
		med[i] = t[len(t)/2]
	}
	return med, nil
}
