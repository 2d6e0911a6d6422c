"""Distillation losses at LLM vocabulary scale: time and peak memory against the anchors, side by side.

Table 1 (tokens × vocab logits, forward + backward, float32, CPU, generalized JSD β = 0.5):
  * ``gkd_direct``  the GKD formula written directly in PyTorch as TRL does (log-softmax both, mixture by
    logsumexp over a stacked tensor, two ``F.kl_div``), differentiated by autograd: the anchor;
  * ``floor``       the two log-softmax passes alone (forward only): a lower bound for any exact loss;
  * ``liger_formula`` Liger-Kernel's per-chunk JSD formula (``LigerFusedLinearJSDFunction.distillation_loss_fn``)
    applied to the whole logits with autograd (Liger's un-fused JSD is a Triton kernel, GPU only);
  * ``ours``        ``divergences.torch.divergence_loss(..., dv.spec("js", beta=0.5))``.
Table 1b: BD-KD's balanced KL with the entropy-gap gate: ``bdkd_direct`` (log-softmax both, entropies, gate,
both KLs, autograd: the anchor) against ``ours_bdkd`` (``balanced_kl_loss``, one chunked pass).
Table 2 (fused with the LM head: hidden states h (tokens × hidden), weight W (vocab × hidden)):
  * ``bare_matmuls`` the three unavoidable products h·Wᵀ, g·W, gᵀ·h: the anchor for time;
  * ``unfused``     logits = h·Wᵀ, then the GKD formula with autograd: the anchor for memory;
  * ``liger_fused`` Liger's ``LigerFusedLinearJSDLoss(compiled=False)`` (teacher given as hidden + weight, so it
    also forms the teacher logits: a fourth product);
  * ``ours_fused``  ``FusedLinearDivergenceLoss("js")`` with teacher logits given;
  * ``ours_fused_th`` the same with the teacher as hidden + weight (like-for-like with Liger).

Each method runs in two fresh subprocesses. Time: default allocator, one warm-up call, best of the timed
calls. Memory: one call, with glibc's mmap threshold fixed so that freed buffers leave the process; peak
extra memory is the rise of the peak resident set (VmHWM, reset through /proc/self/clear_refs) over the
resident set once the inputs exist (gradients cleared), so it includes the gradient buffers. In table 2
"working memory" subtracts the gradient buffers of h and W.

CUDA (when ``torch.cuda.is_available()``): more tables in the same run, float32 and bfloat16, timed by CUDA
events (best of 5 after a warm-up) with the peak of ``torch.cuda.max_memory_allocated``: the GKD formula
(anchor), ours, Liger-Kernel's Triton ``LigerJSD`` and TRL's ``GKDTrainer.generalized_jsd_loss`` on
4096 × 128256 logits; the fused LM head 4096 × 4096 × 128256: unfused (anchor), ours, Liger's
``LigerFusedLinearJSDLoss``. Missing packages are reported and skipped.

Table 3 (a shared machine, issue 22): the same loss beside other processes running multi-threaded torch
work. A *neighbour* is a process doing small matrix products and elementwise ops (256 × 256 products,
exp of 65 536 entries) on 2 intra-op threads, without pause. Conditions: ``quiet`` (no neighbour),
``shared`` (one neighbour), ``oversubscribed`` (one neighbour per core: load above twice the cores).
Methods, interleaved round by round (each round spawns every method once, in a fresh process: one warm-up
call, best of two timed calls; the table shows the median over the rounds): the naive GKD formula, Liger's
formula, ours, and ``ours_intraop``: ours with the blocks run on torch's intra-op threads in the calling
thread (the engine before issue 22, kept as a policy for this comparison); for the fused LM head: the bare
products, Liger's fused JSD, ours (teacher as hidden + weight, like Liger) and ``ours_fused_intraop``.
Ratios: ours ÷ naive and ours ÷ Liger per condition.

Run: ``python benchmarks/bench_distill.py`` (default shapes: 2048 × 32000; 1024 × 4096 × 32000; takes
minutes, more on a loaded machine). ``--small`` runs tiny shapes to check the script; ``--only shared``
runs table 3 alone (``shared-logits``, ``shared-fused``: one half of it), ``--only quiet`` tables 1–2 alone; ``--only cuda`` the CUDA tables alone (one short
run on a GPU machine); ``--rounds N`` sets table 3's rounds (default 3).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import divergences as dv

MB = 1 << 20


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _measure(run, repeats: int, clear) -> dict:
    """repeats == 0: peak memory of one call; otherwise the best time of ``repeats`` calls after a warm-up."""
    import gc

    if repeats == 0:
        clear()
        gc.collect()
        before = _rss_kb("VmRSS:")
        _reset_peak()
        run()
        return {"extra_mb": (_rss_kb("VmHWM:") - before) / 1024}
    run()  # warm-up
    times = []
    for _ in range(repeats):
        clear()
        gc.collect()
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return {"time": min(times)}


def _child(table: str, method: str, shape: list[int], repeats: int) -> dict:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    beta = 0.5

    def gkd(s_logits, t_logits):
        s = F.log_softmax(s_logits, -1)
        t = F.log_softmax(t_logits, -1)
        mix = torch.logsumexp(torch.stack([s + math.log(1 - beta), t + math.log(beta)]), dim=0)
        per = beta * F.kl_div(mix, t, reduction="none", log_target=True) + (1 - beta) * F.kl_div(
            mix, s, reduction="none", log_target=True)
        return per.sum() / s_logits.shape[0]

    if table == "logits":
        n, v = shape
        z = torch.randn(n, v, requires_grad=True)
        t = torch.randn(n, v)

        def step(loss_fn):
            def run():
                z.grad = None
                loss_fn().backward()
            return run

        if method == "gkd_direct":
            run = step(lambda: gkd(z, t))
        elif method == "floor":
            def run():
                with torch.no_grad():
                    F.log_softmax(z, -1)
                    F.log_softmax(t, -1)
        elif method == "liger_formula":
            from liger_kernel.chunked_loss.jsd_loss import LigerFusedLinearJSDFunction

            run = step(lambda: LigerFusedLinearJSDFunction.distillation_loss_fn(z, t, beta=beta) / n)
        elif method in ("ours", "ours_intraop"):
            from divergences.torch import DistillOptions, _parallel, divergence_loss

            if method == "ours_intraop":
                _parallel.set_policy("intra-op")
            run = step(lambda: divergence_loss(z, t, dv.spec("js", beta=beta)))
        elif method == "bdkd_direct":
            def bdkd():
                s, tt = F.log_softmax(z, -1), F.log_softmax(t, -1)
                ps, pt = s.exp(), tt.exp()
                gap = ((pt * tt).sum(-1) - (ps * s).sum(-1)).detach()
                w = torch.sigmoid(2.0 * gap)
                fwd = (pt * (tt - s)).sum(-1)
                rev = (ps * (s - tt)).sum(-1)
                return ((1 - w) * fwd + w * rev).mean()

            run = step(bdkd)
        elif method == "ours_bdkd":
            from divergences.torch import balanced_kl_loss

            run = step(lambda: balanced_kl_loss(z, t, sharpness=2.0))
        else:
            raise ValueError(method)
        return _measure(run, repeats, clear=lambda: setattr(z, "grad", None))

    n, hdim, v = shape
    h = torch.randn(n, hdim, requires_grad=True)
    w = (torch.randn(v, hdim) / math.sqrt(hdim)).requires_grad_()
    grads_mb = (h.numel() + w.numel()) * 4 / MB
    teacher_logits = torch.randn(n, v) * 2
    if method == "bare_matmuls":
        g = torch.randn(n, v)

        def run():
            logits = h.detach() @ w.detach().T
            gh = g @ w.detach()
            gw = g.T @ h.detach()
            del logits, gh, gw
    elif method == "unfused":
        def run():
            h.grad = w.grad = None
            gkd(h @ w.T, teacher_logits).backward()
    elif method in ("ours_fused", "ours_fused_th", "ours_fused_intraop"):
        from divergences.torch import DistillOptions, FusedLinearDivergenceLoss, TeacherHead, _parallel

        if method == "ours_fused_intraop":
            _parallel.set_policy("intra-op")
        loss_fn = FusedLinearDivergenceLoss(dv.spec("js", beta=beta), options=DistillOptions(reduction="batchmean"))
        if method == "ours_fused":
            def run():
                h.grad = w.grad = None
                loss_fn(h, w, teacher_logits).backward()
        else:
            th, tw = torch.randn(n, hdim), torch.randn(v, hdim) / math.sqrt(hdim)

            def run():
                h.grad = w.grad = None
                loss_fn(h, w, TeacherHead(th, tw)).backward()
    elif method == "liger_fused":
        from liger_kernel.chunked_loss import LigerFusedLinearJSDLoss

        th, tw = torch.randn(n, hdim), torch.randn(v, hdim) / math.sqrt(hdim)
        labels = torch.randint(0, v, (n,))
        loss_fn = LigerFusedLinearJSDLoss(weight_hard_loss=0.0, weight_soft_loss=1.0, beta=beta, compiled=False)

        def run():
            h.grad = w.grad = None
            loss_fn(h, w, th, tw, labels).backward()
    else:
        raise ValueError(method)
    def clear():
        h.grad = w.grad = None

    out = _measure(run, repeats, clear)
    out["grad_mb"] = 0.0 if method == "bare_matmuls" else grads_mb
    return out


def _spawn_one(table: str, method: str, shape: list[int], repeats: int) -> dict:
    env = dict(os.environ)
    if repeats == 0:  # memory: freed buffers must leave the process, so that the peak is the true peak
        env.update(MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    cmd = [sys.executable, __file__, "--child", table, method, json.dumps(shape), str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _spawn(table: str, method: str, shape: list[int], repeats: int) -> dict:
    """Time (default allocator, warm-up, best of ``repeats``) and memory (separate process, one call)."""
    timed = _spawn_one(table, method, shape, repeats)
    if "error" in timed:
        return timed
    return {**_spawn_one(table, method, shape, 0), **timed}


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


# ---------------------------------------------------------------------------------------------
# CUDA (when present): one short table against Liger-Kernel's Triton losses and TRL's GKD loss
# ---------------------------------------------------------------------------------------------


def _cuda_time_and_memory(run, repeats: int = 5) -> dict:
    """Best time of ``repeats`` calls after a warm-up (CUDA events) and the peak allocated memory of one call."""
    import torch

    run()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop) / 1000)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    run()
    torch.cuda.synchronize()
    return {"time": min(times), "extra_mb": (torch.cuda.max_memory_allocated() - base) / MB}


def _gkd_formula(beta: float):
    import torch
    import torch.nn.functional as F

    def gkd(s_logits, t_logits):
        s = F.log_softmax(s_logits.float(), -1)
        t = F.log_softmax(t_logits.float(), -1)
        mix = torch.logsumexp(torch.stack([s + math.log(1 - beta), t + math.log(beta)]), dim=0)
        per = beta * F.kl_div(mix, t, reduction="none", log_target=True) + (1 - beta) * F.kl_div(
            mix, s, reduction="none", log_target=True)
        return per.sum() / s_logits.shape[0]

    return gkd


def _cuda_print(title: str, anchor: str, methods: dict, clear) -> None:
    print(title)
    print(f"{'method':<18}{'time ms':>10}{'peak extra MB':>15}{'time / ' + anchor:>18}{'mem / ' + anchor:>17}")
    res = {}
    for m, fn in methods.items():
        def run(fn=fn):
            clear()
            fn().backward()
        try:
            res[m] = _cuda_time_and_memory(run)
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"{m:<18} failed: {exc}")
    base = res.get(anchor)
    for m, r in res.items():
        tr = r["time"] / base["time"] if base else float("nan")
        mr = r["extra_mb"] / base["extra_mb"] if base else float("nan")
        print(f"{m:<18}{r['time'] * 1e3:>10.2f}{r['extra_mb']:>15.1f}{tr:>18.3f}{mr:>17.3f}")


def _cuda_logits_table(n: int, v: int, dtype) -> None:
    import torch
    import torch.nn.functional as F

    from divergences.torch import divergence_loss

    beta, dev = 0.5, torch.device("cuda")
    gkd = _gkd_formula(beta)
    torch.manual_seed(0)
    z = torch.randn(n, v, device=dev, dtype=dtype, requires_grad=True)
    t = torch.randn(n, v, device=dev, dtype=dtype)
    methods = {"gkd_direct": lambda: gkd(z, t), "ours": lambda: divergence_loss(z, t, dv.spec("js", beta=beta))}
    try:
        from liger_kernel.transformers import LigerJSD

        liger_jsd = LigerJSD(beta=beta)
        methods["liger_triton_jsd"] = lambda: liger_jsd(F.log_softmax(z.float(), -1), F.log_softmax(t.float(), -1))
    except Exception as exc:  # noqa: BLE001
        print(f"  liger JSD unavailable: {exc}")
    try:
        from trl import GKDTrainer

        methods["trl_gkd"] = lambda: GKDTrainer.generalized_jsd_loss(z, t, beta=beta)
    except Exception as exc:  # noqa: BLE001
        print(f"  trl unavailable: {exc}")
    name = str(dtype).replace("torch.", "")
    _cuda_print(f"\nCUDA table 1: {n} × {v}, {name}, JSD β = 0.5, forward + backward", "gkd_direct", methods,
                lambda: setattr(z, "grad", None))


def _cuda_fused_table(n: int, hdim: int, v: int, dtype) -> None:
    import torch

    from divergences.torch import FusedLinearDivergenceLoss, TeacherHead

    beta, dev = 0.5, torch.device("cuda")
    gkd = _gkd_formula(beta)
    torch.manual_seed(0)
    h = torch.randn(n, hdim, device=dev, dtype=dtype, requires_grad=True)
    w = (torch.randn(v, hdim, device=dev, dtype=dtype) / math.sqrt(hdim)).requires_grad_()
    th = torch.randn(n, hdim, device=dev, dtype=dtype)
    tw = torch.randn(v, hdim, device=dev, dtype=dtype) / math.sqrt(hdim)
    labels = torch.randint(0, v, (n,), device=dev)
    ours = FusedLinearDivergenceLoss(dv.spec("js", beta=beta))
    methods = {
        "unfused": lambda: gkd(h @ w.T, th @ tw.T),
        "ours_fused_th": lambda: ours(h, w, TeacherHead(th, tw), labels=labels),
    }
    try:
        from liger_kernel.chunked_loss import LigerFusedLinearJSDLoss

        liger = LigerFusedLinearJSDLoss(weight_hard_loss=0.0, weight_soft_loss=1.0, beta=beta)
        methods["liger_fused"] = lambda: liger(h, w, th, tw, labels)
    except Exception as exc:  # noqa: BLE001
        print(f"  liger fused JSD unavailable: {exc}")

    def clear():
        h.grad = w.grad = None

    name = str(dtype).replace("torch.", "")
    _cuda_print(f"\nCUDA table 2: fused LM head {n} × {hdim} × {v}, {name}, JSD β = 0.5", "unfused", methods, clear)


def _cuda_tables(small: bool) -> None:
    import torch

    print(f"\nCUDA: {torch.cuda.get_device_name(0)}")
    for dtype in (torch.float32, torch.bfloat16):
        _cuda_logits_table(*((256, 4096) if small else (4096, 128256)), dtype)
        torch.cuda.empty_cache()
    for dtype in (torch.float32, torch.bfloat16):
        _cuda_fused_table(*((256, 256, 4096) if small else (4096, 4096, 128256)), dtype)
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# table 3: a shared machine (other processes running multi-threaded torch work)
# ---------------------------------------------------------------------------------------------


def _neighbour(threads: int) -> None:
    """Small products and elementwise ops on ``threads`` intra-op threads, forever (killed by the parent)."""
    import torch

    torch.set_num_threads(threads)
    a, b, x = torch.randn(256, 256), torch.randn(256, 256), torch.randn(1 << 16)
    parent = os.getppid()
    while os.getppid() == parent:  # an orphan (the benchmark was killed) stops
        for _ in range(50):
            a @ b
            x.exp()


def _start_neighbours(count: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, __file__, "--neighbour", "2"]) for _ in range(count)]
    time.sleep(1.0)  # let them start working
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else 0.5 * (xs[mid - 1] + xs[mid])


def _interleaved(table: str, methods: tuple[str, ...], shape: list[int], rounds: int) -> dict:
    """Median over ``rounds`` of each method's best-of-2 time; the methods alternate within each round."""
    times: dict[str, list[float]] = {m: [] for m in methods}
    errors: dict[str, str] = {}
    for _ in range(rounds):
        for m in methods:
            if m in errors:
                continue
            r = _spawn_one(table, m, shape, 2)
            if "error" in r:
                errors[m] = r["error"]
            else:
                times[m].append(r["time"])
    out = {m: {"time": _median(t)} for m, t in times.items() if t}
    out.update({m: {"error": e} for m, e in errors.items()})
    return out


