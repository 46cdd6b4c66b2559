set -e
OUT=runs/i19/exp
for s in 1 2 3; do
  runs/i19/exp/dshrink search -c $OUT/config.yaml --model runs/i19/base/model.dsk --keep 6 --epochs 4 --seed $s --threads 2 -q \
    --speedup 1.6 --table $OUT/table.json -o $OUT/plans/search-long-1.6-$s.json > $OUT/logs/search-long-1.6-$s.txt 2>&1
  echo "long $s done $(date -u +%T)"
done
