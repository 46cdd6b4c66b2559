package nn

import (
	"fmt"
	"math"
)

// checkLoss validates the arguments shared by the losses.
func checkLoss(what string, logits []float32, labels []int32, n, k int, grad []float32) error {
	switch {
	case n < 1 || k < 1:
		return fmt.Errorf("nn: %s: batch %d and classes %d must be positive", what, n, k)
	case len(logits) < n*k:
		return fmt.Errorf("nn: %s: %d logits for %d x %d", what, len(logits), n, k)
	case len(labels) < n:
		return fmt.Errorf("nn: %s: %d labels for a batch of %d", what, len(labels), n)
	case grad != nil && len(grad) < n*k:
		return fmt.Errorf("nn: %s: gradient buffer of %d values for %d x %d", what, len(grad), n, k)
	}
	for i, l := range labels[:n] {
		if l < 0 || int(l) >= k {
			return fmt.Errorf("nn: %s: label %d of sample %d out of range [0, %d)", what, l, i, k)
		}
	}
	return nil
}

// logSumExp returns log(sum(exp(z/t))), computed stably, and the index of
// the first maximum of z (t > 0).
func logSumExp(z []float32, t float64) (lse float64, arg int) {
	mx := z[0]
	for j, v := range z {
		if v > mx {
			mx, arg = v, j
		}
	}
	m := float64(mx) / t
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v)/t - m)
	}
	return m + math.Log(s), arg
}

// CrossEntropy computes the softmax cross-entropy of logits ([n, k]) against
// labels (n class indices), with label smoothing eps (0 for none; PyTorch's
// convention: the target is (1-eps) on the label plus eps/k everywhere),
// averaged over the batch. When dlogits is not nil (at least n*k values) it
// receives the gradient of that mean loss with respect to the logits.
// correct counts the samples whose largest logit (the first, on ties) is at
// the label. It allocates nothing.
func CrossEntropy(logits []float32, labels []int32, n, k int, eps float32, dlogits []float32) (loss float64, correct int, err error) {
	if err := checkLoss("cross-entropy", logits, labels, n, k, dlogits); err != nil {
		return 0, 0, err
	}
	if eps < 0 || eps >= 1 {
		return 0, 0, fmt.Errorf("nn: cross-entropy: label smoothing %g out of range [0, 1)", eps)
	}
	e := float64(eps)
	inv := 1 / float64(n)
	for i := 0; i < n; i++ {
		z := logits[i*k : (i+1)*k]
		y := int(labels[i])
		lse, arg := logSumExp(z, 1)
		if arg == y {
			correct++
		}
		var sumLogp float64
		for _, v := range z {
			sumLogp += float64(v) - lse
		}
		loss -= (1-e)*(float64(z[y])-lse) + e/float64(k)*sumLogp
		if dlogits != nil {
			d := dlogits[i*k : (i+1)*k]
			for j, v := range z {
				t := e / float64(k)
				if j == y {
					t += 1 - e
				}
				d[j] = float32((math.Exp(float64(v)-lse) - t) * inv)
			}
		}
	}
	return loss * inv, correct, nil
}

// DistillOptions configures Distill.
type DistillOptions struct {
	Weight      float32 // weight w of the soft (teacher) term, in [0, 1]
	Temperature float32 // softmax temperature T (> 0)
	Smoothing   float32 // label smoothing of the hard (label) term
}

// DefaultDistill returns the fine-tuning setting of DepthShrinker
// (docs/method.md, stage 2): w = 0.7, T = 1, no label smoothing.
func DefaultDistill() DistillOptions { return DistillOptions{Weight: 0.7, Temperature: 1} }

// Distill computes the knowledge-distillation loss
// w*T^2*softCE(teacher/T, student/T) + (1-w)*CE(student, label), each term
// averaged over the batch, where softCE(t, s) = -sum_j softmax(t)_j *
// log softmax(s)_j and CE is CrossEntropy with o.Smoothing. student and
// teacher are [n, k] logits. When dstudent is not nil (at least n*k values)
// it receives the gradient of the loss with respect to the student logits
// (the teacher gets none). correct counts the student's correct predictions.
// It allocates nothing.
func Distill(student, teacher []float32, labels []int32, n, k int, o DistillOptions, dstudent []float32) (loss float64, correct int, err error) {
	if err := checkLoss("distillation", student, labels, n, k, dstudent); err != nil {
		return 0, 0, err
	}
	if len(teacher) < n*k {
		return 0, 0, fmt.Errorf("nn: distillation: %d teacher logits for %d x %d", len(teacher), n, k)
	}
	if !(o.Weight >= 0 && o.Weight <= 1) || !(o.Temperature > 0) {
		return 0, 0, fmt.Errorf("nn: distillation: weight %g must be in [0, 1] and temperature %g positive", o.Weight, o.Temperature)
	}
	hard, correct, err := CrossEntropy(student, labels, n, k, o.Smoothing, dstudent)
	if err != nil {
		return 0, 0, fmt.Errorf("nn: distillation: %w", err)
	}
	w, t := float64(o.Weight), float64(o.Temperature)
	inv := 1 / float64(n)
	var soft float64
	for i := 0; i < n; i++ {
		s, tt := student[i*k:(i+1)*k], teacher[i*k:(i+1)*k]
		lseS, _ := logSumExp(s, t)
		lseT, _ := logSumExp(tt, t)
		var d []float32
		if dstudent != nil {
			d = dstudent[i*k : (i+1)*k]
		}
		for j := range s {
			logp := float64(s[j])/t - lseS
			q := math.Exp(float64(tt[j])/t - lseT)
			soft -= q * logp
			if d != nil {
				// d/ds_j of w*T^2*softCE/n = w*T*(p_j - q_j)/n; the hard term
				// was written by CrossEntropy and is scaled by (1-w).
				d[j] = float32((1-w)*float64(d[j]) + w*t*(math.Exp(logp)-q)*inv)
			}
		}
	}
	return w*t*t*soft*inv + (1-w)*hard, correct, nil
}
