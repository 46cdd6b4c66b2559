#!/usr/bin/env bash
# Issue 19 "Must show": Fashion-MNIST MobileNetV2-0.5, three speedup targets,
# SEEDS seeds each, accuracy at equal measured latency for
#
#   planner     dshrink plan --speedup S (latency table of this machine, cheap
#               importance, two-stage DP)
#   planner-mb  the same with multi-block segments and block pruning (LayerMerge),
#               fine-tuned in the planner's form and merged along its segments
#   search      the paper's gate search, official recipe (shrink.OfficialSearchTrain),
#               KEEP_S candidates keep their activation during the search
#               (KEEP_S = the planner plan's kept blocks at S), then its
#               ranking read off at S (dshrink search --speedup S --table)
#   search-long the same search with LONG_SEARCH_EPOCHS epochs (target LONG_TARGET only)
#   search-steps the same search stopped after STEPS steps (plan only, not fine-tuned):
#               whether the rest of the search changes the ranking
#   random      a seeded random order read off at S
#
# Every plan is fine-tuned (distillation from the base, pad-first), merged
# and verified by dshrink finetune, then every merged model and the base are
# timed side by side by dshrink bench (p50, batch 1, 1 thread). Every step is
# skipped when its output exists, so an interrupted run resumes.
#
#   BASE=runs/i19/base/model.dsk OUT=runs/i19/exp shrink/experiments-targets.sh
#   python3 shrink/experiments-targets-summary.py runs/i19/exp   # README section, pareto.json
set -euo pipefail

BASE=${BASE:-runs/i19/base/model.dsk}
OUT=${OUT:-runs/i19/exp}
SEEDS=${SEEDS:-3}
TARGETS=${TARGETS:-1.3 1.6 2.0}
THREADS=${THREADS:-2}
TRAIN_SUBSET=${TRAIN_SUBSET:-12000}
TEST_SUBSET=${TEST_SUBSET:-5000}
SEARCH_EPOCHS=${SEARCH_EPOCHS:-1}
LONG_SEARCH_EPOCHS=${LONG_SEARCH_EPOCHS:-4}
LONG_TARGET=${LONG_TARGET:-1.6}
FINETUNE_EPOCHS=${FINETUNE_EPOCHS:-2}
ARMS=${ARMS:-planner search random search-steps}   # also: search-long
STEPS=${STEPS:-5}           # search-steps: the search stopped after this many steps
PLANNER_MB_FLAGS=${PLANNER_MB_FLAGS:---multi-block --prune --data fashion-mnist}   # planner-mb arm
DSHRINK=${DSHRINK:-}

mkdir -p "$OUT/plans" "$OUT/logs" "$OUT/ft"
if [ -z "$DSHRINK" ]; then
	CGO_ENABLED=0 go build -o "$OUT/dshrink" ./cmd/dshrink
	DSHRINK="$OUT/dshrink"
fi
C="$OUT/config.yaml"
cat > "$C" <<EOF
# written by shrink/experiments-targets.sh
data:
  dataset: fashion-mnist
  train_subset: $TRAIN_SUBSET
  test_subset: $TEST_SUBSET
  random_crop_pad: 0
  hflip: true
EOF
T="$OUT/table.json"
log() { echo "== $(date -u +%T) $*"; }
has() { case " $ARMS " in *" $1 "*) return 0 ;; esac; return 1; }

# 1. Latency table (batch 1, 1 thread) and the planner's importance.
if [ ! -f "$OUT/imp.json" ]; then
	log "latency table and importance"
	"$DSHRINK" profile "$BASE" --threads 1 -o "$T" > "$OUT/logs/table.txt" 2>&1
	"$DSHRINK" plan "$BASE" --speedup 1.3 --table "$T" --data fashion-mnist --importance-out "$OUT/imp.json" \
		-o "$OUT/plans/planner-imp.json" > "$OUT/logs/imp.txt" 2>&1
fi

# 2. The planner's plans (one per target: the importance and the table are fixed).
for S in $TARGETS; do
	P="$OUT/plans/planner-$S.json"
	if has planner && [ ! -f "$P" ]; then
		"$DSHRINK" plan "$BASE" --speedup "$S" --table "$T" --importance "$OUT/imp.json" -o "$P" > "$OUT/logs/planner-$S.txt" 2>&1
	fi
done

# 2b. The planner with multi-block segments and pruning (LayerMerge), its own
#     table (the key records the table's options).
if has planner-mb; then
	for S in $TARGETS; do
		P="$OUT/plans/planner-mb-$S.json"
		if [ ! -f "$P" ]; then
			"$DSHRINK" plan "$BASE" --speedup "$S" --table "$OUT/table-mb.json" --importance "$OUT/imp.json" $PLANNER_MB_FLAGS \
				-o "$P" > "$OUT/logs/planner-mb-$S.txt" 2>&1 || echo "planner-mb at $S: no plan (see logs/planner-mb-$S.txt)"
		fi
	done
