"""The engine interface, and the SQL it shares between DuckDB and Spark.

An engine answers four questions about one table, each with a single aggregation over the data:

* :meth:`Engine.schema`: the kind of every column (``"numeric"``, ``"string"``, ``"boolean"``,
  ``"other"``);
* :meth:`Engine.numeric_summary`: per numeric column, the counts of rows, non-missing and finite
  values, the minimum, maximum, mean, standard deviation and the quantiles at given levels (over
  finite values; NULL and NaN are missing, ±inf are binned but take no part in quantiles);
* :meth:`Engine.top_values`: per categorical column, the most frequent values as text;
* :meth:`Engine.bin_counts`: per column, counts on given bins (numeric: right-closed intervals
  with open ends; categorical: the listed categories then one bucket for all others), optionally
  split by a binary target and with per-bin sums.

Values become text the same way everywhere (categories compare by value): booleans and the texts
true/false in any case as ``"true"`` / ``"false"``; numbers forced to be categorical as their value
(integral values as integers, so 1, 1.0 and an integer column upcast to float with NaN agree; others
as the shortest decimal that round-trips; NaN counts as missing); other text as it is. Date and time
columns (kind ``"datetime"``) are numbers of seconds since 1970-01-01 UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BinCounts", "Engine", "NumericSummary", "SQLEngine", "Split"]


@dataclass(frozen=True)
class NumericSummary:
    rows: int
    nonmissing: int
    finite: int
    minimum: float
    maximum: float
    mean: float
    std: float
    quantiles: np.ndarray


@dataclass(frozen=True)
class Split:
    """Split counts by a binary target: rows whose target (as text) equals ``bad`` are "bad",
    other non-missing targets are "good"; rows with a missing target are left out."""

    column: str
    bad: str


@dataclass(frozen=True)
class BinCounts:
    """Counts per bin (shape ``(bins,)``, or ``(2, bins)`` as (good, bad) with a split), the number of
    missing values (int, or shape ``(2,)``) and, when asked, the sum of finite values per bin."""

    counts: np.ndarray
    missing: np.ndarray | int
    sums: np.ndarray | None = None


class Engine:
    """One table in one engine (see the module docstring)."""

    #: how the table is named in messages: its file path, or "reference" / "current"
    label: str = "table"
    #: warnings about how the table was read (a CSV whose text columns look like decimal-comma numbers)
    notes: tuple[str, ...] = ()
    #: whether a numeric column is cheaper to fetch and sort here (:mod:`..sorted_values`) than to
    #: summarise and count inside the engine: DuckDB (embedded) and in-memory frames; not Spark
    values_local: bool = False

    def schema(self) -> dict[str, str]:  # pragma: no cover - interface
        raise NotImplementedError

    def row_count(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def numeric_summary(self, columns: list[str], levels: np.ndarray) -> dict[str, NumericSummary]:
        raise NotImplementedError  # pragma: no cover - interface

    def missing_counts(self, columns: list[str]) -> dict[str, tuple[int, int]]:
        """(missing, non-missing) for categorical columns (as text)."""
        raise NotImplementedError  # pragma: no cover - interface

    def top_values(self, column: str, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` (value, count) pairs, most frequent first, ties by value."""
        raise NotImplementedError  # pragma: no cover - interface

    def bin_counts(
        self,
        numeric: dict[str, np.ndarray],
        categorical: dict[str, list[str]],
        *,
        sums: bool = False,
        split: Split | None = None,
    ) -> dict[str, BinCounts]:
        raise NotImplementedError  # pragma: no cover - interface

    def category_summary(self, columns: list[str], limit: int) -> dict[str, tuple[int, int, list[tuple[str, int]]]]:
        """Per categorical column: (missing, non-missing, up to ``limit`` most frequent (value, count))."""
        missing = self.missing_counts(columns)
        return {c: (*missing[c], self.top_values(c, limit)) for c in columns}

    def unseen_counts(self, seen: dict[str, list[str]]) -> dict[str, int]:
        """Per categorical column, the number of non-missing values (as text) not in ``seen[column]``."""
        raise NotImplementedError  # pragma: no cover - interface

    def bin_counts_unseen(
        self, numeric: dict[str, np.ndarray], categorical: dict[str, list[str]], seen: dict[str, list[str]]
    ) -> tuple[dict[str, BinCounts], dict[str, int]]:
        """:meth:`bin_counts` (no sums, no split) and :meth:`unseen_counts` of ``seen`` (some of the
        categorical columns) together: two passes here; engines that count by value do it in one."""
        counts = self.bin_counts(numeric, categorical)
        return counts, (self.unseen_counts(seen) if seen else {})

    def distinct_values(self, columns: list[str], limit: int) -> dict[str, np.ndarray]:
        """Per numeric or time column, its smallest distinct finite values (as float64, increasing), at
        most ``limit + 1`` of them: a column has at most ``limit`` distinct finite values exactly when
        fewer than ``limit + 1`` come back."""
        raise NotImplementedError  # pragma: no cover - interface

    def distinct_counts(self, columns: list[str]) -> dict[str, int]:
        """Per column, the number of distinct non-missing values (categorical columns as text, numeric
        columns as numbers)."""
        raise NotImplementedError  # pragma: no cover - interface

    def sorted_values(self, column: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The non-missing values of a numeric or time column as float64 in increasing order (±inf
        included) with their counts: what the exact two-sample Kolmogorov–Smirnov test reads
        (:func:`~divergences.tabular.stat_tests.ks_values`). Counts None: every value once, ties
        repeated (values fetched and sorted); else distinct values and the number of rows of each
        (engines that count by value themselves)."""
        raise NotImplementedError  # pragma: no cover - interface

    def sorted_values_many(self, columns: list[str]) -> Iterator[tuple[str, tuple[np.ndarray, np.ndarray | None]]]:
        """(column, :meth:`sorted_values`) for each of ``columns``, one at a time."""
        for c in columns:
            yield c, self.sorted_values(c)

    def window_counts(self, by: str, window: Any, numeric: Mapping[str, Any], categorical: Mapping[str, Any]
                      ) -> tuple[dict[int, dict[str, BinCounts]], int]:
        """Counts per time window of the date/time column ``by`` (``window``: a
        :class:`~divergences.tabular.windows.Window`): ({window key: {column: BinCounts}}, the number
        of rows whose ``by`` is missing), in one aggregation over the table."""
        raise NotImplementedError  # pragma: no cover - interface

    def sample_rows(self, columns: list[str], limit: int, seed: int) -> np.ndarray:
        """At most ``limit`` rows (as float64, rows × columns) with a finite value in every one of the
        numeric or time ``columns``, sampled at random (seeded) inside the engine."""
        raise NotImplementedError  # pragma: no cover - interface

    def is_integer(self, column: str) -> bool:
        """True when a numeric column has an integer type (not a float or decimal type)."""
        return False

    def type_name(self, column: str) -> str:
        """The engine's own name of the column's type (for messages)."""
        return "unknown"

    def close(self) -> None:
        """Release what the engine holds (nothing by default)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: the largest integer below which every integer is a double exactly (2**53)
EXACT_INT = 9007199254740992
#: a numeric column with more edges than this is binned with NumPy on its fetched values (a long
#: ``CASE`` costs seconds to bind); with fewer, the engine bins it in its own query
WIDE_EDGES = 256


def numpy_bin_counts(x: np.ndarray, edges: np.ndarray, *, sums: bool = False,
                     target: tuple[np.ndarray, np.ndarray] | None = None) -> BinCounts:
    """:class:`BinCounts` of the float64 values ``x`` (NaN = missing) on right-closed bins with inner
    ``edges``; ``target`` = (valid, bad) row masks for a split."""
    edges = np.asarray(edges, dtype=np.float64)
    idx = np.where(np.isnan(x), -1, np.searchsorted(edges, x, side="left"))
    g = np.zeros(x.size, dtype=np.int64)
    groups = 1
    if target is not None:
        valid, bad = target
        idx, g, x, groups = idx[valid], bad[valid].astype(np.int64), x[valid], 2
    size = edges.size + 1
    flat = np.bincount(g * (size + 1) + idx + 1, minlength=groups * (size + 1)).reshape(groups, size + 1)
    total = None
    if sums:
        fin = np.isfinite(x)
        total = np.bincount(idx[fin], weights=x[fin], minlength=size).astype(np.float64)
    if target is None:
        return BinCounts(flat[0, 1:], int(flat[0, 0]), total)
    return BinCounts(flat[:, 1:], flat[:, 0].copy(), total)


# ---------------------------------------------------------------------------------------------
# SQL shared by DuckDB and Spark
# ---------------------------------------------------------------------------------------------

_INF = "CAST('Infinity' AS DOUBLE)"




def _float_literal(x: float) -> str:
    # a string cast parses the shortest round-trip repr exactly (a bare 0.1 may be read as DECIMAL)
    return f"CAST('{float(x)!r}' AS DOUBLE)"


class SQLEngine(Engine):
    """Builds the aggregation queries; subclasses run them and say how to quote and cast."""

    string_type = "VARCHAR"

    # -- dialect ----------------------------------------------------------------------------
    def ident(self, name: str) -> str:  # pragma: no cover - dialect
        raise NotImplementedError

    def literal(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def text_list(self, values: list[str]) -> str:  # pragma: no cover - dialect
        raise NotImplementedError

    def quantiles_expr(self, expr: str, levels: Sequence[float]) -> str:  # pragma: no cover - dialect
        raise NotImplementedError

    # -- expressions ------------------------------------------------------------------------
    def epoch_expr(self, column: str) -> str:  # pragma: no cover - dialect
        """Seconds since 1970-01-01 UTC of a date/time column, as a double."""
        raise NotImplementedError

    def _double(self, column: str) -> str:
        if self.schema()[column] == "datetime":
            return self.epoch_expr(column)
        return f"CAST({self.ident(column)} AS DOUBLE)"

    def text_expr(self, column: str) -> str:
        """The column as canonical text (NULL where missing; see the module docstring)."""
        kind = self.schema()[column]
        c = self.ident(column)
        s = self.string_type
        if kind == "boolean":
            return f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN 'true' ELSE 'false' END"
        if kind == "numeric":
            d = self._double(column)
            return (f"CASE WHEN {d} IS NULL OR {self.is_nan(d)} THEN NULL "
                    f"WHEN {d} = floor({d}) AND abs({d}) < {EXACT_INT} THEN CAST(CAST({d} AS BIGINT) AS {s}) "
                    f"WHEN {d} = floor({d}) THEN CAST({c} AS {s}) ELSE CAST({d} AS {s}) END")
        t = f"CAST({c} AS {s})"
        if kind == "string":  # comparisons only: no per-row string allocation
            return f"CASE WHEN {t} IN ('True', 'TRUE', 'False', 'FALSE') THEN lower({t}) ELSE {t} END"
        return t

    def is_nan(self, v: str) -> str:
        return f"isnan({v})"

    def is_finite(self, v: str) -> str:
        return f"(NOT isnan({v}) AND {v} < {_INF} AND {v} > -{_INF})"

    def _numeric_index(self, v: str, edges: np.ndarray) -> str:
        whens = " ".join(f"WHEN {v} <= {_float_literal(e)} THEN {i}" for i, e in enumerate(edges))
        return f"CASE WHEN {v} IS NULL OR {self.is_nan(v)} THEN -1 {whens} ELSE {len(edges)} END"

    def _category_index(self, t: str, categories: list[str]) -> str:
        pos = f"nullif(array_position({self.text_list(categories)}, {t}), 0)"
        return f"CASE WHEN {t} IS NULL THEN -1 ELSE coalesce({pos}, {len(categories) + 1}) - 1 END"

    # -- queries ----------------------------------------------------------------------------
    #: bytes of values that one quantile query may hold (exact quantiles keep every value of a
    #: column): the numeric columns are summarised in batches of about this size (None: all at once)
    quantile_budget: int | None = None

    def numeric_summary(self, columns, levels):
        if self.quantile_budget is None or len(columns) <= 1:
            return self._numeric_summary(columns, levels)
        per_column = 16 * max(self.row_count(), 1)  # a double and its share of the state
        batch = max(1, self.quantile_budget // per_column)
        out = {}
        for start in range(0, len(columns), batch):
            out.update(self._numeric_summary(columns[start:start + batch], levels))
        return out

    def _numeric_summary(self, columns, levels):
        inner = [f"{self._double(c)} AS v{i}" for i, c in enumerate(columns)]
        aggs = ["count(*)"]
        # the minimum and maximum are the quantiles at 0 and 1 (exact order statistics, no interpolation),
        # asked in the same quantile aggregate: cheaper than separate min() and max()
        asked = [0.0, *(float(x) for x in levels), 1.0]
        for i in range(len(columns)):
            v = f"v{i}"
            fin = f"CASE WHEN {self.is_finite(v)} THEN {v} END"
            aggs += [
                f"count(CASE WHEN {v} IS NOT NULL AND NOT {self.is_nan(v)} THEN 1 END)",
                f"count({fin})", f"avg({fin})", f"stddev_pop({fin})", self.quantiles_expr(fin, asked),
            ]
        row = self.run(inner or ["1 AS one"], aggs)
        rows = self._rows = int(row[0])
        out = {}
        for i, c in enumerate(columns):
            nonmissing, finite, mean, std, qs = row[1 + 5 * i: 6 + 5 * i]
            qs = [float(x) for x in qs] if qs else [math.nan] * len(asked)
            out[c] = NumericSummary(rows, int(nonmissing), int(finite), qs[0], qs[-1], _f(mean), _f(std),
                                    np.asarray(qs[1:-1], dtype=np.float64))
        return out

    def row_count(self):
        if getattr(self, "_rows", None) is None:  # every summary query counts the rows too
            self._rows = int(self.run(["1 AS one"], ["count(*)"])[0])
        return self._rows

    def missing_counts(self, columns):
        inner = [f"{self.text_expr(c)} AS t{i}" for i, c in enumerate(columns)]
        aggs = ["count(*)"] + [f"count(t{i})" for i in range(len(columns))]
        row = self.run(inner, aggs)
        self._rows = int(row[0])
        return {c: (int(row[0]) - int(row[1 + i]), int(row[1 + i])) for i, c in enumerate(columns)}

    def unseen_counts(self, seen):
        names = list(seen)
        inner = [f"{self.text_expr(c)} AS t{i}" for i, c in enumerate(names)]
        aggs = [f"count(CASE WHEN t{i} IS NOT NULL AND NOT (t{i} IN ({', '.join(self.literal(v) for v in seen[c])}))"
                f" THEN 1 END)" if seen[c] else f"count(t{i})" for i, c in enumerate(names)]
        row = self.run(inner, aggs)
        return {c: int(row[i]) for i, c in enumerate(names)}

    def fetch_arrays(self, exprs: list[str]) -> list[np.ndarray]:  # pragma: no cover - dialect
        """The values of SQL expressions over every row, as NumPy arrays."""
        raise NotImplementedError

    def distinct_counts(self, columns):
        if not columns:
            return {}
        schema = self.schema()
        inner, aggs = [], []
        for i, c in enumerate(columns):
            if schema[c] in ("numeric", "datetime"):
                inner.append(f"{self._double(c)} AS v{i}")
                aggs.append(f"count(DISTINCT CASE WHEN NOT {self.is_nan(f'v{i}')} THEN v{i} END)")
            else:
                inner.append(f"{self.text_expr(c)} AS v{i}")
                aggs.append(f"count(DISTINCT v{i})")
        row = self.run(inner, aggs)
        return {c: int(row[i]) for i, c in enumerate(columns)}

    def distinct_values(self, columns, limit):
        out = {}
        for c in columns:
            values, _ = self.sorted_values(c)
            out[c] = np.unique(values[np.isfinite(values)])[: int(limit) + 1]
        return out

    def sorted_values(self, column: str) -> tuple[np.ndarray, np.ndarray | None]:
        return next(iter(self.sorted_values_many([column])))[1]

    #: bytes of values that one fetch for the KS test may hold (columns are fetched in batches of this size)
    fetch_budget = 16 * 2**20

    def sorted_values_many(self, columns: list[str]) -> Iterator[tuple[str, tuple[np.ndarray, np.ndarray | None]]]:
        """:meth:`sorted_values` of several columns (each value once, sorted here), fetched in batches
        of about :attr:`fetch_budget` bytes (one query per batch), yielded column by column."""
        per_column = 8 * max(self.row_count(), 1)
        batch = max(1, self.fetch_budget // per_column)
        for start in range(0, len(columns), batch):
            names = columns[start:start + batch]
            arrays = self.fetch_arrays([self._double(c) for c in names])[::-1]
            for c in names:
                x = arrays.pop()  # the batch's memory is released column by column
                x = x[~np.isnan(x)]  # a copy, sorted in place
                x.sort()
                yield c, (x, None)

    #: whether :meth:`grouped_counts` can count categorical columns by value (then one pass gives both
    #: the bin counts and the unseen counts, see :meth:`bin_counts_unseen`)
    counts_by_value = False

    def bin_counts(self, numeric, categorical, *, sums=False, split=None):
        return self._counts(numeric, categorical, sums, split, {})[0]

    def bin_counts_unseen(self, numeric, categorical, seen):
        if not seen or not self.counts_by_value:
            return super().bin_counts_unseen(numeric, categorical, seen)
        return self._counts(numeric, categorical, False, None, seen)

    def _counts(self, numeric, categorical, sums, split, seen):
        wide = {c: e for c, e in numeric.items() if len(e) > WIDE_EDGES}
        out = self._wide_counts(wide, sums, split) if wide else {}
        numeric = {c: e for c, e in numeric.items() if c not in wide}
        counts, unseen = self._sql_counts(numeric, categorical, sums, split, seen)
        return {**out, **counts}, unseen

    def _wide_counts(self, wide, sums, split):
        exprs = [self._double(c) for c in wide]
        if split is not None:
            t = self.text_expr(split.column)
            exprs.append(f"CASE WHEN {t} IS NULL THEN -1 WHEN {t} = {self.literal(split.bad)} THEN 1 ELSE 0 END")
        arrays = self.fetch_arrays(exprs)
        target = None
        if split is not None:
            y = np.asarray(arrays[-1], dtype=np.int64)
            target = (y >= 0, y == 1)
        return {c: numpy_bin_counts(np.asarray(a, dtype=np.float64), e, sums=sums, target=target)
                for (c, e), a in zip(wide.items(), arrays)}

    def _sql_counts(self, numeric, categorical, sums, split, seen):
        """Counts on the bins in one grouped pass; the categorical columns in ``seen`` are counted by
        value (bins and unseen counts then come from the same counts)."""
        names = list(numeric) + list(categorical)
        if not names:
            return {}, {}
        n = len(numeric)
        # layer 1 reads the table once: numbers as doubles, categories as text, the target as 0/1
        inner = [f"{self._double(c)} AS v{i}" for i, c in enumerate(numeric)]
        inner += [f"{self.text_expr(c)} AS t{j}" for j, c in enumerate(categorical)]
        # layer 2: the bin index of every value (-1 for missing) and the finite values to sum
        middle = [self._numeric_index(f"v{i}", numeric[c]) + f" AS i{i}" for i, c in enumerate(numeric)]
        middle += [f"CASE WHEN {self.is_finite(f'v{i}')} THEN v{i} END AS f{i}" for i in range(n) if sums]
        middle += [f"t{j} AS i{n + j}" if c in seen else self._category_index(f"t{j}", categorical[c]) + f" AS i{n + j}"
                   for j, c in enumerate(categorical)]
        if split is not None:
            t = self.text_expr(split.column)
            inner.append(f"CASE WHEN {t} IS NULL THEN NULL WHEN {t} = {self.literal(split.bad)} THEN 1 ELSE 0 END AS y")
            middle.append("y")
        sizes = [len(numeric[c]) + 1 for c in numeric] + [len(categorical[c]) + 1 for c in categorical]
        groups = 1 if split is None else 2
        counts = [np.zeros((groups, size + 1), dtype=np.int64) for size in sizes]
        totals = [np.zeros(size + 1) for size in sizes]
        # columns counted by value: each value's bin (kept category, else the last) and whether it is unseen
        by_value = {n + j: ({v: i for i, v in enumerate(categorical[c])}, set(seen[c]), c)
                    for j, c in enumerate(categorical) if c in seen}
        unseen = {c: 0 for c in seen}
        # layer 3: counts per (column, bin[, target]) and sums of finite values per numeric bin
        for k, g, b, count, total in self.grouped_counts(inner, middle, sizes, n if sums else 0, split is not None,
                                                         frozenset(by_value)):
            if k in by_value:
                position, known, c = by_value[k]
                if b is None:
                    b = -1
                else:
                    unseen[c] += 0 if b in known else count
                    b = position.get(b, sizes[k] - 1)
            counts[k][g, b + 1] += count
            totals[k][b + 1] += total
        out = {}
        for k, c in enumerate(names):
            block = counts[k]
            s = totals[k][1:] if sums and k < n else None
            if split is None:
                out[c] = BinCounts(block[0, 1:], int(block[0, 0]), s)
            else:
                out[c] = BinCounts(block[:, 1:], block[:, 0].copy(), s)
        return out, unseen

    def window_counts(self, by, window, numeric, categorical):
        # the window of every row is computed in the query (window.key_sql)
        names = list(numeric) + list(categorical)
        n = len(numeric)
        key = window.key_sql(self._double(by), self.ident(by))
        inner = [f"{self._double(c)} AS v{i}" for i, c in enumerate(numeric)]
        inner += [f"{self.text_expr(c)} AS t{j}" for j, c in enumerate(categorical)]
        inner.append(f"{key} AS w")
        middle = [self._numeric_index(f"v{i}", numeric[c]) + f" AS i{i}" for i, c in enumerate(numeric)]
        middle += [self._category_index(f"t{j}", categorical[c]) + f" AS i{n + j}" for j, c in enumerate(categorical)]
        middle.append("w")
        sizes = [len(numeric[c]) + 1 for c in numeric] + [len(categorical[c]) + 1 for c in categorical]
        blocks: dict[int, list[np.ndarray]] = {}
        for k, w, b, count in self.window_rows(inner, middle, len(names)):
            block = blocks.setdefault(int(w), [np.zeros(size + 1, dtype=np.int64) for size in sizes])
            block[k][b + 1] += count
        missing = int(self.run([f"{key} AS w"], ["count(*) - count(w)"])[0])
        out = {w: {c: BinCounts(block[k][1:], int(block[k][0])) for k, c in enumerate(names)}
               for w, block in sorted(blocks.items())}
        return out, missing

    def window_rows(self, inner: list[str], middle: list[str], columns: int):  # pragma: no cover - dialect
        """(column k, window key, bin, count) over rows whose window key is not NULL."""
        raise NotImplementedError

    def grouped_counts(self, inner: list[str], middle: list[str], sizes: list[int], summed: int, split: bool,
                       by_value: frozenset[int] = frozenset()):
        """(column k, target group, bin, count, sum) tuples: one aggregation pass over the table. For
        the columns k in ``by_value`` (only where :attr:`counts_by_value`), ``i{k}`` is the value
        itself (text) and so is the bin in the tuples (None for a missing value).

        This default asks for one row of ``count(CASE …)`` aggregates (one job, good for Spark);
        DuckDB overrides it with GROUPING SETS, faster there."""
        groups = [" AND y = 0", " AND y = 1"] if split else [""]
        columns = len(sizes)
        aggs = []
        for k in range(columns):
            for g in groups:
                aggs += [f"count(CASE WHEN i{k} = {b}{g} THEN 1 END)" for b in range(-1, sizes[k])]
            if k < summed:
                aggs += [f"sum(CASE WHEN i{k} = {b} THEN f{k} END)" for b in range(sizes[k])]
        row = iter(self.run_layered(inner, middle, aggs))
        for k in range(columns):
            for g in range(len(groups)):
                for b in range(-1, sizes[k]):
                    yield k, g, b, int(next(row)), 0.0
            if k < summed:
                for b in range(sizes[k]):
                    x = next(row)
                    yield k, 0, b, 0, 0.0 if x is None else float(x)

    def run(self, inner: list[str], aggregates: list[str]) -> tuple:
        """One row: ``SELECT aggregates FROM (SELECT inner FROM table)``."""
        return self.run_layered(inner, ["*"], aggregates)

    def run_layered(self, inner: list[str], middle: list[str], aggregates: list[str]) -> tuple:
        """One row: ``SELECT aggregates FROM (SELECT middle FROM (SELECT inner FROM table))``."""
        raise NotImplementedError  # pragma: no cover - dialect


def _f(x) -> float:
    return float("nan") if x is None else float(x)
