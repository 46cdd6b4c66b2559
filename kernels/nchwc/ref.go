package nchwc

import "unsafe"

func f32at(p unsafe.Pointer, byteOff int) *float32 {
	return (*float32)(unsafe.Add(p, byteOff))
}

// The portable kernels compute one pixel and one 8-lane half of a block at
// a time with eight scalar accumulators, which the Go compiler keeps in
// registers (an accumulator array would live in memory and cost a load and
// a store per multiply-add): a few GMAC/s, where a straightforward loop
// runs at ~0.6.

// lanes8 is one 8-lane half of a block.
type lanes8 = [8]float32

// convGo is the portable dense kernel: r pixels with pixel stride pix bytes.
func convGo(a *Args, pix, r int) {
	var acc [MaxR][16]float32
	for i := 0; i < r; i++ {
		for h := 0; h < 16; h += 8 {
			b := (*lanes8)(unsafe.Add(a.Bias, 4*h))
			a0, a1, a2, a3, a4, a5, a6, a7 := b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
			wi := 0 // weight vector index (never forms a pointer past the end)
			for cb := 0; cb < a.CB; cb++ {
				cnt := a.Cnt
				if cb == a.CB-1 {
					cnt = a.CntLast
				}
				for kh := 0; kh < a.KH; kh++ {
					for kw := 0; kw < a.KW; kw++ {
						base := i*pix + cb*a.CBStride + kh*a.RowStride + kw*a.KWStep
						for c := 0; c < cnt; c++ {
							v := *f32at(a.In, base+4*c)
							w := (*lanes8)(unsafe.Add(a.W, 64*(wi+c)+4*h))
							a0 += w[0] * v
							a1 += w[1] * v
							a2 += w[2] * v
							a3 += w[3] * v
							a4 += w[4] * v
							a5 += w[5] * v
							a6 += w[6] * v
							a7 += w[7] * v
						}
						wi += cnt
					}
				}
			}
			acc[i][h+0], acc[i][h+1], acc[i][h+2], acc[i][h+3] = a0, a1, a2, a3
			acc[i][h+4], acc[i][h+5], acc[i][h+6], acc[i][h+7] = a4, a5, a6, a7
		}
	}
	finishGo(a, &acc, r)
}

// dwGo is the portable depthwise kernel.
func dwGo(a *Args, pix, r int) {
	var acc [MaxR][16]float32
	for i := 0; i < r; i++ {
		for h := 0; h < 16; h += 8 {
			b := (*lanes8)(unsafe.Add(a.Bias, 4*h))
			a0, a1, a2, a3, a4, a5, a6, a7 := b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
			wi := 0
			for kh := 0; kh < a.KH; kh++ {
				for kw := 0; kw < a.KW; kw++ {
					w := (*lanes8)(unsafe.Add(a.W, 64*wi+4*h))
					x := (*lanes8)(unsafe.Add(a.In, i*pix+kh*a.RowStride+kw*a.KWStep+4*h))
					a0 += w[0] * x[0]
					a1 += w[1] * x[1]
					a2 += w[2] * x[2]
					a3 += w[3] * x[3]
					a4 += w[4] * x[4]
					a5 += w[5] * x[5]
					a6 += w[6] * x[6]
					a7 += w[7] * x[7]
					wi++
				}
			}
			acc[i][h+0], acc[i][h+1], acc[i][h+2], acc[i][h+3] = a0, a1, a2, a3
			acc[i][h+4], acc[i][h+5], acc[i][h+6], acc[i][h+7] = a4, a5, a6, a7
		}
	}
	finishGo(a, &acc, r)
}

func finishGo(a *Args, acc *[MaxR][16]float32, r int) {
	for i := 0; i < r; i++ {
		o := (*[16]float32)(unsafe.Add(a.Out, 64*i))
		for l := 0; l < 16; l++ {
			v := acc[i][l]
			if a.Res != nil {
				v += (*[16]float32)(unsafe.Add(a.Res, 64*i))[l]
			}
			if a.Bmap != nil {
				v += (*[16]float32)(unsafe.Add(a.Bmap, 64*i))[l]
			}
			// max then min, as VMAXPS/VMINPS (NaN handling aside).
			if !(v > a.Lo) {
				v = a.Lo
			}
			if !(v < a.Hi) {
				v = a.Hi
			}
			o[l] = v
		}
	}
}

