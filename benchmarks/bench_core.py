"""Exact divergences on 1000 × 10 000 float64 distributions: divergences vs SciPy, side by side.

Run: ``python benchmarks/bench_core.py`` (about a minute). Prints, for each divergence, the best
time of ``divergences`` (input validation included), the time of the SciPy anchor where one exists,
the ratio anchor / ours (speed-up), the ratio to the floor (the two ``np.log`` passes over the
inputs that any log-based divergence needs), and the peak extra memory of both.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from _measure import best_time, fmt_mb, peak_bytes
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import entropy, power_divergence

import divergences as dv

ANCHORS = {
    "js": ("scipy jensenshannon(p, q, axis=1)**2", lambda p, q: jensenshannon(p, q, axis=1) ** 2),
    "kl": ("scipy.stats.entropy(p, q, axis=1)", lambda p, q: entropy(p, q, axis=1)),
    "cross_entropy": ("entropy(p) + entropy(p, q)", lambda p, q: entropy(p, axis=1) + entropy(p, q, axis=1)),
    "reverse_kl": ("scipy.stats.entropy(q, p, axis=1)", lambda p, q: entropy(q, p, axis=1)),
    "jeffreys": ("rel_entr(p,q)+rel_entr(q,p) summed", lambda p, q: (rel_entr(p, q) + rel_entr(q, p)).sum(axis=1)),
    "pearson": ("power_divergence(pearson)/n", lambda p, q: power_divergence(p, q, axis=1, lambda_="pearson").statistic),
    "neyman": ("power_divergence(neyman)/n", lambda p, q: power_divergence(p, q, axis=1, lambda_="neyman").statistic),
    "alpha": ("power_divergence(λ=α−1)/2n", lambda p, q: power_divergence(p, q, axis=1, lambda_=-0.5).statistic / 2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--cols", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    p = rng.random((args.rows, args.cols))
    p /= p.sum(axis=1, keepdims=True)
    q = rng.random((args.rows, args.cols))
    q /= q.sum(axis=1, keepdims=True)

    floor = best_time(lambda: (np.log(p), np.log(q)), args.repeat)
    print(f"{args.rows} × {args.cols} float64; floor (np.log(p), np.log(q)) = {floor * 1e3:.1f} ms\n")
    header = (f"{'divergence':<16}{'ours ms':>9}{'/floor':>8}{'anchor ms':>11}{'anchor/ours':>12}"
              f"{'ours mem':>12}{'anchor mem':>12}  anchor")
    print(header)
    print("-" * len(header))
    for name in dv.available():
        kwargs = {"alpha": 0.5} if name in ("alpha", "renyi") else {}
        ours = best_time(lambda: dv.divergence(name, p, q, **kwargs), args.repeat)  # noqa: B023
        mem = peak_bytes(lambda: dv.divergence(name, p, q, **kwargs))  # noqa: B023
        line = f"{name:<16}{ours * 1e3:9.1f}{ours / floor:8.2f}"
        if name in ANCHORS:
            label, fn = ANCHORS[name]
            want = fn(p, q)
            got = dv.divergence(name, p, q, **kwargs)
            err = float(np.max(np.abs(got - want) / np.maximum(1e-300, np.abs(want))))
            assert err < 1e-8, (name, err)
            anchor = best_time(lambda: fn(p, q), max(2, args.repeat // 2))  # noqa: B023
            amem = peak_bytes(lambda: fn(p, q))  # noqa: B023
            line += f"{anchor * 1e3:11.1f}{anchor / ours:12.2f}{fmt_mb(mem):>12}{fmt_mb(amem):>12}  {label}"
        else:
            line += f"{'':11}{'':12}{fmt_mb(mem):>12}{'':12}  (no anchor)"
        print(line)
    print("\nTargets (issue 2): js anchor/ours ≥ 3 and js /floor ≤ 1.5; kl anchor/ours ≥ 2.5.")
    if math.isnan(floor):  # pragma: no cover
        raise SystemExit(1)


if __name__ == "__main__":
    main()
