package data

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/internal/memlimit"
)

// maxDecodePixels bounds the size of one image before it is decoded (a decompression bomb
// guard): 2^28 pixels, e.g. 16384x16384.
const maxDecodePixels = 1 << 28

// FolderOptions configures ImageFolder.
type FolderOptions struct {
	// Size is the side of the square images the data set holds (required, > 0).
	Size int
	// Resize is the length the shorter side of every image is scaled to (antialiased
	// bilinear filter, as PIL and torchvision's Resize(int) do) before the centre Size x Size
	// crop; 0 means Size. It must be at least Size.
	Resize int
	// Gray stores one luma channel (ITU-R 601: 0.299 R + 0.587 G + 0.114 B) instead of RGB.
	Gray bool
	// Norm is the normalisation; the zero value means ImageNetNorm for RGB and mean 0.5,
	// std 0.5 for gray. ComputeNormalization gives the data's own statistics.
	Norm Normalization
	// Workers is the number of decoding goroutines (default GOMAXPROCS).
	Workers int
}

// ImageFolder reads a folder with one sub-folder per class (classes sorted by name; label i
// is the i-th name, available from ClassNames), each holding PNG or JPEG images (".png",
// ".jpg", ".jpeg", any case; searched recursively; other files and names starting with "."
// are ignored). Every image is decoded (alpha dropped), its shorter side resized to
// opt.Resize, centre-cropped to opt.Size x opt.Size and stored as uint8, RGB or gray. The
// root and every class folder must hold at least one image.
func ImageFolder(root string, opt FolderOptions) (*Images, error) {
	if opt.Size <= 0 {
		return nil, fmt.Errorf("data: image folder %s: size %d, want > 0", root, opt.Size)
	}
	if opt.Resize == 0 {
		opt.Resize = opt.Size
	}
	if opt.Resize > MaxImageSide {
		return nil, fmt.Errorf("data: image folder %s: size %d / resize %d exceeds %d pixels", root, opt.Size, opt.Resize, MaxImageSide)
	}
	if opt.Resize < opt.Size {
		return nil, fmt.Errorf("data: image folder %s: resize %d is smaller than the crop size %d", root, opt.Resize, opt.Size)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	c := 3
	norm := ImageNetNorm
	if opt.Gray {
		c = 1
		norm = Normalization{Mean: []float32{0.5}, Std: []float32{0.5}}
	}
	if opt.Norm.Mean != nil || opt.Norm.Std != nil {
		norm = opt.Norm
	}
	if err := norm.validate(c); err != nil {
		return nil, fmt.Errorf("data: image folder %s: %w", root, err)
	}

	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("data: image folder: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if isDirEntryDir(root, e) && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	slices.Sort(classes)
	if len(classes) == 0 {
		return nil, fmt.Errorf("data: image folder %s: %w: no class sub-folders", root, ErrEmpty)
	}
	var files []string
	var labels []int32
	for ci, cl := range classes {
		dir := filepath.Join(root, cl)
		n := 0
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(e.Name(), ".") && p != dir {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if e.IsDir() || !isImageName(e.Name()) {
				return nil
			}
			files = append(files, p)
			labels = append(labels, int32(ci))
			n++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("data: image folder %s: %w", root, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("data: image folder %s: %w: class folder %s has no .png/.jpg/.jpeg image", root, ErrEmpty, dir)
		}
	}

	// Every image is decoded into c x size x size bytes, all kept in memory.
	if err := memlimit.Check(fmt.Sprintf("data: image folder %s (%d images of %dx%dx%d)", root, len(files), c, opt.Size, opt.Size),
		memlimit.Mul(int64(len(files)), int64(c), int64(opt.Size), int64(opt.Size))); err != nil {
		return nil, err
	}
	per := c * opt.Size * opt.Size
	pixels := make([]uint8, len(files)*per)
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	var next sync.Mutex
	k := 0
	for range min(opt.Workers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s resizeScratch
			for {
				next.Lock()
				i := k
				k++
				next.Unlock()
				if i >= len(files) {
					return
				}
				errs[i] = loadImage(files[i], pixels[i*per:(i+1)*per], c, opt.Resize, opt.Size, &s)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	d, err := NewImages("image folder "+root, c, opt.Size, opt.Size, pixels, labels, len(classes), norm)
	if err != nil {
		return nil, err
	}
	_ = d.SetClassNames(classes)
	return d, nil
}

// isDirEntryDir reports whether e is a directory or a symbolic link to one.
func isDirEntryDir(root string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink != 0 {
		st, err := os.Stat(filepath.Join(root, e.Name()))
		return err == nil && st.IsDir()
	}
	return false
}

func isImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// MaxImageSide bounds the crop size and the resize target of ImageFolder.
const MaxImageSide = 8192

// loadImage decodes path and writes it, resized and centre-cropped, into dst (c planes of
// size x size).
func loadImage(path string, dst []uint8, c, resize, size int, s *resizeScratch) error {
	f, _, err := fsutil.OpenRegular(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return fmt.Errorf("data: %s: %w: %w", path, ErrFormat, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxDecodePixels {
		return fmt.Errorf("data: %s: %w: %dx%d image (at most %d pixels)", path, ErrImageSize, cfg.Width, cfg.Height, maxDecodePixels)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return fmt.Errorf("data: %s: %w", path, err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return fmt.Errorf("data: %s: %w: %w", path, ErrFormat, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	s.planes = growU8(s.planes, c*w*h)
	toPlanes(img, s.planes, c)
	// Scale the shorter side to resize (the longer one as torchvision does: truncated).
	ow, oh := resize, resize
	if w < h {
		oh = int(int64(resize) * int64(h) / int64(w))
	} else {
		ow = int(int64(resize) * int64(w) / int64(h))
	}
	x0 := centreOffset(ow - size)
	y0 := centreOffset(oh - size)
	for ch := 0; ch < c; ch++ {
		resizeCrop(s, s.planes[ch*w*h:(ch+1)*w*h], w, h, ow, oh, x0, y0, size, dst[ch*size*size:(ch+1)*size*size])
	}
	return nil
}

// centreOffset returns where a centre crop starts when the image is d pixels larger than
// the crop: round(d/2) as torchvision's CenterCrop computes it, with Python's round, which
// rounds halves to even (d = 5 gives 2, d = 7 gives 4).
func centreOffset(d int) int {
	k := d / 2
	if d%2 == 1 && k%2 == 1 {
		k++
	}
	return k
}

func growU8(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return make([]uint8, n)
	}
	return b[:n]
}

func growF32(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// luma returns the ITU-R 601 luma of 8-bit R, G, B, rounded as PIL's convert("L").
func luma(r, g, b uint32) uint8 {
	return uint8((r*299 + g*587 + b*114 + 500) / 1000)
}

// toPlanes writes img as c (1 or 3) uint8 planes, alpha dropped.
func toPlanes(img image.Image, dst []uint8, c int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	n := w * h
	put := func(i int, r, g, bl uint32) {
		if c == 1 {
			dst[i] = luma(r, g, bl)
		} else {
			dst[i], dst[n+i], dst[2*n+i] = uint8(r), uint8(g), uint8(bl)
		}
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				for ch := 0; ch < c; ch++ {
					dst[ch*n+y*w+x] = v
				}
			}
		}
	case *image.YCbCr:
		if ycbcrPlanes(m, dst, c) {
			return
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				if c == 1 {
					dst[y*w+x] = m.Y[yi]
					continue
				}
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				put(y*w+x, uint32(r), uint32(g), uint32(bl))
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				put(y*w+x, uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2]))
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				put(y*w+x, uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2]))
			}
		}
	case *image.Paletted:
		var pal [256][3]uint32
		for i, col := range m.Palette {
			if i == 256 {
				break
			}
			nc := color.NRGBAModel.Convert(col).(color.NRGBA)
			pal[i] = [3]uint32{uint32(nc.R), uint32(nc.G), uint32(nc.B)}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				p := pal[v]
				put(y*w+x, p[0], p[1], p[2])
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				nc := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				put(y*w+x, uint32(nc.R), uint32(nc.G), uint32(nc.B))
			}
		}
	}
}

// resizeScratch holds per-goroutine buffers of the resizer.
type resizeScratch struct {
	planes []uint8
	tmp    []float32
	coef   []float32
}

// weights returns, for output positions o0..o0+n-1 of a resampling from in to out samples
// with a triangle (bilinear) filter widened by the downscaling factor (PIL's antialiased
// bilinear), the first input index and the weights of each output (stride ksize).
func weights(in, out, o0, n int, coef []float32) (first []int, ws []float32, ksize int) {
	scale := float64(in) / float64(out)
	fscale := max(scale, 1)
	support := fscale // triangle support 1, widened
	ksize = int(2*support) + 3
	ws = growF32(coef, n*ksize)
	first = make([]int, n)
	for k := 0; k < n; k++ {
		center := (float64(o0+k) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		row := ws[k*ksize : (k+1)*ksize]
		clear(row)
		var sum float64
		tmp := row[:0]
		for x := lo; x < hi && x-lo < ksize; x++ {
			d := (float64(x) - center + 0.5) / fscale
			if d < 0 {
				d = -d
			}
			v := 0.0
			if d < 1 {
				v = 1 - d
			}
			tmp = append(tmp, float32(v))
			sum += v
		}
		if sum > 0 {
			for i := range tmp {
				tmp[i] = float32(float64(tmp[i]) / sum)
			}
		}
		first[k] = lo
	}
	return first, ws, ksize
}

// resizeCrop resizes the w x h plane src to ow x oh and writes the size x size window at
// (x0, y0) of the result into dst, computing only that window.
func resizeCrop(s *resizeScratch, src []uint8, w, h, ow, oh, x0, y0, size int, dst []uint8) {
	if ow == w && oh == h {
		for y := 0; y < size; y++ {
			copy(dst[y*size:(y+1)*size], src[(y0+y)*w+x0:])
		}
		return
	}
	xf, xw, xk := weights(w, ow, x0, size, nil)
	yf, yw, yk := weights(h, oh, y0, size, s.coef)
	s.coef = yw
	// Rows needed by the vertical pass.
	r0 := yf[0]
	r1 := min(yf[size-1]+yk, h)
	s.tmp = growF32(s.tmp, (r1-r0)*size)
	for y := r0; y < r1; y++ {
		in := src[y*w : (y+1)*w]
		out := s.tmp[(y-r0)*size : (y-r0+1)*size]
		for k := 0; k < size; k++ {
			var acc float32
			f := xf[k]
			for j, c := range xw[k*xk : (k+1)*xk] {
				if c != 0 {
					acc += c * float32(in[f+j])
				}
			}
			out[k] = acc
		}
	}
	for k := 0; k < size; k++ {
		o := dst[k*size : (k+1)*size]
		f := yf[k]
		for x := 0; x < size; x++ {
			var acc float32
			for j, c := range yw[k*yk : (k+1)*yk] {
				if c != 0 {
					acc += c * s.tmp[(f+j-r0)*size+x]
				}
			}
			v := int(acc + 0.5)
			o[x] = uint8(min(max(v, 0), 255))
		}
	}
}
