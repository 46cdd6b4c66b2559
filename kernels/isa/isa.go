// Package isa is the one place where dshrink chooses the instruction set its
// kernels run with. Every kernel package (gemm, nchwc, conv, vec) asks Active
// on each call and picks its kernel family from the answer; nothing else
// looks at the CPU.
//
// The level is detected once from golang.org/x/sys/cpu (so
// GODEBUG=cpu.avx512f=off lands on AVX2), lowered by DSHRINK_ISA
// (generic|avx2|avx512|neon) and by the purego build tag (Generic), and may be
// forced by tests and benchmarks with Force.
package isa

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Level is an instruction-set level a kernel family is written for.
type Level int32

// The levels, in increasing order of capability on their architecture.
// NEON is an arm64 level and is never chosen on amd64 (and vice versa).
const (
	Generic Level = iota // portable Go
	AVX2                 // x86-64 AVX2 + FMA3 (16 ymm registers)
	AVX512               // x86-64 AVX-512 F/DQ/BW/VL (32 zmm registers)
	NEON                 // arm64 Advanced SIMD (32 128-bit registers)
)

var names = [...]string{Generic: "generic", AVX2: "avx2", AVX512: "avx512", NEON: "neon"}

// String returns the level's name as DSHRINK_ISA spells it.
func (l Level) String() string {
	if l >= 0 && int(l) < len(names) {
		return names[l]
	}
	return fmt.Sprintf("Level(%d)", int32(l))
}

// Parse returns the level named s (as String spells it).
func Parse(s string) (Level, error) {
	for l, n := range names {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Level(l), nil
		}
	}
	return Generic, fmt.Errorf("isa: unknown level %q (want one of %s)", s, strings.Join(names[:], ", "))
}

var (
	hardware  Level        // best level the CPU can run, whatever the build
	available []Level      // levels this build can run on this CPU, best first
	chosen    Level        // level selected at start-up (env and build tag applied)
	envNote   string       // why chosen differs from hardware, if it does
	active    atomic.Int32 // current level (chosen, or forced)
	forced    atomic.Bool  // a Force is in effect
)

func init() {
	hardware = detect()
	for l := hardware; l >= Generic; l-- {
		if l == Generic || (buildHasAsm && sameArch(l, hardware)) {
			available = append(available, l)
		}
	}
	chosen = available[0]
	if !buildHasAsm && hardware != Generic {
		envNote = "built with -tags purego"
	}
	if s := os.Getenv("DSHRINK_ISA"); s != "" && s != "auto" {
		l, err := Parse(s)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "dshrink: DSHRINK_ISA: %v; using %s\n", err, chosen)
		case !Has(l):
			fmt.Fprintf(os.Stderr, "dshrink: DSHRINK_ISA=%s: this CPU or build cannot run it (have %v); using %s\n", s, available, chosen)
		default:
			chosen = l
			if l != hardware {
				envNote = "DSHRINK_ISA=" + s
			}
		}
	}
	active.Store(int32(chosen))
}

func sameArch(l, hw Level) bool { return (l == NEON) == (hw == NEON) }

// Hardware returns the best level this CPU supports, whatever the build and
// the environment allow.
func Hardware() Level { return hardware }

// Available lists the levels this build can run on this CPU, best first; the
// last is always Generic.
func Available() []Level { return append([]Level(nil), available...) }

// Has reports whether this build can run level l on this CPU.
func Has(l Level) bool {
	for _, a := range available {
		if a == l {
			return true
		}
	}
	return false
}

// Active returns the level the kernels use now.
func Active() Level { return Level(active.Load()) }

// Force makes the kernels use level l until restore is called. It is meant
// for tests and benchmarks and must not be called while kernels run (a
// compiled runtime program or packed weights keep the level they were built
// for). It fails when this build cannot run l on this CPU.
func Force(l Level) (restore func(), err error) {
	if !Has(l) {
		return nil, fmt.Errorf("isa: level %s not available on this CPU or build (have %v)", l, available)
	}
	old := Level(active.Swap(int32(l)))
	oldForced := forced.Swap(l != chosen)
	return func() {
		active.Store(int32(old))
		forced.Store(oldForced)
	}, nil
}

// Describe names the active level for reports, with the reason when it is
// below what the CPU can do ("avx2 (DSHRINK_ISA=avx2; cpu: avx512)").
func Describe() string {
	l := Active()
	if l == hardware {
		return l.String()
	}
	why := envNote
	if forced.Load() || why == "" {
		why = "forced"
	}
	return fmt.Sprintf("%s (%s; cpu: %s)", l, why, hardware)
}

// Warning returns a non-empty message when the portable Go kernels run on a
// CPU that has SIMD kernels, which makes everything several times slower:
// commands print it loudly. It is empty when the user asked for that level
// with DSHRINK_ISA or a test forced it.
func Warning() string {
	if Active() != Generic || hardware == Generic || forced.Load() {
		return ""
	}
	if strings.HasPrefix(envNote, "DSHRINK_ISA") {
		return ""
	}
	return fmt.Sprintf("WARNING: dshrink runs its portable Go kernels on a CPU with %s (%s): expect several times slower results; rebuild without -tags purego", hardware, envNote)
}
