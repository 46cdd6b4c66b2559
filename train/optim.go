package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dshrink/dshrink/graph"
	"github.com/dshrink/dshrink/tensor"
)

// Role says what a parameter is, which decides whether it is trained and
// whether weight decay applies to it.
type Role int

// Parameter roles.
const (
	RoleWeight   Role = iota // conv or linear weight: trained, decayed
	RoleBias                 // conv or linear bias: trained, decay optional
	RoleBNWeight             // BatchNorm scale (gamma): trained, decay optional
	RoleBNBias               // BatchNorm shift (beta): trained, decay optional
	RoleBNStat               // BatchNorm running mean or variance: not trained
	RoleBiasMap              // conv border bias map (merged models): not trained
	RoleGate                 // a search gate (scalar): trained with its own LR scale
	RoleFixed                // weights of a fixed conv (a pad-first crop): not trained
)

// String returns the role's name.
func (r Role) String() string {
	switch r {
	case RoleWeight:
		return "weight"
	case RoleBias:
		return "bias"
	case RoleBNWeight:
		return "bn_weight"
	case RoleBNBias:
		return "bn_bias"
	case RoleBNStat:
		return "bn_stat"
	case RoleBiasMap:
		return "bias_map"
	case RoleGate:
		return "gate"
	case RoleFixed:
		return "fixed"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Trainable reports whether parameters of this role are updated by the optimiser.
func (r Role) Trainable() bool { return r != RoleBNStat && r != RoleBiasMap && r != RoleFixed }

// ParamRoles returns the role of every parameter of g, decided from the node
// that uses it and its position in the node's parameter list.
func ParamRoles(g *graph.Graph) map[string]Role {
	roles := make(map[string]Role, len(g.Params))
	for _, n := range g.Nodes {
		for i, p := range n.Params {
			r := RoleWeight
			switch n.Op {
			case graph.OpConv:
				switch {
				case n.Conv != nil && n.Conv.Fixed:
					r = RoleFixed
				case i == 0:
					r = RoleWeight
				case i == 1 && n.Conv != nil && n.Conv.Bias:
					r = RoleBias
				default:
					r = RoleBiasMap
				}
			case graph.OpBatchNorm:
				r = [...]Role{RoleBNWeight, RoleBNBias, RoleBNStat, RoleBNStat}[min(i, 3)]
			case graph.OpLinear:
				if i > 0 {
					r = RoleBias
				}
			}
			roles[p] = r
		}
	}
	return roles
}

// Param is one trainable array with its gradient. Value and Grad have the
// same length; the optimiser updates Value in place from Grad.
type Param struct {
	Name    string
	Role    Role
	Value   []float32
	Grad    []float32
	Decay   bool    // apply weight decay to this parameter
	LRScale float64 // multiplies the learning rate (1 when 0)
}

// ScalarParam is a trainable scalar held outside a tensor (a search gate's
// value and gradient, e.g. nn's Gates[unit].Value and .Grad).
type ScalarParam struct {
	Name  string
	Value *float32
	Grad  *float32
}

// GraphParams lists the trainable parameters of g, in g.ParamNames() order,
// paired with their gradients from grads. With noDecayBNBias, BatchNorm
// parameters and biases get no weight decay. A trainable parameter without a
// gradient of the same size is an error.
func GraphParams(g *graph.Graph, grads map[string]*tensor.Tensor, noDecayBNBias bool) ([]Param, error) {
	roles := ParamRoles(g)
	var out []Param
	for _, name := range g.ParamNames() {
		r, ok := roles[name]
		if !ok || !r.Trainable() {
			continue
		}
		p := g.Params[name]
		gr, ok := grads[name]
		if !ok || gr == nil {
			return nil, fmt.Errorf("train: parameter %q has no gradient", name)
		}
		if len(gr.Data) != len(p.Data) {
			return nil, fmt.Errorf("train: parameter %q has %d values but its gradient %d", name, len(p.Data), len(gr.Data))
		}
		decay := r == RoleWeight || !noDecayBNBias
		out = append(out, Param{Name: name, Role: r, Value: p.Data, Grad: gr.Data, Decay: decay, LRScale: 1})
	}
	return out, nil
}

// OptimizerConfig configures an Optimizer.
type OptimizerConfig struct {
	// Name is "sgd" or "adamw".
	Name string `yaml:"name" json:"name"`
	// Momentum is SGD's momentum factor (0 for plain SGD).
	Momentum float64 `yaml:"momentum" json:"momentum"`
	// Nesterov selects Nesterov momentum (SGD).
	Nesterov bool `yaml:"nesterov" json:"nesterov"`
	// WeightDecay is the L2 penalty (SGD, added to the gradient) or the
	// decoupled weight decay (AdamW, p -= lr*wd*p).
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	// NoDecayBNBias turns weight decay off for BatchNorm parameters and biases.
	NoDecayBNBias bool `yaml:"no_decay_bn_bias" json:"no_decay_bn_bias"`
	// Beta1, Beta2 and Eps are AdamW's coefficients (0.9, 0.999, 1e-8 when 0).
	Beta1 float64 `yaml:"beta1" json:"beta1"`
	Beta2 float64 `yaml:"beta2" json:"beta2"`
	Eps   float64 `yaml:"eps" json:"eps"`
	// ClipGradNorm clips the global gradient norm (all parameters and scalars
	// together) to this value before the update; 0 disables clipping.
	ClipGradNorm float64 `yaml:"clip_grad_norm" json:"clip_grad_norm"`
	// ScalarLRScale multiplies the learning rate of the scalar parameters
	// (search gates); 1 when 0.
	ScalarLRScale float64 `yaml:"gate_lr_scale" json:"gate_lr_scale"`
	// ScalarNoDecay turns weight decay off for the scalar parameters (the
	// official DepthShrinker code decays them).
	ScalarNoDecay bool `yaml:"gate_no_decay" json:"gate_no_decay"`
}

func (c *OptimizerConfig) fill() {
	if c.Name == "" {
		c.Name = "sgd"
	}
	c.Name = strings.ToLower(c.Name)
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.ScalarLRScale == 0 {
		c.ScalarLRScale = 1
	}
}

// Validate checks the configuration.
func (c OptimizerConfig) Validate() error {
	c.fill()
	switch {
	case c.Name != "sgd" && c.Name != "adamw":
		return fmt.Errorf("optimizer name %q: want sgd or adamw", c.Name)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("optimizer momentum %g out of range [0, 1)", c.Momentum)
	case c.Nesterov && c.Momentum == 0:
		return fmt.Errorf("optimizer nesterov needs a momentum > 0")
	case c.WeightDecay < 0 || math.IsNaN(c.WeightDecay):
		return fmt.Errorf("optimizer weight_decay %g is negative", c.WeightDecay)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("optimizer betas (%g, %g) out of range [0, 1)", c.Beta1, c.Beta2)
	case c.Eps <= 0:
		return fmt.Errorf("optimizer eps %g must be positive", c.Eps)
	case c.ClipGradNorm < 0:
		return fmt.Errorf("optimizer clip_grad_norm %g is negative", c.ClipGradNorm)
	case c.ScalarLRScale < 0:
		return fmt.Errorf("optimizer gate_lr_scale %g is negative", c.ScalarLRScale)
	}
	return nil
}

// Optimizer updates a fixed set of parameters from their gradients: SGD
// (momentum, Nesterov, L2 weight decay, as torch.optim.SGD) or AdamW (as
// torch.optim.AdamW), with optional global-norm gradient clipping. Its state
// (momentum or moment buffers and the step count) is saved and restored with
// State and SetState. Step allocates nothing.
type Optimizer struct {
	cfg     OptimizerConfig
	params  []Param
	scalars []ScalarParam
	// Scalars are gathered into one extra Param each step.
	sval, sgrad []float32
	buf1, buf2  [][]float32 // per param (scalars last): momentum / first moment, second moment
	steps       int64
}

// NewOptimizer returns an optimiser over params and the scalar parameters.
func NewOptimizer(cfg OptimizerConfig, params []Param, scalars []ScalarParam) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.fill()
	o := &Optimizer{cfg: cfg, params: append([]Param(nil), params...), scalars: append([]ScalarParam(nil), scalars...)}
	seen := map[string]bool{}
	for i := range o.params {
		p := &o.params[i]
		if len(p.Value) != len(p.Grad) {
			return nil, fmt.Errorf("train: parameter %q: %d values, %d gradients", p.Name, len(p.Value), len(p.Grad))
		}
		if p.LRScale == 0 {
			p.LRScale = 1
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("train: parameter %q listed twice", p.Name)
		}
		seen[p.Name] = true
	}
	for _, s := range o.scalars {
		if s.Value == nil || s.Grad == nil {
			return nil, fmt.Errorf("train: scalar parameter %q has no value or gradient", s.Name)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("train: parameter %q listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	if len(o.scalars) > 0 {
		o.sval = make([]float32, len(o.scalars))
		o.sgrad = make([]float32, len(o.scalars))
		o.params = append(o.params, Param{Name: "", Role: RoleGate, Value: o.sval, Grad: o.sgrad,
			Decay: !cfg.ScalarNoDecay, LRScale: cfg.ScalarLRScale})
	}
	n := len(o.params)
	o.buf1 = make([][]float32, n)
	if cfg.Name == "adamw" {
		o.buf2 = make([][]float32, n)
	}
	for i, p := range o.params {
		if cfg.Name == "adamw" || cfg.Momentum != 0 {
			o.buf1[i] = make([]float32, len(p.Value))
		}
		if o.buf2 != nil {
			o.buf2[i] = make([]float32, len(p.Value))
		}
	}
	return o, nil
}

// Config returns the optimiser's configuration, defaults filled in.
func (o *Optimizer) Config() OptimizerConfig { return o.cfg }

// Steps returns the number of updates made so far.
func (o *Optimizer) Steps() int64 { return o.steps }

// GradNorm returns the global L2 norm of all gradients (scalars included).
func (o *Optimizer) GradNorm() float64 {
	var s float64
	for i := range o.params {
		if o.params[i].Role == RoleGate && o.params[i].Name == "" {
			continue
		}
		for _, g := range o.params[i].Grad {
			s += float64(g) * float64(g)
		}
	}
	for _, sp := range o.scalars {
		s += float64(*sp.Grad) * float64(*sp.Grad)
	}
	return math.Sqrt(s)
}

// Step applies one update with learning rate lr and returns the global
// gradient norm before clipping. It does not check for non-finite values.
func (o *Optimizer) Step(lr float64) float64 {
	for i, s := range o.scalars {
		o.sval[i] = *s.Value
		o.sgrad[i] = *s.Grad
	}
	norm := o.GradNorm()
	gscale := float32(1)
	if c := o.cfg.ClipGradNorm; c > 0 && norm > c {
		// torch.nn.utils.clip_grad_norm_: grad *= max_norm / (norm + 1e-6).
		gscale = float32(c / (norm + 1e-6))
	}
	o.steps++
	for i := range o.params {
		p := &o.params[i]
		plr := lr * p.LRScale
		wd := 0.0
		if p.Decay {
			wd = o.cfg.WeightDecay
		}
		if o.cfg.Name == "adamw" {
			o.adamw(p, o.buf1[i], o.buf2[i], plr, wd, gscale)
		} else {
			o.sgd(p, o.buf1[i], plr, wd, gscale)
		}
	}
	for i, s := range o.scalars {
		*s.Value = o.sval[i]
	}
	return norm
}

func (o *Optimizer) sgd(p *Param, buf []float32, lr, wd float64, gscale float32) {
	v, gr := p.Value, p.Grad
	flr, fwd := float32(lr), float32(wd)
	mom := float32(o.cfg.Momentum)
	switch {
	case mom == 0:
		for j := range v {
			g := gr[j]*gscale + fwd*v[j]
			v[j] -= flr * g
		}
	case o.cfg.Nesterov:
		buf = buf[:len(v)]
		for j := range v {
			g := gr[j]*gscale + fwd*v[j]
			b := mom*buf[j] + g
			buf[j] = b
			v[j] -= flr * (g + mom*b)
		}
	default:
		buf = buf[:len(v)]
		for j := range v {
			g := gr[j]*gscale + fwd*v[j]
			b := mom*buf[j] + g
			buf[j] = b
			v[j] -= flr * b
		}
	}
}

func (o *Optimizer) adamw(p *Param, m, s []float32, lr, wd float64, gscale float32) {
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	t := float64(o.steps)
	bc1 := 1 - math.Pow(b1, t)
	bc2 := 1 - math.Pow(b2, t)
	stepSize := float32(lr / bc1)
	bc2sqrt := float32(math.Sqrt(bc2))
	decay := float32(1 - lr*wd)
	fb1, fb2 := float32(b1), float32(b2)
	eps := float32(o.cfg.Eps)
	v, gr := p.Value, p.Grad
	m, s = m[:len(v)], s[:len(v)]
	for j := range v {
		g := gr[j] * gscale
		x := v[j] * decay
		mj := fb1*m[j] + (1-fb1)*g
		sj := fb2*s[j] + (1-fb2)*g*g
		m[j], s[j] = mj, sj
		denom := float32(math.Sqrt(float64(sj)))/bc2sqrt + eps
		v[j] = x - stepSize*mj/denom
	}
}

// State returns the optimiser's buffers as tensors named
// "optim.<buffer>.<param>" (shared with the optimiser, not copied) and its
// scalar state (kind and step count) as metadata strings.
func (o *Optimizer) State() (map[string]*tensor.Tensor, map[string]string) {
	ts := map[string]*tensor.Tensor{}
	for i, p := range o.params {
		name := p.Name
		if name == "" {
			name = "__scalars__"
		}
		if o.buf1[i] != nil {
			ts["optim.m1."+name] = &tensor.Tensor{Shape: []int{len(o.buf1[i])}, Data: o.buf1[i]}
		}
		if o.buf2 != nil {
			ts["optim.m2."+name] = &tensor.Tensor{Shape: []int{len(o.buf2[i])}, Data: o.buf2[i]}
		}
	}
	meta := map[string]string{"optim.name": o.cfg.Name, "optim.steps": strconv.FormatInt(o.steps, 10)}
	return ts, meta
}

// SetState restores what State returned (from a checkpoint): every buffer
// must be present with the right size, and the optimiser kind must match.
func (o *Optimizer) SetState(ts map[string]*tensor.Tensor, meta map[string]string) error {
	if name := meta["optim.name"]; name != o.cfg.Name {
		return fmt.Errorf("optimizer state is for %q, the run uses %q", name, o.cfg.Name)
	}
	steps, err := strconv.ParseInt(meta["optim.steps"], 10, 64)
	if err != nil || steps < 0 {
		return fmt.Errorf("optimizer state: bad step count %q", meta["optim.steps"])
	}
	load := func(key string, dst []float32) error {
		t, ok := ts[key]
		if !ok {
			return fmt.Errorf("optimizer state: tensor %q missing", key)
		}
		if len(t.Data) != len(dst) {
			return fmt.Errorf("optimizer state: tensor %q has %d values, want %d", key, len(t.Data), len(dst))
		}
		copy(dst, t.Data)
		return nil
	}
	for i, p := range o.params {
		name := p.Name
		if name == "" {
			name = "__scalars__"
		}
		if o.buf1[i] != nil {
			if err := load("optim.m1."+name, o.buf1[i]); err != nil {
				return err
			}
		}
		if o.buf2 != nil {
			if err := load("optim.m2."+name, o.buf2[i]); err != nil {
				return err
			}
		}
	}
	o.steps = steps
	return nil
}
