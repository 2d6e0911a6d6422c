"""Sample estimators against direct implementations and the anchors, side by side in one run.

Cases (each implementation runs in its own fresh subprocess, so peak memory is its own):

* MMD² (unbiased U-statistic, RBF, fixed σ = 3.0): n = m = 20 000, d = 10. ``divergences`` (blocked)
  against a direct NumPy implementation (three full n×n Gram matrices, formed one at a time) and
  the ``divergence`` package's ``maximum_mean_discrepancy`` (where it installs).
* energy distance: n = m = 20 000, d = 10, same three implementations (``divergence`` returns the
  square: its square root is compared).
* Entropic OT, n = m = 2000, d = 2, ε = 0.1, both solved to a marginal error of 1e-9 (matched accuracy, not a
  matched iteration count: our solver over-relaxes and finishes with Newton steps, so its iterations are not
  POT's): ``divergences.samples.sinkhorn(debiased=False, tol=1e-9)`` against ``ot.dist`` +
  ``ot.sinkhorn(method="sinkhorn_log", stopThr=1e-9)``. The same quantity is compared: POT's ``sinkhorn2`` returns
  the linear part ⟨π, C⟩ only, so the anchor's value is OT_ε = ⟨π, C⟩ + ε KL(π ‖ a⊗b) computed from its plan
  (that sum is timed with it; it costs ~1 % of the solve).
* knn_kl (k = 5, the anchor's default; its k = 1 fails with an IndexError): n = m = 100 000, d = 5,
  against ``divergence.knn_kl_divergence``.

Time: wall clock of one call (after one warm-up call on a small input, so imports and JIT do not
count). Peak memory: ``tracemalloc`` peak of the call (NumPy and Python allocations; memory that
SciPy's KD-tree or numba allocate outside Python's allocator is not seen). Child processes run
under a 16 GiB address-space limit, so an implementation that needs more reports "out of memory"
instead of taking the machine down. Ratios are anchor / ours (> 1: ours is faster or smaller).

    python benchmarks/bench_samples.py            # the NumPy table, then the torch tables
    python benchmarks/bench_samples.py --numpy [--only mmd,energy,sinkhorn,knn_kl]  # the NumPy table only
    python benchmarks/bench_samples.py --transport  # plan, unbalanced, entropic GW, barycenter against POT
    python benchmarks/bench_samples.py --torch [--sinkhorn-n 2000] [--kernel-n 5000] [--skip-sinkhorn] [--skip-kernels]
    python benchmarks/bench_samples.py --large [--large-n 50000] [--large-eps 1.0] [--float32] [--skip mmd,energy,sinkhorn]
    python benchmarks/bench_samples.py --shared [--repeats 20]

``--before SRC`` (any table but ``--shared``): each "ours" row is followed by the same call on a baseline
checkout's ``src`` (run with ``PYTHONPATH=SRC``, next to it, so before and after share the machine's state),
labelled "[before]".

``--shared``, the kernels on a shared machine: MMD² (RBF) and the energy distance, value + gradient,
float64, n = m ∈ {300, 1000, 3000}, d = 10, with 2 torch threads, timed (median of ``--repeats``)
alone and beside a neighbour process that runs small matrix products (64 × 64) on 2 torch threads,
as the time ratio beside ÷ alone; each with the thread policy of ``samples._threads`` (small problems and an
oversubscribed machine on one thread) and without it (``DIVERGENCES_THREADS=keep``), interleaved.

Torch tables (``--torch``; torch CPU, float64 unless stated, OMP threads as set by the environment):

* Sinkhorn divergence at ε = 0.01 and 0.05, 2-D and 10-D, n = m = ``--sinkhorn-n`` (2000): ours
  (``samples.sinkhorn`` on tensors with its defaults: debiased, ε-scaling ½, Newton steps after 50
  iterations at ε when Sinkhorn's rate is slow, tol 1e-6 on the L1 marginal error, "not converged"
  printed if a warning was raised; and the same with tol 1e-3, an accuracy closer to GeomLoss's), GeomLoss ``SamplesLoss("sinkhorn", p=2, blur=√(ε/2))`` ×2 (its cost is ‖·‖²/2; one
  update per ε level, scaling 0.5 and 0.9; no convergence test) and POT
  ``ot.sinkhorn2(method="sinkhorn_log", stopThr=1e-6, numItermax=SK_POT_ITER)`` (the linear part
  ⟨π, C⟩ of the plan, not debiased; its final marginal error is printed). Each value is compared with
  the exact W₂² from ``ot.emd2`` on the same points (that error includes the entropic bias of S_ε) and
  with the converged S_ε (ours at tol 1e-6: the number every debiased implementation estimates); the iteration counts are ours (OT(x, y) / all
  three problems; a Newton step counts as one), GeomLoss's number of ε levels, POT's.
* MMD² (RBF, σ = 3, biased, so GeomLoss's "gaussian" ×2 is the same number) and the energy distance,
  n = m = ``--kernel-n``, d = 10, value plus gradient w.r.t. x: ours (tiled), a direct torch version
  (full n×m matrices), GeomLoss ``backend="tensorized"``.
* Sinkhorn on a shared machine (``--torch``, after the tables above; ``--skip-shared`` leaves it out, ``--shared-n
  300,1000`` sets the sizes): the Sinkhorn divergence at ε = 0.05, 2-D, with 2 torch threads, quiet and beside a
  neighbour process that runs small matrix products (64 × 64) on 2 torch threads in a loop; ours with its thread
  policy (``samples._threads``: one thread for small problems or an oversubscribed machine), ours with the
  threads kept (``DIVERGENCES_THREADS=keep``), GeomLoss (scaling 0.9) and POT (``sinkhorn_log``, n ≤ 1000).
  Printed: time, peak resident growth, the ratio shared ÷ quiet per implementation, and the ratios of ours
  (policy on) to each other implementation, time and memory, quiet and shared.
* ``--large``, the memory case: MMD², energy and the Sinkhorn divergence (ε = ``--large-eps``), value
  plus gradient in x, n = m = ``--large-n`` (50 000) in 10-D, float64 unless ``--float32``: one n×m
  float64 matrix would take 18.6 GiB; the peak printed is the proof that none is held.

Torch memory: the process's peak resident set (VmHWM in /proc/self/status) after the call, the
resident set (VmRSS) just before it (after a warm-up), and their difference; tracemalloc does not
see torch's allocator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

MMD_N, MMD_D, SIGMA = 20_000, 10, 3.0
SK_N, SK_EPS, SK_TOL = 2000, 0.1, 1e-9
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
    from divergences.samples import sinkhorn

    return sinkhorn(x, y, epsilon=SK_EPS, debiased=False, tol=SK_TOL)  # raises if not converged


def sinkhorn_pot(x, y):
    import ot

    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    cost = ot.dist(x, y)
    plan = ot.sinkhorn(a, b, cost, SK_EPS, method="sinkhorn_log", numItermax=100_000, stopThr=SK_TOL)
    kept = plan > 0
    entropy_term = float(np.sum(plan[kept] * np.log(plan[kept] * (len(x) * len(y)))))  # KL(π ‖ a⊗b), a, b uniform
    return float(np.sum(plan * cost)) + SK_EPS * entropy_term


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
    "sinkhorn": f"entropic OT n={SK_N} d=2 eps={SK_EPS} to marginal error {SK_TOL:g}",
    "knn_kl": f"knn_kl k={KNN_K} n={KNN_N} d={KNN_D}",
}


# -- transport toolkit (NumPy, ``--transport``) ----------------------------------------------------

TR_N, TR_EPS, TR_RHO = 1000, 0.1, 1.0


def _tr_data():
    return _data(TR_N, 2, 0.5, 40)


def _tr_pot_plan(x, y):
    import ot

    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = ot.sinkhorn(a, b, ot.dist(x, y), TR_EPS, method="sinkhorn_log", stopThr=1e-6, numItermax=10_000)
    kl = float(np.sum(plan * np.log(np.maximum(plan, 1e-300) / np.outer(a, b))))
    return float(np.sum(plan * ot.dist(x, y))) + TR_EPS * kl  # the entropic value, as ours


def _tr_our_plan(x, y):
    from divergences.samples import sinkhorn_plan

    return sinkhorn_plan(x, y, epsilon=TR_EPS).value


def _tr_pot_unbalanced(x, y):
    import ot

    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    cost = ot.dist(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = ot.unbalanced.sinkhorn_unbalanced(a, b, cost, TR_EPS, TR_RHO, stopThr=1e-6, numItermax=10_000)

    def kl(m, n):
        return float(np.sum(m * np.log(np.maximum(m, 1e-300) / n) - m + n))

    return (float(np.sum(plan * cost)) + TR_EPS * kl(plan, np.outer(a, b)) + TR_RHO * kl(plan.sum(1), a)
            + TR_RHO * kl(plan.sum(0), b))


def _tr_our_unbalanced(x, y):
    from divergences.samples import unbalanced_sinkhorn

    return unbalanced_sinkhorn(x, y, epsilon=TR_EPS, rho=TR_RHO, debiased=False)


def _tr_pot_gw(x, y):
    import ot

    x, y = x[:300], y[:300, :1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(ot.gromov.entropic_gromov_wasserstein2(ot.dist(x, x), ot.dist(y, y), epsilon=1.0, max_iter=1000,
                                                            tol=1e-9))


def _tr_our_gw(x, y):
    from divergences.samples import gromov_wasserstein

    return gromov_wasserstein(x[:300], y[:300, :1], epsilon=1.0).value


def _tr_pot_barycenter(x, y):
    import ot

    measures = [x, y, x + 2.0]
    start = np.random.default_rng(0).normal(size=(200, 2))
    bary = ot.lp.free_support_barycenter(measures, [np.full(len(m), 1 / len(m)) for m in measures], start,
                                         stopThr=1e-12)
    return float(bary.sum())


def _tr_our_barycenter(x, y):
    from divergences.samples import wasserstein_barycenter

    start = np.random.default_rng(0).normal(size=(200, 2))
    return float(wasserstein_barycenter([x, y, x + 2.0], init=start, tol=1e-12).support.sum())


TRANSPORT_CASES = {
    f"plan n={TR_N} eps={TR_EPS}": (_tr_data, {"ours": _tr_our_plan, "POT sinkhorn_log": _tr_pot_plan}),
    f"unbalanced n={TR_N} eps={TR_EPS} rho={TR_RHO}": (_tr_data, {"ours": _tr_our_unbalanced,
                                                                  "POT sinkhorn_unbalanced": _tr_pot_unbalanced}),
    "entropic GW n=300 2-D vs 1-D eps=1": (_tr_data, {"ours": _tr_our_gw, "POT PGD": _tr_pot_gw}),
    "free-support barycenter 3 x 1000 -> 200": (_tr_data, {"ours": _tr_our_barycenter,
                                                            "POT": _tr_pot_barycenter}),
}


def main_transport() -> None:
    """``--transport``: the transport toolkit against POT (NumPy): time, peak memory (tracemalloc), value."""
    print("\n### Transport toolkit against POT (NumPy, one call each, fresh process)\n")
    print("| case | implementation | time (s) | peak memory (MiB) | value | ours ÷ impl, time | ours ÷ impl, memory |")
    print("|---|---|---|---|---|---|---|")
    for case, (_, impls) in TRANSPORT_CASES.items():
        results = {label: _run(case, impl, env) for label, impl, env in with_before(impls)}
        ours = results["ours"]
        for impl, r in results.items():
            if "error" in r:
                print(f"| {case} | {impl} | – | – | – | {r['error']} | |")
                continue
            t_ratio = ours["time"] / r["time"] if "time" in ours else float("nan")
            m_ratio = ours["peak"] / r["peak"] if "peak" in ours and r["peak"] else float("nan")
            print(f"| {case} | {impl} | {r['time']:.2f} | {r['peak'] / 2**20:.1f} | {r['value']:.9g} | "
                  f"{t_ratio:.2f} | {m_ratio:.2f} |")
        sys.stdout.flush()


# -- torch cases --------------------------------------------------------------------------------

SK_EPS_LIST, SK_DIMS, SK_POT_ITER = (0.05, 0.01), (2, 10), 1000
KERNEL_SIGMA = 3.0


def _torch_data(n, d, shift, seed, dtype="float64"):
    import torch

    x, y = _data(n, d, shift, seed)
    return torch.tensor(x, dtype=getattr(torch, dtype)), torch.tensor(y, dtype=getattr(torch, dtype))


def sk_ours(x, y, eps, tol=1e-6):
    import divergences.samples._torch_transport as tt
    from divergences.samples import SinkhornConvergenceWarning, sinkhorn

    counts, original = [], tt._potentials

    def counting(*args, **kwargs):
        out = original(*args, **kwargs)
        counts.append(out[2])
        return out

    tt._potentials = counting
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SinkhornConvergenceWarning)
            value = float(sinkhorn(x, y, epsilon=eps, on_failure="warn", tol=tol))  # the defaults but tol
    finally:
        tt._potentials = original
    note = "not converged" if caught else "converged"
    return value, f"{counts[0]} / {sum(counts)} ({note})"


def sk_geomloss(x, y, eps, scaling):
    from geomloss import SamplesLoss
    from geomloss._legacy.sinkhorn_divergence import epsilon_schedule, max_diameter

    blur = (eps / 2) ** 0.5
    value = 2 * float(SamplesLoss("sinkhorn", p=2, blur=blur, scaling=scaling, backend="tensorized")(x, y))
    levels = len(epsilon_schedule(2, max_diameter(x, y), blur, scaling))
    return value, f"{levels} levels"


def sk_pot(x, y, eps):
    import ot

    xn, yn = x.numpy(), y.numpy()
    a, b = np.full(len(xn), 1 / len(xn)), np.full(len(yn), 1 / len(yn))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, log = ot.sinkhorn2(a, b, ot.dist(xn, yn), eps, method="sinkhorn_log", numItermax=SK_POT_ITER,
                                  stopThr=1e-6, log=True)
    note = "converged" if log["err"] and log["err"][-1] < 1e-6 else f"not converged, err {log['err'][-1]:.1e}"
    return float(value), f"{log['niter']} ({note})"


def _with_grad(fn):
    def run(x, y):
        xg = x.clone().requires_grad_(True)
        value = fn(xg, y)
        value.backward()
        return float(value), ""

    return run


def kernel_impls(kind):
    import torch

    from divergences.samples import energy, mmd

    def ours(x, y):
        return mmd(x, y, bandwidth=KERNEL_SIGMA, unbiased=False) if kind == "mmd" else energy(x, y)

    def direct(x, y):
        def mean_k(a, b):
            d = torch.cdist(a, b)
            return torch.exp(-(d**2) / (2 * KERNEL_SIGMA**2)).mean() if kind == "mmd" else d.mean()

        v = mean_k(x, x) + mean_k(y, y) - 2 * mean_k(x, y)
        return v if kind == "mmd" else torch.sqrt(-v)

    def geom(x, y):
        from geomloss import SamplesLoss

        if kind == "mmd":
            return 2 * SamplesLoss("gaussian", blur=KERNEL_SIGMA, backend="tensorized")(x, y)
        return torch.sqrt(2 * SamplesLoss("energy", backend="tensorized")(x, y))

    return {"ours": _with_grad(ours), "torch direct": _with_grad(direct), "GeomLoss": _with_grad(geom)}


def sk_large(x, y, eps):
    """Sinkhorn divergence value + gradient in x, the defaults (tiled, tol 1e-6): the memory case."""
    from divergences.samples import sinkhorn

    xg = x.clone().requires_grad_(True)
    value = sinkhorn(xg, y, epsilon=eps)
    value.backward()
    return float(value), f"grad norm {float(xg.grad.norm()):.3g}"


def _torch_case(spec: dict):
    """(x, y) and the implementation function for one torch benchmark row."""
    kind = spec["kind"]
    if kind == "sinkhorn_large":
        x, y = _torch_data(spec["n"], 10, 0.1, 30, spec.get("dtype", "float64"))
        return x, y, lambda a, b: sk_large(a, b, spec["eps"])
    if kind == "sinkhorn":
        x, y = _torch_data(spec["n"], spec["d"], 0.5, 10 + spec["d"])
        eps, impl = spec["eps"], spec["impl"]
        fns = {"ours": lambda a, b: sk_ours(a, b, eps),
               "ours tol=1e-3": lambda a, b: sk_ours(a, b, eps, 1e-3),
               "GeomLoss s=0.5": lambda a, b: sk_geomloss(a, b, eps, 0.5),
               "GeomLoss s=0.9": lambda a, b: sk_geomloss(a, b, eps, 0.9),
               "POT sinkhorn_log": lambda a, b: sk_pot(a, b, eps)}
        return x, y, fns[impl]
    x, y = _torch_data(spec["n"], 10, 0.1, 20, spec.get("dtype", "float64"))
    return x, y, kernel_impls(kind)[spec["impl"]]


def _status_kib(field: str) -> int:
    """A field of /proc/self/status in KiB: VmRSS (resident now) or VmHWM (peak resident, "high water mark")."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _torch_child(spec: dict) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (20 << 30, 20 << 30))
    if "threads" in spec:
        import torch

        torch.set_num_threads(int(spec["threads"]))
    try:
        x, y, fn = _torch_case(spec)
        fn(x[:100], y[:100])  # warm-up
        before = _status_kib("VmRSS")
        start = time.perf_counter()
        value, info = fn(x, y)
        elapsed = time.perf_counter() - start
        hwm = _status_kib("VmHWM")
        print(json.dumps({"time": elapsed, "peak": max(hwm - before, 0) * 1024, "hwm": hwm * 1024,
                          "base": before * 1024, "value": value, "info": info}))
    except (MemoryError, RuntimeError) as exc:
        msg = "out of memory (20 GiB limit)" if "memory" in str(exc).lower() or isinstance(exc, MemoryError) else str(exc)
        print(json.dumps({"error": msg[:120]}))
    except ImportError as exc:
        print(json.dumps({"error": f"unavailable ({exc.name})"}))


