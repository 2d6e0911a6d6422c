"""Worker of the disagreement tests: every rank of a real gloo group makes a call that differs from its peers'.

Each case returns the error this rank got (type and message); the test checks that every rank got the same
error, naming the expected field. After the cases, a correct call must still work (the group is intact).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import traceback

import torch
import torch.distributed as dist

import divergences as dv
from divergences.torch import (
    DistillOptions,
    divergence_loss,
    fused_linear_divergence_loss,
    topk_divergence_loss,
    vocab_parallel_topk,
)

F64 = torch.float64
G = None  # the group, set in run


def _bounds(widths, rank):
    start = sum(widths[:rank])
    return start, start + widths[rank]


def _nan_if(x, cond):
    x = x.clone()
    if cond:
        x[0, 0, 0] = math.nan
    return x


def cases(rank: int, widths: list[int]) -> dict:
    """name → (expected field or text, a call that differs on some rank)."""
    V = sum(widths)
    lo, hi = _bounds(widths, rank)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(2, 4, V, generator=gen, dtype=F64)
    t = torch.randn(2, 4, V, generator=gen, dtype=F64)
    zs, ts = z[..., lo:hi].clone(), t[..., lo:hi].clone()
    labels = torch.tensor([[1, 2, -100, 3], [0, -100, 4, 4]])
    last = rank == len(widths) - 1
    h = torch.randn(2, 4, 5, generator=gen, dtype=F64)
    W = torch.randn(V, 5, generator=gen, dtype=F64)[lo:hi]
    lp, ix = t.log_softmax(-1).topk(3)

    def dense(**kw):
        fields = {f.name for f in dataclasses.fields(DistillOptions)}
        opts = {k: kw.pop(k) for k in list(kw) if k in fields}
        return lambda: divergence_loss(zs.clone().requires_grad_(), ts, "kl", process_group=G,
                                       options=DistillOptions(**opts), **kw)

    def bad_options(refuse: bool):
        # a bad options value reaches the call (a DistillOptions is checked when it is built, before the call)
        return lambda: divergence_loss(zs, ts, "kl", process_group=G,
                                       options={"temperature": -1.0} if refuse else None)  # type: ignore[arg-type]

    def dense_if(cond, a, b, **kw):
        return dense(**(a if cond else b), **kw)

    out = {
        "token shape": ("tokens", lambda: divergence_loss(zs[:, : 3 if last else 4], ts[:, : 3 if last else 4], "kl",
                                                           process_group=G)),
        "labels on one rank only": ("labels", dense_if(rank == 0, {"labels": labels}, {})),
        "labels that differ": ("labels", dense(labels=labels if not last else labels.masked_fill(labels == 4, 1))),
        "chunk_size": ("chunk_size", dense_if(last, {"chunk_size": 3}, {})),
        "temperature": ("temperature", dense_if(last, {"temperature": 2.0}, {"temperature": 1.0})),
        "reduction": ("reduction", dense_if(last, {"reduction": "sum"}, {})),
        "hard weight": ("hard_weight", dense(labels=labels, hard_weight=0.5 if last else 0.25)),
        "mask on one rank only": ("mask", dense_if(last, {"mask": labels != -100}, {})),
        "weights that differ": ("weights", dense(weights=torch.full((2, 4), 2.0 if last else 1.0, dtype=F64))),
        "num_items_in_batch": ("num_items_in_batch", dense(num_items_in_batch=7 if last else 8)),
        "dtypes": ("dtypes", lambda: divergence_loss(zs.float() if last else zs, ts.float() if last else ts, "kl",
                                                     process_group=G)),
        "student dtype only": ("dtypes", lambda: divergence_loss(zs.float() if last else zs, ts, "kl",
                                                                 process_group=G)),
        "divergence": ("divergence", lambda: divergence_loss(zs, ts, "js" if last else "kl", process_group=G)),
        "divergence parameter": ("divergence", lambda: divergence_loss(zs, ts, dv.spec("js", beta=0.3 if last else 0.5), process_group=G)),
        "options object": ("vocab_size", lambda: divergence_loss(
            zs, ts, "kl", process_group=G, options=DistillOptions(vocab_size=V if last else None))),
        "a rank's bad tensor": ("rank 1 refused the call: teacher_logits must be a torch.Tensor",
                                lambda: divergence_loss(zs, ts.tolist() if rank == 1 else ts, "kl", process_group=G)),
        "a rank's bad labels": (f"rank {len(widths) - 1} refused the call: labels must have shape (2, 4)",
                                dense(labels=labels[:, :3] if last else labels)),
        "a rank's bad option": ("rank 0 refused the call: options must be a DistillOptions",
                                bad_options(rank == 0)),
        "several ranks refuse": ("refused it too", bad_options(rank in (0, len(widths) - 1))),
        "a rank's unknown divergence": ("rank 1 refused the call", lambda: divergence_loss(
            zs, ts, "nope" if rank == 1 else "kl", process_group=G)),
        "different losses": ("loss", lambda: topk_divergence_loss(zs, lp, ix, "kl", process_group=G) if last
                             else divergence_loss(zs, ts, "kl", process_group=G)),
        "fused hidden states": ("replicated", lambda: fused_linear_divergence_loss(
            h + (1e-9 if last else 0.0), W, ts, "kl", process_group=G)),
        "fused bias on one rank": ("dtypes", lambda: fused_linear_divergence_loss(
            h, W, ts, "kl", bias=torch.zeros(hi - lo, dtype=F64) if last else None, process_group=G)),
        "top-k k": ("k", lambda: topk_divergence_loss(zs, lp[..., :2] if last else lp, ix[..., :2] if last else ix,
                                                      "kl", process_group=G)),
        "top-k teacher": ("teacher", lambda: topk_divergence_loss(zs, lp, ix.flip(-1) if last else ix, "kl",
                                                                  process_group=G)),
        "top-k from shards k": ("k", lambda: vocab_parallel_topk(ts, 2 if last else 3, G)),
        "top-k from shards, a bad k": ("refused the call: k must be a positive integer",
                                       lambda: vocab_parallel_topk(ts, 0 if rank == 0 else 3, G)),
        "NaN on one rank": ("holds NaN", lambda: divergence_loss(_nan_if(zs, last), ts, "kl", process_group=G)),
    }
    return out


def run(rank, world, port, widths, out_dir):
    global G
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    G = dist.group.WORLD
    try:
        got = {}
        for name, (expected, fn) in cases(rank, widths).items():
            try:
                fn()
                got[name] = {"expected": expected, "error": None}
            except Exception as exc:  # noqa: BLE001 - recorded for the test
                got[name] = {"expected": expected, "error": type(exc).__name__, "message": str(exc)}
        # the group still works, and a correct call gives the single-process value
        V = sum(widths)
        lo, hi = _bounds(widths, rank)
        gen = torch.Generator().manual_seed(1)
        z, t = torch.randn(3, V, generator=gen, dtype=F64), torch.randn(3, V, generator=gen, dtype=F64)
        val = divergence_loss(z[:, lo:hi], t[:, lo:hi], "js", process_group=G)
        ref = divergence_loss(z, t, "js")
        got["after"] = {"close": bool(torch.isclose(val, ref, rtol=1e-12))}
        with open(f"{out_dir}/rank{rank}.json", "w") as fh:
            json.dump(got, fh)
        # every rank done before any tears the group down: a rank that destroys it while a peer's last
        # collective is still in flight makes gloo abort the process at exit
        dist.barrier()
    except BaseException:
        with open(f"{out_dir}/rank{rank}.err", "w") as fh:
            fh.write(traceback.format_exc())
        raise
    finally:
        dist.destroy_process_group()
