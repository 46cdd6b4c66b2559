package runtime

//go:generate go run gen_kernels.go

import (
	"unsafe"
)

// maxR is the largest number of output pixels one micro-kernel call computes.
const maxR = 14

// kargs is the argument block of the micro-kernels. Field offsets are fixed
// (see gen_kernels.go and TestKargsLayout).
//
// Dense kernel: for r in [0, R): out[r*64 bytes : +16 floats] = clamp(bias +
// sum over cb < CB, kh < KH, kw < KW, c < Cnt (CntLast in the last block) of w[...] * in[r*pix + cb*CBStride
// + kh*RowStride + kw*KWStep + 4c] (+ res[r]) (+ bmap[r]), lo, hi), where w
// advances 16 floats per (cb, kh, kw, c) step.
//
// Depthwise kernel: out[r] = clamp(bias + sum over kh, kw of w[kh,kw] (*)
// in[r*pix + kh*RowStride + kw*KWStep] ...), element-wise over 16 lanes.
type kargs struct {
	in, w, out, bias, res, bmap unsafe.Pointer
	cb, cbStride                int
	kh, rowStride               int
	kw, kwStep                  int
	cnt                         int
	lo, hi                      float32
	cntLast                     int // channels of the last block
}

// pixStrides lists the pixel strides (bytes) with multi-pixel dense kernels;
// dwPixStrides those of the depthwise kernels. Any other stride runs one
// pixel per call.
var (
	pixStrides   = [...]int{16, 32, 64, 128}
	dwPixStrides = [...]int{64, 128}
)

func pixIndex(tab []int, pix int) int {
	for i, p := range tab {
		if p == pix {
			return i
		}
	}
	return -1
}

func f32at(p unsafe.Pointer, byteOff int) *float32 {
	return (*float32)(unsafe.Add(p, byteOff))
}

// convGo is the portable dense kernel: r pixels with pixel stride pix bytes.
func convGo(a *kargs, pix, r int) {
	var acc [maxR][16]float32
	for i := 0; i < r; i++ {
		for l := 0; l < 16; l++ {
			acc[i][l] = *f32at(a.bias, 4*l)
		}
	}
	wi := 0 // weight vector index (never forms a pointer past the end)
	for cb := 0; cb < a.cb; cb++ {
		for kh := 0; kh < a.kh; kh++ {
			for kw := 0; kw < a.kw; kw++ {
				base := cb*a.cbStride + kh*a.rowStride + kw*a.kwStep
				cnt := a.cnt
				if cb == a.cb-1 {
					cnt = a.cntLast
				}
				for c := 0; c < cnt; c++ {
					w := (*[16]float32)(unsafe.Add(a.w, 64*wi))
					for i := 0; i < r; i++ {
						v := *f32at(a.in, base+i*pix+4*c)
						for l := range w {
							acc[i][l] += w[l] * v
						}
					}
					wi++
				}
			}
		}
	}
	finishGo(a, &acc, r)
}

// dwGo is the portable depthwise kernel.
func dwGo(a *kargs, pix, r int) {
	var acc [maxR][16]float32
	for i := 0; i < r; i++ {
		for l := 0; l < 16; l++ {
			acc[i][l] = *f32at(a.bias, 4*l)
		}
	}
	wi := 0
	for kh := 0; kh < a.kh; kh++ {
		for kw := 0; kw < a.kw; kw++ {
			w := (*[16]float32)(unsafe.Add(a.w, 64*wi))
			base := kh*a.rowStride + kw*a.kwStep
			for i := 0; i < r; i++ {
				x := (*[16]float32)(unsafe.Add(a.in, base+i*pix))
				for l := range w {
					acc[i][l] += w[l] * x[l]
				}
			}
			wi++
		}
	}
	finishGo(a, &acc, r)
}

func finishGo(a *kargs, acc *[maxR][16]float32, r int) {
	for i := 0; i < r; i++ {
		o := (*[16]float32)(unsafe.Add(a.out, 64*i))
		for l := 0; l < 16; l++ {
			v := acc[i][l]
			if a.res != nil {
				v += (*[16]float32)(unsafe.Add(a.res, 64*i))[l]
			}
			if a.bmap != nil {
				v += (*[16]float32)(unsafe.Add(a.bmap, 64*i))[l]
			}
			// max then min, as VMAXPS/VMINPS (NaN handling aside).
			if !(v > a.lo) {
				v = a.lo
			}
			if !(v < a.hi) {
				v = a.hi
			}
			o[l] = v
		}
	}
}

// runConv computes n output pixels starting at a (whose in/out/res/bmap point
// at the first pixel), in calls of at most maxR pixels. outPix, resPix and
// bmapPix are 64 (bytes) for all NCHWc16 tensors.
func runConv(a *kargs, pix, n int) {
	pi := -1
	if useAsm {
		pi = pixIndex(pixStrides[:], pix)
	}
	for n > 0 {
		r := min(n, maxR)
		switch {
		case pi >= 0:
			callConv(pi, r, a)
		case useAsm:
			r = 1
			callConv(0, 1, a)
		default:
			convGo(a, pix, r)
		}
		n -= r
		if n > 0 { // never form a pointer past the tensor's end
			advance(a, pix, r)
		}
	}
}

// runDW is runConv for the depthwise kernel.
func runDW(a *kargs, pix, n int) {
	pi := -1
	reuse := false
	if useAsm {
		pi = pixIndex(dwPixStrides[:], pix)
		reuse = pi >= 0 && a.kw == a.kh && (a.kw == 3 || a.kw == 5) && a.kwStep == 64
	}
	for n > 0 {
		r := min(n, maxR)
		switch {
		case reuse:
			callDWReuse(a.kw, pix/64, r, a)
		case pi >= 0:
			callDW(pi, r, a)
		case useAsm:
			r = 1
			callDW(0, 1, a)
		default:
			dwGo(a, pix, r)
		}
		n -= r
		if n > 0 { // never form a pointer past the tensor's end
			advance(a, pix, r)
		}
	}
}

func advance(a *kargs, pix, r int) {
	a.in = unsafe.Add(a.in, pix*r)
	a.out = unsafe.Add(a.out, 64*r)
	if a.res != nil {
		a.res = unsafe.Add(a.res, 64*r)
	}
	if a.bmap != nil {
		a.bmap = unsafe.Add(a.bmap, 64*r)
	}
}
