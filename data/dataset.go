// Package data reads image classification data sets (MNIST and Fashion-MNIST IDX files,
// CIFAR-10/100 binary batches, folders of PNG/JPEG images), keeps them in memory as uint8,
// and serves them to the trainer as normalised float32 NCHW batches with labels.
//
// Everything random (shuffling, augmentation, train/validation splits) is driven by
// math/rand/v2 PCG generators seeded from a user seed, so runs are reproducible: an epoch's
// sample order depends only on (seed, epoch) and a sample's augmentation only on
// (seed, epoch, dataset index), whatever the number of loader workers.
package data

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Dataset is an indexable set of labelled images of one fixed shape.
//
// Get writes image i, normalised, as C*H*W float32 values in CHW order into dst[:C*H*W]
// and returns its label in [0, NumClasses()). Get must be safe for concurrent use with
// distinct dst slices; it panics if i is out of range or dst is too short (a programming
// error, not a data error).
type Dataset interface {
	// Len returns the number of samples.
	Len() int
	// Shape returns the channels, height and width of every image.
	Shape() (c, h, w int)
	// NumClasses returns the number of classes; labels lie in [0, NumClasses()).
	NumClasses() int
	// Get writes sample i into dst (C*H*W values, CHW) and returns its label.
	Get(i int, dst []float32) (label int)
}

// Sentinel errors wrapped by the readers; test for them with errors.Is. The wrapping error's
// message names the file and gives the details.
var (
	// ErrTruncated reports a file shorter than its header or record size says.
	ErrTruncated = errors.New("truncated file")
	// ErrBadMagic reports a file whose magic number is not the expected one.
	ErrBadMagic = errors.New("wrong magic number")
	// ErrCountMismatch reports an image file and a label file that disagree on the count.
	ErrCountMismatch = errors.New("image/label count mismatch")
	// ErrImageSize reports images whose size differs from the expected one.
	ErrImageSize = errors.New("wrong image size")
	// ErrLabelRange reports a label outside [0, number of classes).
	ErrLabelRange = errors.New("label out of range")
	// ErrEmpty reports a data set, folder or file with no samples.
	ErrEmpty = errors.New("no samples")
	// ErrFormat reports any other malformed content (bad header field, trailing bytes,
	// undecodable image).
	ErrFormat = errors.New("malformed data")
)

// Normalization maps a raw pixel value p in [0, 255] of channel c to
// (p/255 - Mean[c]) / Std[c]. Mean and Std hold one value per channel, or a single value
// used for every channel.
type Normalization struct {
	Mean []float32
	Std  []float32
}

// Standard normalisations (per-channel mean and standard deviation of the training sets).
var (
	// FashionMNISTNorm is the Fashion-MNIST training-set normalisation (0.2860, 0.3530).
	FashionMNISTNorm = Normalization{Mean: []float32{0.2860}, Std: []float32{0.3530}}
	// MNISTNorm is the MNIST training-set normalisation (0.1307, 0.3081).
	MNISTNorm = Normalization{Mean: []float32{0.1307}, Std: []float32{0.3081}}
	// CIFAR10Norm is the CIFAR-10 training-set normalisation.
	CIFAR10Norm = Normalization{Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}}
	// CIFAR100Norm is the CIFAR-100 training-set normalisation.
	CIFAR100Norm = Normalization{Mean: []float32{0.5071, 0.4865, 0.4409}, Std: []float32{0.2673, 0.2564, 0.2762}}
	// ImageNetNorm is the usual ImageNet RGB normalisation, a reasonable default for image
	// folders of natural photographs.
	ImageNetNorm = Normalization{Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	// ZeroOne maps pixels to p/255 in [0, 1].
	ZeroOne = Normalization{Mean: []float32{0}, Std: []float32{1}}
)

// channel returns the mean and standard deviation used for channel c.
func (n Normalization) channel(c int) (mean, std float32) {
	mean, std = 0, 1
	if len(n.Mean) == 1 {
		mean = n.Mean[0]
	} else if c < len(n.Mean) {
		mean = n.Mean[c]
	}
	if len(n.Std) == 1 {
		std = n.Std[0]
	} else if c < len(n.Std) {
		std = n.Std[c]
	}
	return mean, std
}

// validate checks that n fits images with c channels.
func (n Normalization) validate(c int) error {
	if len(n.Mean) != 1 && len(n.Mean) != c {
		return fmt.Errorf("data: normalization has %d means for %d channels", len(n.Mean), c)
	}
	if len(n.Std) != 1 && len(n.Std) != c {
		return fmt.Errorf("data: normalization has %d standard deviations for %d channels", len(n.Std), c)
	}
	for i, s := range n.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("data: normalization std[%d] = %v, want a positive finite value", i, s)
		}
	}
	for i, m := range n.Mean {
		if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
			return fmt.Errorf("data: normalization mean[%d] = %v, want a finite value", i, m)
		}
	}
	return nil
}

// Black returns, per channel (c values), the normalised value of a raw 0 pixel:
// -Mean[c]/Std[c]. Use it as RandomCrop.Fill to pad with black as torchvision does when it
// pads before normalising.
func (n Normalization) Black(c int) []float32 {
	out := make([]float32, c)
	for i := range out {
		m, s := n.channel(i)
		out[i] = -m / s
	}
	return out
}

// Images is an in-memory data set of uint8 images and int32 labels. Pixels are converted
// to float32 with the data set's Normalization on each Get, through a per-channel lookup
// table, so 60000 28x28 images take 47 MB. It implements Dataset. Its methods are safe
// for concurrent use, except SetNormalization, which must not run concurrently with Get.
type Images struct {
	name       string
	c, h, w    int
	pixels     []uint8 // Len()*c*h*w bytes, image after image, CHW
	labels     []int32
	numClasses int
	classNames []string
	norm       Normalization
	lut        []float32 // c*256 normalised values
}

