package latency

import (
	"math"
	"testing"
)

// TestMedianCI checks the confidence interval of the median on known data.
func TestMedianCI(t *testing.T) {
	if MedianCI(nil) != 0 || MedianCI([]float64{3}) != 0 {
		t.Error("fewer than 2 values: want 0")
	}
	same := []float64{2, 2, 2, 2, 2, 2}
	if c := MedianCI(same); c != 0 {
		t.Errorf("constant values: %g, want 0", c)
	}
	// 1..15, median 8: 0-based ranks floor(7.5 - 3.8) = 3 and ceil(7.5 + 3.8) = 12, values 4 and 13.
	v := make([]float64, 15)
	for i := range v {
		v[i] = float64(15 - i) // unsorted on purpose
	}
	want := (13.0 - 4.0) / 2 / 8
	if c := MedianCI(v); math.Abs(c-want) > 1e-12 {
		t.Errorf("1..15: %g, want %g", c, want)
	}
	// More rounds of the same spread narrow the interval.
	w := make([]float64, 0, 60)
	for range 4 {
		w = append(w, v...)
	}
	if MedianCI(w) >= MedianCI(v) {
		t.Errorf("60 values: %g, not narrower than 15 values' %g", MedianCI(w), MedianCI(v))
	}
}
