// Package onnx imports ONNX models (as PyTorch's exporter writes them, opset
// 11 to 17) into dshrink's graph IR, recognising the blocks of torchvision's
// compact CNN families (MobileNetV2/V3, EfficientNet, MNASNet, ResNet,
// ShuffleNetV2, RegNet) and naming them after the PyTorch modules, so that
// search, fine-tuning and merging work on imported models and a plan maps
// back to the user's model; it exports any graph back to ONNX (opset 13 or
// later) for ONNX Runtime and other deployment runtimes, lists every op a
// model uses that cannot be imported (Check), and describes a graph's layers
// and mergeable chains for `dshrink inspect`. docs/onnx.md has the details.
//
// The protobuf types come from the official onnx.proto (package onnxpb).
// Every size read from a file is bounded before allocation; malformed input
// gives an error, never a panic.
package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/onnx/onnxpb"
	"github.com/dshrink/dshrink/tensor"
)

// MaxFileBytes is the largest model file Import accepts (external data not included).
const MaxFileBytes = 2 << 30

// Metadata keys written by Export and read by Import.
const (
	// MetaStructure holds the graph's blocks and units as JSON, so that a
	// model exported by dshrink comes back with the same annotations.
	MetaStructure = "dshrink.structure"
	// MetaPlan is the g.Meta key (and ONNX metadata key) of a shrink plan.
	MetaPlan = "plan"
)

// ImportOptions configures Import.
type ImportOptions struct {
	// Name of the graph; by default the ONNX graph's name.
	Name string
	// BaseDir is the directory that external data locations are relative
	// to (ImportFile sets it to the model's directory). Without it, a model
	// with external data is rejected.
	BaseDir string
	// NoStructure skips the recognition of inverted residual blocks and
	// removable activation units (and ignores stored structure metadata).
	NoStructure bool
}

// ImportFile reads an ONNX model file (and its external data, next to it) and
// converts it to a graph; see Import.
func ImportFile(path string, opts ImportOptions) (*graph.Graph, error) {
	data, err := fsutil.ReadFile(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("import onnx: %w", err)
	}
	if opts.BaseDir == "" {
		opts.BaseDir = filepath.Dir(path)
	}
	if opts.Name == "" {
		opts.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	g, err := Import(data, opts)
	if err != nil {
		return nil, fmt.Errorf("import onnx %s: %w", path, err)
	}
	return g, nil
}

// Import converts a serialized ONNX model to a graph. It accepts the ops that
// PyTorch's exporter writes for torchvision's compact CNNs: Conv (any
// groups), BatchNormalization, Relu, Clip (ReLU6), HardSigmoid (alpha 1/6,
// beta 0.5), HardSwish and x*HardSigmoid(x), Sigmoid and x*Sigmoid(x) (SiLU),
// MaxPool, AveragePool, GlobalAveragePool, ReduceMean over H and W, Mul of a
// tensor by a [N, C, 1, 1] gate (squeeze-and-excitation) or by a constant
// after a Conv or Gemm, Add, Concat, Slice and Split along the channels, the
// channel shuffle (Reshape to [N, g, C/g, H, W], Transpose, Reshape back),
// Flatten and Reshape to [N, -1], Gemm, MatMul, Pad, Dropout, Identity,
// Softmax over the features, Constant; constant subgraphs (the Shape,
// Gather, Unsqueeze, Concat, Div, Cast... arithmetic of view and chunk, and
// Identity nodes over initializers) are evaluated for the model's static
// input shape. Any other op or form gives an error naming the node, the
// field and what was expected (Check lists all of them at once).
// Parameters keep their initializer names where these are torchvision-style
// names (features.0.0.weight); otherwise (BatchNorm folded by the exporter,
// onnx::Conv_123) they are named after the node's module path. Unless
// opts.NoStructure is set, blocks and removable activation units are
// recognised (see Annotate), or restored from the metadata of a model
// exported by dshrink.
func Import(data []byte, opts ImportOptions) (g *graph.Graph, err error) {
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
	im := &importer{tr: tensorReader{dir: opts.BaseDir}}
	g, err = im.run(m, opts)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// importer holds the state of one conversion.
type importer struct {
	g       *graph.Graph
	tr      tensorReader
	opset   int64
	batch   int                  // fixed batch size of the ONNX input; 0 when dynamic
	consts  map[string]*constVal // ONNX value -> constant
	vals    map[string]string    // ONNX value -> our value
	shapes  map[string][]int     // our value -> shape (batch 1)
	prod    map[string]*graph.Node
	uses    map[string]int // ONNX value -> number of readers (graph outputs included)
	hints   map[*graph.Node]string
	views   map[string]*view // ONNX value -> 5-D view of a channel shuffle in progress
	check   *checker         // set by Check: collect every problem instead of stopping at the first
	outName string           // the ONNX graph output
	nextID  int
}

func (im *importer) run(m *onnxpb.ModelProto, opts ImportOptions) (*graph.Graph, error) {
	og := m.GetGraph()
	for _, os := range m.GetOpsetImport() {
		if d := os.GetDomain(); d == "" || d == "ai.onnx" {
			im.opset = os.GetVersion()
		}
	}
	if im.opset == 0 {
		return nil, errors.New("model imports no version of the default ONNX opset")
	}
	if im.opset < 7 || im.opset > 18 {
		return nil, fmt.Errorf("opset %d is not supported (7 to 18 are; PyTorch writes 11 to 17)", im.opset)
	}
	if len(og.GetNode()) > MaxNodes {
		return nil, fmt.Errorf("graph has %d nodes, the limit is %d", len(og.GetNode()), MaxNodes)
	}
	name := opts.Name
	if name == "" {
		name = og.GetName()
	}
	if name == "" {
		name = "onnx_model"
	}
	im.consts = map[string]*constVal{}
	im.vals = map[string]string{}
	im.shapes = map[string][]int{}
	im.prod = map[string]*graph.Node{}
	im.uses = map[string]int{}
	im.hints = map[*graph.Node]string{}
	im.views = map[string]*view{}

	for i, t := range og.GetInitializer() {
		if t.GetName() == "" {
			return nil, fmt.Errorf("initializer %d has no name", i)
		}
		c, err := im.tr.decode(t, fmt.Sprintf("initializer %q", t.GetName()))
		if err != nil {
			return nil, err
		}
		im.consts[t.GetName()] = c
	}
	if len(og.GetSparseInitializer()) > 0 {
		return nil, errors.New("sparse initializers are not supported")
	}
	// The model input: the one graph input that is not an initializer.
	var in *onnxpb.ValueInfoProto
	for _, vi := range og.GetInput() {
		if _, ok := im.consts[vi.GetName()]; ok {
			continue
		}
		if in != nil {
			return nil, fmt.Errorf("model has several inputs (%q, %q); dshrink models have one image input", in.GetName(), vi.GetName())
		}
		in = vi
	}
	if in == nil {
		return nil, errors.New("model has no input")
	}
	chw, err := im.inputShape(in)
	if err != nil {
		return nil, err
	}
	inName := in.GetName()
	if inName == "" {
		return nil, errors.New("model input has no name")
	}
	im.g = graph.New(name, chw[0], chw[1], chw[2])
	im.g.Input.Name = inName
	im.vals[inName] = inName
	im.shapes[inName] = []int{1, chw[0], chw[1], chw[2]}

	for _, n := range og.GetNode() {
		for _, v := range n.GetInput() {
			im.uses[v]++
		}
	}
	if len(og.GetOutput()) != 1 {
		return nil, fmt.Errorf("model has %d outputs, want 1", len(og.GetOutput()))
	}
	outName := og.GetOutput()[0].GetName()
	im.outName = outName
	im.uses[outName]++

	for _, n := range og.GetNode() {
		if im.check != nil && im.check.skip(n) {
			continue
		}
		if err := im.node(n); err != nil {
			if im.check == nil {
				return nil, err
			}
			im.check.record(n, err)
		}
	}
	if im.check != nil && len(im.check.report.Problems) > 0 {
		return nil, errProblems
	}
	out, ok := im.vals[outName]
	if !ok {
		return nil, fmt.Errorf("model output %q is not computed from the input by any supported node", outName)
	}
	im.g.Output = out
	im.prune()
	if err := im.rename(); err != nil {
		return nil, err
	}
	g := im.g
	if sh := im.shapes[im.vals[outName]]; len(sh) == 2 {
		g.Classes = sh[1]
	}
	for _, kv := range m.GetMetadataProps() {
		if kv.GetKey() != MetaStructure {
			g.Meta[kv.GetKey()] = kv.GetValue()
		}
	}
	g.Meta["source"] = "onnx"
	if p := strings.TrimSpace(m.GetProducerName() + " " + m.GetProducerVersion()); p != "" {
		g.Meta["onnx.producer"] = p
	}
	g.Meta["onnx.opset"] = fmt.Sprint(im.opset)
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("imported graph is not valid: %w", err)
	}
	if !opts.NoStructure {
		restored := false
		for _, kv := range m.GetMetadataProps() {
			if kv.GetKey() == MetaStructure {
				restored = applyStructure(g, kv.GetValue()) == nil
			}
		}
		if !restored {
			Annotate(g)
		}
	}
	pruneIdentity(g)
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("imported graph is not valid: %w", err)
	}
	return g, nil
}

