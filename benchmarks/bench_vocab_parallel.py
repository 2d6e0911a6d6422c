"""Vocab-parallel losses: bytes each rank hands to the collectives per token, beside Megatron's recipe.

Two gloo ranks on 127.0.0.1 (CPU), each holding half of the vocabulary. ``torch.distributed.all_reduce``
and ``all_gather`` are wrapped to count the payload (elements × element size of the tensors passed,
per rank; a ring all-reduce puts about 2·(w−1)/w times the payload on the wire) and the number of
calls, over one forward + backward of each loss. The anchor is Megatron-LM's vocab-parallel
cross-entropy recipe (written here from its description: all-reduce MAX of the row maximum, then one
all-reduce SUM of the concatenated (target logit, Σ exp) pair), and "gather" is what collecting the full
logits of one tensor would cost (V_other × 4 bytes per token).

Run: ``python benchmarks/bench_vocab_parallel.py`` (``--tokens``, ``--vocab`` to change the shape).
The bytes per token do not depend on the vocabulary; the number of calls grows with the chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile

import divergences as dv


def _megatron_ce(logits_shard, target, offset, group):
    """Megatron-style vocab-parallel cross-entropy (forward only, as counted here)."""
    import torch
    import torch.distributed as dist

    m = logits_shard.max(dim=-1).values
    dist.all_reduce(m, op=dist.ReduceOp.MAX, group=group)
    z = logits_shard - m.unsqueeze(-1)
    local = target - offset
    inside = (local >= 0) & (local < z.shape[-1])
    picked = z.gather(-1, local.clamp(0, z.shape[-1] - 1).unsqueeze(-1)).squeeze(-1)
    pair = torch.stack([torch.where(inside, picked, torch.zeros_like(picked)), z.exp().sum(-1)])
    dist.all_reduce(pair, group=group)
    return (torch.log(pair[1]) - pair[0]).mean()


def _worker(rank: int, world: int, port: int, tokens: int, vocab: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    from divergences.torch import (
        DistillOptions,
        divergence_loss,
        fused_linear_divergence_loss,
        topk_divergence_loss,
        vocab_parallel_topk,
    )

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    counter = {"bytes": 0, "calls": 0}
    real_reduce, real_gather = dist.all_reduce, dist.all_gather

    def all_reduce(tensor, *args, **kwargs):
        counter["bytes"] += tensor.numel() * tensor.element_size()
        counter["calls"] += 1
        return real_reduce(tensor, *args, **kwargs)

    def all_gather(tensor_list, tensor, *args, **kwargs):
        counter["bytes"] += tensor.numel() * tensor.element_size()
        counter["calls"] += 1
        return real_gather(tensor_list, tensor, *args, **kwargs)

    dist.all_reduce, dist.all_gather = all_reduce, all_gather
    g = torch.Generator().manual_seed(0)
    width = vocab // world
    lo = rank * width
    hidden = 64
    z = torch.randn(tokens, width, generator=g).requires_grad_()
    t = torch.randn(tokens, width, generator=g)
    h = torch.randn(tokens, hidden, generator=g).requires_grad_()
    w = torch.randn(width, hidden, generator=g).requires_grad_()
    labels = torch.randint(0, vocab, (tokens,), generator=g)
    group = dist.group.WORLD
    lp, ix = vocab_parallel_topk(t, 32, group)

    def run(fn):
        counter.update(bytes=0, calls=0)
        fn()
        return {"bytes_per_token": counter["bytes"] / tokens, "calls": counter["calls"]}

    def back(loss):
        loss.backward()

    rows = {
        "megatron_ce (anchor)": run(lambda: _megatron_ce(z.detach(), labels, lo, group)),
        "kl": run(lambda: back(divergence_loss(z, t, "kl", process_group=group, options=DistillOptions(validate=False)))),
        "js β=0.5": run(lambda: back(divergence_loss(z, t, "js", process_group=group, options=DistillOptions(validate=False)))),
        "js + hard (labels)": run(lambda: back(divergence_loss(z, t, "js", labels=labels, process_group=group, options=DistillOptions(hard_weight=0.5, validate=False)))),
        "renyi α=2 (autograd)": run(lambda: back(divergence_loss(z, t, dv.spec("renyi", alpha=2.0), process_group=group, options=DistillOptions(validate=False)))),
        "kl, validated": run(lambda: back(divergence_loss(z, t, "kl", process_group=group))),
        "fused kl": run(lambda: back(fused_linear_divergence_loss(h, w, t, "kl", process_group=group, options=DistillOptions(validate=False)))),
        "top-32 kl": run(lambda: back(topk_divergence_loss(z, lp, ix, "kl", process_group=group, options=DistillOptions(validate=False)))),
        "vocab_parallel_topk k=32": run(lambda: vocab_parallel_topk(t, 32, group)),
    }
    if rank == 0:
        with open(out, "w") as fh:
            json.dump(rows, fh)
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description="vocab-parallel communication benchmark")
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--vocab", type=int, default=32000)
    args = parser.parse_args()
    import torch
    import torch.multiprocessing as mp

    world = 2
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rows.json")
        mp.spawn(_worker, args=(world, port, args.tokens, args.vocab, out), nprocs=world)
        with open(out) as fh:
            rows = json.load(fh)
    print(f"torch {torch.__version__}, gloo, {world} ranks, {args.tokens} tokens, vocab {args.vocab} "
          f"({args.vocab // world} per rank), float32, forward + backward")
    gather = (args.vocab - args.vocab // world) * 4
    anchor = rows["megatron_ce (anchor)"]["bytes_per_token"]
    print(f"{'loss':<26}{'collective calls':>17}{'bytes / token':>15}{'/ megatron':>12}{'/ gather':>10}")
    for name, r in rows.items():
        b = r["bytes_per_token"]
        print(f"{name:<26}{r['calls']:>17}{b:>15.1f}{b / anchor:>12.2f}{b / gather:>10.4f}")
    print(f"(gather: all-gathering one logits tensor would hand {gather} bytes per token to the collective)")


if __name__ == "__main__":
    sys.exit(main())
