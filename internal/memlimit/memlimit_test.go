package memlimit

import (
	"math"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	lim, src := Limit()
	if lim <= 0 || src == "" {
		t.Fatalf("Limit() = %d, %q", lim, src)
	}
	if err := Check("x", lim); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	err := Check("batch_size 1000000000", Mul(1e9, 784, 4))
	if err == nil || !strings.Contains(err.Error(), "batch_size 1000000000 needs about") || !strings.Contains(err.Error(), "limit") {
		t.Errorf("over the limit: %v", err)
	}
	if Mul(1<<40, 1<<40) != math.MaxInt64 || Mul(3, -1) != 0 || Mul(2, 3, 4) != 24 {
		t.Error("Mul")
	}
	for in, want := range map[string]int64{"1024": 1024, "2K": 2048, "3m": 3 << 20, "1G": 1 << 30} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "x", "99999999999T"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
}