def _run_torch(spec: dict, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--torch-child", json.dumps(spec)], capture_output=True, text=True,
                         env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": f"failed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]}"}
    return json.loads(lines[-1])


def _before_env() -> dict | None:
    """``--before SRC``: the environment that runs a baseline checkout's ``src`` (PYTHONPATH first)."""
    if "--before" not in sys.argv:
        return None
    src = os.path.abspath(sys.argv[sys.argv.index("--before") + 1])
    return dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))


def with_before(impls) -> list[tuple[str, str, dict | None]]:
    """(label, implementation, environment) rows: each "ours" implementation, then (with ``--before SRC``) the
    same implementation on the baseline source, run next to it, labelled "[before]"."""
    before = _before_env()
    rows = []
    for impl in impls:
        rows.append((impl, impl, None))
        if before is not None and impl.startswith("ours"):
            rows.append((f"{impl} [before]", impl, before))
    return rows


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


#: the neighbour of the shared-machine rows: small matrix products on 2 torch threads, forever (killed after)
SHARED_NEIGHBOUR = """
import torch
torch.set_num_threads(2)
a = torch.randn(64, 64) / 8
while True:
    a = torch.tanh(a @ a + 0.1)
"""
SHARED_EPS, SHARED_IMPLS = 0.05, ("ours", "ours threads kept", "GeomLoss s=0.9", "POT sinkhorn_log")


