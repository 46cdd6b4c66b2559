package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/internal/buildinfo"
	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// Version is the producer version written into exported models: dshrink's
// build version (buildinfo.Version), as `dshrink version` prints it.
var Version = buildinfo.Version()

// ExportOptions configures Export. The zero value exports at opset 13 with
// a dynamic batch dimension.
type ExportOptions struct {
	// Opset is the default-domain opset version, 13 to 17 (0 means 13).
	// HardSwish is written as one op from opset 14, as x*HardSigmoid(x) below.
	Opset int
	// Batch fixes the batch dimension of the input and output; 0 leaves it
	// dynamic (named "N").
	Batch int
	// NoStructure leaves the dshrink.structure metadata (blocks and units) out.
	NoStructure bool
}

// Export writes g as a serialized ONNX model (IR version 8). Node names are
// the graph's node names, initializers are named after the parameters, and
// metadata_props hold producer information, every g.Meta entry (the shrink
// plan among them) and the block/unit structure. ReLU6 becomes Clip with
// min/max initializers, a conv bias map a Conv followed by an Add of the
// [K, Ho, Wo] map, Linear a Gemm with transB, identity activations Identity,
// SiLU Sigmoid and Mul, a channel Slice a Slice along axis 1, a channel
// shuffle Reshape, Transpose and Reshape (as PyTorch writes them).
func Export(g *graph.Graph, opts ExportOptions) ([]byte, error) {
	m, err := ExportModel(g, opts)
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", g.Name, err)
	}
	return b, nil
}

// ExportModel is Export without the serialization: it returns the ONNX
// model as protobuf message.
func ExportModel(g *graph.Graph, opts ExportOptions) (*onnxpb.ModelProto, error) {
	if opts.Opset == 0 {
		opts.Opset = 13
	}
	if opts.Opset < 13 || opts.Opset > 17 {
		return nil, fmt.Errorf("export %s: opset %d, want 13 to 17", g.Name, opts.Opset)
	}
	if opts.Batch < 0 {
		return nil, fmt.Errorf("export %s: batch %d, want 0 (dynamic) or more", g.Name, opts.Batch)
	}
	shapes, err := g.Shapes(max(opts.Batch, 1))
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", g.Name, err)
	}
	e := &exporter{g: g, opset: opts.Opset, inits: map[string]bool{}, shapes: shapes}
	for _, name := range g.ParamNames() {
		t := g.Params[name]
		if t == nil {
			continue
		}
		e.addFloat(name, t.Shape, t.Data)
	}
	for _, n := range g.Nodes {
		if err := e.node(n); err != nil {
			return nil, fmt.Errorf("export %s: node %s: %w", g.Name, n.Name, err)
		}
	}
	batchDim := func() *onnxpb.TensorShapeProto_Dimension {
		if opts.Batch > 0 {
			return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(opts.Batch)}}
		}
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
	}
	valueInfo := func(name string, shape []int) *onnxpb.ValueInfoProto {
		dims := []*onnxpb.TensorShapeProto_Dimension{batchDim()}
		for _, d := range shape[1:] {
			dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		}
		et := int32(onnxpb.TensorProto_FLOAT)
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: &et, Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	og := &onnxpb.GraphProto{
		Name:        proto.String(g.Name),
		Node:        e.nodes,
		Initializer: e.initList,
		Input:       []*onnxpb.ValueInfoProto{valueInfo(g.Input.Name, shapes[g.Input.Name])},
		Output:      []*onnxpb.ValueInfoProto{valueInfo(g.Output, shapes[g.Output])},
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(8),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opts.Opset))}},
		ProducerName:    proto.String("dshrink"),
		ProducerVersion: proto.String(Version),
		DocString:       proto.String("exported by dshrink (DepthShrinker for MobileNetV2-family CNNs)"),
		Graph:           og,
	}
	keys := make([]string, 0, len(g.Meta))
	for k := range g.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	meta := func(k, v string) {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)})
	}
	meta("producer", "dshrink")
	meta("dshrink.version", Version)
	for _, k := range keys {
		if k != MetaStructure && k != "producer" && k != "dshrink.version" {
			meta(k, g.Meta[k])
		}
	}
	if !opts.NoStructure && (len(g.Blocks) > 0 || len(g.Units) > 0) {
		js, err := json.Marshal(structureOf(g))
		if err != nil {
			return nil, fmt.Errorf("export %s: structure: %w", g.Name, err)
		}
		meta(MetaStructure, string(js))
	}
	return m, nil
}

type exporter struct {
	g        *graph.Graph
	opset    int
	nodes    []*onnxpb.NodeProto
	initList []*onnxpb.TensorProto
	inits    map[string]bool
	shapes   map[string][]int
}

