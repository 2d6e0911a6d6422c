r"""Parallelism across row blocks of the chunk engine that stays fast on a shared machine.

Why not torch's own intra-op threads: every elementwise CPU op on more than 32768 entries opens an
OpenMP parallel region and closes it at a barrier. The engine runs about a dozen such ops per cache
block (2**17 entries), so one call at 2048 × 32000 opens thousands of regions. On a quiet machine that
costs little; when other processes also use the cores, the scheduler often holds one of the region's
threads elsewhere and the others wait at the barrier for it, region after region: measured, a JSD loss
beside another process doing multi-threaded torch work went from 0.2× to 0.55× the naive formula's time,
and on an oversubscribed machine to 5× slower than the naive formula (issue 22).

What instead: blocks of rows are independent, so they are handed out *dynamically* to a few worker
threads, each running torch ops on one intra-op thread (no parallel region, no barrier inside a block).
A worker that the scheduler delays simply does fewer blocks; the only wait is at the end of a pass.
Each block's partial sums are combined in block order, so the result does not depend on the number
of workers or on which thread ran which block (bit for bit).

Rules:

* workers = ``torch.get_num_threads()`` of the calling thread, at most :data:`MAX_WORKERS` (so
  ``torch.set_num_threads(1)`` gives a serial engine; beyond 16 the workers would wait for Python's lock
  between their torch calls more than they gain); CPU only; never while ``torch.compile`` traces, never for a vocab-parallel kernel
  (its collectives must run in the same order on every rank: :func:`check_not_in_worker` enforces it);
* the worker threads are started once per process, daemonic, each with ``torch.set_num_threads(1)``
  (a per-thread setting of OpenMP and MKL; the process-wide default that it also sets for threads
  started later is restored to the caller's count at once); after a ``fork`` the child starts its own;
* a worker runs with the caller's grad mode and inference mode; an exception in a block is raised in
  the caller (the other blocks of the pass stop early).

:func:`set_policy` selects another policy for side-by-side measurements (``benchmarks/bench_distill.py``):
``"intra-op"`` (blocks run in the calling thread with torch's intra-op threads: the engine before
issue 22) or ``"single"`` (blocks in the calling thread on one intra-op thread).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

T = TypeVar("T")

POLICIES = ("workers", "intra-op", "single")
#: the most block workers a pass uses (each runs a dozen torch calls per block, holding Python's lock between them)
MAX_WORKERS = 16
_policy = "workers"
_local = threading.local()


def set_policy(policy: str) -> str:
    """Select how the engine runs its blocks (``"workers"``, the default; ``"intra-op"``; ``"single"``).

    Returns the previous policy. For measurements and tests, not a user setting.
    """
    global _policy
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    previous, _policy = _policy, policy
    return previous


@contextlib.contextmanager
def policy(name: str) -> Iterator[None]:
    """``with policy("single"): ...``: :func:`set_policy` for the duration of a block."""
    previous = set_policy(name)
    try:
        yield
    finally:
        set_policy(previous)


def in_worker() -> bool:
    """True in one of the engine's worker threads."""
    return getattr(_local, "worker", False)


def check_not_in_worker(what: str) -> None:
    """A collective (``what``) must never run in a worker thread: ranks would issue them out of order."""
    if in_worker():
        raise RuntimeError(f"{what} called from a block worker of the chunk engine; a vocab-parallel kernel must run "
                           "with parallel_rows=False (internal error)")


def _compiling() -> bool:
    from ._checks import compiling

    return compiling()


def workers_for(device: torch.device) -> int:
    """How many block workers a pass on ``device`` uses under the current policy (1: run in the caller)."""
    if device.type != "cpu" or _compiling() or in_worker() or _policy != "workers":
        return 1
    return max(1, min(torch.get_num_threads(), MAX_WORKERS))


class _Pool:
    """Daemon threads that run jobs from one queue, each on one intra-op thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.size = 0
        self.threads: list[threading.Thread] = []

    def ensure(self, n: int) -> None:
        with self.lock:
            if self.size >= n:
                return
            caller_threads = torch.get_num_threads()
            new = n - self.size
            ready = threading.Barrier(new + 1)
            if not self.threads:
                atexit.register(self.shutdown)
            for _ in range(new):
                thread = threading.Thread(target=self._serve, args=(ready,), name="divergences-block-worker",
                                          daemon=True)
                thread.start()
                self.threads.append(thread)
            ready.wait()
            # the workers' set_num_threads(1) also changed the default of threads started from now on:
            # restore it (the caller's own per-thread setting is unchanged)
            torch.set_num_threads(caller_threads)
            self.size = n

    def _serve(self, ready: threading.Barrier) -> None:
        _local.worker = True
        torch.set_num_threads(1)
        ready.wait()
        while (job := self.jobs.get()) is not None:
            job()

    def shutdown(self) -> None:
        """Stop the workers at interpreter exit, so each thread ends (its torch thread state released) before
        the process tears torch down: a worker still parked at exit could make the C++ runtime abort the
        process ("terminate called without an active exception") in short-lived children such as
        ``torch.multiprocessing`` ranks."""
        with self.lock:
            threads, self.threads, self.size = self.threads, [], 0
        for _ in threads:
            self.jobs.put(None)
        for thread in threads:
            thread.join(timeout=5.0)


_pool: _Pool | None = None
_pool_pid = -1
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():  # a forked child has no worker threads: start its own
            _pool, _pool_pid = _Pool(), os.getpid()
        return _pool


def _single_thread() -> contextlib.AbstractContextManager[Any]:
    @contextlib.contextmanager
    def scope() -> Iterator[None]:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    return scope()


def run_blocks(fn: Callable[[int, int], T], n: int, step: int, workers: int) -> list[T]:
    """``[fn(start, stop) for each span of step rows of range(n)]``, the spans shared out to ``workers``.

    The results are in span order whatever thread ran each span. ``workers < 2`` (or a single span)
    runs in the calling thread.
    """
    spans = [(s, min(s + step, n)) for s in range(0, n, step)]
    if workers < 2 or len(spans) < 2:
        if _policy == "single" and len(spans) > 1 and not _compiling():
            with _single_thread():
                return [fn(a, b) for a, b in spans]
        return [fn(a, b) for a, b in spans]
    results: list[Any] = [None] * len(spans)
    counter = itertools.count()
    errors: list[BaseException] = []
    k = min(workers, len(spans))
    finished = threading.Semaphore(0)
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def drain() -> None:
        try:
            with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                while not errors:
                    i = next(counter)  # atomic under the GIL
                    if i >= len(spans):
                        break
                    results[i] = fn(*spans[i])
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors.append(exc)
        finally:
            finished.release()

    pool = _get_pool()
    pool.ensure(k)
    for _ in range(k):
        pool.jobs.put(drain)
    for _ in range(k):
        finished.acquire()
    if errors:
        raise errors[0]
    return results
