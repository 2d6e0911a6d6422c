"""Calibration of the drift p-values under no drift: the share of p-values below α = 0.05.

Both tables are drawn from the same distribution, so a calibrated test rejects in about 5 % of the
draws (the target band is 2–8 %). Printed per sample size (rows per table) and column type:

* ``numeric``: normal values on the reference's 10 quantile bins;
* ``categorical``: 50 categories with Zipf-like shares (many rare ones; empty bins and smoothing).

Columns: the PSI p-value as ``compare`` reports it (χ² scaling where it is accurate, permutations
where it is not), the bare χ² scaling of PSI (what earlier versions reported), JS's p-value, and the
KS test on the values (numeric) or the χ² homogeneity test (categorical).

    python benchmarks/calibration_tabular.py [--draws 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def rejection_rates(kind: str, n: int, draws: int, seed: int = 0) -> dict[str, float]:
    from scipy.special import chdtrc

    from divergences.binning import bin_counts, quantile_edges
    from divergences.tabular.metrics import evaluate, resolve
    from divergences.tabular.stat_tests import chi2_homogeneity, ks_values

    rng = np.random.default_rng(seed)
    psi, js = resolve("psi"), resolve("js")
    shares = 1.0 / np.arange(1, 51) ** 1.1
    shares /= shares.sum()
    hits = {"psi": 0, "psi (χ² scaling only)": 0, "js": 0, "ks / χ² test": 0}
    for _ in range(draws):
        if kind == "numeric":
            a, b = rng.normal(size=n), rng.normal(size=n)
            edges = quantile_edges(a, 10)
            rc, cc = bin_counts(a, edges)[0], bin_counts(b, edges)[0]
            test_p = ks_values(*np.unique(b, return_counts=True), *np.unique(a, return_counts=True))[1]
        else:
            rc = np.bincount(rng.choice(50, n, p=shares), minlength=50)
            cc = np.bincount(rng.choice(50, n, p=shares), minlength=50)
            test_p = chi2_homogeneity(cc, rc)[1]
        e = evaluate(psi, cc, rc, smoothing="auto", null_smoothing="auto")
        hits["psi"] += e.p_value < 0.05
        kept = (cc + rc) > 0
        plain = float(chdtrc(kept.sum() - 1, n * n / (2 * n) * e.value))  # the bare χ² scaling of PSI
        hits["psi (χ² scaling only)"] += plain < 0.05
        hits["js"] += evaluate(js, cc, rc, smoothing="auto", null_smoothing="auto").p_value < 0.05
        hits["ks / χ² test"] += test_p < 0.05
    return {k: v / draws for k, v in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--sizes", default="50,100,115,200,500,2000")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"share of p-values < 0.05 under no drift ({args.draws} draws per row; calibrated: 0.02–0.08)")
    print(f"{'column':<12} {'rows/table':>10}  {'psi':>6} {'psi χ² only':>11} {'js':>6} {'ks / χ² test':>12}  seconds")
    for kind in ("numeric", "categorical"):
        for n in sizes:
            t = time.perf_counter()
            r = rejection_rates(kind, n, args.draws)
            print(f"{kind:<12} {n:>10}  {r['psi']:>6.3f} {r['psi (χ² scaling only)']:>11.3f} {r['js']:>6.3f} "
                  f"{r['ks / χ² test']:>12.3f}  {time.perf_counter() - t:7.1f}")


if __name__ == "__main__":
    main()
