package graph

import (
	"bytes"
	"slices"
	"testing"
)

// TestPreprocessingRoundTrip checks that preprocessing and class names survive
// a save and load, that files without them report them absent, and that
// entries that do not fit the input are rejected.
func TestPreprocessingRoundTrip(t *testing.T) {
	g := New("m", 1, 4, 4)
	g.Classes = 2
	if _, ok, err := g.Preprocessing(); ok || err != nil {
		t.Fatalf("fresh graph: ok %v err %v, want absent", ok, err)
	}
	if names, err := g.ClassNames(); names != nil || err != nil {
		t.Fatalf("fresh graph: names %v err %v, want nil", names, err)
	}
	p := Preprocessing{Resize: 6, Size: 4, Gray: true, Mean: []float32{0.5}, Std: []float32{0.25}}
	if err := g.SetPreprocessing(p); err != nil {
		t.Fatal(err)
	}
	if err := g.SetClassNames([]string{"cat", "dog"}); err != nil {
		t.Fatal(err)
	}
	c := g.Clone()
	got, ok, err := c.Preprocessing()
	if err != nil || !ok || got.Resize != 6 || got.Size != 4 || !got.Gray || got.Std[0] != 0.25 {
		t.Errorf("clone: %+v %v %v", got, ok, err)
	}
	if names, _ := c.ClassNames(); !slices.Equal(names, []string{"cat", "dog"}) {
		t.Errorf("clone: names %v", names)
	}

	for _, bad := range []Preprocessing{
		{Size: 5, Gray: true, Mean: []float32{0}, Std: []float32{1}},            // wrong size
		{Size: 4, Mean: []float32{0}, Std: []float32{1}},                        // RGB for 1 channel
		{Size: 4, Resize: 3, Gray: true, Mean: []float32{0}, Std: []float32{1}}, // resize < size
		{Size: 4, Gray: true, Mean: []float32{0}, Std: []float32{0}},            // zero std
		{Size: 4, Gray: true, Mean: []float32{0, 0, 0}, Std: []float32{1}},      // 3 means
	} {
		if err := g.SetPreprocessing(bad); err == nil {
			t.Errorf("SetPreprocessing(%+v) accepted", bad)
		}
	}
	if err := g.SetClassNames([]string{"one"}); err == nil {
		t.Error("1 name for 2 classes accepted")
	}
	g.Meta[MetaPreprocessing] = "{not json"
	if _, _, err := g.Preprocessing(); err == nil {
		t.Error("malformed preprocessing accepted")
	}
}

// TestPreprocessingSaved checks the entries through Encode and Decode.
func TestPreprocessingSaved(t *testing.T) {
	g := New("m", 3, 2, 2)
	g.Nodes = []*Node{{Name: "gap", Op: OpGlobalAvgPool, Inputs: []string{"input"}, Output: "out"}}
	g.Output = "out"
	g.Classes = 3
	p := Preprocessing{Size: 2, Mean: []float32{0.1, 0.2, 0.3}, Std: []float32{1, 1, 1}}
	if err := g.SetPreprocessing(p); err != nil {
		t.Fatal(err)
	}
	if err := g.SetClassNames([]string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := g.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := back.Preprocessing()
	if err != nil || !ok || !slices.Equal(got.Mean, p.Mean) {
		t.Errorf("decoded: %+v %v %v", got, ok, err)
	}
	if names, _ := back.ClassNames(); !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("decoded names %v", names)
	}
}