// winoInGo is the portable input transform: for n tiles of one tile row,
// V[pos][t] = (B^T d_t B)[pos] where d_t is the 4x4 patch at src + t*128
// bytes, rows srcRow bytes apart, and V[pos][t] is at dst + pos*pos + t*64.
func winoInGo(a *WinoArgs) {
	var d [4][4][16]float32
	var c [4][4][16]float32
	for t := 0; t < a.N; t++ {
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				d[i][j] = *(*[16]float32)(unsafe.Add(a.Src, t*128+i*a.SrcRow+j*64))
			}
		}
		for j := 0; j < 4; j++ {
			for l := 0; l < 16; l++ {
				d0, d1, d2, d3 := d[0][j][l], d[1][j][l], d[2][j][l], d[3][j][l]
				c[0][j][l], c[1][j][l], c[2][j][l], c[3][j][l] = d0-d2, d1+d2, d2-d1, d1-d3
			}
		}
		for i := 0; i < 4; i++ {
			var v [4]*[16]float32
			for j := range v {
				v[j] = (*[16]float32)(unsafe.Add(a.Dst, (4*i+j)*a.Pos+t*64))
			}
			for l := 0; l < 16; l++ {
				a0, a1, a2, a3 := c[i][0][l], c[i][1][l], c[i][2][l], c[i][3][l]
				v[0][l], v[1][l], v[2][l], v[3][l] = a0-a2, a1+a2, a2-a1, a1-a3
			}
		}
	}
}

// winoOutGo is the portable output transform: for n tiles of one tile row,
// out = clamp(A^T m_t A + bias (+ res) (+ bmap), lo, hi), m_t[pos] at src +
// pos*pos + t*64, output pixel (y, x) of tile t at dst + t*128 + y*dstRow +
// 64x (res and bmap likewise with their row strides).
func winoOutGo(a *WinoArgs) {
	bias := (*[16]float32)(a.Bias)
	for t := 0; t < a.N; t++ {
		var m [4][4]*[16]float32
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				m[i][j] = (*[16]float32)(unsafe.Add(a.Src, (4*i+j)*a.Pos+t*64))
			}
		}
		var y [2][2][16]float32
		for l := 0; l < 16; l++ {
			var s [2][4]float32
			for j := 0; j < 4; j++ {
				s[0][j] = m[0][j][l] + m[1][j][l] + m[2][j][l]
				s[1][j] = m[1][j][l] - m[2][j][l] - m[3][j][l]
			}
			for r := 0; r < 2; r++ {
				y[r][0][l] = s[r][0] + s[r][1] + s[r][2] + bias[l]
				y[r][1][l] = s[r][1] - s[r][2] - s[r][3] + bias[l]
			}
		}
		for r := 0; r < 2; r++ {
			for x := 0; x < 2; x++ {
				o := (*[16]float32)(unsafe.Add(a.Dst, t*128+r*a.DstRow+64*x))
				var res, bm *[16]float32
				if a.Res != nil {
					res = (*[16]float32)(unsafe.Add(a.Res, t*128+r*a.ResRow+64*x))
				}
				if a.Bmap != nil {
					bm = (*[16]float32)(unsafe.Add(a.Bmap, t*128+r*a.BmapRow+64*x))
				}
				for l := 0; l < 16; l++ {
					v := y[r][x][l]
					if res != nil {
						v += res[l]
					}
					if bm != nil {
						v += bm[l]
					}
					if !(v > a.Lo) {
						v = a.Lo
					}
					if !(v < a.Hi) {
						v = a.Hi
					}
					o[l] = v
				}
			}
		}
	}
}

// winoGemmGo is the portable product kernel: for r tiles (r <= winoMaxR),
// out[t] = sum over cb < a.CB, c < cnt (cntLast in the last block) of
// w[(cb, c)] * in[t*64 + cb*cbStride + 4c], out 64 bytes per tile.
func winoGemmGo(a *Args, r int) {
	var acc [WinoMaxR][16]float32
	wi := 0
	for cb := 0; cb < a.CB; cb++ {
		cnt := a.Cnt
		if cb == a.CB-1 {
			cnt = a.CntLast
		}
		for c := 0; c < cnt; c++ {
			w := (*[16]float32)(unsafe.Add(a.W, 64*wi))
			for t := 0; t < r; t++ {
				v := *f32at(a.In, cb*a.CBStride+t*64+4*c)
				for l := range w {
					acc[t][l] += w[l] * v
				}
			}
			wi++
		}
	}
	for t := 0; t < r; t++ {
		*(*[16]float32)(unsafe.Add(a.Out, 64*t)) = acc[t]
	}
}
