package plan

import (
	"bytes"
	"testing"

	"github.com/dshrink/dshrink/models"
)

// FuzzDecode feeds arbitrary bytes to the plan reader; a plan that decodes
// and validates against MobileNetV2 must apply in both forms and encode to
// a plan that decodes the same.
func FuzzDecode(f *testing.F) {
	g, err := models.MobileNetV2(models.FashionMNIST())
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"all", "ds-a", "ds-f"} {
		p, err := Preset(name, g)
		if err != nil {
			continue
		}
		var b bytes.Buffer
		if p.Encode(&b) == nil {
			f.Add(b.Bytes())
			f.Add(append(b.Bytes(), `{"version":1}`...))
		}
	}
	f.Add([]byte(`{"version": 1, "model": "x", "units": [null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := p.Encode(&b); err != nil {
			t.Fatalf("a decoded plan does not encode: %v", err)
		}
		if _, err := Decode(b.Bytes()); err != nil {
			t.Fatalf("an encoded plan does not decode: %v\n%s", err, b.Bytes())
		}
		if p.Validate(g) != nil {
			return
		}
		for _, o := range []ApplyOptions{{}, {PadFirst: true, AddFinalAct: true}} {
			a, err := Apply(g, p, o)
			if err != nil {
				continue
			}
			if err := a.Validate(); err != nil {
				t.Fatalf("Apply(%+v) made an invalid graph: %v", o, err)
			}
		}
	})
}
