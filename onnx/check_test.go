package onnx

import (
	"strings"
	"testing"
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
