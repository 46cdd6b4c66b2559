package graph

import (
	"encoding/json"
	"fmt"
	"math"
)

// Metadata keys under which a model file records how images become its input
// and what its outputs mean. Both are optional: files written before they
// existed load as before, and Preprocessing and ClassNames report them absent.
const (
	// MetaPreprocessing holds a Preprocessing as JSON.
	MetaPreprocessing = "preprocessing"
	// MetaClassNames holds the class names as a JSON array of strings, one per
	// output, in output order.
	MetaClassNames = "class_names"
)

// Preprocessing is how an image becomes this model's input, as the model was
// trained or evaluated: the shorter side scaled to Resize (antialiased
// bilinear, as PIL and torchvision's Resize(int) do), the centre Size x Size
// crop taken, converted to one luma channel when Gray, and each channel c
// normalised to (p/255 - Mean[c]) / Std[c]. Mean and Std hold one value per
// input channel, or one value for all of them.
type Preprocessing struct {
	// Resize is the length the shorter side is scaled to before the crop
	// (0: Size, i.e. no scaling beyond fitting the crop).
	Resize int `json:"resize,omitempty"`
	// Size is the side of the square centre crop: the input's height and width.
	Size int `json:"size"`
	// Gray converts RGB images to one luma channel (ITU-R 601).
	Gray bool `json:"gray,omitempty"`
	// Mean and Std are the normalisation, in [0, 1] pixel units.
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// Validate checks p against an input shape [C, H, W]: a square input of side
// Size, one channel exactly when Gray, a Mean and Std per channel (or one for
// all) with positive, finite standard deviations.
func (p Preprocessing) Validate(shape []int) error {
	if len(shape) != 3 {
		return fmt.Errorf("preprocessing: input shape %v, want [C H W]", shape)
	}
	c, h, w := shape[0], shape[1], shape[2]
	switch {
	case p.Size <= 0:
		return fmt.Errorf("preprocessing: crop size %d, want > 0", p.Size)
	case h != p.Size || w != p.Size:
		return fmt.Errorf("preprocessing: crop %dx%d, but the model takes %dx%d images", p.Size, p.Size, h, w)
	case p.Resize != 0 && p.Resize < p.Size:
		return fmt.Errorf("preprocessing: resize %d is smaller than the crop %d", p.Resize, p.Size)
	case p.Gray && c != 1:
		return fmt.Errorf("preprocessing: gray images, but the model takes %d channels", c)
	case !p.Gray && c != 3:
		return fmt.Errorf("preprocessing: RGB images, but the model takes %d channels (gray needs 1)", c)
	}
	for _, v := range [][]float32{p.Mean, p.Std} {
		if len(v) != 1 && len(v) != c {
			return fmt.Errorf("preprocessing: mean %v / std %v: want 1 or %d values each", p.Mean, p.Std, c)
		}
	}
	for _, s := range p.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("preprocessing: std %v: want positive, finite values", p.Std)
		}
	}
	return nil
}

// Preprocessing returns the preprocessing recorded in the model; ok is false
// when there is none (a model made by `new`, or written before it was
// recorded). An entry that does not parse or does not fit the input is an
// error.
func (g *Graph) Preprocessing() (p Preprocessing, ok bool, err error) {
	s, ok := g.Meta[MetaPreprocessing]
	if !ok {
		return Preprocessing{}, false, nil
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return Preprocessing{}, false, fmt.Errorf("model %s: metadata %q: %w", g.Name, MetaPreprocessing, err)
	}
	if err := p.Validate(g.Input.Shape); err != nil {
		return Preprocessing{}, false, fmt.Errorf("model %s: %w", g.Name, err)
	}
	return p, true, nil
}

// SetPreprocessing records p in the model after checking it against the
// model's input shape.
func (g *Graph) SetPreprocessing(p Preprocessing) error {
	if err := p.Validate(g.Input.Shape); err != nil {
		return fmt.Errorf("model %s: %w", g.Name, err)
	}
	js, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("model %s: encode preprocessing: %w", g.Name, err)
	}
	if g.Meta == nil {
		g.Meta = map[string]string{}
	}
	g.Meta[MetaPreprocessing] = string(js)
	return nil
}

// ClassNames returns the class names recorded in the model, one per output,
// or nil when there are none.
func (g *Graph) ClassNames() ([]string, error) {
	s, ok := g.Meta[MetaClassNames]
	if !ok {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal([]byte(s), &names); err != nil {
		return nil, fmt.Errorf("model %s: metadata %q: %w", g.Name, MetaClassNames, err)
	}
	if g.Classes > 0 && len(names) != g.Classes {
		return nil, fmt.Errorf("model %s: %d class names for %d classes", g.Name, len(names), g.Classes)
	}
	return names, nil
}

// SetClassNames records the class names, one per output in output order.
func (g *Graph) SetClassNames(names []string) error {
	if g.Classes > 0 && len(names) != g.Classes {
		return fmt.Errorf("model %s: %d class names for %d classes", g.Name, len(names), g.Classes)
	}
	js, err := json.Marshal(names)
	if err != nil {
		return fmt.Errorf("model %s: encode class names: %w", g.Name, err)
	}
	if g.Meta == nil {
		g.Meta = map[string]string{}
	}
	g.Meta[MetaClassNames] = string(js)
	return nil
}
