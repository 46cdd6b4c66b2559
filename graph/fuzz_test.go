package graph

import (
	"bytes"
	"encoding/json"
	"testing"
)

// completeForTest gives a structure decoded on its own parameters (see
// AllocParams) filled from seed; false when it has none to give.
func completeForTest(g *Graph, seed uint64) bool {
	g.Params = nil
	if g.AllocParams(1<<16) != nil {
		return false
	}
	g.InitParams(seed)
	return true
}

// structureSeeds are graph structures (the JSON of a .dsk's "dshrink.graph")
// for the structured fuzz targets: the test graph, and versions with the
// sizes and nodes issue 17 found crashing.
func structureSeeds(t testing.TB) [][]byte {
	b := NewBuilder("seed", 2, 9, 7)
	x := b.Conv("c1", "input", 2, 4, 3, 2, 1, 1, true)
	x = b.BatchNorm("bn", x, 4)
	x = b.Act("act", x, ActReLU6, "u")
	y := b.Conv("dw", x, 4, 4, 3, 1, 1, 4, false)
	x = b.Add("add", x, y)
	x = b.GlobalAvgPool("pool", x)
	x = b.Flatten("flat", x)
	x = b.Dropout("drop", x, 0.2)
	x = b.Linear("fc", x, 4, 3, true)
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{js}
	for _, r := range [][2]string{
		{`"pads":[1,1,1,1]`, `"pads":[2147483648,1,1,1]`},
		{`"pads":[1,1,1,1]`, `"pads":[-1,-1,-1,-1]`},
		{`"shape":[2,9,7]`, `"shape":[2,4000,4000]`},
		{`"shape":[2,9,7]`, `"shape":[2,2305843009213693952,7]`},
		{`"in_features":4`, `"in_features":1099511627776`},
		{`"kernel_h":3`, `"kernel_h":12`},
		{`"stride_h":2`, `"stride_h":0`},
	} {
		seeds = append(seeds, bytes.Replace(js, []byte(r[0]), []byte(r[1]), 1))
	}
	var m map[string]any
	json.Unmarshal(js, &m)
	m["nodes"].([]any)[1] = nil
	null, _ := json.Marshal(m)
	return append(seeds, null)
}

// checkGraph runs everything that reads a validated graph; none of it may
// panic, and the results must be consistent.
func checkGraph(t *testing.T, g *Graph) {
	for _, batch := range []int{1, 3} {
		if _, err := g.Shapes(batch); err != nil {
			t.Fatalf("Validate passed but Shapes(%d) fails: %v", batch, err)
		}
	}
	c, err := g.Cost()
	if err != nil || c.MACs < 0 || c.MACs > MaxMACs || c.Params < 0 {
		t.Fatalf("Cost = %+v, %v", c, err)
	}
	for _, training := range []bool{false, true} {
		if m, err := g.MemoryEstimate(2, training); err != nil || m <= 0 {
			t.Fatalf("MemoryEstimate = %d, %v", m, err)
		}
	}
	var buf bytes.Buffer
	if err := g.Clone().Encode(&buf); err != nil {
		t.Fatalf("a valid graph does not encode: %v", err)
	}
	if _, err := Decode(buf.Bytes()); err != nil {
		t.Fatalf("an encoded graph does not decode: %v", err)
	}
}

// FuzzStructure decodes a graph structure, gives it fitting parameters and
// validates it: an error is fine, a panic is not, and a graph that validates
// must cost, estimate, encode and decode.
func FuzzStructure(f *testing.F) {
	for _, s := range structureSeeds(f) {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, js []byte, seed uint64) {
		g := &Graph{}
		if err := json.Unmarshal(js, g); err != nil {
			return
		}
		if !completeForTest(g, seed) {
			return
		}
		if g.Validate() != nil {
			return // duplicate names, an undefined output, ...
		}
		checkGraph(t, g)
	})
}

// FuzzDecode feeds arbitrary bytes to Decode (the .dsk reader).
func FuzzDecode(f *testing.F) {
	for _, s := range structureSeeds(f) {
		g := &Graph{}
		if json.Unmarshal(s, g) != nil {
			continue
		}
		completeForTest(g, 1)
		var buf bytes.Buffer
		if g.Encode(&buf) == nil {
			f.Add(buf.Bytes())
			b := buf.Bytes()
			f.Add(b[:len(b)/2])
		}
	}
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(data)
		if err != nil {
			return
		}
		checkGraph(t, g)
	})
}
