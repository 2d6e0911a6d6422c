"""Coverage of the bootstrap intervals of ``divergences.samples.bootstrap`` (the table in docs/samples.md).

For each case a true value is known, ``--reps`` independent data sets are drawn, and each interval
method is scored by how often its nominal 95 % interval contains the truth:

* **PSI and JS between two 10-category samples** (N current draws from P, N reference draws from Q,
  P = current as in ``divergences.tabular``): the truth is the population value (``dv.jeffreys`` /
  ``dv.js`` of the probabilities), effect sizes PSI ∈ {0, 0.02, 0.1, 0.25}; the statistic is the
  plug-in value with the pseudo-count rule of ``tabular.compare`` (0.5 added to every bin of a
  replicate that has a bin empty on one side only). Beside the bootstrap methods, the delta-method
  interval that ``tabular.compare`` reports (``divergences.tabular.metrics.evaluate``, read only).
* **MMD² (RBF σ = 1; the unbiased U-statistic and the plug-in V-statistic) between 2-D normals** N(0, I) and N(δ e₁, I), δ ∈ {0, 0.3, 0.6}:
  the truth is the closed form (2/3)(1 − e^{−δ²/6}), checked against a large-sample ``mmd``.

All methods of one data set share the same bootstrap replicates (``n_resamples`` = ``--resamples``),
so differences between columns are differences between methods. Bootstrap resampling of points is
done by the library (``bootstrap`` with a vectorized statistic); the statistics are fast forms
checked against the library's own values at the observed data. Run (the docs' table):

    python benchmarks/coverage_table.py [--reps 200] [--mmd-reps 100] [--mmd-sizes 100,300,1000] [--resamples 999]
        [--blas-threads N] [--skip categorical|mmd] [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import brentq

import divergences as dv
from divergences.samples import bootstrap, mmd
from divergences.samples.resampling import BOOTSTRAP_METHODS, _interval

K = 10
REFERENCE = np.linspace(1.0, 2.0, K) / np.linspace(1.0, 2.0, K).sum()  # Q: shares from 0.067 to 0.133
DIRECTION = np.linspace(-1.0, 1.0, K)


def tilted(psi: float) -> np.ndarray:
    """P = Q·e^{tv}/Z with t chosen so that PSI(P, Q) = psi."""
    if psi == 0:
        return REFERENCE.copy()

    def dist(t: float) -> np.ndarray:
        w = REFERENCE * np.exp(t * DIRECTION)
        return w / w.sum()

    t = brentq(lambda t: float(dv.jeffreys(dist(t), REFERENCE)) - psi, 0.0, 10.0)
    return dist(t)


def _counts(labels: np.ndarray, k: int) -> np.ndarray:
    """Per-row category counts of an integer label array of shape (B, n)."""
    rows = labels.shape[0]
    flat = labels + (np.arange(rows)[:, None] * k)
    return np.bincount(flat.ravel(), minlength=rows * k).reshape(rows, k).astype(np.float64)


def _shares(c: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shares with tabular's "auto" pseudo-count (0.5 on kept bins of a row with a one-sided empty bin)."""
    kept = (c + r) > 0
    one_sided = (((c == 0) | (r == 0)) & kept).any(axis=1, keepdims=True)
    pseudo = np.where(kept & one_sided, 0.5, 0.0)
    c, r = np.where(kept, c + pseudo, 0.0), np.where(kept, r + pseudo, 0.0)
    return c / c.sum(axis=1, keepdims=True), r / r.sum(axis=1, keepdims=True), kept


def psi_statistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Plug-in PSI = Σ (p − q) log(p/q) of label samples x (current) and y (reference), batched (B, n)."""
    p, q, kept = _shares(_counts(x, K), _counts(y, K))
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(kept, (p - q) * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=1)


def js_statistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Plug-in JS(P‖Q) (nats) of label samples, batched (B, n)."""
    p, q, kept = _shares(_counts(x, K), _counts(y, K))
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        tp = np.where(p > 0, p * (np.log(p) - np.log(m)), 0.0)
        tq = np.where(q > 0, q * (np.log(q) - np.log(m)), 0.0)
    return 0.5 * np.where(kept, tp + tq, 0.0).sum(axis=1)


class MMDByIndex:
    """MMD² (RBF, σ = 1; U- or V-statistic) of the pooled points, evaluated on index samples (B, n)
    through the kernel matrix: resampling indices is resampling points, a replicate a quadratic form."""

    def __init__(self, x: np.ndarray, y: np.ndarray, unbiased: bool) -> None:
        pooled = np.concatenate([x, y])
        sq = (pooled**2).sum(1)
        d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * pooled @ pooled.T, 0.0)
        kern = np.exp(-0.5 * d2)
        self.n, self.unbiased = len(x), unbiased
        self.kxx, self.kyy, self.kxy = kern[: self.n, : self.n], kern[self.n :, self.n :], kern[: self.n, self.n :]

    def __call__(self, xi: np.ndarray, yi: np.ndarray) -> np.ndarray:
        wx = _counts(xi.astype(np.intp), self.n)
        wy = _counts(yi.astype(np.intp) - self.n, len(self.kyy))
        n, m = xi.shape[1], yi.shape[1]
        kx = np.einsum("bi,bi->b", wx @ self.kxx, wx)
        ky = np.einsum("bi,bi->b", wy @ self.kyy, wy)
        kxy = np.einsum("bi,bi->b", wx @ self.kxy, wy)
        if self.unbiased:  # a resample's i = j pairs are its n diagonal terms k(x, x) = 1
            return (kx - n) / (n * (n - 1)) + (ky - m) / (m * (m - 1)) - 2 * kxy / (n * m)
        return kx / n**2 + ky / m**2 - 2 * kxy / (n * m)


