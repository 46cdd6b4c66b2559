package nchwc

import "unsafe"

// Max computes n output pixels of the max-pooling kernel starting at a: for
// r in [0, n), Out[r] = clamp(max(Bias, max over kh < KH, kw < KW of
// In[r*pix + kh*RowStride + kw*KWStep]) (+ Res[r]) (+ Bmap[r]), Lo, Hi),
// element-wise over the Block lanes (W, CB and Cnt are not read). Bias is
// the starting value (a block of -Inf for a plain max). Pointers and
// strides are as for DW, and a's pointers are advanced as it goes.
func Max(a *Args, pix, n int) {
	f := active()
	if f == generic || !f.hasPoolAct {
		runs(a, generic, kindMax, 0, pix, n, MaxR)
		return
	}
	pi, maxR := pixIndex(f.dwPix, pix), f.dwMaxR
	if pi < 0 {
		pi, maxR = 0, 1
	}
	runs(a, f, kindMax, pi, pix, n, maxR)
}

// maxGo is the portable max-pooling kernel.
func maxGo(a *Args, pix, r int) {
	var acc [MaxR][16]float32
	for i := 0; i < r; i++ {
		for h := 0; h < 16; h += 8 {
			b := (*lanes8)(unsafe.Add(a.Bias, 4*h))
			a0, a1, a2, a3, a4, a5, a6, a7 := b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
			for kh := 0; kh < a.KH; kh++ {
				for kw := 0; kw < a.KW; kw++ {
					x := (*lanes8)(unsafe.Add(a.In, i*pix+kh*a.RowStride+kw*a.KWStep+4*h))
					// max(a, x) as VMAXPS x, a computes it: x unless a > x.
					a0 = maxLane(a0, x[0])
					a1 = maxLane(a1, x[1])
					a2 = maxLane(a2, x[2])
					a3 = maxLane(a3, x[3])
					a4 = maxLane(a4, x[4])
					a5 = maxLane(a5, x[5])
					a6 = maxLane(a6, x[6])
					a7 = maxLane(a7, x[7])
				}
			}
			acc[i][h+0], acc[i][h+1], acc[i][h+2], acc[i][h+3] = a0, a1, a2, a3
			acc[i][h+4], acc[i][h+5], acc[i][h+6], acc[i][h+7] = a4, a5, a6, a7
		}
	}
	finishGo(a, &acc, r)
}

func maxLane(a, x float32) float32 {
	if a > x {
		return a
	}
	return x
}
