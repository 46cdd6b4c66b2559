// Package testref lets tests that need an optional reference (ONNX Runtime,
// onnx.checker, the Fashion-MNIST files) skip with a clear message on a
// developer's machine, and fail in CI, where scripts/test.sh installs every
// reference and sets DSHRINK_REQUIRE_REFS=1.
package testref

import (
	"os"
	"testing"
)

// Required reports whether missing references are failures (CI).
func Required() bool { return os.Getenv("DSHRINK_REQUIRE_REFS") == "1" }

// Missing stops the test because a reference is absent: what names it, how
// says how to install it. It skips, or fails when Required.
func Missing(t testing.TB, what, how string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is missing, and DSHRINK_REQUIRE_REFS=1 requires it (%s)", what, how)
	}
	t.Skipf("skipping: %s is missing (%s)", what, how)
}
