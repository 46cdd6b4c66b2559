package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/dshrink/dshrink/internal/fsutil"
	"github.com/dshrink/dshrink/safetensors"
	"github.com/dshrink/dshrink/tensor"
)

// FormatVersion is written into every model file; readers reject newer versions.
const FormatVersion = 1

// metadata keys of a model file (a safetensors file whose __metadata__ holds
// the structure as JSON).
const (
	metaGraph   = "dshrink.graph"
	metaVersion = "dshrink.format_version"
)

// Encode writes g to w: parameters as safetensors tensors, the structure as
// JSON under the "dshrink.graph" metadata key.
func (g *Graph) Encode(w io.Writer) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("refusing to save an invalid model: %w", err)
	}
	js, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encode graph structure: %w", err)
	}
	return safetensors.Write(w, g.Params, map[string]string{metaGraph: string(js), metaVersion: fmt.Sprint(FormatVersion)})
}

// Save writes g to path atomically (temporary file, sync, rename).
func (g *Graph) Save(path string) error {
	return fsutil.WriteFileAtomic(path, g.Encode)
}

// Load reads a model file written by Save.
func Load(path string) (*Graph, error) {
	data, err := fsutil.ReadFile(path, 0)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	g, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return g, nil
}

// ErrCheckpoint is returned by Decode for a training checkpoint (which holds
// a model, but is read with train.LoadCheckpoint).
var ErrCheckpoint = errors.New("this is a training checkpoint, not a model: use the run's model.dsk (written when the run ends), or continue the run with --resume")

// Decode parses a model file held in memory and validates it.
func Decode(data []byte) (*Graph, error) {
	f, err := safetensors.Decode(data)
	if err != nil {
		if what := sniff(data); what != "" {
			return nil, fmt.Errorf("this is not a .dsk or ONNX file: %s", what)
		}
		return nil, fmt.Errorf("not a .dsk model file: %w", err)
	}
	if _, ok := f.Metadata["dshrink.checkpoint_version"]; ok {
		return nil, ErrCheckpoint
	}
	js, ok := f.Metadata[metaGraph]
	if !ok {
		return nil, fmt.Errorf("not a dshrink model: safetensors metadata has no %q key", metaGraph)
	}
	if v := f.Metadata[metaVersion]; v != fmt.Sprint(FormatVersion) {
		return nil, fmt.Errorf("model format version %q, this dshrink reads %d", v, FormatVersion)
	}
	g := &Graph{}
	if err := json.Unmarshal([]byte(js), g); err != nil {
		return nil, fmt.Errorf("model structure (metadata %q) is not valid: %w", metaGraph, err)
	}
	g.Params = f.Tensors
	if g.Params == nil {
		g.Params = map[string]*tensor.Tensor{}
	}
	if g.Meta == nil {
		g.Meta = map[string]string{}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// sniff recognises, in a file that is not a valid .dsk, common formats and
// says what to do with them ("" when it knows none).
func sniff(data []byte) string {
	switch {
	case len(data) >= 4 && string(data[:4]) == "PK\x03\x04":
		return "it is a zip archive (a PyTorch checkpoint? export the model to ONNX and run dshrink import)"
	case len(data) >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5:
		return "it is a Python pickle (a PyTorch checkpoint? export the model to ONNX and run dshrink import)"
	case len(data) >= 8 && string(data[:8]) == "\x89HDF\r\n\x1a\n":
		return "it is an HDF5 file (a Keras model? export it to ONNX and run dshrink import)"
	case len(data) >= 2 && data[0] == 0x08 && data[1] >= 1 && data[1] <= 12:
		return "it looks like an ONNX model (protobuf); give it the .onnx extension or run dshrink import"
	}
	return ""
}
