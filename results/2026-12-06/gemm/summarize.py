"""Summarises compare.sh output (stdin) by the median call (default) or, with the argument
"best", the fastest call of each run, or with "cpu", the median call by thread CPU time (one thread); with "top", each
side's best round (median call) and the ratio of those, a stand-in for a quiet machine: per thread count and shape, the median GFLOP/s of
each implementation over the rounds and, for each Go binary, the median of the per-round
ratios to OpenBLAS with their min-max spread."""
import collections, statistics, sys
mode = sys.argv[1] if len(sys.argv) > 1 else ""
col = {"best": 5, "cpu": 6}.get(mode, 4)
d = collections.defaultdict(dict)  # (th, shape) -> name -> {round: gflops}
names = []
for line in sys.stdin:
    f = line.split()
    if len(f) != 7 or not f[0].startswith("round=") or f[col] == "-":
        continue
    r, name, th, shape, v = f[0][6:], f[1], f[2], f[3], float(f[col])
    d[(th, shape)].setdefault(name, {})[r] = v
    if name not in names:
        names.append(name)
ours = [n for n in names if n != "openblas"]
spread = "best rounds" if mode == "top" else "median of rounds (min-max)"
print("| threads | M x K x N | OpenBLAS | " + " | ".join(f"{n} | {n}/OpenBLAS, {spread}" for n in ours) + " |")
print("|---|---|---|" + "---|---|" * len(ours))
for (th, shape), byname in d.items():
    ob = byname.get("openblas", {})
    row = [th.split("=")[1], shape, f"{(max if mode == 'top' else statistics.median)(ob.values()):.1f}" if ob else "-"]
    for n in ours:
        v = byname.get(n, {})
        rs = sorted(v[r] / ob[r] for r in v if r in ob)
        if mode == "top":
            # Each side's best round (its median call), and their ratio.
            row.append(f"{max(v.values()):.1f}" if v else "-")
            row.append(f"**{max(v.values()) / max(ob.values()):.2f}x**" if v and ob else "-")
            continue
        row.append(f"{statistics.median(v.values()):.1f}" if v else "-")
        row.append(f"**{statistics.median(rs):.2f}x** ({rs[0]:.2f}-{rs[-1]:.2f})" if rs else "-")
    print("| " + " | ".join(row) + " |")
