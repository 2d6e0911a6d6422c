"""Memory bound of the tiled torch reductions: MMD² and the energy distance with gradients on
n = m = 12 000 points in 3-D (tiles of 1024 × 1024) never hold an n × m matrix (1.1 GiB in float64;
the peak resident growth must stay below a quarter of it), and the tiled path is the one that ran.

Measured in a fresh subprocess: the process's resident set just before the call (VmRSS) and its peak
after (VmHWM, /proc/self/status); tracemalloc does not see torch's allocator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

CHILD = r"""
import json, sys
import numpy as np
import torch
import divergences.samples._torch_pairs as tp
from divergences.samples import energy, mmd

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) * 1024

calls = []
original = tp._BlockedPairSum.apply
tp._BlockedPairSum.apply = lambda *args: calls.append(1) or original(*args)
kind, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
x = torch.tensor(rng.normal(size=(n, 3)), requires_grad=True)
y = torch.tensor(rng.normal(0.3, 1.0, size=(n, 3)))
block = int(sys.argv[3])
fn = (lambda a, b: mmd(a, b, bandwidth=1.0, block=block)) if kind == "mmd" else (lambda a, b: energy(a, b, block=block))
fn(x[:50], y[:50]).backward()  # warm-up (small: the direct path)
calls.clear()
x.grad = None
before = status("VmRSS")
value = fn(x, y)
value.backward()
print(json.dumps({"growth": status("VmHWM") - before, "tiled": len(calls), "value": float(value.detach()),
                  "grad_finite": bool(torch.isfinite(x.grad).all())}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mmd", "energy"])
def test_tiled_value_and_gradient_stay_far_below_one_matrix(kind):
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc/self/status (Linux)")
    n, block = 12_000, 1024
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(n), str(block)], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    one_matrix = n * n * 8
    assert r["tiled"] == 3  # the three pair sums (x–y, x–x, y–y) all went through the tiled path
    assert r["grad_finite"] and r["value"] > 0
    # a few tiles of block² (8 MiB each) plus the allocator's slack; one n × m matrix is 1.1 GiB
    assert r["growth"] < one_matrix / 4, f"peak resident growth {r['growth'] / 2**20:.0f} MiB"


SINKHORN_CHILD = r"""
import json, sys
import numpy as np
import scipy.sparse.linalg  # noqa: F401 - the Newton phase's import, outside the measured growth
import torch
import divergences.samples._torch_transport as tt
from divergences.samples import sinkhorn

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) * 1024

import divergences.samples._sinkhorn_newton as sn

newton, kept = [], [0]
original, direction = tt._newton, sn._direction
tt._newton = lambda *args: newton.append(1) or original(*args)
sn._direction = lambda rows, *args: kept.__setitem__(0, max(kept[0], len(rows))) or direction(rows, *args)
n = int(sys.argv[1])
rng = np.random.default_rng(0)
x = torch.tensor(rng.normal(size=(n, 3)), requires_grad=True)
y = torch.tensor(rng.normal(0.3, 1.0, size=(n, 3)))
sinkhorn(x[:50], y[:50], epsilon=0.05).backward()  # warm-up (small)
newton.clear()
x.grad = None
before = status("VmRSS")
value = sinkhorn(x, y, epsilon=0.05)
value.backward()
print(json.dumps({"growth": status("VmHWM") - before, "newton": len(newton), "kept": kept[0],
                  "value": float(value.detach()),
                  "grad_finite": bool(torch.isfinite(x.grad).all())}))
"""


@pytest.mark.slow
def test_sinkhorn_value_and_gradient_stay_far_below_one_matrix():
    """The Sinkhorn divergence with gradients on n = m = 5000 points in 3-D, ε = 0.05, its Newton phase
    included (about 2 · 10⁶ kept plan entries): the growth is the documented bound, one 8 MiB soft-min
    panel plus at most 48 bytes per kept plan entry (indices, values, their concatenation and the scaled
    copy; at most 2²² entries whatever n) plus allocator slack, and far from one n × m matrix (191 MiB)."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc/self/status (Linux)")
    n = 5000
    out = subprocess.run([sys.executable, "-c", SINKHORN_CHILD, str(n)], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["newton"] >= 1 and r["kept"] > 10**6  # the Newton phase ran, on a large kept plan
    assert r["grad_finite"] and r["value"] > 0
    bound = (8 << 20) + 48 * r["kept"] + (24 << 20)
    assert r["growth"] < bound, f"peak resident growth {r['growth'] / 2**20:.0f} MiB > {bound / 2**20:.0f} MiB"
    assert r["growth"] < n * n * 8 * 0.7
