package onnx

import (
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
)

// TestDescribeBlockChains checks the chains inspect reports for the block
// kinds of issue 16: a ResNet basic block merges into one 5x5 conv (with
// its MACs), a squeeze-and-excitation block is not mergeable and says why.
func TestDescribeBlockChains(t *testing.T) {
	b := graph.NewBuilder("blocks", 3, 16, 16)
	h := b.Conv("stem.0", b.G.Input.Name, 3, 8, 3, 1, 1, 1, false)
	h = b.Act("stem.2", h, graph.ActReLU, "")
	x := h
	h = b.Conv("layer1.0.conv1", h, 8, 8, 3, 1, 1, 1, false)
	h = b.BatchNorm("layer1.0.bn1", h, 8)
	h = b.Act("layer1.0.relu", h, graph.ActReLU, "")
	h = b.Conv("layer1.0.conv2", h, 8, 8, 3, 1, 1, 1, false)
	h = b.BatchNorm("layer1.0.bn2", h, 8)
	h = b.Add("layer1.0.add", h, x)
	h = b.Act("layer1.0.relu_1", h, graph.ActReLU, "")
	// MobileNetV3-style block with squeeze-and-excitation.
	h = b.Conv("features.2.block.0.0", h, 8, 16, 1, 1, 0, 1, false)
	h = b.Act("features.2.block.0.2", h, graph.ActHardSwish, "")
	h = b.Conv("features.2.block.1.0", h, 16, 16, 5, 2, 2, 16, false)
	h = b.Act("features.2.block.1.2", h, graph.ActHardSwish, "")
	d := h
	s := b.GlobalAvgPool("features.2.block.2.avgpool", h)
	s = b.Conv("features.2.block.2.fc1", s, 16, 8, 1, 1, 0, 1, true)
	s = b.Act("features.2.block.2.activation", s, graph.ActReLU, "")
	s = b.Conv("features.2.block.2.fc2", s, 8, 16, 1, 1, 0, 1, true)
	s = b.Act("features.2.block.2.scale_activation", s, graph.ActHardSigmoid, "")
	h = b.Mul("features.2.block.2.mul", d, s)
	h = b.Conv("features.2.block.3.0", h, 16, 12, 1, 1, 0, 1, false)
	h = b.GlobalAvgPool("pool", h)
	g, err := b.Finish(b.Flatten("flatten", h))
	if err != nil {
		t.Fatal(err)
	}
	Annotate(g)
	if len(g.Blocks) != 2 || g.Blocks[0].Name != "layer1.0" || g.Blocks[0].Kind != graph.BlockBasic || !g.Blocks[0].Residual ||
		g.Blocks[1].Name != "features.2" || g.Blocks[1].Kind != graph.BlockInvertedResidualSE || !g.Blocks[1].SE {
		t.Fatalf("blocks %+v", g.Blocks)
	}
	if g.Node("layer1.0.relu_1").Act.Unit != "" || g.Node("features.2.block.2.activation").Act.Unit != "" {
		t.Error("the activation after the residual Add or inside the SE gate is in a unit")
	}
	r, err := Describe(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Chains) != 2 {
		t.Fatalf("%d chains, want 2: %+v", len(r.Chains), r.Chains)
	}
	basic, se := r.Chains[0], r.Chains[1]
	if strings.Join(basic.Convs, ",") != "layer1.0.conv1,layer1.0.conv2" || basic.Mergeable || !basic.Removable {
		t.Errorf("basic chain %+v", basic)
	}
	// Two 3x3 convs merge into one 5x5: 8*16*16 outputs of 8*25 MACs each.
	if want := int64(8 * 16 * 16 * 8 * 25); basic.MergedMACs != want || basic.ChainMACs != 2*8*16*16*8*9 {
		t.Errorf("basic chain MACs %d -> %d, want %d -> %d", basic.ChainMACs, basic.MergedMACs, 2*8*16*16*8*9, want)
	}
	if !strings.Contains(basic.Reason, "raises MACs") {
		t.Errorf("basic chain reason %q does not say the merge raises MACs", basic.Reason)
	}
	if strings.Join(se.Convs, ",") != "features.2.block.0.0,features.2.block.1.0,features.2.block.3.0" || se.Mergeable || se.Removable ||
		!strings.Contains(se.Reason, "squeeze-and-excitation") {
		t.Errorf("SE chain %+v", se)
	}
}
