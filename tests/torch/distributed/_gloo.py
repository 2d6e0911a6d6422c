"""Spawning a gloo group of real processes on 127.0.0.1 for a test, bounded in time (shared by the tests here)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_group(fn: Any, widths: list[int], out_dir: Path, timeout_s: float) -> None:
    """Run ``fn(rank, world, port, widths, out_dir)`` on ``len(widths)`` spawned ranks; a rank that hangs past
    ``timeout_s`` is a TimeoutError, and the tracebacks the ranks wrote to ``*.err`` files fail the test."""
    import torch.multiprocessing as mp

    world = len(widths)
    ctx = mp.start_processes(fn, args=(world, free_port(), widths, str(out_dir)), nprocs=world, join=False,
                             start_method="spawn")
    deadline = time.monotonic() + timeout_s
    try:
        while not ctx.join(timeout=5):
            if time.monotonic() > deadline:
                raise TimeoutError(f"a group of {world} ranks did not finish in {timeout_s} s (a rank hangs)")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
    errors = [f.read_text() for f in sorted(out_dir.glob("*.err"))]
    assert not errors, "\n".join(errors)