func (im *importer) inputShape(vi *onnxpb.ValueInfoProto) ([]int, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return nil, fmt.Errorf("input %q is not a tensor", vi.GetName())
	}
	if onnxpb.TensorProto_DataType(tt.GetElemType()) != onnxpb.TensorProto_FLOAT {
		return nil, fmt.Errorf("input %q has element type %s, want float", vi.GetName(), onnxpb.TensorProto_DataType(tt.GetElemType()))
	}
	dims := tt.GetShape().GetDim()
	if len(dims) != 4 {
		return nil, fmt.Errorf("input %q has rank %d, want 4 (N, C, H, W) with known C, H, W", vi.GetName(), len(dims))
	}
	if d := dims[0]; d.GetDimParam() == "" && d.GetDimValue() > 0 {
		if d.GetDimValue() > MaxDim {
			return nil, fmt.Errorf("input %q: batch size %d is absurd", vi.GetName(), d.GetDimValue())
		}
		im.batch = int(d.GetDimValue())
	}
	chw := make([]int, 3)
	for i, d := range dims[1:] {
		v := d.GetDimValue()
		if d.GetDimParam() != "" || v <= 0 || v > 1<<16 {
			return nil, fmt.Errorf("input %q: dimension %d must be a fixed size in [1, 65536], got %v", vi.GetName(), i+1, d)
		}
		chw[i] = int(v)
	}
	if int64(chw[0])*int64(chw[1])*int64(chw[2]) > MaxTensorElems {
		return nil, fmt.Errorf("input %q: shape %v is absurdly large", vi.GetName(), chw)
	}
	return chw, nil
}

// add appends a node with a temporary name; rename gives final names.
func (im *importer) add(n *graph.Node, hint string, outShape []int, params ...*tensor.Tensor) string {
	im.nextID++
	n.Name = fmt.Sprintf("\x00n%d", im.nextID)
	n.Output = n.Name
	for k, p := range params {
		pn := fmt.Sprintf("%s.p%d", n.Name, k)
		im.g.Params[pn] = p
		n.Params = append(n.Params, pn)
	}
	im.g.Nodes = append(im.g.Nodes, n)
	im.shapes[n.Output] = outShape
	im.prod[n.Output] = n
	im.hints[n] = hint
	return n.Output
}

// tensorIn returns our value and its shape for input i of n, which must be a
// computed tensor (not a constant).
func (im *importer) tensorIn(n *onnxpb.NodeProto, i int) (string, []int, error) {
	if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
		return "", nil, fmt.Errorf("%s: input %d is missing", where(n), i)
	}
	name := n.GetInput()[i]
	v, ok := im.vals[name]
	if !ok {
		if _, c := im.consts[name]; c {
			return "", nil, fmt.Errorf("%s: input %d (%q) is a constant, want a tensor computed from the model input", where(n), i, name)
		}
		return "", nil, fmt.Errorf("%s: input %q is not defined before use", where(n), name)
	}
	return v, im.shapes[v], nil
}

