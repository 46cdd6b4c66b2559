package onnx

import (
	"fmt"

	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// attrs gives typed access to a node's attributes with errors that name the
// node, the op and the attribute.
type attrs struct {
	n *onnxpb.NodeProto
	m map[string]*onnxpb.AttributeProto
}

func newAttrs(n *onnxpb.NodeProto) (attrs, error) {
	a := attrs{n: n, m: map[string]*onnxpb.AttributeProto{}}
	for _, at := range n.GetAttribute() {
		if at.GetRefAttrName() != "" {
			return a, fmt.Errorf("%s: attribute %q refers to a function attribute, which is not supported", where(n), at.GetName())
		}
		a.m[at.GetName()] = at
	}
	return a, nil
}

func where(n *onnxpb.NodeProto) string {
	return fmt.Sprintf("%s node %q", n.GetOpType(), n.GetName())
}

func (a attrs) has(name string) bool { _, ok := a.m[name]; return ok }

func (a attrs) int(name string, def int64) (int64, error) {
	at, ok := a.m[name]
	if !ok {
		return def, nil
	}
	if at.GetType() != onnxpb.AttributeProto_INT {
		return 0, fmt.Errorf("%s: attribute %q has type %s, want INT", where(a.n), name, at.GetType())
	}
	return at.GetI(), nil
}

func (a attrs) float(name string, def float32) (float32, error) {
	at, ok := a.m[name]
	if !ok {
		return def, nil
	}
	if at.GetType() != onnxpb.AttributeProto_FLOAT {
		return 0, fmt.Errorf("%s: attribute %q has type %s, want FLOAT", where(a.n), name, at.GetType())
	}
	return at.GetF(), nil
}

func (a attrs) ints(name string) ([]int64, bool, error) {
	at, ok := a.m[name]
	if !ok {
		return nil, false, nil
	}
	if at.GetType() != onnxpb.AttributeProto_INTS {
		return nil, true, fmt.Errorf("%s: attribute %q has type %s, want INTS", where(a.n), name, at.GetType())
	}
	return at.GetInts(), true, nil
}

func (a attrs) str(name, def string) (string, error) {
	at, ok := a.m[name]
	if !ok {
		return def, nil
	}
	if at.GetType() != onnxpb.AttributeProto_STRING {
		return "", fmt.Errorf("%s: attribute %q has type %s, want STRING", where(a.n), name, at.GetType())
	}
	return string(at.GetS()), nil
}
