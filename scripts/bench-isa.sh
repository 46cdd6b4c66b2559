#!/usr/bin/env bash
# Measures the kernel layer at every x86 instruction-set level against the
# reference runtimes in the same run: the figures of BENCHMARKS.md's
# "kernel layer" section. On an AVX-512 machine the AVX2 path is forced with
# GODEBUG=cpu.avx512f=off (ONNX Runtime, PyTorch and OpenBLAS keep AVX-512,
# so those ratios are conservative); on an AVX2-only machine the AVX2 rows
# are the real case and the AVX-512 rows are skipped.
#
#   ./scripts/bench-isa.sh [OUT=runs/bench-isa] [ROUNDS=3]
#
# Needs what setup.sh installs plus Debian's PyTorch and OpenBLAS
# (apt-get install python3-torch python3-torchvision libopenblas0-openmp).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/bench-isa}"
ROUNDS="${2:-3}"
PY=/usr/bin/python3
PEERS="$PWD/tools/peers"
mkdir -p "$OUT"
lscpu | grep -E 'Model name|^CPU\(s\)|CPU family|^Model:|Flags' | sed 's/Flags:.*\(avx512f\).*/Flags: ... avx512f .../' | tee "$OUT/cpu.txt"
uptime | tee -a "$OUT/cpu.txt"
CGO_ENABLED=0 go build -o "$OUT/dshrink" ./cmd/dshrink

# The levels to measure: name and the environment that selects it.
levels=(avx2)
if grep -qw avx512f /proc/cpuinfo; then levels+=(avx512); fi
level_env() { if [ "$1" = avx2 ] && grep -qw avx512f /proc/cpuinfo; then echo "GODEBUG=cpu.avx512f=off"; else echo "GODEBUG="; fi; }

echo "== 1. Inference: MobileNetV2-1.0 224 original and merged, ours vs ONNX Runtime 1.30 (processes alternate)"
for l in "${levels[@]}"; do
  echo "-- kernels: $l"
  env $(level_env "$l") WORK=.cache/ortbench tools/ortbench/run.sh "$ROUNDS" 2>&1 | tee "$OUT/ort_$l.txt" | grep -E '^\||kernels:'
done

echo "== 2. Training MobileNetV2-0.5 Fashion-MNIST batch 128 as a user runs it (dshrink train) vs PyTorch 1.13, interleaved"
for r in $(seq 1 "$ROUNDS"); do
  for th in 1 2; do
    for l in "${levels[@]}"; do
      env $(level_env "$l") "$OUT/dshrink" train --max-steps 30 --threads "$th" --out "$OUT/train-$l-$th" --overwrite --json -q |
        $PY -c 'import json,sys; d=json.load(sys.stdin); print("ours %s threads %s img/s %.1f peak_rss_mib %.0f" % (sys.argv[1], sys.argv[2], d["train_img_per_s"], d["peak_rss_mib"]))' "$l" "$th" | tee -a "$OUT/train.txt"
    done
    $PY "$PEERS/fmnist_train.py" --iters 30 --threads "$th" 2>/dev/null | $PY -c '
import json, re, sys
t = sys.stdin.read(); m = re.search(r"\{.*\}", t, re.S); d = json.loads(m.group(0)) if m else {}
print("torch threads %s img/s %.1f" % (sys.argv[1], d.get("img_per_s_median_step", float("nan"))))' "$th" | tee -a "$OUT/train.txt"
  done
done

echo "== 3. SGEMM 256x1152x1024 and the MobileNetV2 1x1 shapes: ours vs OpenBLAS (Haswell = AVX2 kernels; SkylakeX = AVX-512)"
for l in "${levels[@]}"; do
  env $(level_env "$l") go test -run XXX -bench 'BenchmarkSgemm' -benchtime 0.3s -count 3 ./kernels/gemm | tee "$OUT/sgemm_$l.txt" | grep -E "Sgemm" || true
done
for ct in Haswell SkylakeX; do
  for th in 1 2; do TH=$th OPENBLAS_CORETYPE=$ct $PY "$PEERS/sgemm_openblas.py" 2>&1 | sed "s/^/$ct /" | tee -a "$OUT/sgemm_openblas.txt"; done
done

echo "== 4. The demo on the AVX2 kernels (wall time)"
demo_dir=$(mktemp -d)
start=$(date +%s)
env $(level_env avx2) "$OUT/dshrink" demo --out "$demo_dir/demo" --quiet > "$OUT/demo_avx2.txt" 2>&1 || echo "demo failed (see $OUT/demo_avx2.txt)"
echo "demo (avx2): $(( $(date +%s) - start )) s" | tee -a "$OUT/demo_avx2.txt"
grep -E "executor|runtime \(" "$OUT/demo_avx2.txt" | head -3 || true
rm -rf "$demo_dir"
echo "results in $OUT"
