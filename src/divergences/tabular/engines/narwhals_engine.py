"""Dataframes (pandas, Polars eager or lazy, PyArrow, ...) through Narwhals: the dataframe library
selects, groups and counts; numeric columns are binned with NumPy on one column at a time, and
categories are grouped by the dataframe then made canonical per distinct value (so the number of
bins or categories never deepens an expression)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import EXACT_INT, BinCounts, Engine, NumericSummary, numpy_bin_counts

__all__ = ["NarwhalsEngine", "canonical_text"]


def canonical_text(value: Any) -> str | None:
    """A value as the canonical category text of :mod:`.base` (None for missing).

    >>> [canonical_text(v) for v in (1, 1.0, 2.5, True, "TRUE", "tRue", "x", float("nan"), None)]
    ['1', '1', '2.5', 'true', 'true', 'tRue', 'x', None, None]
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return None
        if x == math.floor(x) and abs(x) < EXACT_INT:
            return str(int(x))
        return repr(x)
    if isinstance(value, str):
        return value.lower() if value in ("True", "TRUE", "False", "FALSE") else value
    try:
        import decimal

        if isinstance(value, decimal.Decimal):
            return canonical_text(float(value))
    except ImportError:  # pragma: no cover
        pass
    text = str(value)
    return None if text in ("NaT", "<NA>") else text


