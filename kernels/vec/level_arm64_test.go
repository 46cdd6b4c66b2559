//go:build arm64 && !purego

package vec

import (
	"testing"

	"github.com/dshrink/dshrink/kernels/isa"
)

// TestNEONSelected checks that an arm64 build runs the NEON plane kernels:
// the level is available, and the kernels follow it when it is active.
func TestNEONSelected(t *testing.T) {
	if !isa.Has(isa.NEON) {
		t.Fatalf("isa.NEON not available on arm64 (have %v)", isa.Available())
	}
	restore, err := isa.Force(isa.NEON)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	if l := asmLevel(); l != isa.NEON {
		t.Fatalf("asmLevel() = %v under isa.NEON", l)
	}
}
