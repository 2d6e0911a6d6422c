r"""How many torch threads the sample solvers use on the CPU: scoped single-threading where threads cost more
than they give.

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

and otherwise leaves torch's setting alone. Only CPU tensors are concerned; the thread count is restored on
exit (``torch.set_num_threads`` sets the calling thread's OpenMP team size). Results do not depend on the
choice beyond the rounding of reductions. ``DIVERGENCES_THREADS=keep`` in the environment turns the choice off
(torch's setting is used as is); ``DIVERGENCES_THREADS=<k>`` uses k threads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["SINGLE_THREAD_PAIRS", "chosen_threads", "oversubscribed", "solver_threads"]

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


def chosen_threads(pairs: int, current: int) -> int:
    """The thread count for a solve whose passes visit ``pairs`` pairs, torch's setting being ``current``."""
    setting = os.environ.get("DIVERGENCES_THREADS", "").strip().lower()
    if setting == "keep":
        return current
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    if current <= 1 or pairs < SINGLE_THREAD_PAIRS or oversubscribed():
        return 1
    return current


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
