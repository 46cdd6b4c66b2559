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
	p.curX, p.curOut = x, out
	if p.threads > 1 && n > 1 && len(p.slotBusy) > 1 {
		// Image-parallel: each thread takes whole images through the
		// spatial steps, in its own storage slot.
		p.imgTask.n = n
		parallel.Do(&p.imgTask, n, 1)
	} else {
		for i := 0; i < n; i++ {
			p.runImage(i, 0, true)
		}
	}
	for _, s := range p.steps[p.nSpatial:] {
		s.exec(n)
	}
	if p.out.flat {
		p.unpackOutput(out, 0, n)
	}
	p.curX, p.curOut = nil, nil
	return nil
}

// runImage takes image img through the spatial steps in storage slot slot.
func (p *Program) runImage(img, slot int, par bool) {
	p.packInput(p.curX, img, slot)
	for _, s := range p.steps[:p.nSpatial] {
		s.execImg(slot, img, par)
	}
	if !p.out.flat {
		p.unpackOutput(p.curOut, img, slot)
	}
}

// imgTask runs images [lo, hi) through the spatial steps, claiming a free
// storage slot for each.
type imgTask struct {
	p *Program
	n int
}

// Run implements parallel.Task.
func (t *imgTask) Run(lo, hi int) {
	p := t.p
	slot := -1
	for slot < 0 {
		for i := range p.slotBusy {
			if p.slotBusy[i].CompareAndSwap(false, true) {
				slot = i
				break
			}
		}
	}
	for img := lo; img < hi; img++ {
		p.runImage(img, slot, false)
	}
	p.slotBusy[slot].Store(false)
}

// packInput writes image img of x (NCHW) into slot i of the input value,
// halo and padded lanes zero.
func (p *Program) packInput(x []float32, img, i int) {
	v := p.in
	is, cs, _ := strides(v)
	clear(p.arena[v.off+i*is:][:v.cb()*cs])
	hw := v.h * v.w
	{
		for c := 0; c < v.c; c++ {
			src := x[(img*v.c+c)*hw:][:hw]
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

// unpackOutput writes the output value to out in [n, C, H, W] (or [n, F]):
// images [img, n) of a flat output, or image img from storage slot n of a
// spatial one.
func (p *Program) unpackOutput(out []float32, img, n int) {
	v := p.out
	if v.flat {
		_, cs, _ := strides(v)
		for i := img; i < n; i++ {
			for c := 0; c < v.c; c++ {
				out[i*v.c+c] = p.arena[v.off+(c/blk)*cs+i*blk+c%blk]
			}
		}
		return
	}
	hw := v.h * v.w
	i := n
	{
		for c := 0; c < v.c; c++ {
			dst := out[(img*v.c+c)*hw:][:hw]
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
		for i, s := range p.steps {
			t0 := time.Now()
			if i < p.nSpatial {
				for img := 0; img < n; img++ {
					if i == 0 {
						p.packInput(x, img, 0)
					}
					s.execImg(0, img, true)
				}
			} else {
				s.exec(n)
			}
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