// constIn returns input i of n as a constant; nil (no error) when the input
// is absent and optional.
func (im *importer) constIn(n *onnxpb.NodeProto, i int, optional bool) (*constVal, error) {
	if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: input %d is missing", where(n), i)
	}
	name := n.GetInput()[i]
	c, ok := im.consts[name]
	if !ok {
		if _, v := im.vals[name]; v {
			return nil, fmt.Errorf("%s: input %q must be a constant (initializer or Constant node)", where(n), name)
		}
		return nil, fmt.Errorf("%s: input %q is not defined before use", where(n), name)
	}
	return c, nil
}

func (im *importer) floatConst(n *onnxpb.NodeProto, i int, optional bool) (*constVal, error) {
	c, err := im.constIn(n, i, optional)
	if err != nil || c == nil {
		return c, err
	}
	if c.isInt {
		return nil, fmt.Errorf("%s: input %q is an integer tensor, want float", where(n), n.GetInput()[i])
	}
	return c, nil
}

func (im *importer) setOut(n *onnxpb.NodeProto, v string) error {
	if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
		return fmt.Errorf("%s: no output", where(n))
	}
	for _, o := range n.GetOutput()[1:] {
		if o != "" && im.uses[o] > 0 {
			return fmt.Errorf("%s: output %q is used, only the first output is supported", where(n), o)
		}
	}
	name := n.GetOutput()[0]
	if _, dup := im.vals[name]; dup {
		return fmt.Errorf("%s: output %q is already defined", where(n), name)
	}
	if _, dup := im.consts[name]; dup {
		return fmt.Errorf("%s: output %q is already defined", where(n), name)
	}
	im.vals[name] = v
	return nil
}

func (im *importer) setConst(n *onnxpb.NodeProto, c *constVal) error {
	if len(n.GetOutput()) != 1 || n.GetOutput()[0] == "" {
		return fmt.Errorf("%s: want one output", where(n))
	}
	name := n.GetOutput()[0]
	if _, dup := im.vals[name]; dup {
		return fmt.Errorf("%s: output %q is already defined", where(n), name)
	}
	im.consts[name] = c
	return nil
}

// isConstNode reports whether every non-empty input of n is a constant.
func (im *importer) allConst(n *onnxpb.NodeProto) bool {
	for _, v := range n.GetInput() {
		if v == "" {
			continue
		}
		if _, ok := im.consts[v]; !ok {
			return false
		}
	}
	return true
}

func (im *importer) node(n *onnxpb.NodeProto) error {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return fmt.Errorf("unsupported op %q (domain %q) at node %q", n.GetOpType(), d, n.GetName())
	}
	at, err := newAttrs(n)
	if err != nil {
		return err
	}
	op := n.GetOpType()
	if foldOps[op] && len(n.GetInput()) > 0 && n.GetInput()[0] != "" && im.allConst(n) {
		return im.fold(n, at)
	}
	if v := im.views[firstIn(n)]; v != nil && op != "Transpose" && op != "Reshape" {
		return fmt.Errorf("%s: input %q is a %d-D view of %q (from a Reshape), which only a channel shuffle (Reshape, Transpose, Reshape) may use", where(n), firstIn(n), len(v.shape), v.x)
	}
	switch op {
	case "Constant":
		return im.constant(n, at)
	case "Shape":
		return im.shapeOf(n, at)
	case "Concat":
		return im.concat(n, at)
	case "Slice":
		return im.slice(n, at)
	case "Split":
		return im.split(n, at)
	case "Transpose":
		return im.transpose(n, at)
	case "MaxPool", "AveragePool":
		return im.pool(n, at)
	case "Sigmoid":
		return im.act(n, graph.ActSigmoid)
	case "Softmax":
		return im.softmax(n, at)
	case "Conv":
		return im.conv(n, at)
	case "BatchNormalization":
		return im.batchNorm(n, at)
	case "Relu":
		return im.act(n, graph.ActReLU)
	case "HardSwish":
		return im.act(n, graph.ActHardSwish)
	case "HardSigmoid":
		alpha, err := at.float("alpha", 0.2)
		if err != nil {
			return err
		}
		beta, err := at.float("beta", 0.5)
		if err != nil {
			return err
		}
		if math.Abs(float64(alpha)-1.0/6) > 1e-6 || math.Abs(float64(beta)-0.5) > 1e-6 {
			return fmt.Errorf("%s: HardSigmoid with alpha %g and beta %g cannot be represented (only alpha 1/6, beta 0.5, as PyTorch's)", where(n), alpha, beta)
		}
		return im.act(n, graph.ActHardSigmoid)
	case "Clip":
		return im.clip(n, at)
	case "Identity":
		return im.act(n, graph.ActIdentity)
	case "Dropout":
		return im.dropout(n, at)
	case "Add":
		return im.add2(n)
	case "Mul":
		return im.mul(n)
	case "GlobalAveragePool":
		x, s, err := im.tensorIn(n, 0)
		if err != nil {
			return err
		}
		if len(s) != 4 {
			return fmt.Errorf("%s: input rank %d, want 4", where(n), len(s))
		}
		return im.setOut(n, im.add(&graph.Node{Op: graph.OpGlobalAvgPool, Inputs: []string{x}}, hint(n), []int{1, s[1], 1, 1}))
	case "ReduceMean":
		return im.reduceMean(n, at)
	case "Flatten":
		x, s, err := im.tensorIn(n, 0)
		if err != nil {
			return err
		}
		axis, err := at.int("axis", 1)
		if err != nil {
			return err
		}
		if axis != 1 && !(len(s) == 2 && axis == -1) {
			return fmt.Errorf("%s: Flatten with axis %d cannot be represented (only axis 1)", where(n), axis)
		}
		return im.flatten(n, x, s)
	case "Reshape":
		return im.reshape(n, at)
	case "Gemm":
		return im.gemm(n, at)
	case "MatMul":
		x, s, err := im.tensorIn(n, 0)
		if err != nil {
			return err
		}
		w, err := im.floatConst(n, 1, false)
		if err != nil {
			return err
		}
		if len(s) != 2 || len(w.shape) != 2 || w.shape[0] != s[1] {
			return fmt.Errorf("%s: MatMul of %v by a constant %v cannot be represented (want [N, In] x [In, Out])", where(n), s, w.shape)
		}
		in, out := w.shape[0], w.shape[1]
		wt := tensor.New(out, in)
		for i := 0; i < in; i++ {
			for o := 0; o < out; o++ {
				wt.Data[o*in+i] = w.f[i*out+o]
			}
		}
		v := im.add(&graph.Node{Op: graph.OpLinear, Inputs: []string{x}, Linear: &graph.LinearAttr{In: in, Out: out}}, paramHint(n, n.GetInput()[1]), []int{1, out}, wt)
		return im.setOut(n, v)
	case "Pad":
		return im.pad(n, at)
	}
	if im.allConst(n) && len(n.GetInput()) > 0 {
		return fmt.Errorf("unsupported op %q at node %q (constant folding of this op is not supported)", op, n.GetName())
	}
	if foldOps[op] {
		return fmt.Errorf("%s: op %q is supported on constants only (shape arithmetic), not on tensors computed from the input", where(n), op)
	}
	return fmt.Errorf("unsupported op %q at node %q", op, n.GetName())
}

