//go:build arm64 && !purego

package gemm

import (
	"testing"

	"github.com/dshrink/dshrink/kernels/isa"
)

// TestNEONSelected checks that on arm64 the NEON family exists, is the best
// one, and is the one in use when the NEON level is selected.
func TestNEONSelected(t *testing.T) {
	if names := Kernels(); len(names) != 2 || names[0] != "neon" {
		t.Fatalf("Kernels() = %v, want [neon generic]", names)
	}
	if isa.Hardware() != isa.NEON {
		t.Fatalf("isa.Hardware() = %v on arm64, want neon", isa.Hardware())
	}
	restore, err := SetKernel("")
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	if got := Kernel(); got != "neon" {
		t.Errorf("Kernel() = %q with the best level forced, want neon", got)
	}
	if isa.Active() == isa.NEON && activeKernel().name != "neon" {
		t.Errorf("isa.Active() is neon but the active kernel is %q", activeKernel().name)
	}
}
