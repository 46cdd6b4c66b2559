#!/usr/bin/env bash
# Plans compared at the same budget on Fashion-MNIST (issues 5 and 8), with
# seeds, every run an independent process so that a many-core machine runs
# them side by side:
#
#   search    dshrink search (learnable gates), KEEP blocks keep their activation
#   planner   dshrink plan --match search-plan: the latency planner's plan at
#             the search plan's predicted latency (table measured here)
#   random    dshrink search --baseline random (same budget as search)
#   last-k    dshrink search --baseline last-k
#
# each fine-tuned (distillation from the base, pad-first), merged and
# verified by dshrink finetune, then every merged model timed side by side
# by dshrink bench. It also fine-tunes each unit of IMP_UNITS removed alone
# (the expensive importance estimate) next to the planner's cheap one.
#
#   BASE=runs/base/model.dsk OUT=runs/compare-plans JOBS=2 THREADS=1 scripts/compare-plans.sh
#
# Results: OUT/results.json (every run: arm, seed, plan, accuracies, MACs),
# OUT/bench.json (latencies), OUT/imp.json (cheap importance); summarise
# with scripts/compare-plans-summary.py OUT.
set -euo pipefail

BASE=${BASE:-runs/base/model.dsk}
OUT=${OUT:-runs/compare-plans}
SEEDS=${SEEDS:-3}
JOBS=${JOBS:-1}             # processes at once
THREADS=${THREADS:-1}       # compute threads per process
KEEP=${KEEP:-8}             # blocks (of 17) that keep their activation
TRAIN_SUBSET=${TRAIN_SUBSET:-20000}
TEST_SUBSET=${TEST_SUBSET:-0}
SEARCH_EPOCHS=${SEARCH_EPOCHS:-1}
FINETUNE_EPOCHS=${FINETUNE_EPOCHS:-3}
IMP_UNITS=${IMP_UNITS:-features.2,features.4,features.7,features.10,features.13,features.16}
IMP_EPOCHS=${IMP_EPOCHS:-1}
DATA_DIR=${DATA_DIR:-}
ARMS=${ARMS:-search planner random last-k}
DSHRINK=${DSHRINK:-}

mkdir -p "$OUT"
if [ -z "$DSHRINK" ]; then
	CGO_ENABLED=0 go build -o "$OUT/dshrink" ./cmd/dshrink
	DSHRINK="$OUT/dshrink"
fi
cat > "$OUT/config.yaml" <<EOF
# written by scripts/compare-plans.sh
data:
  dataset: fashion-mnist
  dir: "$DATA_DIR"
  train_subset: $TRAIN_SUBSET
  test_subset: $TEST_SUBSET
  random_crop_pad: 0
  hflip: true
EOF
C="$OUT/config.yaml"
DATA_FLAG=()
if [ -n "$DATA_DIR" ]; then DATA_FLAG=(--data-dir "$DATA_DIR"); fi

run_jobs() { # run the commands of file $1, JOBS at a time; fail if any failed
	local f=$1
	echo "== $(date -u +%T) $(wc -l < "$f") jobs from $f, $JOBS at a time"
	xargs -P "$JOBS" -I{} -d '\n' sh -c '{}' < "$f"
}

# 1. Latency table (1 thread, batch 1), the cheap importance, the searches
#    and the baseline plans.
J1="$OUT/jobs1.txt"
: > "$J1"
echo "$DSHRINK profile $BASE --threads 1 -o $OUT/table.json > $OUT/table.txt 2>&1 && $DSHRINK plan $BASE --speedup 1.3 --table $OUT/table.json --data fashion-mnist ${DATA_FLAG[*]} --importance-out $OUT/imp.json -o $OUT/plan-1.3x.json > $OUT/imp.txt 2>&1" >> "$J1"
for s in $(seq 1 "$SEEDS"); do
	case " $ARMS " in *" search "* | *" planner "*)
		echo "$DSHRINK search -c $C --model $BASE --keep $KEEP --epochs $SEARCH_EPOCHS --seed $s --threads $THREADS -q -o $OUT/plans/search-$s.json > $OUT/logs/search-$s.txt 2>&1" >> "$J1" ;;
	esac
	case " $ARMS " in *" random "*)
		echo "$DSHRINK search -c $C --model $BASE --keep $KEEP --baseline random --seed $s -o $OUT/plans/random-$s.json > $OUT/logs/random-plan-$s.txt 2>&1" >> "$J1" ;;
	esac
	case " $ARMS " in *" last-k "*)
		echo "$DSHRINK search -c $C --model $BASE --keep $KEEP --baseline last-k -o $OUT/plans/last-k-$s.json > $OUT/logs/last-k-plan-$s.txt 2>&1" >> "$J1" ;;
	esac
done
mkdir -p "$OUT/plans" "$OUT/logs" "$OUT/ft"
run_jobs "$J1"

# 2. The planner at each search plan's predicted latency.
case " $ARMS " in *" planner "*)
	for s in $(seq 1 "$SEEDS"); do
		"$DSHRINK" plan "$BASE" --match "$OUT/plans/search-$s.json" --table "$OUT/table.json" --importance "$OUT/imp.json" \
			-o "$OUT/plans/planner-$s.json" > "$OUT/logs/planner-$s.txt" 2>&1
	done ;;
esac

# 3. Fine-tune every plan (and the single-unit removals), merge, verify.
J3="$OUT/jobs3.txt"
: > "$J3"
for s in $(seq 1 "$SEEDS"); do
	for arm in $ARMS; do
		echo "$DSHRINK finetune -c $C --model $BASE --plan $OUT/plans/$arm-$s.json --epochs $FINETUNE_EPOCHS --seed $s --threads $THREADS -q --json -o $OUT/ft/$arm-$s > $OUT/ft/$arm-$s.json 2> $OUT/logs/ft-$arm-$s.txt" >> "$J3"
	done
done
IFS=, read -r -a units <<< "$IMP_UNITS"
for u in "${units[@]}"; do
	[ -n "$u" ] || continue
	echo "$DSHRINK finetune -c $C --model $BASE --plan $u --epochs $IMP_EPOCHS --seed 1 --threads $THREADS -q --json -o $OUT/ft/unit-$u > $OUT/ft/unit-$u.json 2> $OUT/logs/ft-unit-$u.txt" >> "$J3"
done
run_jobs "$J3"

# 4. Every merged model and the base, timed side by side (batch 1, 1 thread).
models=("$BASE")
for s in $(seq 1 "$SEEDS"); do
	for arm in $ARMS; do
		models+=("$OUT/ft/$arm-$s/merged.dsk")
	done
done
"$DSHRINK" bench "${models[@]}" --batch 1 --threads 1 --json > "$OUT/bench.json" 2> "$OUT/logs/bench.txt"
echo "== $(date -u +%T) done: $OUT"
