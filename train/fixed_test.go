package train

import (
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// TestFixedConvNotTrained checks that the weights of a fixed convolution
// (the merger's pad-first crops) get RoleFixed and are left out of the
// optimiser's parameters, while an ordinary conv's weights stay in.
func TestFixedConvNotTrained(t *testing.T) {
	b := graph.NewBuilder("fixed", 2, 6, 6)
	x := b.Conv("conv", "input", 2, 2, 3, 1, 0, 1, true)
	c := b.Conv("crop", x, 2, 2, 1, 1, 0, 2, false)
	g, err := b.Finish(b.Add("sum", c, x))
	if err != nil {
		t.Fatal(err)
	}
	g.Node("crop").Conv.Fixed = true
	roles := ParamRoles(g)
	if r := roles["crop.weight"]; r != RoleFixed || r.Trainable() {
		t.Fatalf("crop.weight: role %v (trainable %v), want fixed", r, r.Trainable())
	}
	if r := roles["conv.weight"]; r != RoleWeight {
		t.Fatalf("conv.weight: role %v, want weight", r)
	}
	grads := map[string]*tensor.Tensor{}
	for n, p := range g.Params {
		grads[n] = tensor.New(p.Shape...)
	}
	ps, err := GraphParams(g, grads, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Name == "crop.weight" {
			t.Fatal("the optimiser would update crop.weight")
		}
	}
	if len(ps) != 2 {
		t.Fatalf("%d trainable parameters, want conv.weight and conv.bias", len(ps))
	}
}
