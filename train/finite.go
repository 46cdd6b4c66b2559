package train

import (
	"fmt"
	"math"
	"sort"

	"github.com/dshrink/dshrink/tensor"
)

// nonFinite returns a description of the first NaN or infinite value among
// the tensors of ts (in name order, each name prefixed by what), or "".
func nonFinite(what string, ts map[string]*tensor.Tensor) string {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if t := ts[n]; t != nil {
			if i := firstNonFinite(t.Data); i >= 0 {
				return fmt.Sprintf("%s %s holds %v at index %d", what, n, t.Data[i], i)
			}
		}
	}
	return ""
}

// firstNonFinite returns the index of the first NaN or infinite value of x, or -1.
func firstNonFinite(x []float32) int {
	for i, v := range x {
		// v-v is NaN exactly when v is NaN or infinite.
		if f := v - v; f != f {
			return i
		}
	}
	return -1
}

// finiteChecker finds a non-finite parameter (BatchNorm running statistics
// included) or gate after an optimiser step, with its name.
type finiteChecker struct {
	names   []string
	tensors []*tensor.Tensor
	scalars []ScalarParam
}

func newFiniteChecker(params map[string]*tensor.Tensor, scalars []ScalarParam) *finiteChecker {
	c := &finiteChecker{scalars: scalars}
	for n := range params {
		c.names = append(c.names, n)
	}
	sort.Strings(c.names)
	for _, n := range c.names {
		c.tensors = append(c.tensors, params[n])
	}
	return c
}

// check returns "" when every value is finite, else what holds the first
// non-finite one.
func (c *finiteChecker) check() string {
	for i, t := range c.tensors {
		if t == nil {
			continue
		}
		if j := firstNonFinite(t.Data); j >= 0 {
			return fmt.Sprintf("parameter %s holds %v at index %d", c.names[i], t.Data[j], j)
		}
	}
	for _, sp := range c.scalars {
		if v := *sp.Value; v-v != v-v {
			return fmt.Sprintf("gate %s is %v", sp.Name, v)
		}
	}
	return ""
}

// finiteMetrics returns em with every NaN or infinite number replaced by 0
// and named in NonFinite, so that the metrics always encode as JSON.
func finiteMetrics(em EpochMetrics) EpochMetrics {
	fix := func(name string, x *float64) {
		if math.IsNaN(*x) || math.IsInf(*x, 0) {
			em.NonFinite = append(em.NonFinite, fmt.Sprintf("%s=%v", name, *x))
			*x = 0
		}
	}
	fix("lr", &em.LR)
	fix("train_loss", &em.TrainLoss)
	fix("train_top1", &em.TrainTop1)
	fix("train_top5", &em.TrainTop5)
	fix("train_img_per_s", &em.TrainImgPerSec)
	fix("epoch_s", &em.EpochSeconds)
	fix("peak_rss_mib", &em.PeakRSSMiB)
	if em.Test != nil {
		t := *em.Test
		fix("test.loss", &t.Loss)
		fix("test.top1", &t.Top1)
		fix("test.top5", &t.Top5)
		fix("test.seconds", &t.Seconds)
		fix("test.img_per_s", &t.ImgPerSec)
		em.Test = &t
	}
	return em
}
