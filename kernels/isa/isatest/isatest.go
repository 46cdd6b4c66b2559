// Package isatest runs tests and benchmarks under every instruction-set
// level the machine can run (XNNPACK-style conformance).
package isatest

import (
	"testing"

	"github.com/dshrink/dshrink/kernels/isa"
)

// ForEach runs f as a subtest under every level in isa.Available, forcing
// it for the subtest's duration. Subtests must not run in parallel with each
// other.
func ForEach(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, l := range isa.Available() {
		restore, err := isa.Force(l)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(l.String(), f)
		restore()
	}
}

// ForEachB is ForEach for benchmarks.
func ForEachB(b *testing.B, f func(b *testing.B)) {
	b.Helper()
	for _, l := range isa.Available() {
		restore, err := isa.Force(l)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(l.String(), f)
		restore()
	}
}
