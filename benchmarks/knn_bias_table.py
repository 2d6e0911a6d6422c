"""Bias and spread of ``divergences.samples.knn_kl`` against closed forms (the tables in docs/samples.md).

Cases (each with its exact KL):

* isotropic: P = N(0, I_d), Q = N(0.5·1, 2 I_d), d ∈ {1, 5, 10} (``divergences.gaussian.kl``);
* correlated: P = N(0, I_d), Q = N(0, Σ) with Σ = Toeplitz(0.6) (Σ_ij = 0.6^|i−j|), d ∈ {2, 10}
  (in 2-D: unit variances, ρ = 0.6);
* correlated and shifted: P = N(0, Σ), Q = N(0.5·1, 2Σ) with Σ = Toeplitz(0.6), d = 10;
* heavy-tailed: independent Cauchy coordinates, P = C(0, 1)², Q = C(1, 1) × C(0, 2), with
  KL(C(μ₁, γ₁)‖C(μ₂, γ₂)) = log(((γ₁ + γ₂)² + (μ₁ − μ₂)²) / (4γ₁γ₂)) per coordinate.

For n = m ∈ {100, 1000, 10⁴} and ``--reps`` independent sample pairs (seeded), each estimator's mean
relative bias and its spread (standard deviation over repetitions ÷ truth). Estimators: fixed k
(``--k``), ``whiten="y"``, ``whiten="pooled"``, ``estimator="adaptive"``, ``estimator="ensemble"`` (alone
and with ``whiten="y"``), ``correction="gaussian"``.
Run:

    python benchmarks/knn_bias_table.py [--reps 20] [--k 1] [--isotropic-only]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from divergences import gaussian
from divergences.samples import knn_kl


def toeplitz(d: int, rho: float) -> np.ndarray:
    i = np.arange(d)
    return rho ** np.abs(i[:, None] - i[None, :])


def cauchy_kl(m1: float, g1: float, m2: float, g2: float) -> float:
    return float(np.log(((g1 + g2) ** 2 + (m1 - m2) ** 2) / (4 * g1 * g2)))


def gaussian_case(name, m0, c0, m1, c1):
    l0, l1 = np.linalg.cholesky(c0), np.linalg.cholesky(c1)

    def draw(rng, n):
        d = len(m0)
        return m0 + rng.standard_normal((n, d)) @ l0.T, m1 + rng.standard_normal((n, d)) @ l1.T

    return name, len(m0), draw, float(gaussian.kl(m0, c0, m1, c1))


def cases(isotropic_only: bool):
    out = []
    for d in (1, 5, 10):
        out.append(gaussian_case(f"isotropic, d = {d}", np.zeros(d), np.eye(d), np.full(d, 0.5), 2 * np.eye(d)))
    if isotropic_only:
        return out
    for d in (2, 10):
        t = toeplitz(d, 0.6)
        out.append(gaussian_case(f"Q correlated Toeplitz(0.6), d = {d}", np.zeros(d), np.eye(d), np.zeros(d), t))
    t = toeplitz(10, 0.6)
    out.append(gaussian_case("both correlated, shifted, d = 10", np.zeros(10), t, np.full(10, 0.5), 2 * t))

    def cauchy(rng, n):
        x = rng.standard_cauchy((n, 2))
        y = rng.standard_cauchy((n, 2)) * np.array([1.0, 2.0]) + np.array([1.0, 0.0])
        return x, y

    out.append(("Cauchy (heavy tails), d = 2", 2, cauchy, cauchy_kl(0, 1, 1, 1) + cauchy_kl(0, 1, 0, 2)))
    return out


ESTIMATORS = {
    "fixed k": {},
    'whiten="y"': {"whiten": "y"},
    'whiten="pooled"': {"whiten": "pooled"},
    "adaptive": {"estimator": "adaptive"},
    "ensemble": {"estimator": "ensemble"},
    'ensemble, whiten="y"': {"estimator": "ensemble", "whiten": "y"},
    'correction="gaussian"': {"correction": "gaussian"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--isotropic-only", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"knn_kl relative bias (spread = std over reps / truth), k = {args.k}, {args.reps} repetitions "
          "(a third of them at n = 10⁴), seed 0")
    print("| case | true KL | n = m | " + " | ".join(ESTIMATORS) + " |")
    print("|---|---|---|" + "---|" * len(ESTIMATORS))
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for name, d, draw, truth in cases(args.isotropic_only):
        for n in sizes:
            if n <= d:
                continue
            reps = args.reps if n < 10_000 else max(3, args.reps // 3)
            est = {label: [] for label in ESTIMATORS}
            for r in range(reps):
                x, y = draw(rng, n)
                for label, options in ESTIMATORS.items():
                    est[label].append(knn_kl(x, y, k=args.k, seed=r, **options))
            cells = []
            for label in ESTIMATORS:
                v = np.array(est[label])
                cells.append(f"{(v.mean() - truth) / truth:+.1%} ± {v.std(ddof=1) / truth:.0%}")
            print(f"| {name} | {truth:.4f} | {n} | " + " | ".join(cells) + " |", flush=True)
    print(f"(computed in {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
