"""Shared measurement helpers for the benchmark scripts: best-of-n wall time and peak memory.

Peak memory is measured with ``tracemalloc`` (NumPy reports its buffers to it), as the peak of
allocations made during one call beyond what was allocated before it.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Best wall time in seconds over ``repeat`` calls (after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (traced by tracemalloc) during one call, beyond the baseline."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return max(0, peak - base)


def fmt_mb(n: int) -> str:
    return f"{n / 2**20:8.1f} MB"
