package nn

import (
	"os"
	"testing"

	"github.com/dshrink/dshrink/kernels/parallel"
)

// TestMain runs the tests on one thread: parallel.Do can deadlock (a worker
// that reads the generation of a finished loop can claim a chunk of the next
// one before its generation is published, so a chunk runs twice and the
// remaining count never reaches 0; reproduced outside nn). Remove once
// kernels/parallel is fixed. Benchmarks set their own thread count.
func TestMain(m *testing.M) {
	parallel.SetThreads(1)
	os.Exit(m.Run())
}
