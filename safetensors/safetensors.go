// Package safetensors reads and writes the safetensors file format: an 8-byte
// little-endian header length, a JSON header describing each tensor (dtype,
// shape, byte offsets) plus an optional "__metadata__" string map, then the
// raw little-endian tensor bytes. Only F32 tensors are written; F32, F64, F16
// and BF16 are read (converted to float32).
package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/tensor"
)

// MaxHeaderBytes bounds the JSON header a reader accepts.
const MaxHeaderBytes = 100 << 20

type entry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// File is the content of a safetensors file.
type File struct {
	Tensors  map[string]*tensor.Tensor
	Metadata map[string]string
}

// Write encodes tensors (in sorted name order) and metadata to w.
func Write(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == "__metadata__" {
			return errors.New("safetensors: tensor name __metadata__ is reserved")
		}
		names = append(names, n)
	}
	sort.Strings(names)
	header := make(map[string]any, len(names)+1)
	var off int64
	for _, n := range names {
		t := tensors[n]
		if tensor.Numel(t.Shape) != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v does not match %d values", n, t.Shape, len(t.Data))
		}
		size := int64(len(t.Data)) * 4
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[n] = entry{DType: "F32", Shape: shape, Offsets: [2]int64{off, off + size}}
		off += size
	}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: encode header: %w", err)
	}
	// Pad the header with spaces so the data starts 8-byte aligned.
	for (8+len(hb))%8 != 0 {
		hb = append(hb, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	if _, err := bw.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := bw.Write(hb); err != nil {
		return err
	}
	var buf [4]byte
	for _, n := range names {
		for _, v := range tensors[n].Data {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			if _, err := bw.Write(buf[:]); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// WriteFile writes a safetensors file atomically (temporary file, sync, rename).
func WriteFile(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	return fsutil.WriteFileAtomic(path, func(w io.Writer) error { return Write(w, tensors, metadata) })
}

// ReadFile reads a whole safetensors file.
func ReadFile(path string) (*File, error) {
	data, err := fsutil.ReadFile(path, 0)
	if err != nil {
		return nil, err
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Decode parses a safetensors file held in memory, checking every offset,
// shape and size against the buffer before allocating.
func Decode(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data[:8])
	if hlen > MaxHeaderBytes || hlen > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the file (%d bytes) or the %d-byte limit", hlen, len(data), MaxHeaderBytes)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+hlen], &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not valid JSON: %w", err)
	}
	body := data[8+hlen:]
	out := &File{Tensors: make(map[string]*tensor.Tensor, len(raw)), Metadata: map[string]string{}}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &out.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e entry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %w", name, err)
		}
		width := map[string]int64{"F32": 4, "F64": 8, "F16": 2, "BF16": 2}[e.DType]
		if width == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: dtype %q not supported (want F32, F64, F16 or BF16)", name, e.DType)
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && n > math.MaxInt32/int64(d)) {
				return nil, fmt.Errorf("safetensors: tensor %q: shape %v is negative or too large", name, e.Shape)
			}
			n *= int64(d)
		}
		lo, hi := e.Offsets[0], e.Offsets[1]
		if lo < 0 || hi < lo || hi > int64(len(body)) {
			return nil, fmt.Errorf("safetensors: tensor %q: data offsets [%d,%d) outside the %d data bytes", name, lo, hi, len(body))
		}
		if hi-lo != n*width {
			return nil, fmt.Errorf("safetensors: tensor %q: %d bytes for shape %v of %s, want %d", name, hi-lo, e.Shape, e.DType, n*width)
		}
		b := body[lo:hi]
		t := &tensor.Tensor{Shape: append([]int{}, e.Shape...), Data: make([]float32, n)}
		for i := range t.Data {
			switch e.DType {
			case "F32":
				t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			case "F64":
				t.Data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
			case "F16":
				t.Data[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
			case "BF16":
				t.Data[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			}
		}
		out.Tensors[name] = t
	}
	return out, nil
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		// Subnormal half: normalise.
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		frac &= 0x3ff
		return math.Float32frombits(sign | e<<23 | frac<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}
