#!/usr/bin/env bash
# The README's first command: installs what dshrink needs (setup.sh: Go
# modules, the Fashion-MNIST dataset, ...), builds dshrink and runs the demo
# with its embedded default configuration (configs/demo.yaml): the whole
# DepthShrinker method on Fashion-MNIST in 2-4 minutes on 2 cores,
# ending in runs/demo/report.html.
#
#   ./scripts/demo.sh                 # the demo, into runs/demo
#   ./scripts/demo.sh --quick         # a smoke run of under a minute, into runs/demo-quick
#   ./scripts/demo.sh --out /tmp/d    # any other `dshrink demo` flag
#
# Rerunning it resumes: finished stages are skipped, an interrupted one
# (Ctrl-C) continues from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "demo: building ./dshrink"
# -buildvcs=auto: record the commit (dshrink version) even where GOFLAGS turns it off.
CGO_ENABLED=0 go build -buildvcs=auto -o dshrink ./cmd/dshrink
./dshrink --version # the build, Go and the kernels' instruction set, for the log
# dshrink demo prints the final table and where the report is.
exec ./dshrink demo "$@"