fi

# 3. Seed by seed (so that whole seeds finish first): the searches and the
#    random orders at every target, then every plan fine-tuned (seed s
#    fine-tunes with seed s), merged and verified.
ft() { # arm target seed plan
	local name="$1-$2-$3"
	if [ -f "$OUT/ft/$name.json" ] && [ -s "$OUT/ft/$name.json" ]; then return; fi
	log "finetune $name"
	rm -rf "$OUT/ft/$name"
	"$DSHRINK" finetune -c "$C" --model "$BASE" --plan "$4" --epochs "$FINETUNE_EPOCHS" --seed "$3" --threads "$THREADS" -q --json \
		-o "$OUT/ft/$name" > "$OUT/ft/$name.json.tmp" 2> "$OUT/logs/ft-$name.txt"
	mv "$OUT/ft/$name.json.tmp" "$OUT/ft/$name.json"
}
for s in $(seq 1 "$SEEDS"); do
	for S in $TARGETS; do
		# The search trains with as many kept blocks as the planner keeps at S.
		[ -f "$OUT/plans/planner-$S.json" ] || continue
		KEEP=$(python3 -c "import json,sys; p=json.load(open(sys.argv[1])); print(sum(1 for u in p['units'] if u['keep'] and u['name'] not in ('features.0','features.18')))" "$OUT/plans/planner-$S.json")
		if has search && [ ! -f "$OUT/plans/search-$S-$s.json" ]; then
			log "search S=$S seed $s (keep $KEEP, $SEARCH_EPOCHS epochs)"
			rm -rf "$OUT/plans/search-$S-$s.run"
			"$DSHRINK" search -c "$C" --model "$BASE" --keep "$KEEP" --epochs "$SEARCH_EPOCHS" --seed "$s" --threads "$THREADS" -q \
				--speedup "$S" --table "$T" -o "$OUT/plans/search-$S-$s.json" > "$OUT/logs/search-$S-$s.txt" 2>&1
		fi
		if has search-long && [ "$S" = "$LONG_TARGET" ] && [ ! -f "$OUT/plans/search-long-$S-$s.json" ]; then
			log "long search S=$S seed $s (keep $KEEP, $LONG_SEARCH_EPOCHS epochs)"
			rm -rf "$OUT/plans/search-long-$S-$s.run"
			"$DSHRINK" search -c "$C" --model "$BASE" --keep "$KEEP" --epochs "$LONG_SEARCH_EPOCHS" --seed "$s" --threads "$THREADS" -q \
				--speedup "$S" --table "$T" -o "$OUT/plans/search-long-$S-$s.json" > "$OUT/logs/search-long-$S-$s.txt" 2>&1
		fi
		if has search-steps && [ ! -f "$OUT/plans/search-steps-$S-$s.json" ]; then
			# The same search stopped after STEPS steps: the same plan says the
			# rest of the search did not change the ranking.
			rm -rf "$OUT/plans/search-steps-$S-$s.run"
			"$DSHRINK" search -c "$C" --model "$BASE" --keep "$KEEP" --epochs "$SEARCH_EPOCHS" --max-steps "$STEPS" --seed "$s" --threads "$THREADS" -q \
				--speedup "$S" --table "$T" -o "$OUT/plans/search-steps-$S-$s.json" > "$OUT/logs/search-steps-$S-$s.txt" 2>&1
		fi
		if has random && [ ! -f "$OUT/plans/random-$S-$s.json" ]; then
			"$DSHRINK" search -c "$C" --model "$BASE" --baseline random --seed "$s" --speedup "$S" --table "$T" \
				-o "$OUT/plans/random-$S-$s.json" > "$OUT/logs/random-$S-$s.txt" 2>&1
		fi
	done
	for S in $TARGETS; do
		has planner && ft planner "$S" "$s" "$OUT/plans/planner-$S.json"
		if has planner-mb && [ -f "$OUT/plans/planner-mb-$S.json" ]; then ft planner-mb "$S" "$s" "$OUT/plans/planner-mb-$S.json"; fi
		has search && ft search "$S" "$s" "$OUT/plans/search-$S-$s.json"
		has random && ft random "$S" "$s" "$OUT/plans/random-$S-$s.json"
		if has search-long && [ "$S" = "$LONG_TARGET" ]; then ft search-long "$S" "$s" "$OUT/plans/search-long-$S-$s.json"; fi
	done
done

# 4. Every merged model and the base, timed side by side (batch 1, 1 thread).
log "bench"
models=("$BASE")
for f in "$OUT"/ft/*.json; do
	d="${f%.json}"
	if [ -f "$d/merged.dsk" ]; then models+=("$d/merged.dsk"); fi
done
"$DSHRINK" bench "${models[@]}" --batch 1 --threads 1 --json > "$OUT/bench.json" 2> "$OUT/logs/bench.txt"
log "done: $OUT"
