r"""How many torch threads the sample solvers use on the CPU: scoped single-threading where threads cost more
than they give. The one thread policy of the torch sample code: the Sinkhorn solvers (balanced, unbalanced,
plans) and the tiled pair sums of MMD, energy and Cauchy–Schwarz (:mod:`._torch_kernels`) all run under
:func:`solver_threads`, and the NumPy kernels and tests under :func:`blas_threads` (the BLAS pools).

Each soft-min pass of the torch Sinkhorn is a handful of parallel regions per panel (a matrix product, a max,
a shift, ``exp``, a sum, ``log``), and every region ends on a barrier where all of torch's threads meet. On a
quiet machine a barrier costs microseconds; on a machine oversubscribed by other multi-threaded work, a
thread that the scheduler has parked makes the others wait for its next time slice (milliseconds). Measured
on the 2-core machine running about 15 runnable threads of other work (load average 13–16): the Sinkhorn
divergence at ε = 0.05 took 0.09 / 0.45 / 1.6 s with one thread and 1.9 / 7–8.5 / 10–30 s with two at n = m = 50 /
300 / 1000. So :func:`solver_threads` runs a solve on one thread when

* the problem is small: fewer than :data:`SINGLE_THREAD_PAIRS` pairs per pass (each region's work is then
  below a barrier's cost even on a quiet machine), or
* the machine is oversubscribed: its 1-minute load average is at least the number of cores this process may
  use plus one (``os.getloadavg``, ``os.sched_getaffinity``; where they are missing, never),

and otherwise leaves torch's setting alone (large work keeps every thread: its tiles, up to 1024² pairs, are few
large parallel regions). Only CPU tensors are concerned; the thread count is restored on
exit (``torch.set_num_threads`` sets the calling thread's OpenMP team size; a backward pass that runs later,
outside the call, has the caller's threads unless the solver scopes it too). Results do not depend on the
choice beyond the rounding of reductions. ``DIVERGENCES_THREADS=keep`` in the environment turns the choice off
(torch's setting is used as is); ``DIVERGENCES_THREADS=<k>`` uses k threads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["SINGLE_THREAD_PAIRS", "blas_threads", "chosen_threads", "oversubscribed", "solver_threads"]

#: passes over fewer pairs than this run on one thread (n = m = 512)
SINGLE_THREAD_PAIRS = 1 << 18


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def oversubscribed() -> bool:
    """Whether the 1-minute load average is at least the usable cores plus one (False where unknown)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return load >= _usable_cores() + 1


def _wanted(pairs: int) -> int | None:
    """The thread count the policy asks for work over ``pairs`` pairs, or None: leave the setting alone."""
    setting = os.environ.get("DIVERGENCES_THREADS", "").strip().lower()
    if setting == "keep":
        return None
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    if pairs < SINGLE_THREAD_PAIRS or oversubscribed():
        return 1
    return None


def chosen_threads(pairs: int, current: int) -> int:
    """The thread count for a solve whose passes visit ``pairs`` pairs, torch's setting being ``current``."""
    wanted = _wanted(pairs)
    return current if wanted is None else wanted


@contextlib.contextmanager
def solver_threads(pairs: int, device_type: str = "cpu") -> Iterator[int]:
    """Run the body with :func:`chosen_threads` torch threads (CPU only); restores the setting on exit."""
    import torch

    if device_type != "cpu":
        yield torch.get_num_threads()
        return
    current = torch.get_num_threads()
    wanted = chosen_threads(pairs, current)
    if wanted == current:
        yield current
        return
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(current)


@contextlib.contextmanager
def blas_threads(pairs: int) -> Iterator[None]:
    """The same policy for NumPy work: its BLAS (and OpenMP) pools limited to :func:`chosen_threads` threads
    through ``threadpoolctl`` (where it is installed; otherwise nothing changes), restored on exit. A
    product of two 200 × 200 matrices is a parallel region too small to pay for its threads (measured 30×
    slower with 2 OpenBLAS threads than with one on the shared machine)."""
    wanted = _wanted(pairs)
    if wanted is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with the samples extra
        yield
        return
    with threadpool_limits(limits=wanted):
        yield
