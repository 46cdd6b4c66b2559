#!/usr/bin/env python3
"""Summarise a shrink/experiments-targets.sh run directory: per target speedup
and arm, the merged model's top-1 (mean, sample std, min, max over seeds), the
blocks removed, the table's predicted latency and the measured p50 latency
(OUT/bench-long.json when present, else OUT/bench.json: every model timed
side by side with the base), as Markdown on
stdout (models missing from the main timing come from OUT/bench-extra-*.json,
scaled by their run's base latency); OUT/summary.json with every run; OUT/pareto.json, the accuracy-latency
points in the format dshrink report --pareto plots.

    python3 shrink/experiments-targets-summary.py runs/i19/exp
"""
import glob
import json
import os
import statistics
import sys

ARMS = ['planner-mb', 'planner', 'search', 'search-long', 'random']
LABEL = {
    'planner-mb': 'planner (multi-block + pruning)',
    'planner': 'planner (built per block)',
    'search': 'search (official recipe, 1 epoch)',
    'search-long': 'search (official recipe, long)',
    'random': 'random order',
}


def main(out):
    bench, base_ms = {}, None
    bpath = os.path.join(out, 'bench-long.json')  # the longer timing, when it was run
    if not os.path.exists(bpath):
        bpath = os.path.join(out, 'bench.json')
    if os.path.exists(bpath):
        b = json.load(open(bpath))
        for i, r in enumerate(b['results']):
            bench[os.path.normpath(r['file'])] = r['p50_ms']
            if i == 0:
                base_ms = r['p50_ms']
    # Models timed in later runs (bench-extra-*.json, the base first in each):
    # their latency relative to that run's base, averaged over the runs, times
    # the main run's base latency.
    extra = {}
    for f in sorted(glob.glob(os.path.join(out, 'bench-extra-*.json'))):
        b = json.load(open(f))
        b0 = b['results'][0]['p50_ms']
        for r in b['results'][1:]:
            extra.setdefault(os.path.normpath(r['file']), []).append(r['p50_ms'] / b0)
    for k, v in extra.items():
        if k not in bench and base_ms:
            bench[k] = base_ms * statistics.mean(v)
    runs = []
    for f in sorted(glob.glob(os.path.join(out, 'ft', '*.json'))):
        name = os.path.basename(f)[:-5]
        if os.path.getsize(f) == 0:
            continue
        arm, target, seed = name.rsplit('-', 2)
        d = json.load(open(f))
        plan_name = {'planner': f'planner-{target}.json', 'planner-mb': f'planner-mb-{target}.json'}.get(arm, f'{arm}-{target}-{seed}.json')
        p = json.load(open(os.path.join(out, 'plans', plan_name)))
        merged = os.path.normpath(d['merged']['file'])
        runs.append(dict(arm=arm, target=float(target), seed=int(seed), top1=100 * d['merged']['top1'],
                         finetuned_top1=100 * d['finetuned']['top1'], base_top1=100 * d['base']['top1'],
                         macs=d['merged']['macs'], removed=d['removed'],
                         predicted_ms=float(p.get('meta', {}).get('predicted_ms', 'nan')),
                         base_predicted_ms=float(p.get('meta', {}).get('base_predicted_ms', 'nan')),
                         ms=bench.get(merged), file=merged))
    base_top1 = next((r['base_top1'] for r in runs), None)
    print(f'base model: top-1 {base_top1:.2f}% on the test images, p50 {base_ms:.4f} ms (batch 1, 1 thread)\n'
          if base_top1 is not None and base_ms else '')
    print('| target | arm | seeds | merged top-1 % (mean +- std) | min - max | blocks removed | predicted speedup | '
          'measured p50 ms | measured speedup |')
    print('|---|---|---|---|---|---|---|---|---|')
    summary = dict(base_ms=base_ms, base_top1=base_top1, rows=[], runs=runs)
    points = []
    for target in sorted({r['target'] for r in runs}):
        for arm in ARMS + sorted({r['arm'] for r in runs} - set(ARMS)):
            rs = [r for r in runs if r['arm'] == arm and r['target'] == target]
            if not rs:
                continue
            t = [r['top1'] for r in rs]
            sd = statistics.stdev(t) if len(t) > 1 else 0.0
            ms = [r['ms'] for r in rs if r['ms']]
            mean_ms = statistics.mean(ms) if ms else None
            nrem = statistics.mean(len(r['removed']) for r in rs)
            pspd = statistics.mean(r['base_predicted_ms'] / r['predicted_ms'] for r in rs)
            mspd = f'{base_ms / mean_ms:.2f}x' if base_ms and mean_ms else '-'
            mms = f'{mean_ms:.4f}' if mean_ms else '-'
            print(f'| {target:g}x | {LABEL.get(arm, arm)} | {len(rs)} | {statistics.mean(t):.2f} +- {sd:.2f} | '
                  f'{min(t):.2f} - {max(t):.2f} | {nrem:.1f} | {pspd:.2f}x | {mms} | {mspd} |')
            summary['rows'].append(dict(target=target, arm=arm, seeds=len(rs), mean=statistics.mean(t), std=sd,
                                        min=min(t), max=max(t), removed=nrem, predicted_speedup=pspd,
                                        mean_ms=mean_ms))
            for r in rs:
                if r['ms']:
                    points.append(dict(name=f"{arm} {target:g}x seed {r['seed']}", kind=LABEL.get(arm, arm),
                                       top1=r['top1'] / 100, latency_ms=r['ms'], macs=r['macs'],
                                       note=f"target {target:g}x, {len(r['removed'])} blocks removed"))
    if base_ms and base_top1 is not None:
        points.insert(0, dict(name='base', kind='base', top1=base_top1 / 100, latency_ms=base_ms,
                              note='the unmodified base model'))
    json.dump(summary, open(os.path.join(out, 'summary.json'), 'w'), indent=1)
    json.dump(dict(points=points), open(os.path.join(out, 'pareto.json'), 'w'), indent=1)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'runs/i19/exp')