def mmd_truth(delta: float) -> float:
    """MMD² between N(0, I₂) and N(δe₁, I₂), RBF σ = 1: E k(X,X') = 1/3, E k(X,Y) = e^{−δ²/6}/3."""
    return 2.0 / 3.0 * (1.0 - np.exp(-(delta**2) / 6.0))


def _score(results: dict[str, list[bool]], method: str, low: float, high: float, truth: float) -> None:
    results.setdefault(method, []).append(bool(low <= truth <= high))


def _all_intervals(res, results, truth):
    for method in BOOTSTRAP_METHODS:
        if method == "bca":
            lo, hi = res.low, res.high
        else:
            lo, hi = _interval(method, res.distribution, res.value, 0.95)
        _score(results, method, lo, hi, truth)


def categorical_rows(sizes, psis, reps, resamples, rng):
    from divergences.tabular.metrics import evaluate, resolve

    rows = []
    for psi in psis:
        p = tilted(psi)
        truths = {"PSI": float(dv.jeffreys(p, REFERENCE)), "JS": float(dv.js(p, REFERENCE))}
        for n in sizes:
            results = {"PSI": {}, "JS": {}}
            for _ in range(reps):
                x, y = rng.choice(K, size=n, p=p), rng.choice(K, size=n, p=REFERENCE)
                cx, cy = np.bincount(x, minlength=K), np.bincount(y, minlength=K)
                for name, stat in (("PSI", psi_statistic), ("JS", js_statistic)):
                    seed = int(rng.integers(2**63))
                    res = bootstrap(x, y, stat, resamples, seed=seed, method="bca", vectorized=True)
                    delta = evaluate(resolve(name.lower()), cx, cy)
                    assert abs(delta.value - res.value) <= 1e-9 * max(1.0, delta.value), (delta.value, res.value)
                    _all_intervals(res, results[name], truths[name])
                    _score(results[name], "delta", delta.ci_low, delta.ci_high, truths[name])
            for name in ("PSI", "JS"):
                rows.append((name, psi, truths[name], n, results[name]))
                _print_row(rows[-1])
    return rows


def mmd_rows(sizes, deltas, reps, resamples, rng):
    rows = []
    for unbiased in (True, False):
        name = "MMD² (U)" if unbiased else "MMD² (V)"
        for delta in deltas:
            truth = mmd_truth(delta)
            for n in sizes:
                results: dict[str, list[bool]] = {}
                for _ in range(reps):
                    x = rng.normal(size=(n, 2))
                    y = rng.normal(size=(n, 2)) + np.array([delta, 0.0])
                    stat = MMDByIndex(x, y, unbiased)
                    xi, yi = np.arange(n), np.arange(n, 2 * n)
                    res = bootstrap(xi, yi, stat, resamples, seed=int(rng.integers(2**63)), method="bca",
                                    vectorized=True)
                    assert abs(res.value - float(mmd(x, y, bandwidth=1.0, unbiased=unbiased))) < 1e-10
                    _all_intervals(res, results, truth)
                rows.append((name, delta, truth, n, results))
                _print_row(rows[-1])
    return rows


HEADER = "| statistic | effect | truth | N = M | " + " | ".join(list(BOOTSTRAP_METHODS) + ["delta"]) + " |"


def _print_row(row) -> None:
    name, effect, truth, n, results = row
    effect_txt = f"δ = {effect:g}" if name.startswith("MMD") else f"PSI {effect:g}"
    cells = [f"{100 * np.mean(results[m]):.1f}" if m in results else "–" for m in list(BOOTSTRAP_METHODS) + ["delta"]]
    print(f"| {name} | {effect_txt} | {truth:.4g} | {n} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=999)
    parser.add_argument("--mmd-reps", type=int, default=100)
    parser.add_argument("--mmd-sizes", default="100,300,1000")
    parser.add_argument("--blas-threads", type=int, default=0, help="limit BLAS threads (0: no limit)")
    parser.add_argument("--quick", action="store_true", help="fewer cases (a smoke run)")
    parser.add_argument("--skip", default="", help="comma-separated: categorical, mmd")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sizes = (100, 1000) if args.quick else (100, 300, 1000, 3000, 10_000)
    psis = (0.0, 0.1) if args.quick else (0.0, 0.02, 0.1, 0.25)
    mmd_sizes = (100,) if args.quick else tuple(int(v) for v in args.mmd_sizes.split(","))
    deltas = (0.0, 0.6) if args.quick else (0.0, 0.3, 0.6)
    skip = set(filter(None, args.skip.split(",")))
    big = np.random.default_rng(1)
    for delta in deltas:  # the closed form against a large sample (4000 points each)
        est = float(mmd(big.normal(size=(4000, 2)), big.normal(size=(4000, 2)) + [delta, 0.0], bandwidth=1.0))
        assert abs(est - mmd_truth(delta)) < 0.01, (delta, est, mmd_truth(delta))
    print(f"coverage (%) of nominal 95 % intervals, {args.reps} data sets per row ({args.mmd_reps} for MMD), "
          f"{args.resamples} resamples, "
          "seed 0; methods as in divergences.samples.bootstrap, 'delta' = tabular.compare's delta method")
    print(HEADER)
    print("|" + "---|" * (4 + len(BOOTSTRAP_METHODS) + 1))
    start = time.perf_counter()
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads)
    if "categorical" not in skip:
        categorical_rows(sizes, psis, args.reps, args.resamples, rng)
    if "mmd" not in skip:
        mmd_rows(mmd_sizes, deltas, args.mmd_reps, args.resamples, rng)
    print(f"(computed in {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
