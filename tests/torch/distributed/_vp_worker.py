"""Worker of the vocab-parallel tests: run in every rank of a real gloo group (spawned by the tests).

Each case builds the full tensors from a seed (the same on every rank), computes the single-process
loss and gradients, then the vocab-parallel ones from this rank's shard, and compares.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import traceback

import torch
import torch.distributed as dist

import divergences as dv
from divergences.torch import (
    DistillOptions,
    balanced_kl_loss,
    divergence_loss,
    fused_linear_divergence_loss,
    mixture,
    topk_divergence_loss,
    vocab_parallel_topk,
)

F64 = torch.float64


def _bounds(widths, rank):
    start = sum(widths[:rank])
    return start, start + widths[rank]


def _close(got, want, dtype, what):
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == F64 else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got.to(want.dtype), want, **tol, msg=lambda m: f"{what}: {m}")


def _options(kw):
    """Split keyword arguments into the loss's own and a DistillOptions of the option fields."""
    fields = {f.name for f in dataclasses.fields(DistillOptions)}
    return {k: v for k, v in kw.items() if k not in fields}, {k: v for k, v in kw.items() if k in fields}


def _dense_case(rank, widths, name, params, dtype, seed, **kw):
    V = sum(widths)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(2, 5, V, generator=g, dtype=dtype) * 1.5
    t = torch.randn(2, 5, V, generator=g, dtype=dtype) * 1.5
    if kw.pop("masked", False):
        z[0, 1, V - 1] = -math.inf
        t[:, :, 0] = -math.inf
        z[:, :, 0] = -math.inf
    lo, hi = _bounds(widths, rank)
    zf, tf = z.clone().requires_grad_(), t.clone().requires_grad_()
    call, opts = _options(kw)
    div = dv.spec(name, **params) if params else name
    ref = divergence_loss(zf, tf, div, **call, options=DistillOptions(**opts))
    ref.sum().backward()
    zs, ts = z[..., lo:hi].clone().requires_grad_(), t[..., lo:hi].clone().requires_grad_()
    got = divergence_loss(zs, ts, div, **call, options=DistillOptions(**opts), process_group=dist.group.WORLD)
    what = f"{name}{params} {kw} {dtype}"
    _close(got.detach(), ref.detach(), dtype, what + " loss")
    got.sum().backward()
    _close(zs.grad, zf.grad[..., lo:hi], dtype, what + " student grad")
    _close(ts.grad, tf.grad[..., lo:hi], dtype, what + " teacher grad")


def _balanced_case(rank, widths, seed, **kw):
    """BD-KD's balanced KL: the entropy-gap gate and both terms from the shards."""
    V = sum(widths)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(2, 5, V, generator=g, dtype=F64) * torch.linspace(0.3, 3.0, 5, dtype=F64).view(1, 5, 1)
    t = torch.randn(2, 5, V, generator=g, dtype=F64) * 1.5
    lo, hi = _bounds(widths, rank)
    zf = z.clone().requires_grad_()
    call, opts = _options(kw)
    ref = balanced_kl_loss(zf, t, **call, options=DistillOptions(**opts))
    ref.backward()
    zs = z[..., lo:hi].clone().requires_grad_()
    got = balanced_kl_loss(zs, t[..., lo:hi], **call, options=DistillOptions(**opts), process_group=dist.group.WORLD)
    _close(got.detach(), ref.detach(), F64, f"balanced {kw} loss")
    got.backward()
    _close(zs.grad, zf.grad[..., lo:hi], F64, f"balanced {kw} student grad")