def _shared_table(title: str, table: str, shape: list[int], methods: tuple[str, ...], naive: str, liger: str,
                  ours: tuple[str, ...], rounds: int) -> None:
    cores = os.cpu_count() or 1
    conditions = (("quiet", 0), ("shared (1 neighbour)", 1), (f"oversubscribed ({cores} neighbours)", cores))
    print(title)
    w = max(len(m) for m in methods) + 2
    rw = max(len(o) for o in ours) + 10
    head = "".join(f"{m:>{w}}" for m in methods)
    ratios = "".join(f"{o + ' / ' + lab:>{rw}}" for o in ours for lab in ("naive", "liger"))
    print(f"{'condition':<30}{head}{ratios}{'load':>7}")
    for name, count in conditions:
        procs = _start_neighbours(count)
        try:
            res = _interleaved(table, methods, shape, rounds)
            load = os.getloadavg()[0]
        finally:
            _stop(procs)
        cells = "".join(f"{_fmt(res[m].get('time'), '.3f'):>{w}}" for m in methods)
        rs = ""
        for o in ours:
            for base in (naive, liger):
                a, b = res[o].get("time"), res[base].get("time")
                rs += f"{_fmt(None if a is None or b is None else a / b, '.3f'):>{rw}}"
        print(f"{name:<30}{cells}{rs}{load:>7.1f}")
        for m, r in res.items():
            if "error" in r:
                print(f"  {m} failed: {r['error']}")


