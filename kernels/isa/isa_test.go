package isa

import (
	"os"
	"runtime"
	"testing"
)

func TestLevelsOrderedAndParse(t *testing.T) {
	av := Available()
	if len(av) == 0 || av[len(av)-1] != Generic {
		t.Fatalf("Available() = %v, want it to end with generic", av)
	}
	for i := 1; i < len(av); i++ {
		if av[i] >= av[i-1] {
			t.Fatalf("Available() = %v not best first", av)
		}
	}
	for _, l := range []Level{Generic, AVX2, AVX512, NEON} {
		p, err := Parse(l.String())
		if err != nil || p != l {
			t.Errorf("Parse(%q) = %v, %v", l.String(), p, err)
		}
	}
	if _, err := Parse("sse9"); err == nil {
		t.Error("Parse(sse9) did not fail")
	}
}

func TestForceAndRestore(t *testing.T) {
	before := Active()
	restore, err := Force(Generic)
	if err != nil {
		t.Fatal(err)
	}
	if Active() != Generic {
		t.Fatalf("Active() = %v after Force(generic)", Active())
	}
	if w := Warning(); w != "" && buildHasAsm {
		t.Errorf("a forced level warned: %q", w)
	}
	restore()
	if Active() != before {
		t.Fatalf("Active() = %v after restore, want %v", Active(), before)
	}
	if runtime.GOARCH == "amd64" {
		if _, err := Force(NEON); err == nil {
			t.Error("Force(neon) succeeded on amd64")
		}
	}
}

// TestHardwareLevel checks that the detected level is the one the
// architecture's SIMD kernels need, so that a CI machine with AVX2 or NEON
// never silently runs the portable path.
func TestHardwareLevel(t *testing.T) {
	switch runtime.GOARCH {
	case "arm64":
		if Hardware() != NEON {
			t.Errorf("arm64 hardware level %v, want neon", Hardware())
		}
	case "amd64":
		if Hardware() == NEON {
			t.Error("amd64 detected as neon")
		}
	}
	t.Logf("hardware %v, available %v, active %v (%s)", Hardware(), Available(), Active(), Describe())
}

// TestActiveIsBest checks that, unless DSHRINK_ISA lowers it, the kernels
// run at the best level this build has for the CPU (a CI machine with AVX2
// or AVX-512 must never silently run the portable path).
func TestActiveIsBest(t *testing.T) {
	if v := os.Getenv("DSHRINK_ISA"); v != "" && v != "auto" {
		t.Skipf("DSHRINK_ISA=%s", v)
	}
	if Active() != Available()[0] {
		t.Errorf("active level %v, best available %v", Active(), Available()[0])
	}
	if buildHasAsm && Available()[0] != Hardware() {
		t.Errorf("best available level %v, hardware %v", Available()[0], Hardware())
	}
}
