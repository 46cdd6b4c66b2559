// Package models builds the MobileNetV2-family networks dshrink works on as
// graph.Graph values, with torchvision's layer order and parameter names so
// weights map one to one.
package models

import (
	"fmt"

	"github.com/dshrink/dshrink/graph"
)

// Options configures a builder.
type Options struct {
	Width      float64 // width multiplier (MobileNetV2: 0.35 to 1.4)
	InChannels int     // input channels (3 for RGB, 1 for Fashion-MNIST)
	Resolution int     // input height and width
	Classes    int     // classifier outputs
	StemStride int     // stride of the first convolution (2 as published; 1 for 28x28 inputs)
	Dropout    float64 // dropout before the classifier (0.2 as published)
	Seed       uint64  // initialisation seed
}

// Default returns ImageNet MobileNetV2-1.0 options at 224x224.
func Default() Options {
	return Options{Width: 1.0, InChannels: 3, Resolution: 224, Classes: 1000, StemStride: 2, Dropout: 0.2, Seed: 1}
}

// FashionMNIST returns the Fashion-MNIST options: MobileNetV2-0.5 with a
// one-channel stem of stride 1 at 28x28 and 10 classes.
func FashionMNIST() Options {
	return Options{Width: 0.5, InChannels: 1, Resolution: 28, Classes: 10, StemStride: 1, Dropout: 0.2, Seed: 1}
}

func (o Options) check() error {
	switch {
	case o.Width <= 0 || o.Width > 4:
		return fmt.Errorf("width multiplier %g out of range (0, 4]", o.Width)
	case o.InChannels < 1:
		return fmt.Errorf("input channels %d, want at least 1", o.InChannels)
	case o.Resolution < 8:
		return fmt.Errorf("resolution %d, want at least 8", o.Resolution)
	case o.Classes < 1:
		return fmt.Errorf("classes %d, want at least 1", o.Classes)
	case o.StemStride != 1 && o.StemStride != 2:
		return fmt.Errorf("stem stride %d, want 1 or 2", o.StemStride)
	case o.Dropout < 0 || o.Dropout >= 1:
		return fmt.Errorf("dropout %g out of range [0, 1)", o.Dropout)
	}
	return nil
}