def _logits_table(shape: list[int], methods: tuple[str, ...], anchor: str, floor: str | None = None) -> None:
    """Run ``methods`` on (tokens × vocab) logits and print time and memory as ratios to the first one."""
    res = {m: _spawn("logits", m, shape, 3) for m in methods}
    base = res[methods[0]]
    extra = f"{'time / floor':>14}" if floor else ""
    print(f"{'method':<16}{'time s':>9}{'peak extra MB':>15}{'time / ' + anchor:>15}{'mem / ' + anchor:>14}{extra}")
    for m, r in res.items():
        if "error" in r:
            print(f"{m:<16} failed: {r['error']}")
            continue
        tail = f"{r['time'] / res[floor]['time']:>14.2f}" if floor else ""
        print(f"{m:<16}{r['time']:>9.3f}{r['extra_mb']:>15.1f}{r['time'] / base['time']:>15.3f}"
              f"{r['extra_mb'] / base['extra_mb']:>14.3f}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description="distillation-loss benchmark")
    parser.add_argument("--small", action="store_true", help="tiny shapes (checks the script)")
    parser.add_argument("--only", choices=("quiet", "shared", "shared-logits", "shared-fused", "cuda"),
                        help="run one group of tables")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of table 3 (methods interleaved)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--neighbour", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.neighbour:
        _neighbour(args.neighbour)
        return
    if args.child:
        table, method, shape, repeats = args.child
        print(json.dumps(_child(table, method, json.loads(shape), int(repeats))))
        return
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, CPU, float32")
    try:
        import importlib.metadata as md

        liger = f"liger-kernel {md.version('liger-kernel')}"
    except Exception:  # noqa: BLE001 - only for the header line
        liger = "liger-kernel not installed"
    print(liger)
    shape1 = [64, 1000] if args.small else [2048, 32000]
    shape2 = [128, 256, 4000] if args.small else [1024, 4096, 32000]

    if args.only in (None, "quiet"):
        print(f"\nTable 1: tokens × vocab = {shape1[0]} × {shape1[1]}, JSD β = 0.5, forward + backward")
        _logits_table(shape1, ("gkd_direct", "floor", "liger_formula", "ours"), "gkd", floor="floor")

        print(f"\nTable 1b: BD-KD balanced KL (entropy-gap gate, sharpness 2), {shape1[0]} × {shape1[1]}, "
              "forward + backward")
        _logits_table(shape1, ("bdkd_direct", "ours_bdkd"), "direct")

        print(f"\nTable 2: fused LM head, tokens × hidden × vocab = {shape2[0]} × {shape2[1]} × {shape2[2]}, "
              "JSD β = 0.5")
        methods = ("bare_matmuls", "unfused", "ours_fused", "ours_fused_th", "liger_fused")
        res = {m: _spawn("fused", m, shape2, 3) for m in methods}
        bare, unf = res["bare_matmuls"], res["unfused"]
        unf_work = unf["extra_mb"] - unf["grad_mb"]
        print(f"{'method':<15}{'time s':>9}{'working MB':>12}{'time / 3 products':>19}{'work / unfused':>16}")
        for m, r in res.items():
            if "error" in r:
                print(f"{m:<15} failed: {r['error']}")
                continue
            work = None if m == "bare_matmuls" else r["extra_mb"] - r["grad_mb"]
            ratio = None if work is None else work / unf_work
            print(f"{m:<15}{r['time']:>9.3f}{_fmt(work, '.1f'):>12}{r['time'] / bare['time']:>19.3f}"
                  f"{_fmt(ratio, '.3f'):>16}")

    if args.only in (None, "shared", "shared-logits", "shared-fused"):
        print(f"\nTable 3: a shared machine; time s, median of {args.rounds} rounds (methods interleaved)")
    if args.only in (None, "shared", "shared-logits"):
        _shared_table(f"3a: {shape1[0]} × {shape1[1]} logits, JSD β = 0.5, forward + backward", "logits", shape1,
                      ("gkd_direct", "liger_formula", "ours", "ours_intraop"), "gkd_direct", "liger_formula",
                      ("ours", "ours_intraop"), args.rounds)
    if args.only in (None, "shared", "shared-fused"):
        _shared_table(f"3b: fused LM head {shape2[0]} × {shape2[1]} × {shape2[2]} (teacher hidden + weight); "
                      "naive = the 3 bare products", "fused", shape2,
                      ("bare_matmuls", "liger_fused", "ours_fused_th", "ours_fused_intraop"), "bare_matmuls",
                      "liger_fused", ("ours_fused_th", "ours_fused_intraop"), args.rounds)

    if args.only in (None, "cuda"):
        if torch.cuda.is_available():
            _cuda_tables(args.small)
        else:
            print("\nGPU: not measured (no CUDA device here); on a CUDA machine this script adds the CUDA tables "
                  "(`--only cuda` runs them alone).")

if __name__ == "__main__":
    main()
