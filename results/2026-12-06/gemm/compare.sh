#!/usr/bin/env bash
# Interleaved (ABAB) SGEMM comparison: per round and thread count, each Go test
# binary (BenchmarkSgemm, median of CALLS calls per shape) then OpenBLAS
# (openblas_sgemm.py, same shapes, same statistics), so machine load hits both alike.
# Output lines: round=R name threads=T MxKxN median-GFLOP/s best-GFLOP/s cpu-GFLOP/s
# (the last: median call by thread CPU time, at one thread only, else -).
#   compare.sh LEVEL ROUNDS CALLS name=path/to/gemm.test [name=...]
# LEVEL avx2: GODEBUG=cpu.avx512f=off and OPENBLAS_CORETYPE=Haswell;
# LEVEL avx512: GODEBUG= and OPENBLAS_CORETYPE=SkylakeX.
# Build a binary with: go test -c -o gemm.test ./kernels/gemm
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
level=$1 rounds=$2 calls=$3; shift 3
# RT=1 runs both sides under SCHED_FIFO (chrt -f 10, needs root): on a machine kept busy by other
# work they then get the cores as on a quiet one (Linux still leaves others 5% of each second).
rt=; if [ "${RT:-}" = 1 ]; then rt="chrt -f 10"; fi
if [ "$level" = avx2 ]; then godebug=cpu.avx512f=off core=Haswell; else godebug= core=SkylakeX; fi
# waitidle: until both cores were at least 90% idle over half a second (at most
# IDLEPOLLS half-seconds, default 120), so that each run starts on a quiet machine; prints the idle share.
waitidle() {
  local i a b
  for i in $(seq 1 "${IDLEPOLLS:-120}"); do
    a=($(head -1 /proc/stat)); sleep 0.5; b=($(head -1 /proc/stat))
    local idle=$(( b[4] + b[5] - a[4] - a[5] )) tot=0 k
    for k in 1 2 3 4 5 6 7 8; do tot=$(( tot + b[k] - a[k] )); done
    if [ $(( 100 * idle )) -ge $(( 90 * tot )) ]; then break; fi
  done
  echo "# idle $idle/$tot after $i polls" >&2
}
for r in $(seq 1 "$rounds"); do
  for th in ${THREADS:-1 2}; do
    for spec in "$@"; do
      waitidle
      name=${spec%%=*} bin=${spec#*=}
      GODEBUG=$godebug $rt "$bin" -test.run '^$' -test.bench "BenchmarkSgemm\$/$level/threads=$th/${SHAPES:-}" -test.benchtime ${calls}x |
        awk -v n="$name" -v r="$r" '/^BenchmarkSgemm/ { split($1, p, "/"); sub(/-[0-9]+$/, "", p[4]); for (i = 1; i <= NF; i++) { if ($(i+1) == "med-GFLOP/s") med = $i; if ($(i+1) == "best-GFLOP/s") best = $i; if ($(i+1) == "cpu-GFLOP/s") cpu = $i }; print "round=" r, n, p[3], p[4], med, best, (cpu == "" ? "-" : cpu); cpu = "" }'
    done
    waitidle
    OPENBLAS_CORETYPE=$core $rt /usr/bin/python3 "$here/openblas_sgemm.py" "$th" "$calls" |
      awk -v r="$r" '{ sub(/-[0-9]+$/, "", $4); print "round=" r, "openblas", $3, $4, $6, $8, $10 }'
  done
done