func (im *importer) constant(n *onnxpb.NodeProto, at attrs) error {
	if len(n.GetAttribute()) != 1 {
		return fmt.Errorf("%s: want exactly one value attribute", where(n))
	}
	a := n.GetAttribute()[0]
	what := fmt.Sprintf("%s value", where(n))
	var c *constVal
	switch a.GetName() {
	case "value":
		var err error
		if c, err = im.tr.decode(a.GetT(), what); err != nil {
			return err
		}
	case "value_float":
		c = &constVal{shape: []int{}, f: []float32{a.GetF()}}
	case "value_floats":
		c = &constVal{shape: []int{len(a.GetFloats())}, f: append([]float32(nil), a.GetFloats()...)}
	case "value_int":
		c = &constVal{shape: []int{}, i: []int64{a.GetI()}, isInt: true, batch: []bool{false}}
	case "value_ints":
		c = &constVal{shape: []int{len(a.GetInts())}, i: append([]int64(nil), a.GetInts()...), isInt: true, batch: make([]bool, len(a.GetInts()))}
	default:
		return fmt.Errorf("%s: attribute %q is not supported", where(n), a.GetName())
	}
	return im.setConst(n, c)
}

// hint derives a node name from an ONNX node name. PyTorch writes the module
// path as scopes, each relative to its parent
// ("/features/features.1/conv/conv.0/conv.0.2/Clip"), which gives the
// qualified module name "features.1.conv.0.2"; functional ops inside a module
// ("/features/features.3/Add") get the op appended ("features.3.add").
func hint(n *onnxpb.NodeProto) string {
	name := n.GetName()
	if !strings.Contains(name, "/") {
		if name == "" {
			return strings.ToLower(n.GetOpType())
		}
		return name
	}
	var segs []string
	for _, s := range strings.Split(name, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	switch len(segs) {
	case 0:
		return strings.ToLower(n.GetOpType())
	case 1:
		switch n.GetOpType() {
		case "GlobalAveragePool", "ReduceMean":
			return "pool"
		case "Flatten", "Reshape":
			return "flatten"
		}
		return segs[0]
	}
	mod, prev := "", ""
	for _, s := range segs[:len(segs)-1] {
		if prev != "" && strings.HasPrefix(s, prev+".") {
			mod = mod[:len(mod)-len(prev)] + s
		} else if mod == "" {
			mod = s
		} else {
			mod += "." + s
		}
		prev = s
	}
	switch n.GetOpType() {
	case "Add", "Mul":
		return mod + "." + strings.ToLower(n.GetOpType())
	}
	return mod
}

// paramHint names a node after its weight initializer when that has a
// PyTorch module name ("features.0.0.weight" -> "features.0.0").
func paramHint(n *onnxpb.NodeProto, weight string) string {
	if m, ok := strings.CutSuffix(weight, ".weight"); ok && m != "" && !strings.Contains(m, "::") && !strings.Contains(m, "/") {
		return m
	}
	return hint(n)
}

func (im *importer) act(n *onnxpb.NodeProto, kind graph.ActKind) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	return im.setOut(n, im.add(&graph.Node{Op: graph.OpAct, Inputs: []string{x}, Act: &graph.ActAttr{Kind: kind}}, hint(n), clone(s)))
}

func clone(s []int) []int { return append([]int(nil), s...) }

func (im *importer) clip(n *onnxpb.NodeProto, at attrs) error {
	lo, hi := math.Inf(-1), math.Inf(1)
	if im.opset < 11 {
		a, err := at.float("min", -math.MaxFloat32)
		if err != nil {
			return err
		}
		b, err := at.float("max", math.MaxFloat32)
		if err != nil {
			return err
		}
		lo, hi = float64(a), float64(b)
	} else {
		for i, p := range []*float64{&lo, &hi} {
			c, err := im.floatConst(n, i+1, true)
			if err != nil {
				return err
			}
			if c != nil {
				if c.numel() != 1 {
					return fmt.Errorf("%s: bound %q has shape %v, want a scalar", where(n), n.GetInput()[i+1], c.shape)
				}
				*p = float64(c.f[0])
			}
		}
	}
	if lo == 0 && hi == 6 {
		return im.act(n, graph.ActReLU6)
	}
	if lo == 0 && hi >= math.MaxFloat32 {
		return im.act(n, graph.ActReLU)
	}
	return fmt.Errorf("%s: Clip to [%g, %g] cannot be represented (only [0, 6] as ReLU6 and [0, inf) as ReLU)", where(n), lo, hi)
}

func (im *importer) dropout(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	p := 0.5
	if im.opset < 12 {
		r, err := at.float("ratio", 0.5)
		if err != nil {
			return err
		}
		p = shortest(r)
	} else {
		c, err := im.floatConst(n, 1, true)
		if err != nil {
			return err
		}
		if c != nil {
			if c.numel() != 1 {
				return fmt.Errorf("%s: ratio has shape %v, want a scalar", where(n), c.shape)
			}
			p = shortest(c.f[0])
		}
		if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
			t, err := im.constIn(n, 2, false)
			if err != nil {
				return err
			}
			if t.numel() != 1 || (t.isInt && t.i[0] != 0) || (!t.isInt && t.f[0] != 0) {
				return fmt.Errorf("%s: training_mode must be false", where(n))
			}
		}
	}
	if p < 0 || p >= 1 || math.IsNaN(p) {
		return fmt.Errorf("%s: ratio %g out of range [0, 1)", where(n), p)
	}
	return im.setOut(n, im.add(&graph.Node{Op: graph.OpDropout, Inputs: []string{x}, Dropout: &graph.DropoutAttr{P: p}}, hint(n), clone(s)))
}

