"""Time windows for :func:`~divergences.tabular.monitor`: ``every="1w"`` and friends.

A window is ``N`` units: ``s``, ``min`` (or ``m``), ``h``, ``d``, ``w`` (fixed widths) or ``mo``,
``q``, ``y`` (calendar months, quarters, years). Fixed-width windows are aligned on
2000-01-03T00:00:00Z, a Monday, as DuckDB's ``time_bucket`` does by default (so weekly windows start on
Mondays); calendar windows on 2000-01-01. Times are seconds since 1970-01-01 UTC. A window is named
by its start in ISO 8601.

The engines compute the window of every row themselves (an integer key per row, from SQL arithmetic
in DuckDB and Spark, from NumPy on the column for in-memory frames): the same integers everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

__all__ = ["ORIGIN", "Window", "parse_every"]

#: 2000-01-03T00:00:00Z (a Monday), in seconds since the epoch
ORIGIN = 946857600
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400,
          "mo": None, "q": None, "y": None}
_MONTHS = {"mo": 1, "q": 3, "y": 12}
_EVERY = re.compile(r"^\s*(\d+)?\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Window:
    """``count`` × ``unit``: ``seconds`` for a fixed width, else ``months``."""

    every: str
    seconds: int | None
    months: int | None

    def key_sql(self, epoch: str, column: str) -> str:
        """SQL giving the integer window key of a row (``epoch``: its seconds; ``column``: the quoted column)."""
        if self.seconds is not None:
            return f"CAST(floor(({epoch} - {ORIGIN}) / {self.seconds}) AS BIGINT)"
        return f"CAST(floor(((year({column}) - 2000) * 12 + month({column}) - 1) / {self.months}) AS BIGINT)"

    def key_numpy(self, seconds: np.ndarray) -> np.ndarray:
        """Window keys (float, NaN where the time is missing) of times in seconds."""
        s = np.asarray(seconds, dtype=np.float64)
        if self.seconds is not None:
            return np.floor((s - ORIGIN) / self.seconds)
        out = np.full(s.shape, np.nan)
        ok = np.isfinite(s)
        months = s[ok].astype("int64").astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)  # since 1970
        out[ok] = np.floor((months - 360) / self.months)  # 360 months from 1970 to 2000
        return out

    def start(self, key: int) -> str:
        """The ISO 8601 start of window ``key``."""
        if self.seconds is not None:
            t = datetime.fromtimestamp(ORIGIN + key * self.seconds, timezone.utc)
        else:
            m = key * self.months
            t = datetime(2000 + m // 12, m % 12 + 1, 1, tzinfo=timezone.utc)
        return t.isoformat().replace("+00:00", "Z")


def parse_every(every: str) -> Window:
    """The :class:`Window` of ``every`` (``"1w"``, ``"7d"``, ``"1mo"``, ``"12h"``, ...); ValueError naming it.

    >>> parse_every("2w").seconds, parse_every("1mo").months, parse_every("1w").start(0)
    (1209600, 1, '2000-01-03T00:00:00Z')
    """
    match = _EVERY.match(every) if isinstance(every, str) else None
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"every must be a count and a unit (s, min, h, d, w, mo, q, y), such as '1w' or '7d'; "
                         f"got {every!r}")
    count = int(match.group(1) or 1)
    if count < 1:
        raise ValueError(f"every must be a positive count of units, got {every!r}")
    unit = match.group(2)
    if _UNITS[unit] is not None:
        return Window(every, count * _UNITS[unit], None)
    return Window(every, None, count * _MONTHS[unit])
