package data

import (
	"math"
	"math/rand/v2"
)

// Transform changes one normalised image in place (C*H*W values, CHW order) without
// changing its shape. It draws all its randomness from rng, so that a Loader, which seeds
// rng from (seed, epoch, sample index), makes augmentation reproducible. Apply must not
// allocate and must be safe for concurrent use on distinct images.
type Transform interface {
	Apply(rng *rand.Rand, x []float32, c, h, w int)
}

// RandomCrop pads the image by Pad pixels on every side and crops a random H x W window
// back out (torchvision's RandomCrop(size, padding=Pad)): the image moves by dy, dx drawn
// uniformly from [-Pad, Pad] and the uncovered border takes the value Fill[c] (or Fill[0]
// for every channel when it has one value; 0 when Fill is empty). Note that 0 in the
// normalised space is the mean grey; use Normalization.Black to pad with black pixels as
// torchvision does when padding before normalising.
type RandomCrop struct {
	Pad  int
	Fill []float32
}

// Apply shifts x by a random offset, in place.
func (t RandomCrop) Apply(rng *rand.Rand, x []float32, c, h, w int) {
	if t.Pad <= 0 {
		return
	}
	dy := rng.IntN(2*t.Pad+1) - t.Pad
	dx := rng.IntN(2*t.Pad+1) - t.Pad
	for ch := 0; ch < c; ch++ {
		var fill float32
		switch {
		case len(t.Fill) == 1:
			fill = t.Fill[0]
		case ch < len(t.Fill):
			fill = t.Fill[ch]
		}
		shiftPlane(x[ch*h*w:(ch+1)*h*w], h, w, dy, dx, fill)
	}
}

// shiftPlane sets p[y][x] = p[y+dy][x+dx] (fill outside the plane) in place.
func shiftPlane(p []float32, h, w, dy, dx int, fill float32) {
	if dy == 0 && dx == 0 {
		return
	}
	// Rows are visited so that a source row is read before it is overwritten.
	row := func(y int) {
		dst := p[y*w : (y+1)*w]
		sy := y + dy
		if sy < 0 || sy >= h || dx >= w || -dx >= w {
			for i := range dst {
				dst[i] = fill
			}
			return
		}
		src := p[sy*w : (sy+1)*w]
		if dx >= 0 {
			copy(dst[:w-dx], src[dx:]) // copy handles overlap when sy == y
			for i := w - dx; i < w; i++ {
				dst[i] = fill
			}
		} else {
			copy(dst[-dx:], src[:w+dx])
			for i := 0; i < -dx; i++ {
				dst[i] = fill
			}
		}
	}
	if dy >= 0 {
		for y := 0; y < h; y++ {
			row(y)
		}
	} else {
		for y := h - 1; y >= 0; y-- {
			row(y)
		}
	}
}

// RandomHFlip mirrors the image left-right with probability P (0.5 when P is 0).
type RandomHFlip struct {
	P float64
}

// Apply flips x horizontally, in place, with probability P.
func (t RandomHFlip) Apply(rng *rand.Rand, x []float32, c, h, w int) {
	p := t.P
	if p == 0 {
		p = 0.5
	}
	if rng.Float64() >= p {
		return
	}
	for r := 0; r < c*h; r++ {
		row := x[r*w : (r+1)*w]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
}

// RandomErasing sets a random rectangle of the image to Value with probability P
// (random erasing, Zhong et al. 2020, as in timm with its default "const" mode): the area
// is drawn uniformly in [0.02, 1/3] of the image and the aspect ratio log-uniformly in
// [0.3, 3.3]; up to 10 draws are tried until the rectangle fits.
type RandomErasing struct {
	P     float64
	Value float32
}

// Apply erases a random rectangle of x in place, with probability P.
func (t RandomErasing) Apply(rng *rand.Rand, x []float32, c, h, w int) {
	if t.P <= 0 || rng.Float64() >= t.P {
		return
	}
	area := float64(h * w)
	for range 10 {
		a := area * (0.02 + rng.Float64()*(1.0/3-0.02))
		ratio := math.Exp(math.Log(0.3) + rng.Float64()*(math.Log(1/0.3)-math.Log(0.3)))
		eh := int(math.Sqrt(a*ratio) + 0.5)
		ew := int(math.Sqrt(a/ratio) + 0.5)
		if eh < 1 || ew < 1 || eh >= h || ew >= w {
			continue
		}
		y0 := rng.IntN(h - eh + 1)
		x0 := rng.IntN(w - ew + 1)
		for ch := 0; ch < c; ch++ {
			for y := y0; y < y0+eh; y++ {
				row := x[(ch*h+y)*w+x0 : (ch*h+y)*w+x0+ew]
				for i := range row {
					row[i] = t.Value
				}
			}
		}
		return
	}
}
