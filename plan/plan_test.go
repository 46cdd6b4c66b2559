package plan

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/models"
)

func mbv2(t *testing.T, res int) *graph.Graph {
	t.Helper()
	o := models.Default()
	o.Resolution = res
	g, err := models.MobileNetV2(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPresets(t *testing.T) {
	g := mbv2(t, 32)
	all, err := Preset("all", g)
	if err != nil {
		t.Fatal(err)
	}
	if v := all.Vector(g); v[0] != 1 || v[18] != 1 || len(all.Removed()) != 17 {
		t.Errorf("all: vector %v", v)
	}
	f, err := Preset("DS-F", g)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Vector(g), paperPlans["ds-f"]; !reflect.DeepEqual(got, want[:]) {
		t.Errorf("ds-f vector %v", got)
	}
	a, _ := Preset("ds-a", g)
	want := []string{"features.0", "features.2", "features.3", "features.6", "features.8", "features.10", "features.13"}
	if got := a.Removed(); !reflect.DeepEqual(got, want) {
		t.Errorf("ds-a removes %v, want %v", got, want)
	}
	lite, err := models.EfficientNetLite0(models.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Preset("ds-b", lite); err == nil || !strings.Contains(err.Error(), "19 units") {
		t.Errorf("ds-b on EfficientNet-Lite0: %v, want a clear error", err)
	}
	if _, err := Preset("ds-z", g); err == nil || !strings.Contains(err.Error(), "unknown preset") {
		t.Errorf("unknown preset: %v", err)
	}
}

func TestFromList(t *testing.T) {
	g := mbv2(t, 32)
	p, err := FromList(g, "features.3, features.5-8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"features.3", "features.5", "features.6", "features.7", "features.8"}
	if got := p.Removed(); !reflect.DeepEqual(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if err := p.Validate(g); err != nil {
		t.Error(err)
	}
	for list, msg := range map[string]string{
		"features.3,features.40":  "not a unit",
		"features.3,features.3":   "more than once",
		"features.8-5":            "before start",
		"":                        "names no unit",
		"features.2-3,features.3": "more than once",
	} {
		if _, err := FromList(g, list); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("FromList(%q) = %v, want an error containing %q", list, err, msg)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	g := mbv2(t, 32)
	base, _ := Preset("all", g)
	clone := func() *Plan {
		c := *base
		c.Units = append([]Unit(nil), base.Units...)
		return &c
	}
	p := clone()
	p.Units[3].Name = "features.99"
	if err := p.Validate(g); err == nil || !strings.Contains(err.Error(), `"features.99" is not a unit`) {
		t.Errorf("unknown unit: %v", err)
	}
	p = clone()
	p.Units = p.Units[:10]
	if err := p.Validate(g); err == nil || !strings.Contains(err.Error(), "lists 10 units") {
		t.Errorf("wrong length: %v", err)
	}
	p = clone()
	p.Model = "resnet50"
	if err := p.Validate(g); err == nil || !strings.Contains(err.Error(), `made for model "resnet50"`) {
		t.Errorf("wrong model: %v", err)
	}
	p = clone()
	p.Units[4] = p.Units[3]
	if err := p.Validate(g); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("duplicate: %v", err)
	}
	p = clone()
	p.Model = "mobilenet_v2" // the architecture is accepted too
	if err := p.Validate(g); err != nil {
		t.Errorf("architecture name: %v", err)
	}
	if _, err := Apply(g, &Plan{Version: 1, Model: g.Name}, ApplyOptions{}); err == nil {
		t.Error("Apply accepted an empty plan")
	}
}

func TestRoundTripAndResolve(t *testing.T) {
	g := mbv2(t, 32)
	p, _ := Preset("ds-c", g)
	s := 0.83
	p.Units[2].Gate = &s
	p.Source = SourceSearch
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip: %+v != %+v", q, p)
	}
	r, err := Resolve(path, g)
	if err != nil || !reflect.DeepEqual(r, p) {
		t.Errorf("Resolve(file) = %v, %v", r, err)
	}
	if r, err := Resolve("all", g); err != nil || len(r.Removed()) != 17 {
		t.Errorf("Resolve(all) = %v, %v", r, err)
	}
	if r, err := Resolve("features.4-5", g); err != nil || len(r.Removed()) != 2 {
		t.Errorf("Resolve(list) = %v, %v", r, err)
	}
	if _, err := Resolve("missing.json", g); err == nil {
		t.Error("Resolve of a missing file succeeded")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"version":1,"model":"x","units":[],"extra":1}`), 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("unknown field: %v", err)
	}
	os.WriteFile(bad, []byte(`{"version":2,"units":[]}`), 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("version: %v", err)
	}
}

func TestApplyForms(t *testing.T) {
	g := mbv2(t, 32)
	p, _ := FromList(g, "features.2,features.3")
	a, err := Apply(g, p, ApplyOptions{PadFirst: true, AddFinalAct: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Node("features.2.pad") == nil || a.Node("features.3.final_act") == nil {
		t.Fatal("pad or final act missing")
	}
	if n := a.Node("features.3.conv.1.0"); n.Conv.Pads != [4]int{} {
		t.Errorf("depthwise pads %v in pad-first form", n.Conv.Pads)
	}
	if a.Node("features.4.conv.1.0").Conv.Pads == [4]int{} {
		t.Error("kept block lost its padding")
	}
	if b := a.Block("features.4"); b.Input != "features.3.final_act" {
		t.Errorf("features.4 input %q", b.Input)
	}
	ids := 0
	for _, n := range a.Nodes {
		if n.Op == graph.OpAct && n.Act.Kind == graph.ActIdentity {
			ids++
		}
	}
	if ids != 4 {
		t.Errorf("%d identity activations, want 4", ids)
	}
	if g.Node("features.2.pad") != nil || g.Node("features.2.conv.0.2").Act.Kind != graph.ActReLU6 {
		t.Error("Apply modified its input")
	}
}