func (im *importer) conv(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	if len(s) != 4 {
		return fmt.Errorf("%s: input rank %d, want 4 (only 2-D convolutions are supported)", where(n), len(s))
	}
	w, err := im.floatConst(n, 1, false)
	if err != nil {
		return err
	}
	if len(w.shape) != 4 {
		return fmt.Errorf("%s: weight %q has shape %v, want [K, C/groups, kh, kw]", where(n), n.GetInput()[1], w.shape)
	}
	group, err := at.int("group", 1)
	if err != nil {
		return err
	}
	outC, kh, kw := w.shape[0], w.shape[2], w.shape[3]
	if group < 1 || int64(w.shape[1])*group != int64(s[1]) || outC == 0 || int64(outC)%group != 0 || kh == 0 || kw == 0 {
		return fmt.Errorf("%s: weight shape %v with group %d does not fit an input of %d channels", where(n), w.shape, group, s[1])
	}
	if ks, ok, err := at.ints("kernel_shape"); err != nil {
		return err
	} else if ok && (len(ks) != 2 || ks[0] != int64(kh) || ks[1] != int64(kw)) {
		return fmt.Errorf("%s: kernel_shape %v disagrees with the weight shape %v", where(n), ks, w.shape)
	}
	if d, ok, err := at.ints("dilations"); err != nil {
		return err
	} else if ok && (len(d) != 2 || d[0] != 1 || d[1] != 1) {
		return fmt.Errorf("%s: dilations %v are not supported (only 1)", where(n), d)
	}
	strides := []int64{1, 1}
	if st, ok, err := at.ints("strides"); err != nil {
		return err
	} else if ok {
		if len(st) != 2 || st[0] < 1 || st[1] < 1 || st[0] > 1<<16 || st[1] > 1<<16 {
			return fmt.Errorf("%s: strides %v are not valid", where(n), st)
		}
		strides = st
	}
	var pads [4]int
	autoPad, err := at.str("auto_pad", "NOTSET")
	if err != nil {
		return err
	}
	switch autoPad {
	case "NOTSET", "":
		if p, ok, err := at.ints("pads"); err != nil {
			return err
		} else if ok {
			if len(p) != 4 {
				return fmt.Errorf("%s: pads %v, want 4 values", where(n), p)
			}
			for i, v := range p {
				if v < 0 || v > 1<<16 {
					return fmt.Errorf("%s: pads %v are not valid", where(n), p)
				}
				pads[i] = int(v)
			}
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for ax, k := range []int{kh, kw} {
			in, st := s[2+ax], int(strides[ax])
			total := max(((in+st-1)/st-1)*st+k-in, 0)
			lo := total / 2
			if autoPad == "SAME_LOWER" {
				lo = total - total/2
			}
			pads[ax], pads[2+ax] = lo, total-lo
		}
	default:
		return fmt.Errorf("%s: auto_pad %q is not supported", where(n), autoPad)
	}
	a := &graph.ConvAttr{InC: s[1], OutC: outC, KH: kh, KW: kw, StrideH: int(strides[0]), StrideW: int(strides[1]), Pads: pads, Groups: int(group)}
	ho := graph.ConvOut(s[2], kh, a.StrideH, pads[0], pads[2])
	wo := graph.ConvOut(s[3], kw, a.StrideW, pads[1], pads[3])
	if ho < 1 || wo < 1 {
		return fmt.Errorf("%s: input %dx%d is too small for kernel %dx%d with pads %v", where(n), s[2], s[3], kh, kw, pads)
	}
	wt, _ := tensor.FromData(append([]float32(nil), w.f...), w.shape...)
	params := []*tensor.Tensor{wt}
	b, err := im.floatConst(n, 2, true)
	if err != nil {
		return err
	}
	if b != nil {
		if b.numel() != outC || len(b.shape) != 1 {
			return fmt.Errorf("%s: bias %q has shape %v, want [%d]", where(n), n.GetInput()[2], b.shape, outC)
		}
		bt, _ := tensor.FromData(append([]float32(nil), b.f...), outC)
		params = append(params, bt)
		a.Bias = true
	}
	v := im.add(&graph.Node{Op: graph.OpConv, Inputs: []string{x}, Conv: a}, paramHint(n, n.GetInput()[1]), []int{1, outC, ho, wo}, params...)
	return im.setOut(n, v)
}

func (im *importer) batchNorm(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	if len(s) != 4 {
		return fmt.Errorf("%s: input rank %d, want 4", where(n), len(s))
	}
	if tm, err := at.int("training_mode", 0); err != nil {
		return err
	} else if tm != 0 {
		return fmt.Errorf("%s: training_mode 1 is not supported (export the model in eval mode)", where(n))
	}
	if at.has("spatial") {
		if sp, err := at.int("spatial", 1); err != nil || sp != 1 {
			return fmt.Errorf("%s: only spatial=1 is supported", where(n))
		}
	}
	eps, err := at.float("epsilon", 1e-5)
	if err != nil {
		return err
	}
	mom, err := at.float("momentum", 0.9)
	if err != nil {
		return err
	}
	if !(eps >= 0) || !(mom >= 0 && mom <= 1) {
		return fmt.Errorf("%s: epsilon %g or momentum %g out of range", where(n), eps, mom)
	}
	var ps []*tensor.Tensor
	for i := 1; i <= 4; i++ {
		c, err := im.floatConst(n, i, false)
		if err != nil {
			return err
		}
		if len(c.shape) != 1 || c.shape[0] != s[1] {
			return fmt.Errorf("%s: input %q has shape %v, want [%d]", where(n), n.GetInput()[i], c.shape, s[1])
		}
		t, _ := tensor.FromData(append([]float32(nil), c.f...), s[1])
		ps = append(ps, t)
	}
	// ONNX momentum weighs the running value; PyTorch's weighs the batch.
	bn := &graph.BNAttr{C: s[1], Eps: shortest(eps), Momentum: shortest(1 - mom)}
	v := im.add(&graph.Node{Op: graph.OpBatchNorm, Inputs: []string{x}, BN: bn}, paramHint(n, n.GetInput()[1]), clone(s), ps...)
	return im.setOut(n, v)
}

// foldable returns the node producing ONNX value name when nothing else reads
// it, so that a following constant Add or Mul can be folded into it.
func (im *importer) foldable(name string) *graph.Node {
	v, ok := im.vals[name]
	if !ok || im.uses[name] != 1 {
		return nil
	}
	p := im.prod[v]
	if p == nil || p.Output != v {
		return nil
	}
	return p
}

// broadcast4 right-aligns a constant's shape to rank r, or reports false.
func broadcastTo(shape []int, r int) ([]int, bool) {
	if len(shape) > r {
		for _, d := range shape[:len(shape)-r] {
			if d != 1 {
				return nil, false
			}
		}
		shape = shape[len(shape)-r:]
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	copy(out[r-len(shape):], shape)
	return out, true
}

// channelValues expands a constant broadcast against [1, C] or [1, C, 1, 1]
// into C per-channel values; ok is false when it varies along other axes.
func channelValues(c *constVal, rank, C int) ([]float32, bool) {
	s, ok := broadcastTo(c.shape, rank)
	if !ok || s[0] != 1 || (s[1] != 1 && s[1] != C) {
		return nil, false
	}
	for _, d := range s[2:] {
		if d != 1 {
			return nil, false
		}
	}
	out := make([]float32, C)
	for i := range out {
		if s[1] == 1 {
			out[i] = c.f[0]
		} else {
			out[i] = c.f[i]
		}
	}
	return out, true
}

func (im *importer) add2(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) != 2 {
		return fmt.Errorf("%s: want 2 inputs", where(n))
	}
	if im.allConst(n) {
		return fmt.Errorf("unsupported op \"Add\" at node %q: constant folding of Add is not supported", n.GetName())
	}
	ci := -1
	for i, v := range n.GetInput() {
		if _, ok := im.consts[v]; ok {
			ci = i
		}
	}
	if ci < 0 {
		a, sa, err := im.tensorIn(n, 0)
		if err != nil {
			return err
		}
		b, sb, err := im.tensorIn(n, 1)
		if err != nil {
			return err
		}
		if !tensor.SameShape(sa, sb) {
			return fmt.Errorf("%s: Add of shapes %v and %v cannot be represented (no broadcasting between computed tensors)", where(n), sa, sb)
		}
		return im.setOut(n, im.add(&graph.Node{Op: graph.OpAdd, Inputs: []string{a, b}}, hint(n), clone(sa)))
	}
	xi := 1 - ci
	c, err := im.floatConst(n, ci, false)
	if err != nil {
		return err
	}
	x, s, err := im.tensorIn(n, xi)
	if err != nil {
		return err
	}
	p := im.foldable(n.GetInput()[xi])
	switch {
	case p != nil && p.Op == graph.OpConv:
		K := p.Conv.OutC
		if vals, ok := channelValues(c, 4, K); ok {
			im.convBias(p).add(vals)
			return im.setOut(n, x)
		}
		if bs, ok := broadcastTo(c.shape, 4); ok && bs[0] == 1 && (bs[1] == 1 || bs[1] == K) && bs[2] == s[2] && bs[3] == s[3] {
			hw := s[2] * s[3]
			if int64(K)*int64(hw) > MaxTensorElems {
				return fmt.Errorf("%s: a bias map of %d x %d x %d values is too large", where(n), K, s[2], s[3])
			}
			m := im.convBiasMap(p, s)
			for k := 0; k < K; k++ {
				for j := 0; j < hw; j++ {
					src := j
					if bs[1] == K {
						src += k * hw
					}
					m.Data[k*hw+j] += c.f[src]
				}
			}
			return im.setOut(n, x)
		}
	case p != nil && p.Op == graph.OpLinear:
		if vals, ok := channelValues(c, 2, p.Linear.Out); ok {
			if !p.Linear.Bias {
				p.Linear.Bias = true
				im.addParam(p, 1, tensor.New(p.Linear.Out))
			}
			b := im.g.Params[p.Params[1]]
			for i := range b.Data {
				b.Data[i] += vals[i]
			}
			return im.setOut(n, x)
		}
	}
	return fmt.Errorf("%s: Add of a constant %v to %v can only be represented right after a Conv (per-channel bias or a [C, H, W] bias map) or a Gemm/MatMul that nothing else reads", where(n), c.shape, s)
}

type floats []float32

func (f floats) add(v []float32) {
	for i := range f {
		f[i] += v[i]
	}
}

// convBias returns the bias of conv p, creating a zero one if needed.
func (im *importer) convBias(p *graph.Node) floats {
	if !p.Conv.Bias {
		p.Conv.Bias = true
		im.addParam(p, 1, tensor.New(p.Conv.OutC))
	}
	return im.g.Params[p.Params[1]].Data
}

// convBiasMap returns the bias map of conv p (output shape s), creating a zero one if needed.
func (im *importer) convBiasMap(p *graph.Node, s []int) *tensor.Tensor {
	if !p.Conv.BiasMap {
		p.Conv.BiasMap = true
		im.addParam(p, len(p.Params), tensor.New(p.Conv.OutC, s[2], s[3]))
	}
	return im.g.Params[p.Params[len(p.Params)-1]]
}

func (im *importer) addParam(p *graph.Node, at int, t *tensor.Tensor) {
	im.nextID++
	name := fmt.Sprintf("%s.q%d", p.Name, im.nextID)
	im.g.Params[name] = t
	p.Params = append(p.Params, "")
	copy(p.Params[at+1:], p.Params[at:])
	p.Params[at] = name
}

func (im *importer) mul(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) != 2 {
		return fmt.Errorf("%s: want 2 inputs", where(n))
	}
	in0, in1 := n.GetInput()[0], n.GetInput()[1]
	// x * HardSigmoid(x) is HardSwish (how PyTorch writes it before opset 14).
	for _, pair := range [][2]string{{in0, in1}, {in1, in0}} {
		xv, ok1 := im.vals[pair[0]]
		hv, ok2 := im.vals[pair[1]]
		if !ok1 || !ok2 {
			continue
		}
		if h := im.prod[hv]; h != nil && h.Op == graph.OpAct && h.Act.Kind == graph.ActHardSigmoid && h.Inputs[0] == xv {
			return im.setOut(n, im.add(&graph.Node{Op: graph.OpAct, Inputs: []string{xv}, Act: &graph.ActAttr{Kind: graph.ActHardSwish}}, im.hints[h], clone(im.shapes[xv])))
		}
	}
	if ok, err := im.mulTensors(n); ok {
		return err
	}
	ci := -1
	for i, v := range n.GetInput() {
		if _, ok := im.consts[v]; ok {
			ci = i
		}
	}
	if ci >= 0 && !im.allConst(n) {
		c, err := im.floatConst(n, ci, false)
		if err != nil {
			return err
		}
		x, _, err := im.tensorIn(n, 1-ci)
		if err != nil {
			return err
		}
		p := im.foldable(n.GetInput()[1-ci])
		switch {
		case p != nil && p.Op == graph.OpConv:
			if vals, ok := channelValues(c, 4, p.Conv.OutC); ok {
				im.scaleRows(p, vals)
				return im.setOut(n, x)
			}
		case p != nil && p.Op == graph.OpLinear:
			if vals, ok := channelValues(c, 2, p.Linear.Out); ok {
				im.scaleRows(p, vals)
				return im.setOut(n, x)
			}
		}
	}
	return fmt.Errorf("%s: Mul can only be represented as x*HardSigmoid(x) (HardSwish), x*Sigmoid(x) (SiLU), x*gate (gate of x's shape or [N, C, 1, 1], squeeze-and-excitation) or as a scalar/per-channel constant scale right after a Conv or Gemm/MatMul that nothing else reads", where(n))
}

