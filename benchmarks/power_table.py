"""Size and power of the two-sample and independence tests against hyppo, side by side (docs/samples.md).

For each case and n, ``--reps`` independent data sets (seeded); each test's rejection rate at
α = 0.05 (the size on the null rows, the power elsewhere) and its mean time per call. Every
permutation test uses ``--permutations`` permutations (ours and hyppo's ``reps``).

Two-sample (x: n points, y: n points, d = 2): null N(0, I) vs N(0, I); mean shift N(0, I) vs
N(0.4 e₁, I); scale N(0, I) vs N(0, 1.4² I). Ours: ``mmd_test`` (median bandwidth), ``mmd_test``
(``bandwidth="power"``, split), ``mmd_agg_test``, ``block_mmd_test``, ``linear_mmd_test``; hyppo's
``MMD`` (Gaussian kernel, its median bandwidth) and ``Energy``, both with permutations.
alibi-detect's ``MMDDrift`` needs TensorFlow or a torch backend and is not run here.

Independence (n pairs): null x, y independent N(0, 1); linear y = 0.3x + ε; quadratic y = x² + ε;
sine y = sin(3x) + ε, ε ~ N(0, 1). Ours: ``dcov_test``, ``hsic_test`` (permutation and gamma); hyppo's
``Dcorr`` and ``Hsic`` (permutation, ``auto=False``). Times exclude a warm-up call per method.

    python benchmarks/power_table.py [--reps 100] [--permutations 199] [--sizes 50,100,200]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from divergences.samples import (
    block_mmd_test,
    dcov_test,
    hsic_test,
    linear_mmd_test,
    mmd_agg_test,
    mmd_test,
)

ALPHA = 0.05


def two_sample_methods(b: int):
    out = {
        "ours mmd (median)": lambda x, y, r: mmd_test(x, y, n_permutations=b, seed=r).pvalue,
        "ours mmd (power split)": lambda x, y, r: mmd_test(x, y, "power", n_permutations=b, seed=r).pvalue,
        "ours mmd_agg": lambda x, y, r: mmd_agg_test(x, y, n_permutations=b, seed=r).pvalue,
        "ours block": lambda x, y, r: block_mmd_test(x, y).pvalue,
        "ours linear": lambda x, y, r: linear_mmd_test(x, y).pvalue,
    }
    try:
        from hyppo.ksample import MMD, Energy

        out["hyppo MMD"] = lambda x, y, r: MMD(compute_kernel="gaussian").test(x, y, reps=b, workers=1,
                                                                                random_state=int(r.integers(2**31)))[1]
        out["hyppo Energy"] = lambda x, y, r: Energy().test(x, y, reps=b, workers=1,
                                                            random_state=int(r.integers(2**31)))[1]
    except ImportError:
        print("(hyppo is not installed: its columns are left out)")
    return out


def independence_methods(b: int):
    out = {
        "ours dcov": lambda x, y, r: dcov_test(x, y, b, seed=r).pvalue,
        "ours hsic (perm.)": lambda x, y, r: hsic_test(x, y, n_permutations=b, seed=r).pvalue,
        "ours hsic (gamma)": lambda x, y, r: hsic_test(x, y, method="gamma").pvalue,
    }
    try:
        from hyppo.independence import Dcorr, Hsic

        # auto=False: hyppo's permutation test (its default above n = 20 is a chi-square approximation)
        out["hyppo Dcorr"] = lambda x, y, r: Dcorr().test(x, y, reps=b, workers=1, auto=False,
                                                          random_state=int(r.integers(2**31)))[1]
        out["hyppo Hsic"] = lambda x, y, r: Hsic().test(x, y, reps=b, workers=1, auto=False,
                                                        random_state=int(r.integers(2**31)))[1]
    except ImportError:
        pass
    return out


TWO_SAMPLE = {
    "null": lambda rng, n: (rng.normal(size=(n, 2)), rng.normal(size=(n, 2))),
    "mean shift 0.4": lambda rng, n: (rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + np.array([0.4, 0.0])),
    "scale 1.4": lambda rng, n: (rng.normal(size=(n, 2)), 1.4 * rng.normal(size=(n, 2))),
}


def _indep(fn):
    def draw(rng, n):
        x = rng.normal(size=(n, 1))
        return x, fn(x) + rng.normal(size=(n, 1))

    return draw


INDEPENDENCE = {
    "null": lambda rng, n: (rng.normal(size=(n, 1)), rng.normal(size=(n, 1))),
    "linear 0.3": _indep(lambda x: 0.3 * x),
    "quadratic": _indep(lambda x: x**2),
    "sine": _indep(lambda x: np.sin(3 * x)),
}


def run(title, cases, methods, sizes, reps):
    names = list(methods)
    print(f"\n### {title}: rejection rate at α = 0.05 (%), mean time per call (ms)\n")
    print("| case | n | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    rng = np.random.default_rng(0)
    warm = np.random.default_rng(1)
    for name in names:  # warm-up: imports and numba compilation do not count
        methods[name](*next(iter(cases.values()))(warm, 30), warm)
    for case, draw in cases.items():
        for n in sizes:
            hits = dict.fromkeys(names, 0)
            spent = dict.fromkeys(names, 0.0)
            for _ in range(reps):
                x, y = draw(rng, n)
                for name in names:  # interleaved: every method sees the same data sets
                    start = time.perf_counter()
                    p = methods[name](x, y, np.random.default_rng(rng.integers(2**63)))
                    spent[name] += time.perf_counter() - start
                    hits[name] += p <= ALPHA
            cells = [f"{100 * hits[m] / reps:.0f} ({1e3 * spent[m] / reps:.0f} ms)" for m in names]
            print(f"| {case} | {n} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--permutations", type=int, default=199)
    parser.add_argument("--sizes", default="50,100,200")
    parser.add_argument("--skip", default="", help="comma-separated: two-sample, independence")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    warnings.filterwarnings("ignore")
    print(f"{args.reps} data sets per row, {args.permutations} permutations, seed 0")
    start = time.perf_counter()
    if "two-sample" not in skip:
        run("Two-sample tests, d = 2", TWO_SAMPLE, two_sample_methods(args.permutations), sizes, args.reps)
    if "independence" not in skip:
        run("Independence tests", INDEPENDENCE, independence_methods(args.permutations), sizes, args.reps)
    print(f"\n(computed in {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
