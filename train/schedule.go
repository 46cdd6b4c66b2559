package train

import (
	"fmt"
	"math"
	"strings"
)

// Schedule gives the learning rate of each optimiser step (0-based,
// counted over the whole run).
type Schedule interface {
	// LR returns the learning rate used by update number step.
	LR(step int) float64
}

// Constant is a fixed learning rate, after an optional linear warm-up.
type Constant struct {
	Base   float64
	Warmup Warmup
}

// LR implements Schedule.
func (c Constant) LR(step int) float64 {
	if lr, ok := c.Warmup.lr(step, c.Base); ok {
		return lr
	}
	return c.Base
}

// Warmup is a linear warm-up over the first Steps updates, from Start*base
// to base: update s (s < Steps) uses base*(Start + (1-Start)*(s+1)/Steps),
// so the last warm-up step reaches base.
type Warmup struct {
	Steps int
	Start float64 // fraction of the base LR at the start (0 means 0)
}

func (w Warmup) lr(step int, base float64) (float64, bool) {
	if step >= w.Steps {
		return 0, false
	}
	f := float64(step+1) / float64(w.Steps)
	return base * (w.Start + (1-w.Start)*f), true
}

// Cosine decays from Base to Final over Total steps along a half cosine,
// after an optional linear warm-up (whose steps count in Total):
// lr(s) = Final + (Base-Final) * (1 + cos(pi * (s-W)/(Total-W))) / 2.
// Steps at or past Total use Final.
type Cosine struct {
	Base, Final float64
	Total       int
	Warmup      Warmup
}

// LR implements Schedule.
func (c Cosine) LR(step int) float64 {
	if lr, ok := c.Warmup.lr(step, c.Base); ok {
		return lr
	}
	span := c.Total - c.Warmup.Steps
	if span <= 0 || step >= c.Total {
		return c.Final
	}
	t := float64(step-c.Warmup.Steps) / float64(span)
	return c.Final + (c.Base-c.Final)*0.5*(1+math.Cos(math.Pi*t))
}

// StepDecay multiplies the learning rate by Gamma at every milestone step
// (after an optional warm-up): lr(s) = Base * Gamma^(number of milestones <= s).
type StepDecay struct {
	Base       float64
	Gamma      float64
	Milestones []int
	Warmup     Warmup
}

// LR implements Schedule.
func (d StepDecay) LR(step int) float64 {
	if lr, ok := d.Warmup.lr(step, d.Base); ok {
		return lr
	}
	lr := d.Base
	for _, m := range d.Milestones {
		if step >= m {
			lr *= d.Gamma
		}
	}
	return lr
}

// ScheduleConfig configures the learning-rate schedule. Epoch-valued fields
// are converted to steps with the number of steps per epoch.
type ScheduleConfig struct {
	// Name is "cosine", "step" or "constant".
	Name string `yaml:"name" json:"name"`
	// FinalLR is the learning rate cosine decays to.
	FinalLR float64 `yaml:"final_lr" json:"final_lr"`
	// WarmupEpochs is the length of the linear warm-up, in epochs (may be fractional).
	WarmupEpochs float64 `yaml:"warmup_epochs" json:"warmup_epochs"`
	// WarmupStart is the fraction of the base LR the warm-up starts from.
	WarmupStart float64 `yaml:"warmup_start" json:"warmup_start"`
	// Milestones are the epochs at which the step schedule multiplies the LR by Gamma.
	Milestones []float64 `yaml:"milestones" json:"milestones"`
	// Gamma is the step schedule's factor (0.1 when 0).
	Gamma float64 `yaml:"gamma" json:"gamma"`
}

// Validate checks the configuration.
func (c ScheduleConfig) Validate() error {
	switch strings.ToLower(c.Name) {
	case "", "cosine", "step", "constant":
	default:
		return fmt.Errorf("schedule name %q: want cosine, step or constant", c.Name)
	}
	if c.FinalLR < 0 || c.WarmupEpochs < 0 || c.WarmupStart < 0 || c.WarmupStart > 1 || c.Gamma < 0 {
		return fmt.Errorf("schedule: final_lr, warmup_epochs, gamma must be >= 0 and warmup_start in [0, 1]")
	}
	for _, m := range c.Milestones {
		if m < 0 {
			return fmt.Errorf("schedule: milestone %g is negative", m)
		}
	}
	return nil
}

// Build returns the schedule for base learning rate lr over epochs epochs of
// stepsPerEpoch steps each.
func (c ScheduleConfig) Build(lr float64, epochs, stepsPerEpoch int) (Schedule, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	w := Warmup{Steps: int(math.Round(c.WarmupEpochs * float64(stepsPerEpoch))), Start: c.WarmupStart}
	switch strings.ToLower(c.Name) {
	case "", "cosine":
		return Cosine{Base: lr, Final: c.FinalLR, Total: epochs * stepsPerEpoch, Warmup: w}, nil
	case "step":
		g := c.Gamma
		if g == 0 {
			g = 0.1
		}
		ms := make([]int, len(c.Milestones))
		for i, m := range c.Milestones {
			ms[i] = int(math.Round(m * float64(stepsPerEpoch)))
		}
		return StepDecay{Base: lr, Gamma: g, Milestones: ms, Warmup: w}, nil
	default:
		return Constant{Base: lr, Warmup: w}, nil
	}
}
