#!/usr/bin/env python3
"""Summarise a scripts/compare-plans.sh run directory as Markdown (stdout) and
OUT/summary.json: per arm the merged model's top-1 (mean, sample std, min,
max over seeds), MACs and the measured batch-1 latency from OUT/bench.json;
then the cheap importance (OUT/imp.json: held-out loss increase with the unit
alone as the identity) against the expensive one (top-1 lost after
fine-tuning with that unit alone removed), with Spearman's rank correlation.

    python3 scripts/compare-plans-summary.py runs/compare-plans
"""
import glob
import json
import math
import os
import statistics
import sys


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    den = math.sqrt(sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb))
    return num / den if den else float('nan')


def main(out):
    bench = {}
    bpath = os.path.join(out, 'bench.json')
    base_ms = None
    if os.path.exists(bpath):
        b = json.load(open(bpath))
        for i, r in enumerate(b['results']):
            bench[os.path.normpath(r['file'])] = r['p50_ms']
            if i == 0:
                base_ms = r['p50_ms']
    arms = {}
    for f in sorted(glob.glob(os.path.join(out, 'ft', '*.json'))):
        name = os.path.basename(f)[:-5]
        if name.startswith('unit-'):
            continue
        arm, seed = name.rsplit('-', 1)
        d = json.load(open(f))
        merged = os.path.normpath(d['merged']['file'])
        arms.setdefault(arm, []).append(dict(seed=int(seed), top1=100 * d['merged']['top1'],
                                             base_top1=100 * d['base']['top1'], macs=d['merged']['macs'],
                                             removed=d['removed'], ms=bench.get(merged)))
    summary = dict(arms={}, importance=None, base_ms=base_ms)
    print('| arm | seeds | merged top-1 % (mean +- std) | min - max | blocks removed | MACs (M) | p50 ms (batch 1, 1 thread) | speedup |')
    print('|---|---|---|---|---|---|---|---|')
    for arm in ['search', 'planner', 'random', 'last-k'] + sorted(set(arms) - {'search', 'planner', 'random', 'last-k'}):
        runs = arms.get(arm)
        if not runs:
            continue
        t = [r['top1'] for r in runs]
        sd = statistics.stdev(t) if len(t) > 1 else 0.0
        ms = [r['ms'] for r in runs if r['ms']]
        mean_ms = statistics.mean(ms) if ms else None
        nrem = statistics.mean(len(r['removed']) for r in runs)
        macs = statistics.mean(r['macs'] for r in runs) / 1e6
        spd = f'{base_ms / mean_ms:.2f}x' if base_ms and mean_ms else '-'
        print(f"| {arm} | {len(runs)} | {statistics.mean(t):.2f} +- {sd:.2f} | {min(t):.2f} - {max(t):.2f} | {nrem:.1f} | {macs:.2f} | "
              f"{mean_ms:.4f} | {spd} |" if mean_ms else
              f"| {arm} | {len(runs)} | {statistics.mean(t):.2f} +- {sd:.2f} | {min(t):.2f} - {max(t):.2f} | {nrem:.1f} | {macs:.2f} | - | - |")
        summary['arms'][arm] = dict(runs=runs, mean=statistics.mean(t), std=sd, min=min(t), max=max(t), mean_ms=mean_ms)
    base_top1 = next((r['base_top1'] for rs in arms.values() for r in rs), None)
    if base_top1 is not None:
        print(f'\nbase model: top-1 {base_top1:.2f}% on the same test images' + (f', p50 {base_ms:.4f} ms' if base_ms else ''))
    ipath = os.path.join(out, 'imp.json')
    units = sorted(glob.glob(os.path.join(out, 'ft', 'unit-*.json')))
    if os.path.exists(ipath) and units:
        cheap = {u['unit']: u['delta_loss'] for u in json.load(open(ipath))['units']}
        rows = []
        for f in units:
            d = json.load(open(f))
            u = os.path.basename(f)[len('unit-'):-5]
            rows.append((u, cheap.get(u, float('nan')), 100 * (d['base']['top1'] - d['merged']['top1'])))
        print('\n| unit | cheap: held-out loss increase (no training) | expensive: top-1 points lost after fine-tuning |')
        print('|---|---|---|')
        for u, c, e in rows:
            print(f'| {u} | {c:.3f} | {e:.2f} |')
        rho = spearman([r[1] for r in rows], [r[2] for r in rows])
        print(f'\nSpearman rank correlation, cheap vs expensive, {len(rows)} units: {rho:.2f}')
        summary['importance'] = dict(rows=rows, spearman=rho)
    with open(os.path.join(out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'runs/compare-plans')
