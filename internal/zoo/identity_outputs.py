"""PyTorch's outputs of torchvision models with chosen activations replaced by the identity (issue 16).

Run with Debian's python (torch 1.13, torchvision 0.14):

    /usr/bin/python3 internal/zoo/identity_outputs.py FIXTURE_DIR REMOVED.json

FIXTURE_DIR was filled by tools/fixtures/make_torchvision_fixtures.py (its
manifest.json names each model, its input and PyTorch's output); this script
rebuilds each model exactly as that script does (same seed, same randomised
BatchNorm, same input), checks that it reproduces M.out.bin, then runs it with
the activations listed in REMOVED.json turned into the identity and writes
FIXTURE_DIR/M.identity.out.bin (float32, little-endian).

REMOVED.json: {"models": {"mobilenet_v2": ["features.2.conv.0.2", ...], ...}}.
Each name is an activation node name of dshrink's ONNX importer, which is the
PyTorch module path rebuilt from the ONNX scope (onnx/import.go, hint): a
module called once per forward is named by its path ("features.2.conv.0.2",
"layer1.0.relu"); the k-th further call of the same module in one forward gets
"_k" ("layer1.0.relu_1" is ResNet's second use of layer1.0.relu). So a name
that is a module is call 0 of it, and NAME_k that is not a module is call k of
NAME. Only the listed calls become the identity (ResNet's block reuses one ReLU
module before and after the residual add). Unknown names are an error.
"""
import json
import os
import re
import sys

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'fixtures'))
import make_torchvision_fixtures as F  # noqa: E402  (the same ALL, seeds and randomise_bn)


class Calls(nn.Module):
    """Runs act, except on the listed calls (0-based, per forward), where it is the identity."""

    def __init__(self, act, calls):
        super().__init__()
        self.act = act
        self.calls = set(calls)
        self.n = 0

    def forward(self, x):
        k = self.n
        self.n += 1
        return x if k in self.calls else self.act(x)


def resolve(model, name):
    """Module path and call index of an importer activation name."""
    try:
        model.get_submodule(name)
        return name, 0
    except AttributeError:
        pass
    m = re.fullmatch(r'(.*)_(\d+)', name)
    if m:
        try:
            model.get_submodule(m.group(1))
            return m.group(1), int(m.group(2))
        except AttributeError:
            pass
    raise SystemExit('identity_outputs: %r is neither a module of the model nor MODULE_k' % name)


def build(name):
    """The model and input exactly as make_torchvision_fixtures.py builds them."""
    idx = F.ALL.index(name)
    torch.manual_seed(1000 + idx)
    return F.randomise_bn(getattr(torchvision.models, name)()), idx


def read_bin(path, shape):
    import numpy as np
    return torch.from_numpy(np.fromfile(path, dtype='<f4').reshape(shape))


def main():
    fixture_dir, removed_path = sys.argv[1], sys.argv[2]
    with open(os.path.join(fixture_dir, 'manifest.json')) as f:
        manifest = {m['name']: m for m in json.load(f)['models']}
    with open(removed_path) as f:
        removed = json.load(f)['models']
    torch.set_num_threads(1)
    for name, names in removed.items():
        if name not in manifest or name not in F.ALL:
            raise SystemExit('identity_outputs: model %r is not in %s' % (name, fixture_dir))
        entry = manifest[name]
        model, idx = build(name)
        x = F.det_input(tuple(entry['input_shape']), 2000 + idx)
        want_x = read_bin(os.path.join(fixture_dir, entry['input']), entry['input_shape'])
        want_y = read_bin(os.path.join(fixture_dir, entry['output']), entry['output_shape'])
        with torch.no_grad():
            if not torch.equal(x, want_x) or (model(x) - want_y).abs().max().item() > 1e-5:
                raise SystemExit('identity_outputs: %s rebuilt does not reproduce %s: the fixture script changed its seeding' % (name, entry['output']))
            calls = {}
            for n in names:
                path, k = resolve(model, n)
                calls.setdefault(path, []).append(k)
            for path, ks in calls.items():
                parent, _, leaf = path.rpartition('.')
                owner = model.get_submodule(parent) if parent else model
                setattr(owner, leaf, Calls(model.get_submodule(path), ks))
            for m in model.modules():
                if isinstance(m, Calls):
                    m.n = 0
            y = model(x)
        F.write_bin(os.path.join(fixture_dir, name + '.identity.out.bin'), y)
        print('wrote %s.identity.out.bin (%d activations as identity)' % (name, len(names)), file=sys.stderr)


if __name__ == '__main__':
    main()