def _fused_case(rank, widths, dtype, name="js", **kw):
    V, H = sum(widths), 6
    g = torch.Generator().manual_seed(3)
    h = torch.randn(7, H, generator=g, dtype=dtype)
    w = torch.randn(V, H, generator=g, dtype=dtype)
    b = torch.randn(V, generator=g, dtype=dtype)
    t = torch.randn(7, V, generator=g, dtype=dtype)
    labels = torch.tensor([0, 3, -100, V - 1, 2, 1, -100])
    lo, hi = _bounds(widths, rank)
    hf, wf, bf = h.clone().requires_grad_(), w.clone().requires_grad_(), b.clone().requires_grad_()
    params, opts = _options(kw)
    div = dv.spec(name, **params)
    options = DistillOptions(hard_weight=0.4, chunk_size=3, **opts)
    ref = fused_linear_divergence_loss(hf, wf, t, div, bias=bf, labels=labels, options=options)
    ref.sum().backward()
    hs, ws, bs = h.clone().requires_grad_(), w[lo:hi].clone().requires_grad_(), b[lo:hi].clone().requires_grad_()
    got = fused_linear_divergence_loss(hs, ws, t[:, lo:hi], div, bias=bs, labels=labels, options=options,
                                       process_group=dist.group.WORLD)
    _close(got.detach(), ref.detach(), dtype, f"fused {kw} loss")
    got.sum().backward()
    _close(ws.grad, wf.grad[lo:hi], dtype, "fused weight grad")
    _close(bs.grad, bf.grad[lo:hi], dtype, "fused bias grad")
    gh = hs.grad.clone()
    dist.all_reduce(gh)  # the column-parallel head's input gradient is summed over the group
    _close(gh, hf.grad, dtype, "fused hidden grad (summed over ranks)")


def _topk_case(rank, widths, name, params, dtype, k):
    V = sum(widths)
    g = torch.Generator().manual_seed(11)
    z = torch.randn(6, V, generator=g, dtype=dtype)
    t = torch.randn(6, V, generator=g, dtype=dtype) * 2
    lo, hi = _bounds(widths, rank)
    lp, ix = vocab_parallel_topk(t[:, lo:hi], k, dist.group.WORLD, temperature=1.5)
    rlp, rix = torch.log_softmax(t / 1.5, -1).topk(k)
    torch.testing.assert_close(lp, rlp)
    assert torch.equal(ix, rix), (ix, rix)
    zf = z.clone().requires_grad_()
    labels = torch.tensor([1, -100, 0, V - 1, 2, 3])
    ref = topk_divergence_loss(zf, rlp, rix, dv.spec(name, **params), labels=labels, options=DistillOptions(temperature=0.8, hard_weight=0.3))
    ref.backward()
    zs = z[:, lo:hi].clone().requires_grad_()
    got = topk_divergence_loss(zs, lp, ix, dv.spec(name, **params), labels=labels, process_group=dist.group.WORLD, options=DistillOptions(temperature=0.8, hard_weight=0.3))
    _close(got.detach(), ref.detach(), dtype, f"topk {name} k={k} loss")
    got.backward()
    _close(zs.grad, zf.grad[:, lo:hi], dtype, f"topk {name} k={k} grad")


def _dtensor_case(rank, world):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    mesh = init_device_mesh("cpu", (world,))
    g = torch.Generator().manual_seed(21)
    V = 4 * world + 1
    z = torch.randn(3, 4, V, generator=g, dtype=F64)
    t = torch.randn(3, 4, V, generator=g, dtype=F64)
    zd = distribute_tensor(z, mesh, [Shard(2)]).detach().requires_grad_()
    td = distribute_tensor(t, mesh, [Shard(2)])
    got = divergence_loss(zd, td, "reverse_kl", options=DistillOptions(temperature=1.2))  # the group is read from the mesh
    zf = z.clone().requires_grad_()
    ref = divergence_loss(zf, t, "reverse_kl", options=DistillOptions(temperature=1.2))
    _close(got.detach(), ref.detach(), F64, "DTensor loss")
    got.backward()
    ref.backward()
    _close(zd.grad.full_tensor(), zf.grad, F64, "DTensor grad")


def _expect_error(fn, match):
    try:
        fn()
    except ValueError as exc:
        assert match in str(exc), str(exc)
        return
    raise AssertionError(f"no ValueError ({match})")


