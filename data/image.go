package data

import "fmt"

// ReadImage decodes one PNG or JPEG file and preprocesses it exactly as ImageFolder does
// for every image of a folder data set: alpha dropped, converted to one luma channel when
// opt.Gray, the shorter side scaled to opt.Resize (antialiased bilinear, as PIL), the
// centre opt.Size x opt.Size crop taken, and each channel normalised with opt.Norm (the
// zero value: ImageNetNorm for RGB, mean 0.5 and std 0.5 for gray). It returns the
// C*Size*Size values in CHW order, ready to be one image of a model's input batch.
// opt.Workers is ignored.
func ReadImage(path string, opt FolderOptions) ([]float32, error) {
	if opt.Size <= 0 {
		return nil, fmt.Errorf("data: image %s: size %d, want > 0", path, opt.Size)
	}
	if opt.Resize == 0 {
		opt.Resize = opt.Size
	}
	if opt.Resize < opt.Size {
		return nil, fmt.Errorf("data: image %s: resize %d is smaller than the crop size %d", path, opt.Resize, opt.Size)
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
		return nil, fmt.Errorf("data: image %s: %w", path, err)
	}
	hw := opt.Size * opt.Size
	pixels := make([]uint8, c*hw)
	var s resizeScratch
	if err := loadImage(path, pixels, c, opt.Resize, opt.Size, &s); err != nil {
		return nil, err
	}
	out := make([]float32, len(pixels))
	for ch := 0; ch < c; ch++ {
		m, sd := norm.channel(ch)
		for j, p := range pixels[ch*hw : (ch+1)*hw] {
			// The same expression as the data sets' lookup table, so that an image gives
			// the same input here as in evaluation.
			out[ch*hw+j] = (float32(p)/255 - m) / sd
		}
	}
	return out, nil
}