def sinkhorn_shared(sizes: list[int]) -> None:
    """The Sinkhorn divergence with 2 torch threads, quiet and beside a multi-threaded neighbour (see the notes)."""
    import os

    results: dict[tuple[str, int, str], dict] = {}
    for phase in ("quiet", "shared"):
        neighbour = subprocess.Popen([sys.executable, "-c", SHARED_NEIGHBOUR]) if phase == "shared" else None
        try:
            if neighbour is not None:
                time.sleep(2.0)  # let it start its loop
            for n in sizes:
                for label, impl, env in with_before(SHARED_IMPLS):
                    if impl.startswith("POT") and n > 1000:
                        continue
                    if impl == "ours threads kept":
                        env = dict(env or os.environ, DIVERGENCES_THREADS="keep")
                    spec = {"kind": "sinkhorn", "n": n, "d": 2, "eps": SHARED_EPS, "threads": 2,
                            "impl": "ours" if impl.startswith("ours") else impl}
                    results[(phase, n, label)] = _run_torch(spec, env)
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    print(f"\n### Sinkhorn divergence on a shared machine: ε = {SHARED_EPS}, 2-D, float64, 2 torch threads; "
          "beside a process running 64 × 64 matrix products on 2 threads\n")
    print("| n = m | implementation | quiet time (s) | shared time (s) | shared ÷ quiet | quiet RSS growth (MiB) | "
          "shared RSS growth (MiB) | ours ÷ impl, time quiet | ours ÷ impl, time shared | ours ÷ impl, memory quiet |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        ours = {phase: results.get((phase, n, "ours"), {}) for phase in ("quiet", "shared")}
        for impl, _, _ in with_before(SHARED_IMPLS):
            q, sh = results.get(("quiet", n, impl)), results.get(("shared", n, impl))
            if q is None or sh is None:
                continue
            if "error" in q or "error" in sh:
                print(f"| {n} | {impl} | {q.get('error', '')} | {sh.get('error', '')} | | | | | | |")
                continue

            def ratio(a, b):
                return f"{a / b:.2f}" if a and b else "–"

            print(f"| {n} | {impl} | {q['time']:.2f} | {sh['time']:.2f} | {sh['time'] / q['time']:.2f} | "
                  f"{q['peak'] / 2**20:.0f} | {sh['peak'] / 2**20:.0f} | "
                  f"{ratio(ours['quiet'].get('time'), q['time'])} | {ratio(ours['shared'].get('time'), sh['time'])} | "
                  f"{ratio(ours['quiet'].get('peak'), q['peak'])} |")
        sys.stdout.flush()


def main_large() -> None:
    """``--large``: MMD², energy and the Sinkhorn divergence, value + gradient, n = m = ``--large-n``, 10-D."""
    n, dtype = _arg("--large-n", 50_000), "float32" if "--float32" in sys.argv else "float64"
    eps = float(sys.argv[sys.argv.index("--large-eps") + 1]) if "--large-eps" in sys.argv else 1.0
    size = n * n * (4 if dtype == "float32" else 8) / 2**30
    print(f"\n### Memory case: value + gradient, n = m = {n}, d = 10, {dtype} (one n×m matrix: {size:.1f} GiB)\n")
    print("| case | time (s) | peak RSS VmHWM (MiB) | RSS before the call (MiB) | growth (MiB) | value | note |")
    print("|---|---|---|---|---|---|---|")
    rows = [("mmd", {"kind": "mmd", "impl": "ours"}), ("energy", {"kind": "energy", "impl": "ours"}),
            (f"sinkhorn eps={eps:g}", {"kind": "sinkhorn_large", "eps": eps})]
    skip = sys.argv[sys.argv.index("--skip") + 1].split(",") if "--skip" in sys.argv else []
    for label, spec in rows:
        if label.split()[0] in skip:
            continue
        r = _run_torch({**spec, "n": n, "dtype": dtype})
        if "error" in r:
            print(f"| {label} | – | – | – | – | – | {r['error']} |")
            continue
        print(f"| {label} | {r['time']:.1f} | {r['hwm'] / 2**20:.0f} | {r['base'] / 2**20:.0f} | "
              f"{r['peak'] / 2**20:.0f} | {r['value']:.8g} | {r['info']} |")
        sys.stdout.flush()


def main_torch() -> None:
    import ot

    n_sk, n_kernel = _arg("--sinkhorn-n", 2000), _arg("--kernel-n", 5000)
    dims = () if "--skip-sinkhorn" in sys.argv else SK_DIMS
    if dims:
        print(f"\n### Sinkhorn divergence, n = m = {n_sk}, against exact W2² (ot.emd2)\n")
        print("| d | ε | implementation | time (s) | peak RSS growth (MiB) | value | rel. error vs W2² | "
              "rel. error vs converged S_ε | iterations |")
        print("|---|---|---|---|---|---|---|---|---|")
    for d in dims:
        x, y = _torch_data(n_sk, d, 0.5, 10 + d)
        w22 = float(ot.emd2([], [], ot.dist(x.numpy(), y.numpy()), numItermax=10_000_000))
        for eps in SK_EPS_LIST:
            converged = None  # ours with the defaults (tol 1e-6): the S_ε every debiased value estimates
            for label, impl, env in with_before(("ours", "ours tol=1e-3", "GeomLoss s=0.5", "GeomLoss s=0.9",
                                                 "POT sinkhorn_log")):
                r = _run_torch({"kind": "sinkhorn", "n": n_sk, "d": d, "eps": eps, "impl": impl}, env)
                if "error" in r:
                    print(f"| {d} | {eps} | {label} | – | – | – | {r['error']} | | |")
                    continue
                if label == "ours":
                    converged = r["value"]
                gap = ("not debiased" if impl.startswith("POT") else "–" if converged is None
                       else f"{abs(r['value'] - converged) / converged:.1e}")
                print(f"| {d} | {eps} | {label} | {r['time']:.2f} | {r['peak'] / 2**20:.0f} | {r['value']:.9g} | "
                      f"{abs(r['value'] - w22) / w22:.2e} | {gap} | {r['info']} |")
                sys.stdout.flush()
    if "--skip-shared" not in sys.argv:
        sinkhorn_shared([int(v) for v in sys.argv[sys.argv.index("--shared-n") + 1].split(",")]
                        if "--shared-n" in sys.argv else [300, 1000])
    kernel_cases = (("mmd", n_kernel, "float64"), ("energy", n_kernel, "float64"))
    for kind, n, dtype in () if "--skip-kernels" in sys.argv else kernel_cases:
        impls = ("ours", "torch direct", "GeomLoss")
        full = 3 * n * n * (4 if dtype == "float32" else 8) / 2**30
        print(f"\n### {kind}, value + gradient, n = m = {n}, d = 10, {dtype} "
              f"(three full n×m matrices would take {full:.1f} GiB)\n")
        print("| implementation | time (s) | peak RSS growth (MiB) | value |")
        print("|---|---|---|---|")
        for label, impl, env in with_before(impls):
            r = _run_torch({"kind": kind, "n": n, "impl": impl, "dtype": dtype}, env)
            if "error" in r:
                print(f"| {label} | – | – | {r['error']} |")
                continue
            print(f"| {label} | {r['time']:.2f} | {r['peak'] / 2**20:.0f} | {r['value']:.8g} |")
            sys.stdout.flush()


def _child(case: str, impl: str) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))
    make, impls = CASES[case] if case in CASES else TRANSPORT_CASES[case]
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