// scaleRows multiplies output channel k of a Conv or Linear (weights, bias,
// bias map) by s[k].
func (im *importer) scaleRows(p *graph.Node, s []float32) {
	for _, pn := range p.Params {
		t := im.g.Params[pn]
		per := len(t.Data) / len(s)
		for k := range s {
			for j := 0; j < per; j++ {
				t.Data[k*per+j] *= s[k]
			}
		}
	}
}

func (im *importer) reduceMean(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	axes, ok, err := at.ints("axes")
	if err != nil {
		return err
	}
	if !ok && len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
		c, err := im.constIn(n, 1, false)
		if err != nil {
			return err
		}
		if !c.isInt {
			return fmt.Errorf("%s: axes must be integers", where(n))
		}
		axes = c.i
	}
	keep, err := at.int("keepdims", 1)
	if err != nil {
		return err
	}
	norm := map[int64]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(len(s))
		}
		norm[a] = true
	}
	if len(s) != 4 || len(axes) != 2 || !norm[2] || !norm[3] {
		return fmt.Errorf("%s: ReduceMean over axes %v of a rank-%d tensor cannot be represented (only over H and W)", where(n), axes, len(s))
	}
	v := im.add(&graph.Node{Op: graph.OpGlobalAvgPool, Inputs: []string{x}}, hint(n), []int{1, s[1], 1, 1})
	if keep == 0 {
		v = im.add(&graph.Node{Op: graph.OpFlatten, Inputs: []string{v}}, hint(n)+".flatten", []int{1, s[1]})
	}
	return im.setOut(n, v)
}

