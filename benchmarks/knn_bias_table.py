"""Bias and spread of ``divergences.samples.knn_kl`` on Gaussians with a known KL (the table in docs/samples.md).

P = N(0, I_d), Q = N(μ, 2 I_d) with μ = (0.5, …, 0.5); KL(P‖Q) from ``divergences.gaussian.kl``. For
each d ∈ {1, 5, 10} and n = m ∈ {10³, 10⁴}, ``--reps`` independent pairs of samples (seeded) give the
mean estimate, its bias (mean − truth) and the standard deviation over repetitions. Run:

    python benchmarks/knn_bias_table.py [--reps 20] [--k 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from divergences import gaussian
from divergences.samples import knn_kl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--k", type=int, default=1)
    args = parser.parse_args()
    print(f"knn_kl bias table: P = N(0, I), Q = N(0.5·1, 2I), k = {args.k}, {args.reps} repetitions, seed 0")
    print("| d | n = m | true KL | mean estimate | bias | relative bias | std over reps |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for d in (1, 5, 10):
        mu = np.full(d, 0.5)
        truth = float(gaussian.kl(np.zeros(d), np.ones(d), mu, np.full(d, 2.0)))
        for n in (1_000, 10_000):
            est = np.array([
                knn_kl(rng.normal(size=(n, d)), mu + np.sqrt(2.0) * rng.normal(size=(n, d)), k=args.k)
                for _ in range(args.reps)
            ])
            bias = est.mean() - truth
            print(f"| {d} | {n} | {truth:.4f} | {est.mean():.4f} | {bias:+.4f} | {bias / truth:+.1%} | {est.std(ddof=1):.4f} |")
    print(f"(computed in {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
