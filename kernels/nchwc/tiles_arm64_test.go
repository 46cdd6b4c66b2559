//go:build arm64 && !purego

package nchwc

import (
	"testing"

	"github.com/dshrink/dshrink/kernels/isa"
)

// TestTiles pins the register tiles of the NEON family (5-pixel dense and
// product tiles of 4 vectors with 4 input channels by lane, 6-pixel general
// depthwise, 14-pixel row-reuse) and checks that an arm64 CPU runs it.
func TestTiles(t *testing.T) {
	f := familyNEON
	got := [5]int{f.convMaxR, f.dwMaxR, f.winoMaxR, f.reuseMaxR(3), f.reuseMaxR(5)}
	if want := [5]int{5, 6, 5, 14, 14}; got != want {
		t.Errorf("tiles (conv, dw, wino, reuse 3x3, 5x5) = %v, want %v", got, want)
	}
	if !isa.Has(isa.NEON) {
		t.Fatal("arm64 CPU without NEON (Advanced SIMD)")
	}
	restore, err := isa.Force(isa.NEON)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	if ISA() != "neon" {
		t.Errorf("ISA() = %q at level neon, want neon", ISA())
	}
}
