// Package yamlstrict decodes YAML configuration strictly: unknown keys,
// a float where an integer is expected (yaml.v3 would truncate 1.5 to 1)
// and a second document are errors naming the key and the line.
package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decode decodes text into v (a pointer to a struct) on top of the values v
// already holds.
func Decode(text []byte, v any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(text, &root); err != nil {
		return clean(err)
	}
	if err := checkInts(&root, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return clean(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fmt.Errorf("line %d: a second YAML document; a configuration is one document", extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return clean(err)
	}
	return nil
}

func clean(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

var durationType = reflect.TypeOf(time.Duration(0))

// checkInts walks n along type t and reports a non-integer scalar bound for
// an integer field.
func checkInts(n *yaml.Node, t reflect.Type, path string) error {
	if n == nil || t == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := checkInts(c, t, path); err != nil {
				return err
			}
		}
		return nil
	case yaml.AliasNode:
		return checkInts(n.Alias, t, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if f, ok := fieldByTag(t, key); ok {
				if err := checkInts(n.Content[i+1], f.Type, join(path, key)); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkInts(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, c := range n.Content {
			if err := checkInts(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t == durationType || n.Kind != yaml.ScalarNode {
			return nil
		}
		if n.ShortTag() == "!!float" {
			return fmt.Errorf("line %d: %s: %s is not an integer", n.Line, path, n.Value)
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldByTag finds the field of struct type t whose yaml name is key,
// looking into inlined structs.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if g, ok := fieldByTag(ft, key); ok {
					return g, true
				}
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
