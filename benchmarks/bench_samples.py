"""Sample estimators against direct implementations and the anchors, side by side in one run.

Cases (each implementation runs in its own fresh subprocess, so peak memory is its own):

* MMD² (unbiased U-statistic, RBF, fixed σ = 3.0): n = m = 20 000, d = 10. ``divergences`` (blocked)
  against a direct NumPy implementation (three full n×n Gram matrices, formed one at a time) and
  the ``divergence`` package's ``maximum_mean_discrepancy`` (where it installs).
* energy distance: n = m = 20 000, d = 10, same three implementations (``divergence`` returns the
  square: its square root is compared).
* Sinkhorn, n = m = 2000, d = 2, ε = 0.1, exactly 200 log-domain iterations in both:
  ``divergences.samples.sinkhorn(debiased=False)`` against ``ot.dist`` + ``ot.sinkhorn2(method="sinkhorn_log")``.
* knn_kl (k = 5, the anchor's default; its k = 1 fails with an IndexError): n = m = 100 000, d = 5,
  against ``divergence.knn_kl_divergence``.

Time: wall clock of one call (after one warm-up call on a small input, so imports and JIT do not
count). Peak memory: ``tracemalloc`` peak of the call (NumPy and Python allocations; memory that
SciPy's KD-tree or numba allocate outside Python's allocator is not seen). Child processes run
under a 16 GiB address-space limit, so an implementation that needs more reports "out of memory"
instead of taking the machine down. Ratios are anchor / ours (> 1: ours is faster or smaller).

    python benchmarks/bench_samples.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

MMD_N, MMD_D, SIGMA = 20_000, 10, 3.0
SK_N, SK_EPS, SK_ITERS = 2000, 0.1, 200
KNN_N, KNN_D, KNN_K = 100_000, 5, 5


def _data(n, d, shift, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(shift, 1.0, size=(n, d))


# -- implementations ------------------------------------------------------------------------


def mmd_ours(x, y):
    from divergences.samples import mmd

    return mmd(x, y, bandwidth=SIGMA)


def mmd_direct(x, y):
    from scipy.spatial.distance import cdist

    def kernel_sum(a, b, drop_diagonal):
        k = np.exp(-cdist(a, b, "sqeuclidean") / (2 * SIGMA**2))
        return k.sum() - (np.trace(k) if drop_diagonal else 0.0)

    n, m = len(x), len(y)
    return (kernel_sum(x, x, True) / (n * (n - 1)) + kernel_sum(y, y, True) / (m * (m - 1))
            - 2 * kernel_sum(x, y, False) / (n * m))


def mmd_divergence(x, y):
    from divergence.ipms import maximum_mean_discrepancy

    return maximum_mean_discrepancy(x, y, bandwidth=SIGMA)


def energy_ours(x, y):
    from divergences.samples import energy

    return energy(x, y)


def energy_direct(x, y):
    from scipy.spatial.distance import cdist

    exy = cdist(x, y).mean()
    exx = cdist(x, x).mean()
    eyy = cdist(y, y).mean()
    return float(np.sqrt(2 * exy - exx - eyy))


def energy_divergence(x, y):
    from divergence.ipms import energy_distance

    return float(np.sqrt(energy_distance(x, y)))


def sinkhorn_ours(x, y):
    from divergences.samples import SinkhornConvergenceWarning, sinkhorn

    with warnings.catch_warnings():  # a fixed iteration count: the tolerance is unreachable on purpose
        warnings.simplefilter("ignore", SinkhornConvergenceWarning)
        return sinkhorn(x, y, epsilon=SK_EPS, debiased=False, max_iter=SK_ITERS, tol=1e-300, on_failure="warn")


def sinkhorn_pot(x, y):
    import ot

    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(ot.sinkhorn2(a, b, ot.dist(x, y), SK_EPS, method="sinkhorn_log", numItermax=SK_ITERS,
                                  stopThr=0.0))


def knn_ours(x, y):
    from divergences.samples import knn_kl

    return knn_kl(x, y, k=KNN_K)


def knn_divergence(x, y):
    from divergence.knn import knn_kl_divergence

    return knn_kl_divergence(x, y, k=KNN_K)


CASES = {
    "mmd": (lambda: _data(MMD_N, MMD_D, 0.1, 0), {"ours": mmd_ours, "numpy direct": mmd_direct,
                                                  "divergence pkg": mmd_divergence}),
    "energy": (lambda: _data(MMD_N, MMD_D, 0.1, 1), {"ours": energy_ours, "numpy direct": energy_direct,
                                                     "divergence pkg": energy_divergence}),
    "sinkhorn": (lambda: _data(SK_N, 2, 0.5, 2), {"ours": sinkhorn_ours, "POT": sinkhorn_pot}),
    "knn_kl": (lambda: _data(KNN_N, KNN_D, 0.3, 3), {"ours": knn_ours, "divergence pkg": knn_divergence}),
}
LABELS = {
    "mmd": f"MMD² U-stat RBF n={MMD_N} d={MMD_D}",
    "energy": f"energy n={MMD_N} d={MMD_D}",
    "sinkhorn": f"sinkhorn n={SK_N} d=2 eps={SK_EPS} {SK_ITERS} it",
    "knn_kl": f"knn_kl k={KNN_K} n={KNN_N} d={KNN_D}",
}


def _child(case: str, impl: str) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))
    make, impls = CASES[case]
    fn = impls[impl]
    try:
        small_x, small_y = (a[:200] for a in make())
        fn(small_x, small_y)  # warm-up: imports, JIT
        x, y = make()
        tracemalloc.start()
        start = time.perf_counter()
        value = fn(x, y)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(json.dumps({"time": elapsed, "peak": peak, "value": float(value)}))
    except MemoryError:
        print(json.dumps({"error": "out of memory (16 GiB limit)"}))
    except ImportError as exc:
        print(json.dumps({"error": f"unavailable ({exc.name})"}))


def _run(case: str, impl: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", case, impl], capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": f"failed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]}"}
    return json.loads(lines[-1])


def main() -> None:
    print("| case | implementation | time (s) | peak memory (MiB) | value | time ratio (impl/ours) | memory ratio (impl/ours) |")
    print("|---|---|---|---|---|---|---|")
    for case, (_, impls) in CASES.items():
        results = {impl: _run(case, impl) for impl in impls}
        ours = results["ours"]
        for impl, r in results.items():
            if "error" in r:
                print(f"| {LABELS[case]} | {impl} | – | – | – | {r['error']} | |")
                continue
            t_ratio = r["time"] / ours["time"] if "time" in ours else float("nan")
            m_ratio = r["peak"] / ours["peak"] if "peak" in ours and ours["peak"] else float("nan")
            print(f"| {LABELS[case]} | {impl} | {r['time']:.2f} | {r['peak'] / 2**20:.1f} | {r['value']:.6g} | "
                  f"{t_ratio:.2f} | {m_ratio:.1f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        main()