func (im *importer) flatten(n *onnxpb.NodeProto, x string, s []int) error {
	if len(s) == 2 {
		return im.setOut(n, x)
	}
	f := 1
	for _, d := range s[1:] {
		f *= d
	}
	return im.setOut(n, im.add(&graph.Node{Op: graph.OpFlatten, Inputs: []string{x}}, hint(n), []int{1, f}))
}

func (im *importer) gemm(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	w, err := im.floatConst(n, 1, false)
	if err != nil {
		return err
	}
	ta, err := at.int("transA", 0)
	if err != nil {
		return err
	}
	tb, err := at.int("transB", 0)
	if err != nil {
		return err
	}
	alpha, err := at.float("alpha", 1)
	if err != nil {
		return err
	}
	beta, err := at.float("beta", 1)
	if err != nil {
		return err
	}
	if ta != 0 || len(s) != 2 || len(w.shape) != 2 {
		return fmt.Errorf("%s: Gemm of %v (transA %d) by %v cannot be represented", where(n), s, ta, w.shape)
	}
	in, out := w.shape[0], w.shape[1]
	if tb != 0 {
		in, out = out, in
	}
	if in != s[1] {
		return fmt.Errorf("%s: Gemm weight %v (transB %d) does not fit an input of %d features", where(n), w.shape, tb, s[1])
	}
	wt := tensor.New(out, in)
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			if tb != 0 {
				wt.Data[o*in+i] = alpha * w.f[o*in+i]
			} else {
				wt.Data[o*in+i] = alpha * w.f[i*out+o]
			}
		}
	}
	params := []*tensor.Tensor{wt}
	la := &graph.LinearAttr{In: in, Out: out}
	c, err := im.floatConst(n, 2, true)
	if err != nil {
		return err
	}
	if c != nil {
		vals, ok := channelValues(c, 2, out)
		if !ok {
			return fmt.Errorf("%s: Gemm bias of shape %v cannot be represented (want [%d])", where(n), c.shape, out)
		}
		bt := tensor.New(out)
		for i := range vals {
			bt.Data[i] = beta * vals[i]
		}
		params = append(params, bt)
		la.Bias = true
	}
	v := im.add(&graph.Node{Op: graph.OpLinear, Inputs: []string{x}, Linear: la}, paramHint(n, n.GetInput()[1]), []int{1, out}, params...)
	return im.setOut(n, v)
}