def _run(case: str, impl: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", case, impl], capture_output=True, text=True, env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": f"failed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]}"}
    return json.loads(lines[-1])


def main() -> None:
    print("| case | implementation | time (s) | peak memory (MiB) | value | time ratio (impl/ours) | memory ratio (impl/ours) |")
    print("|---|---|---|---|---|---|---|")
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else list(CASES)
    for case, (_, impls) in CASES.items():
        if case not in only:
            continue
        results = {label: _run(case, impl, env) for label, impl, env in with_before(impls)}
        ours = results["ours"]
        for impl, r in results.items():
            if "error" in r:
                print(f"| {LABELS[case]} | {impl} | – | – | – | {r['error']} | |")
                continue
            t_ratio = r["time"] / ours["time"] if "time" in ours else float("nan")
            m_ratio = r["peak"] / ours["peak"] if "peak" in ours and ours["peak"] else float("nan")
            print(f"| {LABELS[case]} | {impl} | {r['time']:.2f} | {r['peak'] / 2**20:.1f} | {r['value']:.9g} | "
                  f"{t_ratio:.2f} | {m_ratio:.1f} |")
        sys.stdout.flush()


NEIGHBOUR = """
import torch
torch.set_num_threads(2)
a = torch.randn(64, 64)
while True:
    for _ in range(1000):
        a = torch.tanh(a @ a)
"""


