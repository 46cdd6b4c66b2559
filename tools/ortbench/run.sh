#!/usr/bin/env bash
# Side-by-side latency of dshrink's runtime and ONNX Runtime 1.30 on the same
# ONNX files: MobileNetV2-1.0 224x224, original and fully merged (every
# inverted residual block one dense 3x3 conv), batch 1 and 16, 1 and 2
# threads. The two runtimes alternate, process by process, for ROUNDS rounds
# (the one that goes first alternates too); the table shows the median over
# rounds of each one's p50 and the ratios computed from those medians.
#
# One-time setup (see tools/peers/README.md):
#   apt-get install -y python3-torch python3-torchvision python3-onnx libopenblas0-openmp
#   mkdir -p .cache/ort && cd .cache/ort && npm init -y && \
#     ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0
# Usage (from the repository root): tools/ortbench/run.sh [ROUNDS=5]
# Env: WORK (default .cache/ortbench), ORT_NPM_DIR (default .cache/ort),
#      MODELS (default "orig merged"), BATCHES (default "1 16"), THREADS (default "1 2").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-5}"
WORK="${WORK:-.cache/ortbench}"
export ORT_NPM_DIR="${ORT_NPM_DIR:-.cache/ort}"
MODELS="${MODELS:-orig merged}"
BATCHES="${BATCHES:-1 16}"
THREADS="${THREADS:-1 2}"
PY=/usr/bin/python3
mkdir -p "$WORK/onnx" "$WORK/results"

# 1. ONNX files: the peers' PyTorch export (torchvision MobileNetV2, random
#    init with randomized BatchNorm statistics; merged = all 17 blocks merged).
if [ ! -f "$WORK/onnx/manifest.json" ]; then
  echo "== exporting ONNX files with PyTorch (tools/peers/export_onnx.py)"
  $PY tools/peers/export_onnx.py "$WORK/onnx"
fi

# 2. Our binary.
echo "== building dshrink"
CGO_ENABLED=0 go build -o "$WORK/dshrink" ./cmd/dshrink

lscpu | grep -E 'Model name|^CPU\(s\)|CPU family|^Model:' || true
"$WORK/dshrink" bench $(for m in $MODELS; do echo "$WORK/onnx/${m}_b1.onnx"; done) --steps | grep -v '^  ' || true

# 3. Alternate the two runtimes.
out="$WORK/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
for r in $(seq 1 "$ROUNDS"); do
  for th in $THREADS; do
    for b in $BATCHES; do
      if [ "$b" -ge 16 ]; then it=2; rd=3; else it=5; rd=6; fi
      files=(); names=(); ortargs=()
      for m in $MODELS; do
        files+=("$WORK/onnx/${m}_b${b}.onnx"); names+=("$m"); ortargs+=("$m=$WORK/onnx/${m}_b${b}.onnx")
      done
      ours() {
        "$WORK/dshrink" bench "${files[@]}" --names "$(IFS=,; echo "${names[*]}")" --batch "$b" --threads "$th" \
          --warmup 3 --rounds "$rd" --iters "$it" --json > "$out/ours_r${r}_t${th}_b${b}.json" 2>>"$out/log.txt"
      }
      theirs() {
        node tools/ortbench/bench_ort.js --batch "$b" --threads "$th" --warmup 3 --rounds "$rd" --iters "$it" \
          --json "$out/ort_r${r}_t${th}_b${b}.json" "${ortargs[@]}" >>"$out/log.txt" 2>&1
      }
      if [ $((r % 2)) -eq 1 ]; then ours; theirs; else theirs; ours; fi
      echo "round $r threads $th batch $b done"
    done
  done
done

# 4. Table.
node tools/ortbench/summarize.js "$out" | tee "$out/summary.md"
