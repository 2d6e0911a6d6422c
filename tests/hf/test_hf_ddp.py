"""distillation_loss under DistributedDataParallel (2 gloo processes on 127.0.0.1): the call goes through the DDP
wrapper, so gradients are averaged across ranks and equal the single-process gradient of the summed loss."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _build(seed, hidden=32):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=50, hidden_size=hidden, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    return LlamaForCausalLM(cfg).double().eval()


def _batches():
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(2):
        ids = torch.randint(0, 50, (2, 7), generator=g)
        mask = torch.ones_like(ids)
        mask[1, 5:] = 0
        out.append({"input_ids": ids, "attention_mask": mask})
    return out


def _rank(rank, world, port, queue):
    sys.path.insert(0, SRC)
    import torch.distributed as dist

    import divergences as dv
    from divergences.hf import distillation_loss

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        student, teacher = _build(0), _build(1, 48)
        ddp = torch.nn.parallel.DistributedDataParallel(student)
        for _ in range(2):  # a second step: the reducer must be ready again
            ddp.zero_grad()
            distillation_loss(ddp, teacher, _batches()[rank], dv.spec("js", beta=0.3), num_items_in_batch=21).backward()
        queue.put((rank, {n: p.grad.numpy().copy() for n, p in student.named_parameters()}))
    finally:
        dist.destroy_process_group()


def test_ddp_gradients_are_averaged():
    import torch.multiprocessing as mp

    import divergences as dv
    from divergences.hf import distillation_loss

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_rank, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    try:
        got = dict(queue.get(timeout=300) for _ in procs)
    finally:
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.kill()
    student, teacher = _build(0), _build(1, 48)
    sum(distillation_loss(student, teacher, b, dv.spec("js", beta=0.3), num_items_in_batch=21) for b in _batches()).backward()
    for n, p in student.named_parameters():
        for r in (0, 1):  # DDP averages: each rank holds (g0 + g1) / 2
            assert torch.allclose(torch.from_numpy(got[r][n]), p.grad / 2, rtol=1e-9, atol=1e-12), (r, n)
