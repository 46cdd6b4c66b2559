package onnx

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dshrink/dshrink/onnx/onnxpb"
)

func mustParse(t testing.TB, data []byte) *onnxpb.ModelProto {
	t.Helper()
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustMarshal(t testing.TB, m *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeModel(t testing.TB, path string, m *onnxpb.ModelProto) {
	t.Helper()
	if err := os.WriteFile(path, mustMarshal(t, m), 0o644); err != nil {
		t.Fatal(err)
	}
}

// moveExternal moves the raw data of init to the end of blob and points the
// tensor at it as external data in file loc.
func moveExternal(init *onnxpb.TensorProto, loc string, blob *bytes.Buffer) {
	off := blob.Len()
	blob.Write(init.RawData)
	kv := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: &k, Value: &v}
	}
	init.ExternalData = []*onnxpb.StringStringEntryProto{
		kv("location", loc), kv("offset", fmt.Sprint(off)), kv("length", fmt.Sprint(len(init.RawData))),
	}
	init.RawData = nil
	ext := onnxpb.TensorProto_EXTERNAL
	init.DataLocation = &ext
}
