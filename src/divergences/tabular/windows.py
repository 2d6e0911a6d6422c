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
#: the longest windows: 10 000 years
MAX_MONTHS = 120_000
MAX_SECONDS = 10_000 * 366 * 86400
_EVERY = re.compile(r"^\s*(\d+)?\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Window:
    """``count`` × ``unit``: ``seconds`` for a fixed width, else ``months``."""

    every: str
    seconds: int | None
    months: int | None

    @property
    def month_count(self) -> int:
        """``months`` of a calendar window (ValueError for a fixed-width one)."""
        if self.months is None:
            raise ValueError(f"the window {self.every!r} has a fixed width, not a number of months")
        return self.months

    def key_sql(self, epoch: str, column: str) -> str:
        """SQL giving the integer window key of a row (``epoch``: its seconds since 1970-01-01 UTC).

        Calendar windows take the year and month of the UTC time by integer arithmetic on the epoch
        (the civil-from-days algorithm): never ``year()`` / ``month()`` of the column, which read a
        time-zone-aware timestamp in the session's (the process's) time zone."""
        if self.seconds is not None:
            return f"CAST(floor(({epoch} - {ORIGIN}) / {self.seconds}) AS BIGINT)"
        z = f"(floor(({epoch}) / 86400) + 719468)"
        era = f"floor({z} / 146097)"
        doe = f"({z} - {era} * 146097)"
        yoe = f"floor(({doe} - floor({doe} / 1460) + floor({doe} / 36524) - floor({doe} / 146096)) / 365)"
        doy = f"({doe} - (365 * {yoe} + floor({yoe} / 4) - floor({yoe} / 100)))"
        mp = f"floor((5 * {doy} + 2) / 153)"
        # months since 2000-01 of the March-based year: March = 0 … February = 11, then shifted to January-based
        months = f"(({yoe} + {era} * 400 - 2000) * 12 + {mp} + 2)"
        return f"CAST(floor({months} / {self.months}) AS BIGINT)"

    def key_numpy(self, seconds: np.ndarray) -> np.ndarray:
        """Window keys (float, NaN where the time is missing) of times in seconds."""
        s = np.asarray(seconds, dtype=np.float64)
        if self.seconds is not None:
            return np.floor((s - ORIGIN) / self.seconds)
        out = np.full(s.shape, np.nan)
        ok = np.isfinite(s)
        months = s[ok].astype("int64").astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)  # since 1970
        out[ok] = np.floor((months - 360) / self.month_count)  # 360 months from 1970 to 2000
        return out

    def start(self, key: int) -> str:
        """The ISO 8601 start of window ``key``; a ValueError naming ``every`` for a window that starts
        outside the years 1 … 9999."""
        try:
            if self.seconds is not None:
                t = datetime.fromtimestamp(ORIGIN + key * self.seconds, timezone.utc)
            else:
                m = key * self.month_count
                t = datetime(2000 + m // 12, m % 12 + 1, 1, tzinfo=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"every (--every) {self.every!r}: a window starts outside the years 1 to 9999 "
                             "(times that far out, or a window that long): choose a shorter window") from None
        return t.isoformat().replace("+00:00", "Z")


def parse_every(every: str) -> Window:
    """The :class:`Window` of ``every`` (``"1w"``, ``"7d"``, ``"1mo"``, ``"12h"``, ... at most 10 000
    years); ValueError naming it.

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
    seconds = count * _UNITS[unit] if _UNITS[unit] is not None else None
    months = count * _MONTHS[unit] if _UNITS[unit] is None else None
    if (seconds is not None and seconds > MAX_SECONDS) or (months is not None and months > MAX_MONTHS):
        raise ValueError(f"every (--every) {every!r} is longer than 10 000 years: choose a shorter window")
    return Window(every, seconds, months)
