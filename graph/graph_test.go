package graph

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/safetensors"
	"github.com/dshrink/dshrink/tensor"
)

func tiny(t *testing.T) *Graph {
	t.Helper()
	b := NewBuilder("tiny", 2, 5, 6)
	x := b.Conv("c1", "input", 2, 4, 3, 2, 1, 1, true)
	x = b.BatchNorm("bn", x, 4)
	x = b.Act("act", x, ActReLU6, "u")
	x = b.GlobalAvgPool("pool", x)
	x = b.Flatten("flat", x)
	x = b.Linear("fc", x, 4, 3, true)
	g, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	g.InitParams(7)
	return g
}

func TestShapesAndCost(t *testing.T) {
	g := tiny(t)
	s, err := g.Shapes(3)
	if err != nil {
		t.Fatal(err)
	}
	if got := s["c1"]; !tensor.SameShape(got, []int{3, 4, 3, 3}) {
		t.Errorf("conv output %v, want [3 4 3 3]", got)
	}
	c, _ := g.Cost()
	// conv: 4*9 outputs * 2*9 taps = 648; linear 12. Params: 72+4 + 4+4 (BN affine) + 12+3.
	if c.MACs != 648+12 || c.Params != 72+4+8+15 {
		t.Errorf("cost = %+v", c)
	}
}

func TestShapeErrors(t *testing.T) {
	for name, mutate := range map[string]func(g *Graph){
		"undefined input":  func(g *Graph) { g.Nodes[1].Inputs[0] = "nowhere" },
		"channel mismatch": func(g *Graph) { g.Nodes[1].BN.C = 5 },
		"missing param":    func(g *Graph) { delete(g.Params, "fc.bias") },
		"wrong param shape": func(g *Graph) {
			g.Params["c1.weight"] = tensor.New(4, 2, 3, 2)
		},
		"bad groups":     func(g *Graph) { g.Nodes[0].Conv.Groups = 3 },
		"unknown act":    func(g *Graph) { g.Nodes[2].Act.Kind = "gelu" },
		"kernel too big": func(g *Graph) { g.Nodes[0].Conv.Pads = [4]int{0, 0, 0, 0}; g.Nodes[0].Conv.KH = 9 },
		"no output":      func(g *Graph) { g.Output = "x" },
		"duplicate name": func(g *Graph) { g.Nodes[1].Name = "c1" },
	} {
		g := tiny(t)
		mutate(g)
		if err := g.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	g := tiny(t)
	path := filepath.Join(dir, "m.dsk")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	var plain bytes.Buffer
	safetensors.Write(&plain, g.Params, nil)
	var badJSON bytes.Buffer
	safetensors.Write(&badJSON, g.Params, map[string]string{metaGraph: "{", metaVersion: "1"})
	var future bytes.Buffer
	js, _ := json.Marshal(g)
	safetensors.Write(&future, g.Params, map[string]string{metaGraph: string(js), metaVersion: "99"})
	var missing bytes.Buffer
	ps := map[string]*tensor.Tensor{}
	for k, v := range g.Params {
		if k != "fc.weight" {
			ps[k] = v
		}
	}
	safetensors.Write(&missing, ps, map[string]string{metaGraph: string(js), metaVersion: "1"})

	cases := map[string]struct {
		path, want string
	}{
		"truncated":     {write("trunc.dsk", data[:len(data)/2]), "trunc.dsk"},
		"not dshrink":   {write("plain.safetensors", plain.Bytes()), "not a dshrink model"},
		"bad structure": {write("badjson.dsk", badJSON.Bytes()), "not valid"},
		"future":        {write("future.dsk", future.Bytes()), "version"},
		"missing param": {write("missing.dsk", missing.Bytes()), "fc.weight"},
		"absent file":   {filepath.Join(dir, "absent.dsk"), "absent.dsk"},
	}
	for name, c := range cases {
		_, err := Load(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

func TestSaveRefusesInvalid(t *testing.T) {
	g := tiny(t)
	delete(g.Params, "fc.bias")
	path := filepath.Join(t.TempDir(), "bad.dsk")
	if err := g.Save(path); err == nil {
		t.Fatal("saved an invalid model")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a failed save left a file behind")
	}
}

func TestCloneIsDeep(t *testing.T) {
	g := tiny(t)
	c := g.Clone()
	c.Params["fc.bias"].Data[0] = 42
	c.Nodes[0].Conv.KH = 1
	c.Nodes[2].Act.Kind = ActIdentity
	if g.Params["fc.bias"].Data[0] == 42 || g.Nodes[0].Conv.KH != 3 || g.Nodes[2].Act.Kind != ActReLU6 {
		t.Error("Clone shares state with the original")
	}
}

func TestConsumersProducer(t *testing.T) {
	g := tiny(t)
	if p := g.Producer("bn"); p == nil || p.Name != "bn" {
		t.Errorf("Producer(bn) = %v", p)
	}
	if c := g.Consumers("bn"); len(c) != 1 || c[0].Name != "act" {
		t.Errorf("Consumers(bn) = %v", c)
	}
	if names := g.ParamNames(); names[0] != "c1.weight" || names[len(names)-1] != "fc.bias" {
		t.Errorf("ParamNames order %v", names)
	}
}
