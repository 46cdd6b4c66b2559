package graph

import (
	"encoding/json"
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

// Decode parses a model file held in memory and validates it.
func Decode(data []byte) (*Graph, error) {
	f, err := safetensors.Decode(data)
	if err != nil {
		return nil, err
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
