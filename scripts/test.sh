#!/usr/bin/env bash
# Runs dshrink's whole test suite after installing what it needs (see setup.sh).
# CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --tests
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

# The kernel layer again with lower instruction-set levels forced the ways a
# user can (the kernel tests already run every level the CPU has through
# isa.Force; this covers the environment paths and the code that runs at the
# active level: runtime whole-model checks, training-op gradient checks,
# merges), the purego build, and cross-builds of the pure-Go command.
isa_pkgs="./kernels/... ./runtime/ ./nn/ ./merge/"
CGO_ENABLED=0 GODEBUG=cpu.avx512f=off go test -count=1 $isa_pkgs
CGO_ENABLED=0 DSHRINK_ISA=generic go test -count=1 $isa_pkgs
CGO_ENABLED=0 go vet -tags purego ./...
CGO_ENABLED=0 go test -count=1 -tags purego ./kernels/...
for target in linux/arm64 darwin/arm64 darwin/amd64 linux/amd64; do
  CGO_ENABLED=0 GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/dshrink
done

# arm64: the kernel layer, the runtime, the training ops and the merge built
# for arm64 and run under qemu-aarch64-static (correctness only: the NEON
# kernels against their Go and float64 references; TestTiles and the isa
# tests assert that NEON is the level selected there).
if command -v qemu-aarch64-static >/dev/null; then
  arm_dir=$(mktemp -d)
  for pkg in ./kernels/isa ./kernels/nchwc ./kernels/gemm ./kernels/conv ./kernels/vec ./kernels/pool ./runtime ./nn ./merge; do
    bin="$arm_dir/$(echo "${pkg#./}" | tr / _).test"
    CGO_ENABLED=0 GOARCH=arm64 go test -c -o "$bin" "$pkg"
    (cd "$pkg" && qemu-aarch64-static "$bin" -test.count=1 -test.timeout=30m) || { echo "arm64 tests failed in $pkg" >&2; exit 1; }
    echo "ok (arm64, qemu) $pkg"
  done
  rm -rf "$arm_dir"
elif [ "${DSHRINK_REQUIRE_REFS:-}" = 1 ]; then
  echo "qemu-aarch64-static missing: the arm64 tests cannot run" >&2
  exit 1
fi

# Every fuzz target briefly (their seeds already ran with go test above).
for target in onnx:FuzzImport safetensors:FuzzDecode data:FuzzReadIDX graph:FuzzDecode graph:FuzzStructure \
  internal/fuzzcompile:FuzzCompile internal/fuzzcompile:FuzzOps plan:FuzzDecode train:FuzzParseConfig shrink:FuzzParseConfig; do
  CGO_ENABLED=0 go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime 10s "./${target%%:*}/"
done

# The README's first command, as a user runs it, in its quick form.
demo_dir=$(mktemp -d)
./scripts/demo.sh --quick --out "$demo_dir/demo" --quiet
test -s "$demo_dir/demo/report.html"
./dshrink report "$demo_dir/demo" -o "$demo_dir/report2.html"
rm -rf "$demo_dir"
echo "test.sh: all tests passed"