// MakeDivisible rounds v to the nearest multiple of divisor (at least divisor)
// without going more than 10% below v, as torchvision's _make_divisible does.
func MakeDivisible(v float64, divisor int) int {
	n := int(v+float64(divisor)/2) / divisor * divisor
	if n < divisor {
		n = divisor
	}
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// invertedResidual appends one inverted residual block named name and returns
// its output value. Layout and names follow torchvision's InvertedResidual:
// expand (conv.0.0, conv.0.1, ReLU6), depthwise (conv.i.0, conv.i.1, ReLU6),
// project (conv.i+1, conv.i+2 as BN).
func invertedResidual(b *graph.Builder, name, x string, inC, outC, stride, expand, kernel int) string {
	hidden := inC * expand
	b.Block = name
	unit := name
	p := name + ".conv."
	h := x
	i := 0
	if expand != 1 {
		h = b.Conv(fmt.Sprintf("%s%d.0", p, i), h, inC, hidden, 1, 1, 0, 1, false)
		h = b.BatchNorm(fmt.Sprintf("%s%d.1", p, i), h, hidden)
		h = b.Act(fmt.Sprintf("%s%d.2", p, i), h, graph.ActReLU6, unit)
		i++
	}
	h = b.Conv(fmt.Sprintf("%s%d.0", p, i), h, hidden, hidden, kernel, stride, kernel/2, hidden, false)
	h = b.BatchNorm(fmt.Sprintf("%s%d.1", p, i), h, hidden)
	h = b.Act(fmt.Sprintf("%s%d.2", p, i), h, graph.ActReLU6, unit)
	i++
	h = b.Conv(fmt.Sprintf("%s%d", p, i), h, hidden, outC, 1, 1, 0, 1, false)
	h = b.BatchNorm(fmt.Sprintf("%s%d", p, i+1), h, outC)
	residual := stride == 1 && inC == outC
	if residual {
		h = b.Add(name+".add", x, h)
	}
	b.G.Blocks = append(b.G.Blocks, graph.Block{Name: name, Kind: "inverted_residual", InC: inC, OutC: outC, Hidden: hidden,
		Expand: expand, Kernel: kernel, Stride: stride, Residual: residual, Input: x, Output: h})
	b.G.Units = append(b.G.Units, graph.Unit{Name: unit, Block: name})
	b.Block = ""
	return h
}

// convBNAct appends conv + BN + ReLU6 named name.0, name.1, name.2 (torchvision's
// Conv2dNormActivation) with its own removable unit.
func convBNAct(b *graph.Builder, name, x string, inC, outC, k, stride int) string {
	h := b.Conv(name+".0", x, inC, outC, k, stride, k/2, 1, false)
	h = b.BatchNorm(name+".1", h, outC)
	h = b.Act(name+".2", h, graph.ActReLU6, name)
	b.G.Units = append(b.G.Units, graph.Unit{Name: name})
	return h
}

func classifier(b *graph.Builder, x string, in int, o Options) string {
	h := b.GlobalAvgPool("pool", x)
	h = b.Flatten("flatten", h)
	h = b.Dropout("classifier.0", h, o.Dropout)
	return b.Linear("classifier.1", h, in, o.Classes, true)
}

// MobileNetV2 builds torchvision's mobilenet_v2 with the given options:
// features.0 (stem), features.1..17 (inverted residual blocks), features.18
// (1x1 head conv), global pooling and classifier.1.
func MobileNetV2(o Options) (*graph.Graph, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("mobilenet_v2: %w", err)
	}
	settings := [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}
	inC := MakeDivisible(32*o.Width, 8)
	last := MakeDivisible(1280*max(1.0, o.Width), 8)
	b := graph.NewBuilder(fmt.Sprintf("mobilenet_v2_%g", o.Width), o.InChannels, o.Resolution, o.Resolution)
	x := convBNAct(b, "features.0", "input", o.InChannels, inC, 3, o.StemStride)
	idx := 1
	for _, s := range settings {
		t, c, n, st := s[0], s[1], s[2], s[3]
		outC := MakeDivisible(float64(c)*o.Width, 8)
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 {
				stride = st
			}
			x = invertedResidual(b, fmt.Sprintf("features.%d", idx), x, inC, outC, stride, t, 3)
			inC = outC
			idx++
		}
	}
	x = convBNAct(b, fmt.Sprintf("features.%d", idx), x, inC, last, 1, 1)
	out := classifier(b, x, last, o)
	g, err := b.Finish(out)
	if err != nil {
		return nil, err
	}
	g.Classes = o.Classes
	g.Meta["architecture"] = "mobilenet_v2"
	g.Meta["width"] = fmt.Sprint(o.Width)
	g.InitParams(o.Seed)
	return g, nil
}

// EfficientNetLite0 builds EfficientNet-Lite0 (no squeeze-excite, ReLU6, 3x3
// and 5x5 depthwise convolutions, stem and head not scaled). Names follow the
// same scheme as MobileNetV2: features.0 stem, features.1..16 blocks,
// features.17 head.
func EfficientNetLite0(o Options) (*graph.Graph, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("efficientnet_lite0: %w", err)
	}
	// expand, kernel, stride, channels, repeats
	settings := [][5]int{{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2}, {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3}, {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}}
	b := graph.NewBuilder("efficientnet_lite0", o.InChannels, o.Resolution, o.Resolution)
	inC := 32
	x := convBNAct(b, "features.0", "input", o.InChannels, inC, 3, o.StemStride)
	idx := 1
	for _, s := range settings {
		t, k, st, c, n := s[0], s[1], s[2], s[3], s[4]
		outC := MakeDivisible(float64(c)*o.Width, 8)
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 {
				stride = st
			}
			x = invertedResidual(b, fmt.Sprintf("features.%d", idx), x, inC, outC, stride, t, k)
			inC = outC
			idx++
		}
	}
	x = convBNAct(b, fmt.Sprintf("features.%d", idx), x, inC, 1280, 1, 1)
	out := classifier(b, x, 1280, o)
	g, err := b.Finish(out)
	if err != nil {
		return nil, err
	}
	g.Classes = o.Classes
	g.Meta["architecture"] = "efficientnet_lite0"
	g.Meta["width"] = fmt.Sprint(o.Width)
	g.InitParams(o.Seed)
	return g, nil
}