func (e *exporter) addFloat(name string, shape []int, data []float32) {
	if e.inits[name] {
		return
	}
	e.inits[name] = true
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	dt := int32(onnxpb.TensorProto_FLOAT)
	e.initList = append(e.initList, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: &dt, RawData: raw})
}

func (e *exporter) addInts(name string, data []int64) {
	if e.inits[name] {
		return
	}
	e.inits[name] = true
	dt := int32(onnxpb.TensorProto_INT64)
	e.initList = append(e.initList, &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(data))}, DataType: &dt, Int64Data: data})
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_INT
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, I: proto.Int64(v)}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_INTS
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, Ints: v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_FLOAT
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, F: proto.Float32(v)}
}

func (e *exporter) emit(name, op string, ins []string, out string, at ...*onnxpb.AttributeProto) {
	e.nodes = append(e.nodes, &onnxpb.NodeProto{Name: proto.String(name), OpType: proto.String(op), Input: ins, Output: []string{out}, Attribute: at})
}

func (e *exporter) node(n *graph.Node) error {
	x := n.Inputs
	switch n.Op {
	case graph.OpConv:
		a := n.Conv
		ins := []string{x[0], n.Params[0]}
		if a.Bias {
			ins = append(ins, n.Params[1])
		}
		out := n.Output
		if a.BiasMap {
			out = n.Output + "/conv"
		}
		e.emit(n.Name, "Conv", ins, out,
			attrInts("dilations", 1, 1), attrInt("group", int64(a.Groups)), attrInts("kernel_shape", int64(a.KH), int64(a.KW)),
			attrInts("pads", int64(a.Pads[0]), int64(a.Pads[1]), int64(a.Pads[2]), int64(a.Pads[3])),
			attrInts("strides", int64(a.StrideH), int64(a.StrideW)))
		if a.BiasMap {
			e.emit(n.Name+"/bias_map", "Add", []string{out, n.Params[len(n.Params)-1]}, n.Output)
		}
	case graph.OpBatchNorm:
		e.emit(n.Name, "BatchNormalization", []string{x[0], n.Params[0], n.Params[1], n.Params[2], n.Params[3]}, n.Output,
			attrFloat("epsilon", float32(n.BN.Eps)), attrFloat("momentum", float32(1-n.BN.Momentum)))
	case graph.OpAct:
		switch n.Act.Kind {
		case graph.ActIdentity:
			e.emit(n.Name, "Identity", x[:1], n.Output)
		case graph.ActReLU:
			e.emit(n.Name, "Relu", x[:1], n.Output)
		case graph.ActReLU6:
			e.addFloat("dshrink.relu6.min", []int{}, []float32{0})
			e.addFloat("dshrink.relu6.max", []int{}, []float32{6})
			e.emit(n.Name, "Clip", []string{x[0], "dshrink.relu6.min", "dshrink.relu6.max"}, n.Output)
		case graph.ActHardSigmoid:
			e.emit(n.Name, "HardSigmoid", x[:1], n.Output, attrFloat("alpha", 1.0/6), attrFloat("beta", 0.5))
		case graph.ActHardSwish:
			if e.opset >= 14 {
				e.emit(n.Name, "HardSwish", x[:1], n.Output)
			} else {
				e.emit(n.Name+"/hardsigmoid", "HardSigmoid", x[:1], n.Output+"/hardsigmoid", attrFloat("alpha", 1.0/6), attrFloat("beta", 0.5))
				e.emit(n.Name, "Mul", []string{x[0], n.Output + "/hardsigmoid"}, n.Output)
			}
		case graph.ActSigmoid:
			e.emit(n.Name, "Sigmoid", x[:1], n.Output)
		case graph.ActSiLU:
			// ONNX has no SiLU before opset 22: x * Sigmoid(x), as PyTorch writes it.
			e.emit(n.Name+"/sigmoid", "Sigmoid", x[:1], n.Output+"/sigmoid")
			e.emit(n.Name, "Mul", []string{x[0], n.Output + "/sigmoid"}, n.Output)
		default:
			return fmt.Errorf("activation %q cannot be exported", n.Act.Kind)
		}
	case graph.OpAdd:
		e.emit(n.Name, "Add", x[:2], n.Output)
	case graph.OpGlobalAvgPool:
		e.emit(n.Name, "GlobalAveragePool", x[:1], n.Output)
	case graph.OpFlatten:
		e.emit(n.Name, "Flatten", x[:1], n.Output, attrInt("axis", 1))
	case graph.OpLinear:
		ins := []string{x[0], n.Params[0]}
		if n.Linear.Bias {
			ins = append(ins, n.Params[1])
		}
		e.emit(n.Name, "Gemm", ins, n.Output, attrFloat("alpha", 1), attrFloat("beta", 1), attrInt("transB", 1))
	case graph.OpDropout:
		e.addFloat(n.Name+".ratio", []int{}, []float32{float32(n.Dropout.P)})
		e.emit(n.Name, "Dropout", []string{x[0], n.Name + ".ratio"}, n.Output)
	case graph.OpPad:
		p := n.Pad.Pads
		e.addInts(n.Name+".pads", []int64{0, 0, int64(p[0]), int64(p[1]), 0, 0, int64(p[2]), int64(p[3])})
		e.emit(n.Name, "Pad", []string{x[0], n.Name + ".pads"}, n.Output, &onnxpb.AttributeProto{
			Name: proto.String("mode"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("constant")})
	case graph.OpMaxPool, graph.OpAvgPool:
		a := n.Pool
		ceil := int64(0)
		pads := a.Pads
		if a.CeilMode {
			ceil = 1
			// PyTorch's ceil mode drops a last window that would start in
			// the trailing padding; ONNX's shape inference (onnx 1.12) does
			// not. Where padding never counts (max, or average without
			// count_include_pad), the same windows are written as floor
			// mode with the trailing padding the last window needs, which
			// every runtime reads alike.
			s := e.shapes[x[0]]
			if len(s) == 4 && (n.Op == graph.OpMaxPool || !a.CountIncludePad) {
				ceil = 0
				for ax, k := range []int{a.KH, a.KW} {
					st, in := []int{a.StrideH, a.StrideW}[ax], s[2+ax]
					o := graph.PoolOut(in, k, st, pads[ax], pads[2+ax], true)
					if o != graph.PoolOut(in, k, st, pads[ax], pads[2+ax], false) {
						pads[2+ax] = (o-1)*st + k - in - pads[ax]
					}
				}
			}
		}
		at := []*onnxpb.AttributeProto{attrInt("ceil_mode", ceil), attrInts("kernel_shape", int64(a.KH), int64(a.KW)),
			attrInts("pads", int64(pads[0]), int64(pads[1]), int64(pads[2]), int64(pads[3])),
			attrInts("strides", int64(a.StrideH), int64(a.StrideW))}
		op := "MaxPool"
		if n.Op == graph.OpAvgPool {
			op = "AveragePool"
			cip := int64(0)
			if a.CountIncludePad {
				cip = 1
			}
			at = append(at, attrInt("count_include_pad", cip))
		}
		e.emit(n.Name, op, x[:1], n.Output, at...)
	case graph.OpMul:
		e.emit(n.Name, "Mul", x[:2], n.Output)
	case graph.OpConcat:
		e.emit(n.Name, "Concat", x, n.Output, attrInt("axis", 1))
	case graph.OpSlice:
		e.addInts(n.Name+".starts", []int64{int64(n.Slice.Start)})
		e.addInts(n.Name+".ends", []int64{int64(n.Slice.End)})
		e.addInts("dshrink.axes.channels", []int64{1})
		e.emit(n.Name, "Slice", []string{x[0], n.Name + ".starts", n.Name + ".ends", "dshrink.axes.channels"}, n.Output)
	case graph.OpShuffle:
		// As PyTorch writes channel_shuffle: view [N, g, C/g, H, W],
		// transpose the two channel axes, view [N, C, H, W].
		s := e.shapes[x[0]]
		if len(s) != 4 {
			return fmt.Errorf("ChannelShuffle input %q has shape %v, want NCHW", x[0], s)
		}
		gr := int64(n.Shuffle.Groups)
		e.addInts(n.Name+".view", []int64{0, gr, int64(s[1]) / gr, int64(s[2]), int64(s[3])})
		e.addInts(n.Name+".shape", []int64{0, int64(s[1]), int64(s[2]), int64(s[3])})
		e.emit(n.Name+"/view", "Reshape", []string{x[0], n.Name + ".view"}, n.Output+"/view")
		e.emit(n.Name+"/transpose", "Transpose", []string{n.Output + "/view"}, n.Output+"/transpose", attrInts("perm", 0, 2, 1, 3, 4))
		e.emit(n.Name, "Reshape", []string{n.Output + "/transpose", n.Name + ".shape"}, n.Output)
	case graph.OpSoftmax:
		e.emit(n.Name, "Softmax", x[:1], n.Output, attrInt("axis", 1))
	default:
		return fmt.Errorf("op %s cannot be exported", n.Op)
	}
	return nil
}
