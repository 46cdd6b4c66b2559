#!/usr/bin/env bash
# Runs dshrink's whole test suite after installing what it needs (see setup.sh).
# CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# References (ONNX Runtime, onnx.checker, Fashion-MNIST) must be present in CI:
# tests that would otherwise skip without them fail when DSHRINK_REQUIRE_REFS=1.
export ORT_NODE_MODULES="$PWD/.cache/ort/node_modules"
export DSHRINK_REQUIRE_REFS=1
gofmt_out=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$gofmt_out" ]; then
  echo "gofmt needed on: $gofmt_out" >&2
  exit 1
fi
CGO_ENABLED=0 go vet ./...
CGO_ENABLED=0 go test -count=1 -timeout 45m ./...

# The README's first command, as a user runs it, in its quick form.
demo_dir=$(mktemp -d)
./scripts/demo.sh --quick --out "$demo_dir/demo" --quiet
test -s "$demo_dir/demo/report.html"
./dshrink report "$demo_dir/demo" -o "$demo_dir/report2.html"
rm -rf "$demo_dir"
echo "test.sh: all tests passed"
