#!/bin/sh
# Issue 5 "Must show" experiments: DepthShrinker on Fashion-MNIST with the
# MobileNetV2-0.5 base of the training issue.
#
#   sh shrink/experiments.sh                 # everything, 3 seeds per arm
#   OUT=runs/issue5 SEEDS=5 sh shrink/experiments.sh
#   QUICK=1 sh shrink/experiments.sh         # a smoke run on data subsets (minutes)
#
# Steps (each resumable: rerun the script after an interruption):
#   1. base: dshrink train --config configs/fmnist-mbv2-0.5.yaml (30 epochs)
#   2. dshrink shrink: search (keep ratio 0.4: 11 of 17 blocks lose their
#      activations), fine-tune with distillation, merge, verify, latency, and
#      the comparison searched vs random vs last-k at the same budget,
#      SEEDS seeds each (compare.json / compare.md: mean, std, min, max)
#   3. dshrink bench: base vs merged model, batch 1 and 16, 1 and 2 threads
#   4. OUT/results.md gathers the tables.
set -eu
OUT=${OUT:-runs/issue5}
SEEDS=${SEEDS:-3}
DSHRINK=${DSHRINK:-}
if [ -z "$DSHRINK" ]; then
	mkdir -p "$OUT"
	CGO_ENABLED=0 go build -o "$OUT/dshrink" ./cmd/dshrink
	DSHRINK="$OUT/dshrink"
fi
EXTRA_TRAIN=""
EXTRA_SHRINK=""
if [ -n "${QUICK:-}" ]; then
	EXTRA_TRAIN="--epochs 2 --train-subset 5000"
	EXTRA_SHRINK="--search-epochs 1 --finetune-epochs 1 --train-subset 5000 --test-subset 2000"
fi

# 1. The base model (resumed when a checkpoint is there).
if [ ! -f "$OUT/base/.done" ]; then
	RESUME=""
	if [ -f "$OUT/base/checkpoint.safetensors" ]; then RESUME="--resume"; fi
	$DSHRINK train --config configs/fmnist-mbv2-0.5.yaml --out "$OUT/base" $EXTRA_TRAIN $RESUME
	touch "$OUT/base/.done"
fi

# 2. Search, fine-tune, merge, verify, latency, comparison.
$DSHRINK shrink --config configs/shrink-fmnist.yaml --model "$OUT/base/model.dsk" --out "$OUT/shrink" \
	--compare random,last-k --seeds "$SEEDS" $EXTRA_SHRINK

# 3. Latency ratio with the runtime's benchmark.
if $DSHRINK bench --help >/dev/null 2>&1; then
	$DSHRINK bench "$OUT/base/model.dsk" "$OUT/shrink/finetune/merged.dsk" --batch 1,16 --threads 1,2 > "$OUT/bench.txt"
fi

# 4. Results.
{
	echo "# Issue 5 results ($(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores)"
	echo
	cat "$OUT/shrink/summary.md"
	if [ -f "$OUT/bench.txt" ]; then
		echo
		echo '```'
		cat "$OUT/bench.txt"
		echo '```'
	fi
} > "$OUT/results.md"
echo "results: $OUT/results.md"
