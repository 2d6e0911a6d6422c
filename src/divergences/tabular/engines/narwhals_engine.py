"""In-memory dataframes (pandas, Polars, PyArrow, ...) through Narwhals: the dataframe library does
the work with its own expressions; only summaries and counts come back."""

from __future__ import annotations

import math

import numpy as np

from .base import BinCounts, Engine, NumericSummary

__all__ = ["NarwhalsEngine"]


class NarwhalsEngine(Engine):
    """An eager dataframe that Narwhals supports. Raises TypeError for anything else."""

    def __init__(self, frame, label: str) -> None:
        import narwhals as nw

        self.nw = nw
        self.frame = nw.from_native(frame, eager_only=True)
        self.label = label
        self._schema: dict[str, str] | None = None

    def schema(self):
        if self._schema is None:
            nw = self.nw
            kinds = {}
            for name, dtype in self.frame.schema.items():
                if dtype == nw.Boolean:
                    kinds[name] = "boolean"
                elif dtype.is_numeric():
                    kinds[name] = "numeric"
                elif dtype in (nw.String, nw.Categorical) or isinstance(dtype, nw.Enum) or dtype == nw.Enum:
                    kinds[name] = "string"
                else:
                    kinds[name] = "other"
            self._schema = kinds
        return self._schema

    def row_count(self):
        return len(self.frame)

    # -- expressions ------------------------------------------------------------------------
    def _double(self, column):
        return self.nw.col(column).cast(self.nw.Float64)

    def _missing(self, column):
        x = self._double(column)
        return x.is_null() | x.fill_null(0.0).is_nan()

    def _text(self, column):
        nw = self.nw
        kind = self.schema()[column]
        c = nw.col(column)
        if kind == "boolean":
            return nw.when(c.is_null()).then(nw.lit(None, nw.String)).otherwise(
                nw.when(c).then(nw.lit("true")).otherwise(nw.lit("false")))
        if kind == "numeric":
            return nw.when(self._missing(column)).then(nw.lit(None, nw.String)).otherwise(c.cast(nw.String))
        return c.cast(nw.String)

    # -- queries ----------------------------------------------------------------------------
    def numeric_summary(self, columns, levels):
        rows = len(self.frame)
        out = {}
        for c in columns:
            x = self.frame.select(self._double(c).alias("x"), self._missing(c).alias("m"))
            nonmissing = rows - int(x["m"].sum())
            finite = x.filter(~self.nw.col("m")).filter(self.nw.col("x").abs() < math.inf)["x"]
            n = len(finite)
            if n:
                qs = np.asarray([finite.quantile(float(q), interpolation="linear") for q in levels], dtype=np.float64)
                stats = (float(finite.min()), float(finite.max()), float(finite.mean()), float(finite.std(ddof=0)))
            else:
                qs, stats = np.full(len(levels), np.nan), (math.nan,) * 4
            out[c] = NumericSummary(rows, nonmissing, n, *stats, qs)
        return out

    def missing_counts(self, columns):
        rows = len(self.frame)
        out = {}
        for c in columns:
            missing = int(self.frame.select(self._text(c).is_null().alias("m"))["m"].sum())
            out[c] = (missing, rows - missing)
        return out

    def top_values(self, column, limit):
        t = self.frame.select(self._text(column).alias("t")).drop_nulls()
        counts = t.group_by("t").agg(self.nw.len().alias("n")).rows()
        counts = sorted(((str(v), int(n)) for v, n in counts), key=lambda vn: (-vn[1], vn[0]))
        return counts[: int(limit)]

    def _index(self, column, edges=None, categories=None):
        nw = self.nw
        if edges is not None:
            x = self._double(column)
            idx = nw.lit(0, nw.Int64)
            for e in edges:
                idx = idx + (x > float(e)).cast(nw.Int64)
            return nw.when(self._missing(column)).then(nw.lit(-1, nw.Int64)).otherwise(idx)
        t = self._text(column)
        idx = nw.lit(len(categories), nw.Int64)
        for i, v in enumerate(categories):
            idx = nw.when(t == v).then(nw.lit(i, nw.Int64)).otherwise(idx)
        return nw.when(t.is_null()).then(nw.lit(-1, nw.Int64)).otherwise(idx)

    def bin_counts(self, numeric, categorical, *, sums=False, split=None):
        nw = self.nw
        out = {}
        y, frame = None, self.frame
        if split is not None:  # rows with a missing target take no part
            t = self._text(split.column)
            frame = frame.filter(~t.is_null())
            y = (t == split.bad).cast(nw.Int64)
        specs = [(c, {"edges": e}, len(e) + 1) for c, e in numeric.items()]
        specs += [(c, {"categories": v}, len(v) + 1) for c, v in categorical.items()]
        for c, spec, size in specs:
            cols = [self._index(c, **spec).alias("i")]
            keys = ["i"]
            aggs = [nw.len().alias("n")]
            if y is not None:
                cols.append(y.alias("y"))
                keys.append("y")
            if sums and "edges" in spec:
                x = self._double(c)
                cols.append(nw.when(x.abs() < math.inf).then(x).otherwise(nw.lit(None, nw.Float64)).alias("x"))
                aggs.append(nw.col("x").sum().alias("s"))
            grouped = frame.select(*cols).group_by(*keys).agg(*aggs).rows(named=True)
            groups = 1 if y is None else 2
            counts = np.zeros((groups, size + 1), dtype=np.int64)
            total = np.zeros(size + 1)
            for r in grouped:
                g = 0 if y is None else int(r["y"])
                counts[g, int(r["i"]) + 1] += int(r["n"])
                s = r.get("s")
                if s is not None and r["i"] >= 0 and not math.isnan(float(s)):
                    total[int(r["i"]) + 1] += float(s)
            sums_out = total[1:] if sums and "edges" in spec else None
            if y is None:
                out[c] = BinCounts(counts[0, 1:], int(counts[0, 0]), sums_out)
            else:
                out[c] = BinCounts(counts[:, 1:], counts[:, 0].copy(), sums_out)
        return out
