#!/usr/bin/env bash
# Installs everything dshrink's main job and tests need on a fresh Debian
# machine: Go modules, the Fashion-MNIST dataset, the ONNX checker (Debian's
# python3-onnx) and ONNX Runtime 1.30 (bundled in the npm package
# onnxruntime-node, used only as a reference by tests and benchmarks).
# Idempotent: each step is skipped when already done, so rerunning it is cheap.
# With --tests (test.sh) it also installs qemu-user-static, which runs the
# arm64 test binaries of the kernel layer on this x86 machine, and Debian's
# PyTorch and torchvision (python3-torch, python3-torchvision), which generate
# the torchvision ONNX exports of the bring-your-own-model test matrix.
#
# Every probe runs from a neutral directory (/): run from the repository root,
# `python3 -c 'import onnx'` would import the repository's own onnx/ folder as
# a namespace package and report the module present when it is not.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# probe runs a command from / with no output, for its exit status only.
probe() { (cd / && "$@") >/dev/null 2>&1; }

need_apt=()
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
probe /usr/bin/python3 -c 'import onnx, onnx.checker' || need_apt+=(python3-onnx)
for_tests=false
[ "${1:-}" = --tests ] && for_tests=true
if $for_tests && [ "$(uname -m)" = x86_64 ]; then
  probe command -v qemu-aarch64-static || need_apt+=(qemu-user-static)
fi
if $for_tests; then
  probe /usr/bin/python3 -c 'import torch, torchvision' || need_apt+=(python3-torch python3-torchvision)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    # A new machine has empty apt lists: always update before installing.
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    # Check that the install did what the probes need, from / as well.
    [ -d /usr/share/datasets/fashion-mnist ] || { echo "setup: dataset-fashion-mnist installed no /usr/share/datasets/fashion-mnist" >&2; exit 1; }
    probe /usr/bin/python3 -c 'import onnx, onnx.checker' || { echo "setup: /usr/bin/python3 still cannot import onnx" >&2; exit 1; }
    if $for_tests && [ "$(uname -m)" = x86_64 ]; then
      probe command -v qemu-aarch64-static || { echo "setup: qemu-user-static installed no qemu-aarch64-static" >&2; exit 1; }
    fi
    if $for_tests; then
      probe /usr/bin/python3 -c 'import torch, torchvision' || { echo "setup: /usr/bin/python3 still cannot import torch and torchvision" >&2; exit 1; }
    fi
  else
    echo "setup: not root, cannot install ${need_apt[*]}; tests that need them will skip" >&2
  fi
fi

ort=.cache/ort/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
if [ ! -f "$ort" ]; then
  if probe command -v npm; then
    echo "setup: installing onnxruntime-node 1.30.0 into .cache/ort"
    mkdir -p .cache/ort
    (cd .cache/ort && { [ -f package.json ] || echo '{"name":"dshrink-ort","private":true}' > package.json; } &&
      ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
  else
    echo "setup: npm not found; ONNX Runtime tests and benchmarks will skip" >&2
  fi
fi

go mod download