def _bad_input(rank, widths):
    V = sum(widths)
    lo, hi = _bounds(widths, rank)
    z = torch.randn(4, V, dtype=F64)
    # shards that do not add up to the declared vocabulary
    _expect_error(lambda: divergence_loss(z[:, lo:hi], z[:, lo:hi], "kl", process_group=dist.group.WORLD,
                                          options=dv.torch.DistillOptions(vocab_size=V + 1)), "add up to")
    # ranks that disagree on the number of tokens
    n = 4 if rank == 0 else 3
    _expect_error(lambda: divergence_loss(z[:n, lo:hi], z[:n, lo:hi], "kl", process_group=dist.group.WORLD),
                  "disagree on tokens")
    # student and teacher shards of different widths on some rank
    tw = hi - lo + (1 if rank == 0 else 0)
    _expect_error(lambda: divergence_loss(z[:, lo:hi], torch.randn(4, tw, dtype=F64), "kl", process_group=dist.group.WORLD, options=DistillOptions(vocab_mismatch="crop")), "equal widths")
    # a NaN on one rank is an error on every rank (collective check)
    bad = z[:, lo:hi].clone()
    if rank == len(widths) - 1:
        bad[1, 0] = math.nan
    _expect_error(lambda: divergence_loss(bad, z[:, lo:hi], "kl", process_group=dist.group.WORLD), "NaN")
    # a row that is -inf on one shard only is fine; -inf on every shard is an error
    part = z[:, lo:hi].clone()
    part[2] = -math.inf
    _expect_error(lambda: divergence_loss(part, z[:, lo:hi], "kl", process_group=dist.group.WORLD), "all -inf")
    if rank == 0:
        part[2] = 0.0
    divergence_loss(part, z[:, lo:hi], "kl", process_group=dist.group.WORLD)


def run_cases(rank, world, port, widths, out_dir):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    try:
        torch.manual_seed(0)
        labels = torch.tensor([[3, -100, 1, 0, -100], [2, 2, 2, -100, 4]])
        weights = torch.linspace(0.5, 2.0, 10, dtype=F64).reshape(2, 5)
        for name in dv.available():
            params = {"alpha": 0.7} if name in ("alpha", "renyi") else {}
            _dense_case(rank, widths, name, params, F64, 1, temperature=1.3, labels=labels, weights=weights)
        for name, params in (("renyi", {"alpha": 2.0}), ("renyi", {"alpha": 0.2}), ("js", {"beta": 0.2}),
                             ("skew_kl", {"skew": 0.3}), ("renyi", {"alpha": 1.0})):
            _dense_case(rank, widths, name, params, F64, 2)
        for name in ("kl", "reverse_kl", "js", "tv", "cross_entropy", "bhattacharyya"):
            _dense_case(rank, widths, name, {}, F64, 3, masked=True)
        _dense_case(rank, widths, lambda t: (t - 1) ** 2 / 2, {}, F64, 4)  # a user generator (autograd)
        _dense_case(rank, widths, mixture({"kl": 0.5, "reverse_kl": 0.5}), {}, F64, 5)
        _dense_case(rank, widths, "cosine", {}, F64, 6)
        _balanced_case(rank, widths, 9, temperature=1.5)
        _balanced_case(rank, widths, 10, sharpness=2.0, reverse_when="student_more_confident")
        for red in ("sum", "batchmean", "none"):
            _dense_case(rank, widths, "js", {}, F64, 7, reduction=red, hard_weight=0.5, labels=labels, chunk_size=3)
        _dense_case(rank, widths, "js", {}, torch.float32, 8, temperature=2.0, t_squared=True, hard_weight=0.2,
                    labels=labels)
        _fused_case(rank, widths, F64)
        _fused_case(rank, widths, F64, name="renyi", alpha=1.5)
        _fused_case(rank, widths, F64, softcap=3.0, logit_scale=0.5)
        _fused_case(rank, widths, torch.float32)
        for name, params in (("kl", {}), ("reverse_kl", {}), ("js", {"beta": 0.3}), ("renyi", {"alpha": 0.5}),
                             ("cauchy_schwarz", {})):
            _topk_case(rank, widths, name, params, F64, 4)
        _topk_case(rank, widths, "kl", {}, F64, sum(widths))  # k = V
        _bad_input(rank, widths)
        _dtensor_case(rank, len(widths))
        with open(f"{out_dir}/rank{rank}.ok", "w") as fh:
            fh.write("ok")
        dist.barrier()  # every rank done before any tears the group down (gloo aborts on a torn-down peer)
    except BaseException:
        with open(f"{out_dir}/rank{rank}.err", "w") as fh:
            fh.write(traceback.format_exc())
        raise
    finally:
        dist.destroy_process_group()
