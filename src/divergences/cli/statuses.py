"""Exit statuses of the ``divergences`` command (no dependency: read before Typer is imported)."""

from __future__ import annotations

__all__ = ["BAD_INPUT", "BROKEN_PIPE", "DRIFT", "INTERNAL", "INTERRUPTED", "OK"]

OK, DRIFT, BAD_INPUT, INTERNAL, INTERRUPTED, BROKEN_PIPE = 0, 1, 2, 3, 130, 141
