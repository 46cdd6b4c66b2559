// Package memlimit estimates whether an allocation fits in memory before it
// is made, so that a size read from a flag, a configuration or a file gets
// an error with the estimate and the limit instead of a Go runtime
// "out of memory" crash.
package memlimit

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Env names the environment variable that sets the limit explicitly, in
// bytes or with a K, M, G or T suffix (powers of 1024).
const Env = "DSHRINK_MEM_LIMIT"

// fallback is the limit where the machine's memory cannot be read.
const fallback int64 = 16 << 30

var (
	once  sync.Once
	limit int64
	how   string
)

// Limit returns the number of bytes one allocation plan may use and where
// the figure comes from: DSHRINK_MEM_LIMIT when set, else 90% of the smaller
// of the physical memory and the cgroup's memory limit.
func Limit() (int64, string) {
	once.Do(func() { limit, how = compute() })
	return limit, how
}

func compute() (int64, string) {
	if v := os.Getenv(Env); v != "" {
		if n, err := ParseBytes(v); err == nil && n > 0 {
			return n, Env
		}
	}
	total, src := int64(0), ""
	if n := memTotal(); n > 0 {
		total, src = n, "physical memory"
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(p); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
				total, src = n, "the cgroup's memory limit"
			}
		}
	}
	if total == 0 {
		return fallback, "a default (the machine's memory is unknown)"
	}
	return total / 10 * 9, "90% of " + src + "; set " + Env + " to change it"
}

// memTotal reads MemTotal from /proc/meminfo (0 when unavailable).
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb << 10
		}
	}
	return 0
}

// ParseBytes parses a size such as 1073741824, 512M or 2G.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	if n := len(s); n > 0 {
		switch strings.ToUpper(s[n-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		case "T":
			mult = 1 << 40
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: want a non-negative number of bytes, optionally with K, M, G or T", s)
	}
	return v * mult, nil
}

// Human formats a byte count (e.g. "3.2 GiB").
func Human(n int64) string {
	switch {
	case n >= 1<<40:
		return fmt.Sprintf("%.1f TiB", float64(n)/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Check returns an error when need bytes exceed the limit; what says what
// the memory is for and which setting decides it.
func Check(what string, need int64) error {
	lim, src := Limit()
	if need < 0 || need > lim {
		if need < 0 {
			need = math.MaxInt64
		}
		return fmt.Errorf("%s needs about %s of memory, more than the limit of %s (%s)", what, Human(need), Human(lim), src)
	}
	return nil
}

// Mul returns a*b*..., saturating at math.MaxInt64 (negative factors count as 0).
func Mul(fs ...int64) int64 {
	p := int64(1)
	for _, f := range fs {
		if f <= 0 {
			return 0
		}
		if p > math.MaxInt64/f {
			return math.MaxInt64
		}
		p *= f
	}
	return p
}

// SetForTest sets the limit to n bytes until the returned function restores
// the previous one. Tests use it to check refusals without huge sizes.
func SetForTest(n int64) (restore func()) {
	Limit()
	old, oldHow := limit, how
	limit, how = n, "set by a test"
	return func() { limit, how = old, oldHow }
}
