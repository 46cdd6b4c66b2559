#!/usr/bin/env bash
# issue 5 main run: search arm through `dshrink shrink`, planner arm at the search plan's predicted latency
set -euo pipefail
cd /work/main
B=$1; D=${2:-runs/i5}; EP=${EP:-6}
mkdir -p $D
DS=/tmp/dshrink-main
sed -e 's/random_crop_pad: 2/random_crop_pad: 0/' configs/shrink-fmnist.yaml > $D/config.yaml
# search arm: one command, 1 thread
( $DS shrink -c $D/config.yaml --model $B --keep 8 --search-epochs 1 --finetune-epochs $EP --threads 1 -q -o $D/shrink-search --json > $D/shrink-search.json 2> $D/shrink-search.log ) &
P1=$!
# planner arm waits for the searched plan
while [ ! -s $D/shrink-search/search/plan.json ]; do sleep 10; done
sleep 2
$DS plan $B --match $D/shrink-search/search/plan.json --table $D/table.json --data fashion-mnist --importance-out $D/imp.json -o $D/planner.json > $D/planner.txt 2>&1
( $DS shrink -c $D/config.yaml --model $B --plan $D/planner.json --finetune-epochs $EP --threads 1 -q -o $D/shrink-planner --json > $D/shrink-planner.json 2> $D/shrink-planner.log ) &
P2=$!
wait $P1 $P2
$DS bench $B $D/shrink-search/finetune/merged.dsk $D/shrink-planner/finetune/merged.dsk --names base,search,planner --batch 1,16 --threads 1,2 > $D/bench.txt 2>&1
echo done
