package train

import (
	"math"
	"testing"
)

func TestCosine(t *testing.T) {
	s := Cosine{Base: 0.1, Final: 0, Total: 100}
	near(t, "lr(0)", s.LR(0), 0.1, 1e-12)
	near(t, "lr(25)", s.LR(25), 0.05*(1+math.Cos(math.Pi/4)), 1e-12)
	near(t, "lr(50)", s.LR(50), 0.05, 1e-12)
	near(t, "lr(100)", s.LR(100), 0, 1e-12)
	near(t, "lr(200)", s.LR(200), 0, 1e-12)
	s = Cosine{Base: 1, Final: 0.1, Total: 100, Warmup: Warmup{Steps: 10}}
	near(t, "warm lr(0)", s.LR(0), 0.1, 1e-12)
	near(t, "warm lr(4)", s.LR(4), 0.5, 1e-12)
	near(t, "warm lr(9)", s.LR(9), 1, 1e-12)
	near(t, "lr(10)", s.LR(10), 1, 1e-12)
	near(t, "lr(55)", s.LR(55), 0.55, 1e-12)
	near(t, "lr(99)", s.LR(99), 0.1+0.45*(1+math.Cos(math.Pi*89/90)), 1e-12)
}

func TestStepAndConstant(t *testing.T) {
	s := StepDecay{Base: 1, Gamma: 0.1, Milestones: []int{10, 20}}
	near(t, "lr(9)", s.LR(9), 1, 1e-12)
	near(t, "lr(10)", s.LR(10), 0.1, 1e-12)
	near(t, "lr(25)", s.LR(25), 0.01, 1e-12)
	c := Constant{Base: 0.3, Warmup: Warmup{Steps: 4, Start: 0.2}}
	near(t, "const lr(0)", c.LR(0), 0.3*(0.2+0.8*0.25), 1e-12)
	near(t, "const lr(3)", c.LR(3), 0.3, 1e-12)
	near(t, "const lr(1000)", c.LR(1000), 0.3, 1e-12)
}

func TestScheduleConfigBuild(t *testing.T) {
	s, err := ScheduleConfig{Name: "cosine", WarmupEpochs: 0.5, FinalLR: 0.001}.Build(0.1, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	cs := s.(Cosine)
	if cs.Total != 1000 || cs.Warmup.Steps != 50 || cs.Final != 0.001 {
		t.Errorf("built %+v", cs)
	}
	s, err = ScheduleConfig{Name: "step", Milestones: []float64{3, 6}}.Build(0.1, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "step lr(650)", s.LR(650), 0.001, 1e-12)
	if _, err := (ScheduleConfig{Name: "poly"}).Build(0.1, 10, 100); err == nil {
		t.Error("unknown schedule accepted")
	}
}
