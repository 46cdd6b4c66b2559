package models

import (
	"path/filepath"
	"testing"

	"github.com/dshrink/dshrink/graph"
)

func TestMakeDivisible(t *testing.T) {
	cases := []struct {
		v    float64
		want int
	}{{32 * 1.0, 32}, {32 * 0.5, 16}, {32 * 0.35, 16}, {16 * 0.35, 8}, {24 * 1.4, 32}, {1280 * 1.4, 1792}, {96 * 0.75, 72}, {320 * 0.35, 112}}
	for _, c := range cases {
		if got := MakeDivisible(c.v, 8); got != c.want {
			t.Errorf("MakeDivisible(%g) = %d, want %d", c.v, got, c.want)
		}
	}
}

// The reference counts are torchvision's mobilenet_v2 (BN folded parameters
// are counted without running statistics): 3,504,872 parameters for width 1.0
// and 1000 classes, 300.8 M MACs at 224 (the figure torchvision and the paper give).
func TestMobileNetV2Counts(t *testing.T) {
	g, err := MobileNetV2(Default())
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Cost()
	if err != nil {
		t.Fatal(err)
	}
	if c.Params != 3504872 {
		t.Errorf("params = %d, want 3504872 (torchvision mobilenet_v2)", c.Params)
	}
	if c.MACs < 300_000_000 || c.MACs > 301_500_000 {
		t.Errorf("MACs = %d, want about 300.8 M", c.MACs)
	}
	if len(g.Blocks) != 17 || len(g.Units) != 19 {
		t.Errorf("%d blocks and %d units, want 17 and 19", len(g.Blocks), len(g.Units))
	}
	for _, name := range []string{"features.0.0.weight", "features.1.conv.0.0.weight", "features.1.conv.1.weight", "features.2.conv.0.0.weight", "features.2.conv.1.0.weight", "features.2.conv.2.weight", "features.2.conv.3.running_var", "features.18.0.weight", "classifier.1.weight"} {
		if g.Params[name] == nil {
			t.Errorf("parameter %s missing", name)
		}
	}
	shapes, _ := g.Shapes(1)
	if s := shapes["features.18.2"]; s[2] != 7 || s[1] != 1280 {
		t.Errorf("head output %v, want [1 1280 7 7]", s)
	}
}

func TestFashionMNISTModel(t *testing.T) {
	g, err := MobileNetV2(FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := g.Cost()
	// torchvision mobilenet_v2(width_mult=0.5, num_classes=10) with a 1-channel stem: 700,202 params (peers README).
	if c.Params != 700202 {
		t.Errorf("params = %d, want 700202", c.Params)
	}
	shapes, _ := g.Shapes(2)
	if s := shapes["features.18.2"]; s[0] != 2 || s[2] != 2 || s[3] != 2 {
		t.Errorf("feature map %v, want 2x2", s)
	}
}

func TestEfficientNetLite0(t *testing.T) {
	g, err := EfficientNetLite0(Default())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := g.Cost()
	// EfficientNet-Lite0: 4.65 M parameters, about 385-407 M MACs at 224.
	if c.Params < 4_600_000 || c.Params > 4_700_000 {
		t.Errorf("params = %d, want about 4.65 M", c.Params)
	}
	if c.MACs < 380_000_000 || c.MACs > 410_000_000 {
		t.Errorf("MACs = %d, want about 385-407 M", c.MACs)
	}
	five := 0
	for _, b := range g.Blocks {
		if b.Kernel == 5 {
			five++
		}
	}
	if five != 9 {
		t.Errorf("%d blocks with 5x5 depthwise, want 9", five)
	}
}

func TestBadOptions(t *testing.T) {
	o := Default()
	o.Width = -1
	if _, err := MobileNetV2(o); err == nil {
		t.Error("negative width accepted")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	g, err := MobileNetV2(FashionMNIST())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.dsk")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	h, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Nodes) != len(g.Nodes) || len(h.Params) != len(g.Params) || len(h.Blocks) != len(g.Blocks) {
		t.Fatalf("round trip changed the structure")
	}
	for k, v := range g.Params {
		w := h.Params[k]
		for i := range v.Data {
			if v.Data[i] != w.Data[i] {
				t.Fatalf("param %s differs at %d", k, i)
			}
		}
	}
}

func TestDeterministicInit(t *testing.T) {
	a, _ := MobileNetV2(FashionMNIST())
	b, _ := MobileNetV2(FashionMNIST())
	for k := range a.Params {
		for i := range a.Params[k].Data {
			if a.Params[k].Data[i] != b.Params[k].Data[i] {
				t.Fatalf("seeded init differs at %s", k)
			}
		}
	}
}
