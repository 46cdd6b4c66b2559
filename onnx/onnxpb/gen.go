// Package onnxpb holds the Go types of the ONNX protobuf schema (onnx.proto,
// IR version 8, as shipped by Debian's python3-onnx 1.12), generated with
// protoc 3.21 and protoc-gen-go v1.36.11. The generated file is committed so
// that a plain go build needs neither protoc nor python.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/dshrink/dshrink/onnx/onnxpb onnx.proto
