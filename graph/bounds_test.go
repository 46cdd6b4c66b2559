package graph

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestShapeBounds: crafted sizes get an error naming the node, never a
// panic, a negative shape or a wrapped count (issue 17).
func TestShapeBounds(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(g *Graph)
		want   string
	}{
		{"null node", func(g *Graph) { g.Nodes[1] = nil }, "node 1 is null"},
		{"pads 2^31", func(g *Graph) { g.Nodes[0].Conv.Pads = [4]int{1 << 31, 1, 1, 1} }, "padding"},
		{"pads 2^61", func(g *Graph) { g.Nodes[0].Conv.Pads = [4]int{1 << 61, 1 << 61, 1 << 61, 1 << 61} }, "padding"},
		{"input 2^31", func(g *Graph) { g.Input.Shape[1] = 1 << 31 }, "input shape"},
		{"input 2^61", func(g *Graph) { g.Input.Shape = []int{1 << 61, 1 << 61, 1 << 61} }, "input shape"},
		{"huge input elements", func(g *Graph) { g.Input.Shape = []int{2, 1 << 14, 1 << 14} }, "elements per image"},
		{"huge channels", func(g *Graph) { g.Nodes[0].Conv.OutC = 1 << 40 }, "conv attributes"},
		{"weight overflow", func(g *Graph) {
			g.Nodes[0].Conv.OutC, g.Nodes[0].Conv.InC, g.Nodes[0].Conv.Groups = 1<<20, 1<<20, 1
			g.Input.Shape[0] = 1 << 20
		}, "elements"},
		{"stride hides a kernel too big", func(g *Graph) {
			g.Nodes[0].Conv.Pads = [4]int{}
			g.Nodes[0].Conv.KH, g.Nodes[0].Conv.StrideH = 6, 2 // (5-6)/2+1 = 1 in integer division
		}, "too small"},
		{"linear 2^40", func(g *Graph) { g.Nodes[5].Linear.Out = 1 << 40 }, "Linear"},
		{"bad BN eps", func(g *Graph) { g.Nodes[1].BN.Eps = -1 }, "eps"},
		{"no name", func(g *Graph) { g.Nodes[2].Name = "" }, "node 2"},
	} {
		g := tiny(t)
		c.mutate(g)
		err := g.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if _, err := g.Shapes(1 << 30); err == nil {
			t.Errorf("%s: batch 2^30 accepted", c.name)
		}
	}
	// A negative Pad node.
	g := tiny(t)
	g.Nodes = append([]*Node{{Name: "p", Op: OpPad, Inputs: []string{"input"}, Output: "padded", Pad: &PadAttr{Pads: [4]int{-3, 0, 0, 0}}}}, g.Nodes...)
	g.Nodes[1].Inputs[0] = "padded"
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "padding") {
		t.Errorf("negative Pad: %v", err)
	}
	// Batches whose values exceed the batch limit.
	if _, err := tiny(t).Shapes(1 << 29); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("batch 2^29: %v", err)
	}
}

// TestDecodeNullNode: a null entry in the node list of a .dsk is an error
// with the node's index.
func TestDecodeNullNode(t *testing.T) {
	g := tiny(t)
	js, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	m["nodes"].([]any)[3] = nil
	js, _ = json.Marshal(m)
	g2 := &Graph{Params: g.Params}
	if err := json.Unmarshal(js, g2); err != nil {
		t.Fatal(err)
	}
	if err := g2.Validate(); err == nil || !strings.Contains(err.Error(), "node 3 is null") {
		t.Errorf("null node: %v", err)
	}
}

// TestDecodeForeignFiles: a PyTorch checkpoint or an ONNX file given as a
// .dsk gets a message saying what it is, not a safetensors header error.
func TestDecodeForeignFiles(t *testing.T) {
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"zip (torch.save)":    {[]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00archive/data.pkl"), "PyTorch checkpoint? export the model to ONNX"},
		"pickle (legacy .pt)": {[]byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20}, "Python pickle"},
		"onnx":                {[]byte{0x08, 0x08, 0x12, 0x07, 'p', 'y', 't', 'o', 'r', 'c', 'h'}, "ONNX"},
		"random":              {[]byte("hello, world, this is text"), "not a .dsk model file"},
	} {
		_, err := Decode(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}
