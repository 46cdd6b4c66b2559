#!/usr/bin/env bash
# Runs dshrink's whole test suite after installing what it needs (see setup.sh).
# CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export DSHRINK_ORT_DIR="$PWD/.cache/ort"
gofmt_out=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$gofmt_out" ]; then
  echo "gofmt needed on: $gofmt_out" >&2
  exit 1
fi
CGO_ENABLED=0 go vet ./...
CGO_ENABLED=0 go test -count=1 -timeout 45m ./...
