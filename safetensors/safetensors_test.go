package safetensors

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/tensor"
)

func encode(t *testing.T, ts map[string]*tensor.Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	a, _ := tensor.FromData([]float32{1, -2.5, 3e-8, 4}, 2, 2)
	s, _ := tensor.FromData([]float32{7}) // scalar
	data := encode(t, map[string]*tensor.Tensor{"a": a, "s": s}, map[string]string{"k": "v"})
	if (8+binary.LittleEndian.Uint64(data))%8 != 0 {
		t.Error("data section is not 8-byte aligned")
	}
	f, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["k"] != "v" {
		t.Errorf("metadata lost: %v", f.Metadata)
	}
	if got := f.Tensors["a"]; !tensor.SameShape(got.Shape, []int{2, 2}) || got.Data[2] != 3e-8 {
		t.Errorf("tensor a = %v %v", got.Shape, got.Data)
	}
	if got := f.Tensors["s"]; len(got.Shape) != 0 || got.Data[0] != 7 {
		t.Errorf("scalar = %v %v", got.Shape, got.Data)
	}
}

func header(js string, body []byte) []byte {
	out := make([]byte, 8, 8+len(js)+len(body))
	binary.LittleEndian.PutUint64(out, uint64(len(js)))
	return append(append(out, js...), body...)
}

func TestDecodeOtherDTypes(t *testing.T) {
	// F16 1.0 = 0x3c00, -2.0 = 0xc000, subnormal 0x0001 = 2^-24; BF16 1.5 = 0x3fc0.
	body := []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xc0, 0x3f}
	f, err := Decode(header(`{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[6,8]}}`, body))
	if err != nil {
		t.Fatal(err)
	}
	if h := f.Tensors["h"].Data; h[0] != 1 || h[1] != -2 || h[2] != 1.0/(1<<24) {
		t.Errorf("F16 decode = %v", h)
	}
	if b := f.Tensors["b"].Data; b[0] != 1.5 {
		t.Errorf("BF16 decode = %v", b)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := encode(t, map[string]*tensor.Tensor{"w": tensor.New(2, 3)}, nil)
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":         {nil, "shorter than"},
		"huge header":   {[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'}, "header length"},
		"truncated":     {good[:len(good)-4], "outside"},
		"not json":      {header("{nope", nil), "not valid JSON"},
		"bad dtype":     {header(`{"w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), "dtype"},
		"size mismatch": {header(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "want 8"},
		"negative dim":  {header(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative"},
		"absurd dims":   {header(`{"w":{"dtype":"F32","shape":[65536,65536,65536],"data_offsets":[0,4]}}`, make([]byte, 4)), "too large"},
		"bad offsets":   {header(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, make([]byte, 8)), "outside"},
		"bad metadata":  {header(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
	}
	for name, c := range cases {
		_, err := Decode(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, map[string]*tensor.Tensor{"w": tensor.New(2, 3), "b": tensor.New(3)}, map[string]string{"m": "x"})
	f.Add(buf.Bytes())
	f.Add(header(`{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0x3c}))
	f.Fuzz(func(t *testing.T, data []byte) {
		Decode(data) // must not panic
	})
}
