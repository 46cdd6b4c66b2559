package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/onnx/onnxpb"
)

// Limits on what Import accepts. Every size read from a file is checked
// against them before anything is allocated.
const (
	// MaxDim is the largest accepted size of one tensor dimension.
	MaxDim = 1 << 24
	// MaxRank is the largest accepted tensor rank.
	MaxRank = 8
	// MaxTensorElems is the largest accepted number of elements of one tensor (1 GiB of float32).
	MaxTensorElems = 1 << 28
	// MaxTotalElems bounds the elements of all initializers and constants together.
	MaxTotalElems = 1 << 29
	// MaxNodes is the largest accepted number of nodes in a graph.
	MaxNodes = 1 << 20
)

// constVal is a constant tensor of an imported model: float data (initializers,
// Constant nodes) or integer data (shapes, axes, pads). For integers computed
// from Shape, batch[i] marks the element that stands for the batch size.
type constVal struct {
	shape []int
	f     []float32
	i     []int64
	isInt bool
	batch []bool
}

func (c *constVal) numel() int { return numel(c.shape) }

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// checkDims validates a shape read from a file and returns it as ints with
// its element count.
func checkDims(dims []int64) ([]int, int, error) {
	if len(dims) > MaxRank {
		return nil, 0, fmt.Errorf("rank %d exceeds the limit %d", len(dims), MaxRank)
	}
	shape := make([]int, len(dims))
	n := int64(1)
	for i, d := range dims {
		if d < 0 || d > MaxDim {
			return nil, 0, fmt.Errorf("dimension %d of shape %v is out of range [0, %d]", i, dims, MaxDim)
		}
		n *= d
		if n > MaxTensorElems {
			return nil, 0, fmt.Errorf("shape %v has more than %d elements", dims, MaxTensorElems)
		}
		shape[i] = int(d)
	}
	return shape, int(n), nil
}

// tensorReader decodes TensorProtos, reading external data relative to dir
// and keeping count of the elements decoded so far.
type tensorReader struct {
	dir   string // directory of the model file ("" when unknown)
	total int64
}

// decode converts t into a constVal; what names the tensor in errors.
func (r *tensorReader) decode(t *onnxpb.TensorProto, what string) (*constVal, error) {
	if t == nil {
		return nil, fmt.Errorf("%s: missing tensor", what)
	}
	shape, n, err := checkDims(t.GetDims())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if r.total += int64(n); r.total > MaxTotalElems {
		return nil, fmt.Errorf("%s: the model's constants exceed %d elements in total", what, MaxTotalElems)
	}
	if t.Segment != nil {
		return nil, fmt.Errorf("%s: segmented tensors are not supported", what)
	}
	dt := onnxpb.TensorProto_DataType(t.GetDataType())
	var size int
	switch dt {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32:
		size = 4
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64:
		size = 8
	default:
		return nil, fmt.Errorf("%s: data type %s is not supported (float, double, int32 and int64 are)", what, dt)
	}
	var raw []byte
	switch {
	case t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL:
		if raw, err = r.external(t, n*size, what); err != nil {
			return nil, err
		}
	case t.RawData != nil:
		raw = t.RawData
		if len(raw) != n*size {
			return nil, fmt.Errorf("%s: raw data has %d bytes, shape %v of %s needs %d", what, len(raw), shape, dt, n*size)
		}
	}
	c := &constVal{shape: shape}
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		if raw == nil && len(t.GetFloatData()) != n {
			return nil, fmt.Errorf("%s: %d float values, shape %v needs %d", what, len(t.GetFloatData()), shape, n)
		}
		c.f = make([]float32, n)
		if raw != nil {
			for i := range c.f {
				c.f[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		} else {
			copy(c.f, t.GetFloatData())
		}
	case onnxpb.TensorProto_DOUBLE:
		if raw == nil && len(t.GetDoubleData()) != n {
			return nil, fmt.Errorf("%s: %d double values, shape %v needs %d", what, len(t.GetDoubleData()), shape, n)
		}
		c.f = make([]float32, n)
		for i := range c.f {
			if raw != nil {
				c.f[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
			} else {
				c.f[i] = float32(t.GetDoubleData()[i])
			}
		}
	case onnxpb.TensorProto_INT64:
		if raw == nil && len(t.GetInt64Data()) != n {
			return nil, fmt.Errorf("%s: %d int64 values, shape %v needs %d", what, len(t.GetInt64Data()), shape, n)
		}
		c.isInt = true
		c.i = make([]int64, n)
		for i := range c.i {
			if raw != nil {
				c.i[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			} else {
				c.i[i] = t.GetInt64Data()[i]
			}
		}
	case onnxpb.TensorProto_INT32:
		if raw == nil && len(t.GetInt32Data()) != n {
			return nil, fmt.Errorf("%s: %d int32 values, shape %v needs %d", what, len(t.GetInt32Data()), shape, n)
		}
		c.isInt = true
		c.i = make([]int64, n)
		for i := range c.i {
			if raw != nil {
				c.i[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			} else {
				c.i[i] = int64(t.GetInt32Data()[i])
			}
		}
	}
	if c.isInt {
		c.batch = make([]bool, n)
	}
	return c, nil
}

// external reads the external data of t: a file named by the "location" key,
// relative to the model's directory, from "offset" for "length" bytes; the
// region must lie inside the file and hold exactly want bytes.
func (r *tensorReader) external(t *onnxpb.TensorProto, want int, what string) ([]byte, error) {
	var loc string
	var off, length int64 = 0, -1
	for _, kv := range t.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset", "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("%s: external data %s %q is not a non-negative integer", what, kv.GetKey(), kv.GetValue())
			}
			if kv.GetKey() == "offset" {
				off = v
			} else {
				length = v
			}
		}
	}
	if loc == "" {
		return nil, fmt.Errorf("%s: external data without a location", what)
	}
	if r.dir == "" {
		return nil, fmt.Errorf("%s: external data %q needs the model's directory (import the model from its file)", what, loc)
	}
	if length < 0 {
		length = int64(want)
	}
	if length != int64(want) {
		return nil, fmt.Errorf("%s: external data length %d, the tensor needs %d bytes", what, length, want)
	}
	// The location is resolved with every symbolic link evaluated and must
	// name a regular file inside the model's directory (as onnx >= 1.16
	// requires): a link to /etc/passwd or a FIFO is refused, never read.
	f, st, err := fsutil.OpenInside(r.dir, loc)
	if err != nil {
		return nil, fmt.Errorf("%s: external data location %q: %w", what, loc, err)
	}
	defer f.Close()
	if off > st.Size() || length > st.Size()-off {
		return nil, fmt.Errorf("%s: external data %q: offset %d + length %d is past the end of the file (%d bytes)", what, loc, off, length, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, off); err != nil && !(err == io.EOF && length == 0) {
		return nil, fmt.Errorf("%s: external data %q: %w", what, loc, err)
	}
	return buf, nil
}