func (im *importer) pad(n *onnxpb.NodeProto, at attrs) error {
	x, s, err := im.tensorIn(n, 0)
	if err != nil {
		return err
	}
	mode, err := at.str("mode", "constant")
	if err != nil {
		return err
	}
	if mode != "constant" {
		return fmt.Errorf("%s: Pad mode %q is not supported (only constant zero padding)", where(n), mode)
	}
	var pads []int64
	if im.opset < 11 {
		p, _, err := at.ints("pads")
		if err != nil {
			return err
		}
		if v, err := at.float("value", 0); err != nil || v != 0 {
			return fmt.Errorf("%s: only zero padding is supported", where(n))
		}
		pads = p
	} else {
		c, err := im.constIn(n, 1, false)
		if err != nil {
			return err
		}
		if !c.isInt {
			return fmt.Errorf("%s: pads must be integers", where(n))
		}
		pads = c.i
		v, err := im.floatConst(n, 2, true)
		if err != nil {
			return err
		}
		if v != nil && (v.numel() != 1 || v.f[0] != 0) {
			return fmt.Errorf("%s: only zero padding is supported", where(n))
		}
		if len(n.GetInput()) > 3 && n.GetInput()[3] != "" {
			return fmt.Errorf("%s: the axes input is not supported", where(n))
		}
	}
	if len(s) != 4 || len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return fmt.Errorf("%s: Pad %v of a rank-%d tensor cannot be represented (only H and W of NCHW)", where(n), pads, len(s))
	}
	var p [4]int
	for i, v := range []int64{pads[2], pads[3], pads[6], pads[7]} {
		if v < 0 || v > 1<<16 {
			return fmt.Errorf("%s: pads %v are not valid (non-negative, at most 65536)", where(n), pads)
		}
		p[i] = int(v)
	}
	out := []int{1, s[1], s[2] + p[0] + p[2], s[3] + p[1] + p[3]}
	return im.setOut(n, im.add(&graph.Node{Op: graph.OpPad, Inputs: []string{x}, Pad: &graph.PadAttr{Pads: p}}, hint(n), out))
}

// prune removes nodes whose output nothing reads (such as the HardSigmoid of
// a HardSwish written as x*HardSigmoid(x)).
func (im *importer) prune() {
	g := im.g
	live := map[string]bool{g.Output: true}
	keep := make([]bool, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		if live[n.Output] {
			keep[i] = true
			for _, v := range n.Inputs {
				live[v] = true
			}
		}
	}
	var nodes []*graph.Node
	for i, n := range g.Nodes {
		if keep[i] {
			nodes = append(nodes, n)
		} else {
			for _, p := range n.Params {
				delete(g.Params, p)
			}
		}
	}
	g.Nodes = nodes
}

// rename gives nodes, values and parameters their final names: node names
// from the hints (unique), outputs equal to node names, parameters
// "<node>.weight", ".bias", ".bias_map" (Conv, Linear) and ".weight", ".bias",
// ".running_mean", ".running_var" (BatchNorm), as torchvision names them.
func (im *importer) rename() error {
	g := im.g
	used := map[string]bool{g.Input.Name: true}
	valMap := map[string]string{g.Input.Name: g.Input.Name}
	params := map[string]*tensor.Tensor{}
	for _, n := range g.Nodes {
		base := im.hints[n]
		if base == "" {
			base = strings.ToLower(string(n.Op))
		}
		base = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return '_'
			}
			return r
		}, base)
		roles := paramRoles(n)
		free := func(name string) bool {
			if used[name] {
				return false
			}
			for _, r := range roles {
				if _, ok := params[name+"."+r]; ok {
					return false
				}
			}
			return true
		}
		name := base
		for k := 1; !free(name); k++ {
			name = fmt.Sprintf("%s_%d", base, k)
		}
		used[name] = true
		for i, p := range n.Params {
			pn := name + "." + roles[i]
			params[pn] = g.Params[p]
			n.Params[i] = pn
		}
		for i, v := range n.Inputs {
			nv, ok := valMap[v]
			if !ok {
				return fmt.Errorf("internal error: value %q used before definition", v)
			}
			n.Inputs[i] = nv
		}
		valMap[n.Output] = name
		n.Name, n.Output = name, name
	}
	g.Params = params
	g.Output = valMap[g.Output]
	return nil
}

func paramRoles(n *graph.Node) []string {
	switch n.Op {
	case graph.OpConv:
		r := []string{"weight"}
		if n.Conv.Bias {
			r = append(r, "bias")
		}
		if n.Conv.BiasMap {
			r = append(r, "bias_map")
		}
		return r
	case graph.OpBatchNorm:
		return []string{"weight", "bias", "running_mean", "running_var"}
	case graph.OpLinear:
		r := []string{"weight"}
		if n.Linear.Bias {
			r = append(r, "bias")
		}
		return r
	}
	return nil
}

// structure is the JSON stored under MetaStructure.
type structure struct {
	Blocks     []graph.Block     `json:"blocks"`
	Units      []graph.Unit      `json:"units"`
	NodeUnits  map[string]string `json:"node_units"`
	NodeBlocks map[string]string `json:"node_blocks"`
}

func structureOf(g *graph.Graph) structure {
	s := structure{Blocks: g.Blocks, Units: g.Units, NodeUnits: map[string]string{}, NodeBlocks: map[string]string{}}
	for _, n := range g.Nodes {
		if n.Act != nil && n.Act.Unit != "" {
			s.NodeUnits[n.Name] = n.Act.Unit
		}
		if n.Block != "" {
			s.NodeBlocks[n.Name] = n.Block
		}
	}
	return s
}

// applyStructure restores blocks and units stored by Export, after checking
// that every name they mention exists; on error g is unchanged.
func applyStructure(g *graph.Graph, js string) error {
	var s structure
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return err
	}
	vals := map[string]bool{g.Input.Name: true}
	nodes := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		vals[n.Output] = true
		nodes[n.Name] = n
	}
	units := map[string]bool{}
	for _, u := range s.Units {
		units[u.Name] = true
	}
	blocks := map[string]bool{}
	for _, b := range s.Blocks {
		if !vals[b.Input] || !vals[b.Output] {
			return fmt.Errorf("block %s: unknown values", b.Name)
		}
		blocks[b.Name] = true
	}
	for n, u := range s.NodeUnits {
		if nd := nodes[n]; nd == nil || nd.Act == nil || !units[u] {
			return fmt.Errorf("unit of node %s does not match", n)
		}
	}
	for n, b := range s.NodeBlocks {
		if nodes[n] == nil || !blocks[b] {
			return fmt.Errorf("block of node %s does not match", n)
		}
	}
	g.Blocks, g.Units = s.Blocks, s.Units
	for _, n := range g.Nodes {
		n.Block = s.NodeBlocks[n.Name]
		if n.Act != nil {
			n.Act.Unit = s.NodeUnits[n.Name]
		}
	}
	return nil
}

// shortest widens a float32 attribute to the float64 with the shortest
// decimal form that rounds to it (float32 1e-5 becomes 1e-5, as PyTorch
// and our files hold it, not 9.99999974737875e-06).
func shortest(f float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f)
	}
	return v
}