// NewImages wraps pixels (n images of c*h*w bytes each, CHW order, not copied) and their
// labels as a data set with numClasses classes and the given normalisation. name describes
// the data in error messages and String. It checks every label.
func NewImages(name string, c, h, w int, pixels []uint8, labels []int32, numClasses int, norm Normalization) (*Images, error) {
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("data: %s: %w: invalid image shape %dx%dx%d", name, ErrFormat, c, h, w)
	}
	if numClasses <= 0 {
		return nil, fmt.Errorf("data: %s: invalid number of classes %d", name, numClasses)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("data: %s: %w", name, ErrEmpty)
	}
	if len(pixels) != len(labels)*c*h*w {
		return nil, fmt.Errorf("data: %s: %w: %d bytes of pixels for %d labels of %dx%dx%d images",
			name, ErrCountMismatch, len(pixels), len(labels), c, h, w)
	}
	for i, l := range labels {
		if l < 0 || int(l) >= numClasses {
			return nil, fmt.Errorf("data: %s: %w: sample %d has label %d, want 0..%d", name, ErrLabelRange, i, l, numClasses-1)
		}
	}
	d := &Images{name: name, c: c, h: h, w: w, pixels: pixels, labels: labels, numClasses: numClasses}
	if err := d.SetNormalization(norm); err != nil {
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	return d, nil
}

// String returns the data set's name and shape.
func (d *Images) String() string {
	return fmt.Sprintf("%s: %d images %dx%dx%d, %d classes", d.name, len(d.labels), d.c, d.h, d.w, d.numClasses)
}

// Name returns the description given at construction (e.g. "fashion-mnist train").
func (d *Images) Name() string { return d.name }

// Len returns the number of images.
func (d *Images) Len() int { return len(d.labels) }

// Shape returns channels, height and width.
func (d *Images) Shape() (c, h, w int) { return d.c, d.h, d.w }

// NumClasses returns the number of classes.
func (d *Images) NumClasses() int { return d.numClasses }

// ClassNames returns the class names (index = label), or nil when unknown. The slice is
// shared; do not modify it.
func (d *Images) ClassNames() []string { return d.classNames }

// SetClassNames sets the class names; it must have NumClasses() entries.
func (d *Images) SetClassNames(names []string) error {
	if len(names) != d.numClasses {
		return fmt.Errorf("data: %s: %d class names for %d classes", d.name, len(names), d.numClasses)
	}
	d.classNames = slices.Clone(names)
	return nil
}

// Normalization returns the normalisation applied by Get.
func (d *Images) Normalization() Normalization { return d.norm }

// SetNormalization changes the normalisation applied by Get. Mean and Std must hold one
// value or one per channel, with positive finite Std.
func (d *Images) SetNormalization(n Normalization) error {
	if err := n.validate(d.c); err != nil {
		return err
	}
	lut := make([]float32, d.c*256)
	for ch := 0; ch < d.c; ch++ {
		m, s := n.channel(ch)
		for p := 0; p < 256; p++ {
			lut[ch*256+p] = (float32(p)/255 - m) / s
		}
	}
	d.norm = Normalization{Mean: slices.Clone(n.Mean), Std: slices.Clone(n.Std)}
	d.lut = lut
	return nil
}

// Label returns the label of image i.
func (d *Images) Label(i int) int { return int(d.labels[i]) }

// Labels returns all labels. The slice is shared; do not modify it.
func (d *Images) Labels() []int32 { return d.labels }

// Raw returns the uint8 pixels of image i (C*H*W bytes, CHW). The slice is shared; do not
// modify it.
func (d *Images) Raw(i int) []uint8 {
	n := d.c * d.h * d.w
	return d.pixels[i*n : (i+1)*n : (i+1)*n]
}

// Get writes the normalised image i into dst[:C*H*W] and returns its label.
func (d *Images) Get(i int, dst []float32) int {
	hw := d.h * d.w
	src := d.Raw(i)
	dst = dst[:len(src)]
	for ch := 0; ch < d.c; ch++ {
		lut := d.lut[ch*256 : ch*256+256 : ch*256+256]
		s := src[ch*hw : (ch+1)*hw]
		o := dst[ch*hw : (ch+1)*hw]
		for j, p := range s {
			o[j] = lut[p]
		}
	}
	return int(d.labels[i])
}

// ComputeNormalization returns the per-channel mean and standard deviation of the pixels
// of d (in [0, 1] units), e.g. to normalise a new image folder with its own statistics.
func ComputeNormalization(d *Images) Normalization {
	hw := d.h * d.w
	var hist = make([][256]int64, d.c)
	for i := 0; i < d.Len(); i++ {
		raw := d.Raw(i)
		for ch := 0; ch < d.c; ch++ {
			h := &hist[ch]
			for _, p := range raw[ch*hw : (ch+1)*hw] {
				h[p]++
			}
		}
	}
	n := Normalization{Mean: make([]float32, d.c), Std: make([]float32, d.c)}
	for ch := range hist {
		var cnt, sum, sq float64
		for p, k := range hist[ch] {
			v := float64(p) / 255
			cnt += float64(k)
			sum += float64(k) * v
			sq += float64(k) * v * v
		}
		mean := sum / cnt
		variance := sq/cnt - mean*mean
		std := math.Sqrt(max(variance, 0))
		if std == 0 {
			std = 1
		}
		n.Mean[ch] = float32(mean)
		n.Std[ch] = float32(std)
	}
	return n
}