def _time_kernel(kind: str, n: int, repeats: int) -> float:
    import torch

    from divergences.samples import energy, mmd

    x, y = _torch_data(n, 10, 0.1, 40)
    times = []
    for _ in range(repeats):
        xg = x.clone().requires_grad_(True)
        start = time.perf_counter()
        value = mmd(xg, y, bandwidth=KERNEL_SIGMA) if kind == "mmd" else energy(xg, y)
        value.backward()
        times.append(time.perf_counter() - start)
    del torch
    return float(np.median(times))


def main_shared() -> None:
    """``--shared``: the kernels alone and beside a multi-threaded neighbour, with and without the policy."""
    import torch

    torch.set_num_threads(2)
    repeats = _arg("--repeats", 20)
    policy = os.environ.get("DIVERGENCES_THREADS")
    print("\n### Kernels on a shared machine: value + gradient, d = 10, float64, 2 torch threads; "
          f"median of {repeats}\n")
    print("| statistic | n = m | thread policy | alone (ms) | beside the neighbour (ms) | ratio beside / alone |")
    print("|---|---|---|---|---|---|")
    for kind in ("mmd", "energy"):
        for n in (300, 1000, 3000):  # 300: one thread by the policy; 1000, 3000: parallel tiles
            reps = repeats if n < 3000 else max(3, repeats // 5)
            row = {}
            for phase in ("alone", "beside"):
                neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR]) if phase == "beside" else None
                try:
                    if neighbour is not None:
                        time.sleep(1.0)
                    for label in ("on", "off"):  # interleaved; the policy reads the variable at each call
                        if label == "off":
                            os.environ["DIVERGENCES_THREADS"] = "keep"
                        else:
                            os.environ.pop("DIVERGENCES_THREADS", None)
                        _time_kernel(kind, min(n, 200), 2)  # warm-up
                        row[(label, phase)] = _time_kernel(kind, n, reps)
                finally:
                    if policy is None:
                        os.environ.pop("DIVERGENCES_THREADS", None)
                    else:
                        os.environ["DIVERGENCES_THREADS"] = policy
                    if neighbour is not None:
                        neighbour.kill()
                        neighbour.wait()
            for label in ("on", "off"):
                alone, beside = row[(label, "alone")], row[(label, "beside")]
                print(f"| {kind} | {n} | {label} | {1e3 * alone:.1f} | {1e3 * beside:.1f} | {beside / alone:.2f} |")
            sys.stdout.flush()


if __name__ == "__main__":
    if "--help" in sys.argv or "-h" in sys.argv:
        print(__doc__)
        sys.exit(0)
    if "--shared" in sys.argv:
        main_shared()
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--torch-child":
        _torch_child(json.loads(sys.argv[2]))
    elif "--transport" in sys.argv:
        main_transport()
    elif "--large" in sys.argv:
        main_large()
    elif "--torch" in sys.argv:
        main_torch()
    elif "--numpy" in sys.argv:
        main()
    else:
        main()
        main_torch()
