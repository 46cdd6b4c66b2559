//go:build arm64 && !purego

package conv

import (
	"math/rand"
	"testing"

	"github.com/dshrink/dshrink/kernels/isa"
)

// TestNEONSelected checks that an arm64 build runs the NEON kernels: the
// level is available, and the kernels follow it when it is active.
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

// TestConvTapKernel runs TestConv's shapes with the NEON tap kernel on the
// 3x3 and 5x5 shapes that have dedicated kernels.
func TestConvTapKernel(t *testing.T) {
	if !isa.Has(isa.NEON) {
		t.Skip("no NEON")
	}
	restore, err := isa.Force(isa.NEON)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	defer setDW5(true)
	setDW5(false)
	testConvShapes(t, rand.New(rand.NewSource(9)))
}
