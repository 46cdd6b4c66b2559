#!/usr/bin/python3
"""Writes pool_torch.json: PyTorch's max_pool2d and avg_pool2d on small
random inputs over windows, strides, paddings, ceil mode and
count_include_pad, with the input gradient for a fixed output gradient.
graph/reference and nn test against it (TestPoolTorch). Run from this
directory with Debian's PyTorch: /usr/bin/python3 gen_pool_torch.py
"""
import json
import random

import torch
import torch.nn.functional as F

random.seed(16)
torch.manual_seed(16)
cases = []
while len(cases) < 48:
    k = random.randint(1, 4)
    s = random.randint(1, 3)
    p = random.randint(0, k // 2)  # PyTorch: pad at most half the window
    h, w = random.randint(1, 7), random.randint(1, 7)
    ceil = random.random() < 0.5
    if h + 2 * p < k or w + 2 * p < k:
        continue
    op = random.choice(["max", "avg"])
    inc = op == "avg" and random.random() < 0.5
    ties = op == "max" and random.random() < 0.4
    if ties:  # small integers: tied windows, as after a ReLU
        x = torch.randint(0, 3, (1, 2, h, w)).float()
    else:
        x = torch.randn(1, 2, h, w)
    x.requires_grad_()
    if op == "max":
        y = F.max_pool2d(x, k, s, p, ceil_mode=ceil)
    else:
        y = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=inc)
    dy = torch.randn(y.shape)
    y.backward(dy)
    cases.append({
        "op": op, "k": k, "stride": s, "pad": p, "ceil": ceil, "count_include_pad": inc,
        "shape": list(x.shape), "out_shape": list(y.shape),
        "x": [float("%.9g" % v) for v in x.detach().flatten().tolist()],
        "y": [float("%.9g" % v) for v in y.detach().flatten().tolist()],
        "dy": [float("%.9g" % v) for v in dy.flatten().tolist()],
        "dx": [float("%.9g" % v) for v in x.grad.flatten().tolist()],
    })
with open("pool_torch.json", "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
