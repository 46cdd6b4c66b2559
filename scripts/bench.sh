#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md on this machine, each ours-vs-reference
# pair in the same run. Takes about 15 minutes. Needs the references that
# setup.sh installs, plus Debian's PyTorch for the OpenBLAS and training
# baselines (apt-get install python3-torch python3-torchvision libopenblas0-openmp)
# and the reference scripts in tools/peers (or PEERS=/path).
#
#   ./scripts/bench.sh [OUT=runs/bench]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/bench}"
PEERS="${PEERS:-$PWD/tools/peers}"
PY=/usr/bin/python3
mkdir -p "$OUT"
lscpu | grep -E 'Model name|^CPU\(s\)|CPU family|^Model:' | tee "$OUT/cpu.txt"
uptime | tee -a "$OUT/cpu.txt"

echo "== 1. SGEMM: ours (avx512, avx2, generic) vs OpenBLAS, 1 and 2 threads"
go test -run XXX -bench 'BenchmarkSgemm$' -benchtime 0.3s -count 3 ./kernels/gemm | tee "$OUT/sgemm_ours.txt"
for th in 1 2; do TH=$th OPENBLAS_CORETYPE=SkylakeX $PY "$PEERS/sgemm_openblas.py" | tee -a "$OUT/sgemm_openblas.txt"; done
go test -run XXX -bench 'BenchmarkSgemm$' -benchtime 0.3s -count 2 ./kernels/gemm | tee -a "$OUT/sgemm_ours.txt"

echo "== 2. Training step MobileNetV2-0.5 28x28 batch 128: ours vs PyTorch 1.13, interleaved, 1 and 2 threads"
for r in 1 2; do
  go test -run XXX -bench 'TrainStepFashionMNIST' -benchtime 10x -cpu 1,2 ./nn | grep img/s | tee -a "$OUT/train_ours.txt"
  for th in 1 2; do
    # peak resident memory of the PyTorch process: getrusage of the child (ru_maxrss, KiB)
    $PY -c 'import resource, subprocess, sys; subprocess.run(sys.argv[1:]); print("\"peak_rss_mib\": %.0f" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))' \
      $PY "$PEERS/fmnist_train.py" --iters 30 --threads $th 2>&1 | grep -E '"threads"|img_per_s|peak_rss' | tr -d '\n' | tee -a "$OUT/train_torch.txt"; echo | tee -a "$OUT/train_torch.txt"
  done
done
# The whole loop as a user runs it (data loading, optimiser; peak memory).
go build -o "$OUT/dshrink" ./cmd/dshrink
"$OUT/dshrink" train --max-steps 40 --out "$OUT/train-tp" --overwrite --json -q | grep -E 'img_per_s|peak' | tee "$OUT/train_cli.txt"

echo "== 3. Inference: our runtime vs ONNX Runtime 1.30, MobileNetV2-1.0 224 original and merged"
tools/ortbench/run.sh 5 | tee "$OUT/ortbench.txt"

echo "== 4. Our forward latency via go test -bench (runtime)"
go test -run XXX -bench 'MobileNetV2' -benchtime 20x ./runtime | tee "$OUT/runtime_bench.txt"
echo "results in $OUT"
