#!/usr/bin/env bash
# Measures the README's table per torchvision family (issue 16): for each of
# the eight families, exported by tools/fixtures/make_torchvision_fixtures.py
# (random weights, randomised BatchNorm, 224x224, batch 1), it runs what a
# user runs:
#
#   dshrink import M.onnx -o M.dsk
#   dshrink merge M.dsk --plan all -o M.merged.dsk     (chains timed on this machine)
#   dshrink export M.merged.dsk -o M.merged.onnx
#   dshrink bench M.dsk M.merged.dsk                    (our runtime, 1 thread, batch 1)
#   node tools/ortbench/bench_ort.js M.onnx M.merged.onnx (ONNX Runtime, 1 thread, batch 1)
#
# and prints a Markdown table (blocks found, blocks merged, speedups measured)
# with the CPU and the kernels' instruction set. Usage, from anywhere:
#
#   internal/zoo/family_table.sh [OUTDIR]     # default /tmp/dshrink-family-table
#
# Needs /usr/bin/python3 with torch and torchvision, node and onnxruntime-node
# in .cache/ort (./scripts/setup.sh --tests). About 1-2 minutes on 2 quiet cores after the
# export (longer under load).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/dshrink-family-table}
size=${SIZE:-224}
models=${MODELS:-mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large,efficientnet_b0,mnasnet1_0,resnet18,shufflenet_v2_x1_0,regnet_x_400mf}
mkdir -p "$out"
(cd "$root" && go build -buildvcs=auto -o "$out/dshrink" ./cmd/dshrink)
if [ ! -f "$out/fx/manifest.json" ]; then
  /usr/bin/python3 "$root/tools/fixtures/make_torchvision_fixtures.py" "$out/fx" --size "$size" --batch 1 --models "$models" 2>/dev/null
fi
cd "$out"
for m in ${models//,/ }; do
  echo "== $m" >&2
  ./dshrink import "fx/$m.onnx" -o "$m.dsk" --json >"$m.import.json"
  ./dshrink merge "$m.dsk" --plan all -o "$m.merged.dsk" --json >"$m.merge.json" 2>"$m.merge.log"
  ./dshrink export "$m.merged.dsk" -o "$m.merged.onnx" >/dev/null
  ./dshrink bench "$m.dsk" "$m.merged.dsk" --threads 1 --batch 1 --rounds 10 --iters 5 --json >"$m.bench.json" 2>/dev/null
  ORT_NPM_DIR="$root/.cache/ort" node "$root/tools/ortbench/bench_ort.js" --threads 1 --batch 1 --rounds 20 --iters 5 \
    --json "$m.ort.json" "original=fx/$m.onnx" "merged=$m.merged.onnx" >/dev/null
done
MODELS=$models SIZE=$size /usr/bin/python3 - <<'EOF'
import json, os
isa = json.load(open(os.environ['MODELS'].split(',')[0] + '.bench.json')).get('isa', '?')
cpu = '?'
with open('/proc/cpuinfo') as f:
    info = {k.strip(): v for k, v in (l.split(':', 1) for l in f.read().split('\n\n')[0].splitlines() if ':' in l)}
    cpu = '%s (family %s model %s)' % (info['model name'].strip(), info['cpu family'].strip(), info['model'].strip())
print('CPU: %s, dshrink kernels: %s, 1 thread, batch 1, %sx%s input; load average %s' % (cpu, isa, os.environ['SIZE'], os.environ['SIZE'], open('/proc/loadavg').read().split()[0]))
print()
print('| model | imports | blocks found | blocks merged (`--plan all`) | MACs before -> after | speedup, dshrink runtime | speedup, ONNX Runtime 1.30 |')
print('|---|---|---|---|---|---|---|')
for m in os.environ['MODELS'].split(','):
    imp = json.load(open(m + '.import.json'))
    mg = json.load(open(m + '.merge.json'))
    b = json.load(open(m + '.bench.json'))['results']
    o = json.load(open(m + '.ort.json'))
    rows = o['results'] if isinstance(o, dict) and 'results' in o else o
    p50 = {r['model']: r['p50_ms'] for r in rows}
    ours = '%.2fx (%.2f -> %.2f ms)' % (b[0]['p50_ms'] / b[1]['p50_ms'], b[0]['p50_ms'], b[1]['p50_ms'])
    ort = '%.2fx (%.2f -> %.2f ms)' % (p50['original'] / p50['merged'], p50['original'], p50['merged'])
    merged = sum(1 for c in (mg.get('chains') or []) if c['merged'])
    if merged == 0:  # the same model twice: the figures are the measurement's noise
        ours, ort = 'none merged (same model: %s)' % ours, 'none merged (same model: %s)' % ort
    print('| %s | yes | %d | %d | %.0fM -> %.0fM | %s | %s |' % (m, imp['blocks'], merged, mg['before']['macs'] / 1e6, mg['after']['macs'] / 1e6, ours, ort))
EOF
