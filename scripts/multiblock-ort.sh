#!/usr/bin/env bash
# Issue 19's check of a multi-block plan on MobileNetV2-1.0 224: plan with the
# latency planner (segments of several blocks allowed), merge along the plan's
# runs, export the merged model and the plan-applied unmerged model to ONNX,
# run both in ONNX Runtime on the same random images and compare, then time
# the original and the merged model in dshrink's runtime and in ONNX Runtime
# (same run, interleaved). Writes everything under OUT (default
# results/<date>/multiblock). Needs ./scripts/setup.sh (ONNX Runtime in
# .cache/ort) and /usr/bin/python3 with numpy.
#
#   ./scripts/multiblock-ort.sh [OUT] [SPEEDUP]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=${1:-results/$(date -u +%F)/multiblock}
speedup=${2:-1.4}
mkdir -p "$out"
bin="$out/dshrink"
go build -o "$bin" ./cmd/dshrink
export ORT_NPM_DIR=${ORT_NPM_DIR:-.cache/ort}
{ lscpu | grep -E "Model name|CPU family|^Model:|Flags" | sed 's/\(Flags:\s*\).*\(avx512f\).*/\1... \2 .../'; "$bin" version; } > "$out/machine.txt" 2>&1

"$bin" new mobilenet_v2 --seed 1 -o "$out/orig.dsk" >/dev/null
# Plan under a latency budget on a table measured in context on this machine.
"$bin" plan "$out/orig.dsk" --speedup "$speedup" --table "$out/table.json" --rounds 7 -o "$out/plan.json" 2>"$out/plan.log" | tee "$out/plan.txt"
python3 -c 'import json, sys; print("segments in the plan:", json.dumps(json.load(open(sys.argv[1])).get("segments")))' "$out/plan.json"
"$bin" merge "$out/orig.dsk" --plan "$out/plan.json" --force -o "$out/merged.dsk" --unmerged "$out/unmerged.dsk" --explain > "$out/merge.txt" 2>&1 || { cat "$out/merge.txt"; exit 1; }
grep -E "^folded|exactness|^predicted latency" "$out/merge.txt" || true
for m in orig merged unmerged; do "$bin" export "$out/$m.dsk" -o "$out/$m.onnx" >/dev/null; done

# The same random images through ONNX Runtime: merged vs unmerged (the proof
# carried to another runtime), and merged vs dshrink's own runtime.
/usr/bin/python3 - "$out" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(7)
x = rng.standard_normal((4, 3, 224, 224)).astype(np.float32)
x.tofile(sys.argv[1] + "/input.bin")
PY
for m in merged unmerged; do node tools/ort/run_ort.js "$out/$m.onnx" "$out/input.bin" 4,3,224,224 "$out/ort_$m.bin" >/dev/null; done
/usr/bin/python3 - "$out" <<'PY' | tee "$out/equality.txt"
import numpy as np, sys
d = sys.argv[1]
a = np.fromfile(d + "/ort_merged.bin", dtype=np.float32)
b = np.fromfile(d + "/ort_unmerged.bin", dtype=np.float32)
rel = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
print(f"ONNX Runtime, 4 random images: merged vs plan-applied unmerged: max |diff| / max |unmerged| = {rel:.3g} ({'PASS' if rel <= 1e-4 else 'FAIL'} at 1e-4)")
print(f"top-1 agreement: {np.mean(a.reshape(4, -1).argmax(1) == b.reshape(4, -1).argmax(1)) * 100:.0f}%")
PY

# Speed, same run: dshrink's runtime (interleaved), then ONNX Runtime (interleaved).
"$bin" bench "$out/orig.dsk" "$out/merged.dsk" --names original,merged --threads 1 --time 40s | tee "$out/bench_dshrink.txt"
node tools/ortbench/bench_ort.js --batch 1 --threads 1 --rounds 15 --iters 10 original="$out/orig.onnx" merged="$out/merged.onnx" | tee "$out/bench_ort.txt"
rm -f "$bin" "$out/input.bin" "$out"/ort_*.bin "$out"/*.onnx "$out"/*.dsk
