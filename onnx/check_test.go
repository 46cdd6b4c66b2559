package onnx

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// TestCheckListsEveryProblem breaks a PyTorch export in several places and
// checks that Check lists every unsupported op at once, with counts and
// node names, also downstream of the first failure.
func TestCheckListsEveryProblem(t *testing.T) {
	m := mustParse(t, readGz(t, "mnv2_bn.onnx.gz"))
	clips, adds := 0, 0
	var eluNames, subNames []string
	for _, n := range m.GetGraph().GetNode() {
		switch n.GetOpType() {
		case "Clip":
			clips++
			if clips%10 == 1 { // three of the 35
				op := "Elu"
				n.OpType = &op
				n.Input = n.Input[:1]
				eluNames = append(eluNames, n.GetName())
			}
		case "Add":
			adds++
			if adds == 5 {
				op := "Sub" // supported on constants only
				n.OpType = &op
				subNames = append(subNames, n.GetName())
			}
		}
	}
	if len(eluNames) != 4 || len(subNames) != 1 {
		t.Fatalf("fixture changed: %d clips, %d adds", clips, adds)
	}
	r, err := Check(mustMarshal(t, m), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || r.Graph != nil {
		t.Fatalf("report says the model imports:\n%s", r)
	}
	t.Logf("\n%s", r)
	if len(r.Problems) != 2 {
		t.Fatalf("%d problems, want 2 (Elu, Sub):\n%s", len(r.Problems), r)
	}
	elu, sub := r.Problems[0], r.Problems[1]
	if elu.Op != "Elu" || !elu.Unsupported || elu.Count != 4 || strings.Join(elu.Nodes, ",") != strings.Join(eluNames, ",") {
		t.Errorf("first problem %+v, want Elu, unsupported, 4 nodes %v", elu, eluNames)
	}
	if !strings.Contains(elu.Reason, "Elu") || !strings.Contains(elu.Reason, eluNames[0]) {
		t.Errorf("reason %q does not name the op and node", elu.Reason)
	}
	// The Sub reads a value computed downstream of the first Elu: it is
	// skipped, and reported because it is not supported on tensors.
	if sub.Op != "Sub" || sub.Count != 1 || sub.Nodes[0] != subNames[0] {
		t.Errorf("second problem %+v, want Sub at %s", sub, subNames[0])
	}
	if s := r.String(); !strings.Contains(s, "Elu") || !strings.Contains(s, "4 x") || !strings.Contains(s, eluNames[1]) {
		t.Errorf("report text lacks the op, count or node names:\n%s", s)
	}
	// Import stops at the first.
	if _, err := Import(mustMarshal(t, m), ImportOptions{}); err == nil || !strings.Contains(err.Error(), eluNames[0]) {
		t.Errorf("Import: %v, want an error naming %s", err, eluNames[0])
	}
}

// TestCheckCleanModel: a model that imports has no problems and the report
// carries the graph.
func TestCheckCleanModel(t *testing.T) {
	r, err := Check(readGz(t, "mnv2_bn.onnx.gz"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Graph == nil || len(r.Graph.Blocks) != 17 {
		t.Fatalf("clean model: %s (graph %v)", r, r.Graph != nil)
	}
	if !strings.Contains(r.String(), "every op can be imported") {
		t.Errorf("report %q", r)
	}
	if _, err := Check([]byte("not onnx"), ImportOptions{}); err == nil {
		t.Error("Check accepts garbage")
	}
}

// TestMalformedNewOps damages the ops of issue 16 in an export and checks
// that the errors name the node, the field and what is expected.
func TestMalformedNewOps(t *testing.T) {
	good, err := Export(newOpsGraph(t), ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(m *onnxpb.ModelProto)) []byte {
		m := mustParse(t, good)
		f(m)
		return mustMarshal(t, m)
	}
	node := func(m *onnxpb.ModelProto, name string) *onnxpb.NodeProto {
		for _, n := range m.GetGraph().GetNode() {
			if n.GetName() == name {
				return n
			}
		}
		t.Fatalf("no node %s", name)
		return nil
	}
	setAttr := func(n *onnxpb.NodeProto, name string, ints []int64, i *int64, f *float32) {
		for _, a := range n.GetAttribute() {
			if a.GetName() == name {
				if ints != nil {
					a.Ints = ints
				}
				if i != nil {
					a.I = i
				}
				if f != nil {
					a.F = f
				}
				return
			}
		}
		switch {
		case ints != nil:
			n.Attribute = append(n.Attribute, attrInts(name, ints...))
		case i != nil:
			n.Attribute = append(n.Attribute, attrInt(name, *i))
		default:
			n.Attribute = append(n.Attribute, attrFloat(name, *f))
		}
	}
	init := func(m *onnxpb.ModelProto, name string) *onnxpb.TensorProto {
		for _, in := range m.GetGraph().GetInitializer() {
			if in.GetName() == name {
				return in
			}
		}
		t.Fatalf("no initializer %s", name)
		return nil
	}
	i64 := func(v int64) *int64 { return &v }
	f32 := func(v float32) *float32 { return &v }
	for _, c := range []struct {
		name string
		data []byte
		want []string
	}{
		{"transpose perm", mod(func(m *onnxpb.ModelProto) {
			setAttr(node(m, "shuffle/transpose"), "perm", []int64{0, 1, 2, 4, 3}, nil, nil)
		}),
			[]string{`Transpose node "shuffle/transpose"`, "perm [0 1 2 4 3]", "only perm [0 2 1 3 4]"}},
		{"shuffle view", mod(func(m *onnxpb.ModelProto) { init(m, "shuffle.view").Int64Data = []int64{0, 2, 4, 2, 18} }),
			[]string{`Reshape node "shuffle/view"`, "[0 2 4 2 18]", "channel shuffle"}},
		{"slice axis", mod(func(m *onnxpb.ModelProto) { init(m, "dshrink.axes.channels").Int64Data = []int64{2} }),
			[]string{`Slice node "split0"`, "along axis 2", "only along axis 1"}},
		{"pool dilation", mod(func(m *onnxpb.ModelProto) { setAttr(node(m, "maxpool"), "dilations", []int64{2, 2}, nil, nil) }),
			[]string{`MaxPool node "maxpool"`, "dilations [2 2]", "only 1"}},
		{"pool pads", mod(func(m *onnxpb.ModelProto) { setAttr(node(m, "maxpool"), "pads", []int64{3, 3, 3, 3}, nil, nil) }),
			[]string{`MaxPool node "maxpool"`, "pads [3 3 3 3]", "[0, kernel size)"}},
		{"hardsigmoid", mod(func(m *onnxpb.ModelProto) { setAttr(node(m, "se_gate"), "alpha", nil, nil, f32(0.2)) }),
			[]string{`HardSigmoid node "se_gate"`, "alpha 0.2", "only alpha 1/6"}},
		{"concat axis", mod(func(m *onnxpb.ModelProto) { setAttr(node(m, "cat"), "axis", nil, i64(2), nil) }),
			[]string{`Concat node "cat"`, "axis 2", "only along the channels"}},
		{"softmax inside", mod(func(m *onnxpb.ModelProto) { m.GetGraph().GetOutput()[0].Name = proto.String("fc") }),
			[]string{`Softmax node "softmax"`, "only where it ends the graph", `model output "fc"`}},
		{"softmax axis", mod(func(m *onnxpb.ModelProto) { setAttr(node(m, "softmax"), "axis", nil, i64(0), nil) }),
			[]string{`Softmax node "softmax"`, "axis 0", "only over the features"}},
	} {
		_, err := Import(c.data, ImportOptions{})
		if err == nil {
			t.Errorf("%s: imported", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
}