class NarwhalsEngine(Engine):
    """A dataframe that Narwhals supports (eager, or lazy: collected per query, only the columns it
    needs). Raises TypeError for anything else."""

    values_local = True

    def __init__(self, frame, label: str) -> None:
        from ..extras import require

        nw = require("narwhals")
        self.nw = nw
        obj = nw.from_native(frame)
        self.lazy = isinstance(obj, nw.LazyFrame)
        if not self.lazy and not isinstance(obj, nw.DataFrame):
            raise TypeError(f"not a dataframe: {type(frame).__name__}")
        self.frame = obj
        self.label = label
        self._schema: dict[str, str] | None = None
        self._rows: int | None = None
        self._value_counts: dict[tuple, list] = {}

    # -- basics -----------------------------------------------------------------------------
    def _select(self, *exprs):
        out = self.frame.select(*exprs)
        return out.collect() if self.lazy else out

    def schema(self):
        if self._schema is None:
            nw = self.nw
            kinds, self._types = {}, {}
            schema = self.frame.collect_schema() if self.lazy else self.frame.schema
            for name, dtype in schema.items():
                self._types[name] = str(dtype)
                if dtype == nw.Boolean:
                    kinds[name] = "boolean"
                elif dtype.is_numeric():
                    kinds[name] = "numeric"
                elif dtype in (nw.String, nw.Categorical) or isinstance(dtype, nw.Enum) or dtype == nw.Enum:
                    kinds[name] = "string"
                elif dtype == nw.Date or dtype == nw.Datetime or isinstance(dtype, nw.Datetime):
                    kinds[name] = "datetime"
                elif dtype == nw.Unknown and self._pandas_times(name) is not None:
                    kinds[name] = "datetime"  # a time-zone-aware pandas column that Narwhals does not type
                else:
                    kinds[name] = "other"
            self._schema = kinds
        return self._schema

    def type_name(self, column):
        self.schema()
        return self._types.get(column, "unknown")

    def row_count(self):
        if self._rows is None:
            self._rows = int(self._select(self.nw.len().alias("n"))["n"][0]) if self.lazy else len(self.frame)
        return self._rows

    def _values(self, column) -> np.ndarray:
        """The column as float64 (NaN where missing; times as seconds since the epoch, UTC)."""
        nw = self.nw
        c = nw.col(column)
        if self.schema()[column] == "datetime":
            seconds = self._pandas_times(column)
            if seconds is not None and self._types.get(column) == str(nw.Unknown):
                return seconds
            expr = c.dt.timestamp("us").cast(nw.Float64) / 1e6
        else:
            expr = c.cast(nw.Float64)
        x = self._select(expr.fill_null(math.nan).alias("x"))["x"].to_numpy()
        return np.asarray(x, dtype=np.float64)

    def _pandas_times(self, column) -> np.ndarray | None:
        """Seconds since 1970-01-01 UTC of a pandas date/time column (time-zone aware or not), NaN where
        missing; None when the column is not one."""
        native = self.nw.to_native(self.frame)
        if type(native).__module__.split(".")[0] != "pandas":
            return None
        import pandas as pd

        s = native[column]
        if not pd.api.types.is_datetime64_any_dtype(s.dtype):
            return None
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        us = s.astype("datetime64[us]")
        out = us.astype("int64").to_numpy().astype(np.float64) / 1e6
        out[us.isna().to_numpy()] = np.nan
        return out

    def _counts_by_value(self, column, by: str | None = None) -> list[tuple[str | None, int, int]]:
        """(canonical text, group, count) over the distinct values of ``column`` (group: 0, or the
        target's 0/1 with ``by``, rows with a missing target left out)."""
        key = (column, by)
        if key in self._value_counts:
            return self._value_counts[key]
        nw = self.nw
        if by is None:
            rows = self._select(nw.col(column).alias("v")).group_by("v", drop_null_keys=False).agg(
                nw.len().alias("n")).rows()
            merged: dict[tuple, int] = {}
            for v, n in rows:
                k = (canonical_text(v), 0)
                merged[k] = merged.get(k, 0) + int(n)
        else:
            target, bad = by.split("\0", 1)
            rows = self._select(nw.col(column).alias("v"), nw.col(target).alias("y")).group_by(
                "v", "y", drop_null_keys=False).agg(nw.len().alias("n")).rows()
            merged = {}
            for v, y, n in rows:
                t = canonical_text(y)
                if t is None:
                    continue
                k = (canonical_text(v), int(t == bad))
                merged[k] = merged.get(k, 0) + int(n)
        out = [(v, g, n) for (v, g), n in merged.items()]
        self._value_counts[key] = out
        return out

    # -- queries ----------------------------------------------------------------------------
    def numeric_summary(self, columns, levels):
        rows = self.row_count()
        out = {}
        for c in columns:
            x = self._values(c)
            nonmissing = int(np.sum(~np.isnan(x)))
            finite = x[np.isfinite(x)]
            if finite.size:
                qs = np.quantile(finite, np.asarray(levels, dtype=np.float64)) if len(levels) else np.zeros(0)
                stats = (float(finite.min()), float(finite.max()), float(finite.mean()), float(finite.std()))
            else:
                qs, stats = np.full(len(levels), np.nan), (math.nan, math.nan, math.nan, math.nan)
            out[c] = NumericSummary(rows, nonmissing, int(finite.size), *stats, np.asarray(qs, dtype=np.float64))
        return out

    def is_integer(self, column):
        dtype = (self.frame.collect_schema() if self.lazy else self.frame.schema)[column]
        return bool(dtype.is_integer())

    def sample_rows(self, columns, limit, seed):
        from ..multivariate import numpy_sample

        return numpy_sample(np.column_stack([self._values(c) for c in columns]), limit, seed)

    def distinct_counts(self, columns):
        out = {}
        for c in columns:
            if self.schema()[c] in ("numeric", "datetime"):
                x = self._values(c)
                out[c] = int(np.unique(x[~np.isnan(x)]).size)
            else:
                out[c] = sum(1 for v, _, _ in self._counts_by_value(c) if v is not None)
        return out

    def distinct_values(self, columns, limit):
        out = {}
        for c in columns:
            x = self._values(c)
            out[c] = np.unique(x[np.isfinite(x)])[: int(limit) + 1]
        return out

    def sorted_values(self, column):
        x = self._values(column)
        x = x[~np.isnan(x)]  # a copy, sorted in place
        x.sort()
        return x, None

    def missing_counts(self, columns):
        out = {}
        for c in columns:
            missing = sum(n for v, _, n in self._counts_by_value(c) if v is None)
            out[c] = (missing, self.row_count() - missing)
        return out

    def top_values(self, column, limit):
        counts = sorted(((v, n) for v, _, n in self._counts_by_value(column) if v is not None),
                        key=lambda vn: (-vn[1], vn[0]))
        return counts[: int(limit)]

    def unseen_counts(self, seen):
        out = {}
        for c, values in seen.items():
            known = set(values)
            out[c] = sum(n for v, _, n in self._counts_by_value(c) if v is not None and v not in known)
        return out

    def _target(self, split) -> tuple[np.ndarray, np.ndarray]:
        """(valid, bad) row masks of a split (valid: the target is not missing)."""
        nw = self.nw
        raw = self._select(nw.col(split.column).alias("y"))["y"].to_list()
        text = [canonical_text(v) for v in raw]
        valid = np.array([t is not None for t in text], dtype=bool)
        bad = np.array([t == split.bad for t in text], dtype=bool)
        return valid, bad

    def bin_counts(self, numeric, categorical, *, sums=False, split=None):
        out = {}
        target = self._target(split) if split is not None else None
        groups = 1 if split is None else 2
        for c, edges in numeric.items():
            out[c] = numpy_bin_counts(self._values(c), edges, sums=sums, target=target)
        for c, cats in categorical.items():
            pos = {v: i for i, v in enumerate(cats)}
            flat = np.zeros((groups, len(cats) + 2), dtype=np.int64)
            by = None if split is None else f"{split.column}\0{split.bad}"
            for v, g, n in self._counts_by_value(c, by):
                flat[g, 0 if v is None else pos.get(v, len(cats)) + 1] += n
            out[c] = self._bins(flat, split, None)
        return out

    def window_counts(self, by, window, numeric, categorical):
        keys = window.key_numpy(self._values(by))
        valid = ~np.isnan(keys)
        missing = int((~valid).sum())
        keys = keys[valid].astype(np.int64)
        windows, inverse = np.unique(keys, return_inverse=True)
        out = {int(w): {} for w in windows}
        columns = [(c, np.searchsorted(np.asarray(e, dtype=np.float64), x, side="left"), np.isnan(x), len(e) + 1)
                   for c, e in numeric.items() for x in [self._values(c)[valid]]]
        for c, cats in categorical.items():
            pos = {v: i for i, v in enumerate(cats)}
            cache: dict = {}
            raw = self._select(self.nw.col(c).alias("v"))["v"].to_list()
            idx = np.array([cache.setdefault(v, -1 if (t := canonical_text(v)) is None else pos.get(t, len(cats)))
                            for v in raw], dtype=np.int64)[valid]
            columns.append((c, idx, idx < 0, len(cats) + 1))
        for c, idx, miss, size in columns:
            idx = np.where(miss, -1, idx)
            flat = np.bincount(inverse * (size + 1) + idx + 1, minlength=windows.size * (size + 1))
            for g, w in enumerate(windows):
                row = flat[g * (size + 1):(g + 1) * (size + 1)]
                out[int(w)][c] = BinCounts(row[1:].copy(), int(row[0]))
        return out, missing

    @staticmethod
    def _bins(flat: np.ndarray, split, total) -> BinCounts:
        if split is None:
            return BinCounts(flat[0, 1:], int(flat[0, 0]), total)
        return BinCounts(flat[:, 1:], flat[:, 0].copy(), total)
