package runtime

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

func kernelCase(pix, cb, cnt, kh, kw int, seed uint64) (a kargs, in, w, bias, res, bm []float32, out []float32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	rowStride := (maxR*pix/4 + kw*16 + 64) // floats
	cbStride := rowStride * (kh + 1)
	in = fill(cb*cbStride + 64)
	w = fill(cb * kh * kw * cnt * 16)
	bias, res, bm = fill(16), fill(maxR*16), fill(maxR*16)
	out = make([]float32, maxR*16)
	a = kargs{in: unsafe.Pointer(&in[0]), w: unsafe.Pointer(&w[0]), out: unsafe.Pointer(&out[0]), bias: unsafe.Pointer(&bias[0]),
		res: unsafe.Pointer(&res[0]), bmap: unsafe.Pointer(&bm[0]),
		cb: cb, cbStride: 4 * cbStride, kh: kh, rowStride: 4 * rowStride, kw: kw, kwStep: 64, cnt: cnt, cntLast: max(1, cnt-5), lo: -1.5, hi: 2.5}
	return
}

// TestKernelsMatchGo checks every assembly kernel against the portable one.
func TestKernelsMatchGo(t *testing.T) {
	if !useAsm {
		t.Skip("no assembly kernels on this machine")
	}
	for pi, pix := range pixStrides {
		for r := 1; r <= maxR; r++ {
			a, _, _, _, _, _, out := kernelCase(pix, 2, 16, 3, 3, uint64(r))
			a.kwStep = pix / 2
			if pix < 64 {
				a.cnt = pix / 8
				a.cntLast = a.cnt
				a.kwStep = 4 * a.cnt
			}
			b := a
			callConv(pi, r, &a)
			got := append([]float32(nil), out[:r*16]...)
			convGo(&b, pix, r)
			for i := range got {
				if math.Abs(float64(got[i]-out[i])) > 1e-4*(1+math.Abs(float64(out[i]))) {
					t.Fatalf("conv pix %d r %d: [%d] asm %v go %v", pix, r, i, got[i], out[i])
				}
			}
		}
	}
	for pi, pix := range dwPixStrides {
		for r := 1; r <= maxR; r++ {
			a, _, _, _, _, _, out := kernelCase(pix, 1, 1, 5, 5, uint64(r))
			b := a
			callDW(pi, r, &a)
			got := append([]float32(nil), out[:r*16]...)
			dwGo(&b, pix, r)
			for i := range got {
				if math.Abs(float64(got[i]-out[i])) > 1e-4*(1+math.Abs(float64(out[i]))) {
					t.Fatalf("dw pix %d r %d: [%d] asm %v go %v", pix, r, i, got[i], out[i])
				}
			}
		}
	}
}

// TestDWReuseMatchGo checks the specialised depthwise kernels.
func TestDWReuseMatchGo(t *testing.T) {
	if !useAsm {
		t.Skip("no assembly kernels on this machine")
	}
	for _, k := range []int{3, 5} {
		for _, s := range []int{1, 2} {
			for r := 1; r <= maxR; r++ {
				a, _, _, _, _, _, out := kernelCase(64*s, 1, 1, k, k, uint64(r))
				b := a
				callDWReuse(k, s, r, &a)
				got := append([]float32(nil), out[:r*16]...)
				dwGo(&b, 64*s, r)
				for i := range got {
					if math.Abs(float64(got[i]-out[i])) > 1e-4*(1+math.Abs(float64(out[i]))) {
						t.Fatalf("dw%d s%d r %d: [%d] asm %v go %v", k, s, r, i, got[i], out[i])
					}
				}
			}
		}
	}
}

// BenchmarkKernel times the dense kernel with hot caches (GMAC/s).
func BenchmarkKernel(b *testing.B) {
	for _, r := range []int{7, 14} {
		for _, k := range []int{1, 3} {
			a, _, _, _, _, _, _ := kernelCase(64, 6, 16, k, k, 1)
			a.res, a.bmap = nil, nil
			a.cntLast = 16
			b.Run("r"+string(rune('0'+r/10))+string(rune('0'+r%10))+"k"+string(rune('0'+k)), func(b *testing.B) {
				for b.Loop() {
					c := a
					callConv(2, r, &c)
				}
				macs := float64(r*16*6*16*k*k) * float64(b.N)
				b.ReportMetric(macs/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}
