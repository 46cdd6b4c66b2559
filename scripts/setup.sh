#!/usr/bin/env bash
# Installs everything dshrink's main job and tests need on a fresh Debian
# machine: Go modules, the Fashion-MNIST dataset, the ONNX checker (Debian's
# python3-onnx) and ONNX Runtime 1.30 (bundled in the npm package
# onnxruntime-node, used only as a reference by tests and benchmarks).
# Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need_apt+=(python3-onnx)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: not root, cannot install ${need_apt[*]}; tests that need them will skip" >&2
  fi
fi

ort=.cache/ort/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
if [ ! -f "$ort" ] && command -v npm >/dev/null; then
  echo "setup: installing onnxruntime-node 1.30.0 into .cache/ort"
  mkdir -p .cache/ort
  (cd .cache/ort && { [ -f package.json ] || echo '{"name":"dshrink-ort","private":true}' > package.json; } &&
    ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi

go mod download
