"""``divergences monitor``: run the tabular monitor and print one line per column over the windows."""

from __future__ import annotations

from typing import Any

__all__ = ["render_monitor", "run_monitor"]


def run_monitor(reference: Any, current: Any, *, by: str, every: str, progress=None, **keywords: Any) -> Any:
    from ..tabular import monitor

    return monitor(reference, current, by=by, every=every, progress=progress, **keywords)


def render_monitor(result: Any, console, fmt: str = "auto") -> None:  # filled in below once the API is known
    raise NotImplementedError
