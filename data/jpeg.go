package data

import "image"

// ycbcrPlanes writes a decoded JPEG image as c (1 or 3) uint8 planes the way
// libjpeg decodes it, and so PIL and torchvision's pipelines: chroma
// subsampled 4:2:0 or 4:2:2 is upsampled with libjpeg's "fancy" triangle
// filter (not repeated), and YCbCr becomes RGB with libjpeg's fixed-point
// tables; one channel is then the luma of that RGB, as PIL's convert("L").
// It reports false for other subsampling ratios, which the caller converts
// itself.
func ycbcrPlanes(m *image.YCbCr, dst []uint8, c int) bool {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	var cb, cr []uint8 // full-resolution chroma planes, w x h
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		cb, cr = make([]uint8, w*h), make([]uint8, w*h)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				cb[y*w+x], cr[y*w+x] = m.Cb[ci], m.Cr[ci]
			}
		}
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422:
		if b.Min.X%2 != 0 || b.Min.Y%2 != 0 {
			return false
		}
		cw := (w + 1) / 2
		ch := h
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			ch = (h + 1) / 2
		}
		c0 := m.COffset(b.Min.X, b.Min.Y)
		cb = upsampleFancy(m.Cb[c0:], m.CStride, cw, ch, w, h, m.SubsampleRatio == image.YCbCrSubsampleRatio420)
		cr = upsampleFancy(m.Cr[c0:], m.CStride, cw, ch, w, h, m.SubsampleRatio == image.YCbCrSubsampleRatio420)
	default:
		return false
	}
	n := w * h
	for y := 0; y < h; y++ {
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < w; x++ {
			i := y*w + x
			r, g, bl := yccToRGB(yrow[x], cb[i], cr[i])
			if c == 1 {
				dst[i] = luma(uint32(r), uint32(g), uint32(bl))
			} else {
				dst[i], dst[n+i], dst[2*n+i] = r, g, bl
			}
		}
	}
	return true
}

// upsampleFancy doubles the width (and the height when v2) of a chroma plane
// of cw x ch samples (row stride stride) with libjpeg's fancy upsampling
// (jdsample.c: h2v1_fancy_upsample, h2v2_fancy_upsample; the image's first
// and last rows stand in for the rows beyond them) and returns the w x h
// top-left part. Planes at most 2 samples wide are repeated instead, as
// libjpeg does.
func upsampleFancy(src []uint8, stride, cw, ch, w, h int, v2 bool) []uint8 {
	out := make([]uint8, w*h)
	row := make([]int, 2*cw) // one output row at full width
	put := func(oy int) {
		if oy < h {
			for x := 0; x < w; x++ {
				out[oy*w+x] = uint8(row[x])
			}
		}
	}
	at := func(y, x int) int { return int(src[y*stride+x]) }
	for cy := 0; cy < ch; cy++ {
		if cw <= 2 { // box (repeat) upsampling
			for x := 0; x < 2*cw; x++ {
				row[x] = at(cy, x/2)
			}
			if v2 {
				put(2 * cy)
				put(2*cy + 1)
			} else {
				put(cy)
			}
			continue
		}
		if !v2 {
			// h2v1: out[2i] = (3 s[i] + s[i-1] + 1) >> 2, out[2i+1] = (3 s[i] + s[i+1] + 2) >> 2.
			row[0] = at(cy, 0)
			row[1] = (at(cy, 0)*3 + at(cy, 1) + 2) >> 2
			for x := 1; x < cw-1; x++ {
				v := at(cy, x) * 3
				row[2*x] = (v + at(cy, x-1) + 1) >> 2
				row[2*x+1] = (v + at(cy, x+1) + 2) >> 2
			}
			row[2*cw-2] = (at(cy, cw-1)*3 + at(cy, cw-2) + 1) >> 2
			row[2*cw-1] = at(cy, cw-1)
			put(cy)
			continue
		}
		for v := 0; v < 2; v++ {
			// The nearest input row weighs 3, the next nearest (above for the
			// upper output row, below for the lower) 1.
			near := cy
			next := cy - 1
			if v == 1 {
				next = cy + 1
			}
			next = min(max(next, 0), ch-1)
			col := func(x int) int { return at(near, x)*3 + at(next, x) }
			this, nxt := col(0), col(1)
			row[0] = (this*4 + 8) >> 4
			row[1] = (this*3 + nxt + 7) >> 4
			last := this
			this = nxt
			for x := 1; x < cw-1; x++ {
				nxt = col(x + 1)
				row[2*x] = (this*3 + last + 8) >> 4
				row[2*x+1] = (this*3 + nxt + 7) >> 4
				last, this = this, nxt
			}
			row[2*cw-2] = (this*3 + last + 8) >> 4
			row[2*cw-1] = (this*4 + 7) >> 4
			put(2*cy + v)
		}
	}
	return out
}

// yccToRGB converts one JPEG YCbCr sample to RGB as libjpeg's
// ycc_rgb_convert does (jdcolor.c: 16-bit fixed-point tables, rounded, then
// clamped).
func yccToRGB(y, cb, cr uint8) (r, g, b uint8) {
	const half = 1 << 15
	yy := int32(y)
	x := int32(cb) - 128
	z := int32(cr) - 128
	rr := yy + (91881*z+half)>>16
	gg := yy + (-22554*x-46802*z+half)>>16
	bb := yy + (116130*x+half)>>16
	return clamp8(rr), clamp8(gg), clamp8(bb)
}

func clamp8(v int32) uint8 {
	return uint8(min(max(v, 0), 255))
}
