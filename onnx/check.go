package onnx

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// supportedOps are the op types Import handles on computed tensors (in some
// forms; see Import). foldOps are handled on constants as well.
var supportedOps = map[string]bool{
	"Constant": true, "Shape": true, "Concat": true, "Slice": true, "Split": true, "Transpose": true,
	"MaxPool": true, "AveragePool": true, "Sigmoid": true, "Softmax": true, "Conv": true,
	"BatchNormalization": true, "Relu": true, "HardSwish": true, "HardSigmoid": true, "Clip": true,
	"Identity": true, "Dropout": true, "Add": true, "Mul": true, "GlobalAveragePool": true,
	"ReduceMean": true, "Flatten": true, "Reshape": true, "Gemm": true, "MatMul": true, "Pad": true,
}

// MaxProblemNodes is how many node names a Problem lists.
const MaxProblemNodes = 5

// Problem is one op type that Import cannot convert, with every node of
// that type that failed.
type Problem struct {
	// Op is the ONNX op type ("domain:Op" outside the default domain).
	Op string `json:"op"`
	// Unsupported is true when dshrink has no conversion for the op type at
	// all; false when the op is supported in other forms (attributes,
	// shapes, constant inputs) than the ones this model uses.
	Unsupported bool `json:"unsupported"`
	// Count is the number of nodes of this type that cannot be converted.
	Count int `json:"count"`
	// Nodes names the first MaxProblemNodes of them.
	Nodes []string `json:"nodes"`
	// Reason is the error of the first of them.
	Reason string `json:"reason"`
}

// CheckReport is the result of Check.
type CheckReport struct {
	Nodes    int       `json:"nodes"`    // nodes in the ONNX graph
	Opset    int64     `json:"opset"`    // default-domain opset
	Problems []Problem `json:"problems"` // in order of first appearance; empty when the model imports
	// Graph is the imported model when there are no problems.
	Graph *graph.Graph `json:"-"`
}

// OK reports whether the model imports.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

// String lists the problems, one op type a line.
func (r *CheckReport) String() string {
	if r.OK() {
		return fmt.Sprintf("every op can be imported (%d nodes, opset %d)", r.Nodes, r.Opset)
	}
	var b strings.Builder
	n := 0
	for _, p := range r.Problems {
		n += p.Count
	}
	fmt.Fprintf(&b, "%d nodes of %d op types cannot be imported (%d nodes, opset %d):\n", n, len(r.Problems), r.Nodes, r.Opset)
	for _, p := range r.Problems {
		what := "not supported in this form"
		if p.Unsupported {
			what = "unsupported op"
		}
		more := ""
		if p.Count > len(p.Nodes) {
			more = fmt.Sprintf(", ... (%d more)", p.Count-len(p.Nodes))
		}
		fmt.Fprintf(&b, "  %-20s %4d x  %s: %s%s\n      first: %s\n", p.Op, p.Count, what, strings.Join(p.Nodes, ", "), more, p.Reason)
	}
	return strings.TrimRight(b.String(), "\n")
}

var errProblems = errors.New("the model has ops that cannot be imported")

// checker collects problems during a Check import. Values computed by a
// node that failed are poisoned: nodes reading them are skipped (their op
// type is still reported when it is unsupported).
type checker struct {
	report   CheckReport
	poisoned map[string]bool
	index    map[string]int
}

func (c *checker) key(n *onnxpb.NodeProto) string {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return d + ":" + n.GetOpType()
	}
	return n.GetOpType()
}

func (c *checker) unsupported(n *onnxpb.NodeProto) bool {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return true
	}
	return !supportedOps[n.GetOpType()] && !foldOps[n.GetOpType()]
}

// skip reports whether n reads a poisoned value; then its outputs are
// poisoned too, and it is recorded when its op type is unsupported.
func (c *checker) skip(n *onnxpb.NodeProto) bool {
	bad := false
	for _, v := range n.GetInput() {
		if c.poisoned[v] {
			bad = true
		}
	}
	if !bad {
		return false
	}
	c.poison(n)
	switch {
	case c.unsupported(n):
		c.add(n, fmt.Sprintf("unsupported op %q", n.GetOpType()))
	case !supportedOps[n.GetOpType()]:
		c.add(n, fmt.Sprintf("op %q is supported on constants only (shape arithmetic), not on tensors computed from the input", n.GetOpType()))
	}
	return true
}

func (c *checker) poison(n *onnxpb.NodeProto) {
	for _, o := range n.GetOutput() {
		if o != "" {
			c.poisoned[o] = true
		}
	}
}

func (c *checker) record(n *onnxpb.NodeProto, err error) {
	c.poison(n)
	c.add(n, err.Error())
}

func (c *checker) add(n *onnxpb.NodeProto, reason string) {
	k := c.key(n)
	i, ok := c.index[k]
	if !ok {
		i = len(c.report.Problems)
		c.index[k] = i
		c.report.Problems = append(c.report.Problems, Problem{Op: k, Unsupported: c.unsupported(n), Reason: reason})
	}
	p := &c.report.Problems[i]
	p.Count++
	if len(p.Nodes) < MaxProblemNodes {
		name := n.GetName()
		if name == "" {
			name = fmt.Sprintf("(unnamed, output %q)", strings.Join(n.GetOutput(), ","))
		}
		p.Nodes = append(p.Nodes, name)
	}
}

// Check converts a serialized ONNX model as Import does, but goes on past
// the nodes it cannot convert and lists every one of them, grouped by op
// type (Problem). The error is for a file that is no model at all, or a
// problem outside the nodes (inputs, outputs, initializers); a model whose
// nodes all convert has no problems and report.Graph holds it.
func Check(data []byte, opts ImportOptions) (*CheckReport, error) {
	if len(data) == 0 {
		return nil, errors.New("empty ONNX file")
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("ONNX data has %d bytes, the limit is %d", len(data), int64(MaxFileBytes))
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("not a valid ONNX model (protobuf): %w", err)
	}
	if m.GetGraph() == nil {
		return nil, errors.New("not a valid ONNX model: no graph")
	}
	ck := &checker{poisoned: map[string]bool{}, index: map[string]int{}}
	ck.report.Nodes = len(m.GetGraph().GetNode())
	im := &importer{tr: tensorReader{dir: opts.BaseDir}, check: ck}
	g, err := im.run(m, opts)
	ck.report.Opset = im.opset
	if errors.Is(err, errProblems) {
		return &ck.report, nil
	}
	if err != nil {
		return nil, err
	}
	ck.report.Graph = g
	return &ck.report, nil
}

// CheckFile is Check on a model file (external data next to it).
func CheckFile(path string, opts ImportOptions) (*CheckReport, error) {
	data, err := fsutil.ReadFile(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("check onnx: %w", err)
	}
	if opts.BaseDir == "" {
		opts.BaseDir = filepath.Dir(path)
	}
	if opts.Name == "" {
		opts.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	r, err := Check(data, opts)
	if err != nil {
		return nil, fmt.Errorf("check onnx %s: %w", path, err)
	}
	return r, nil
}
