"""Vocab-parallel losses on real multi-process gloo groups (2 and 3 ranks on 127.0.0.1).

Loss and gradients of every case equal the single-process result (float64 to 1e-10, float32 to 1e-5);
see ``_vp_worker.py`` for the cases. Each group is spawned by the test and bounded in time.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).parent))
import _vp_worker  # noqa: E402

TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(widths, tmp_path):
    import torch.multiprocessing as mp

    world = len(widths)
    ctx = mp.start_processes(_vp_worker.run_cases, args=(world, _free_port(), widths, str(tmp_path)), nprocs=world,
                             join=False, start_method="spawn")
    import time

    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not ctx.join(timeout=5):
            if time.monotonic() > deadline:
                raise TimeoutError(f"vocab-parallel group of {world} ranks did not finish in {TIMEOUT_S} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
    errors = [f.read_text() for f in sorted(tmp_path.glob("*.err"))]
    assert not errors, "\n".join(errors)
    assert len(list(tmp_path.glob("*.ok"))) == world


@pytest.mark.slow
@pytest.mark.parametrize("widths", [[6, 5], [4, 3, 5]], ids=["2-ranks-uneven", "3-ranks-uneven"])
def test_vocab_parallel_equals_single_process(widths, tmp_path):
    _spawn(widths, tmp_path)
