"""DuckDB: CSV and Parquet files (streamed from disk) and DuckDB relations, aggregated in SQL."""

from __future__ import annotations

import os
import re

from ..errors import InputError
from .base import SQLEngine

__all__ = ["DuckDBEngine"]

_NUMERIC = re.compile(r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|REAL|DECIMAL.*)$")
_READERS = {".csv": "read_csv", ".tsv": "read_csv", ".txt": "read_csv", ".parquet": "read_parquet",
            ".pq": "read_parquet"}


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if _NUMERIC.match(t):
        return "numeric"
    if t == "VARCHAR" or t.startswith("ENUM"):
        return "string"
    if t == "BOOLEAN":
        return "boolean"
    return "other"


class DuckDBEngine(SQLEngine):
    """A DuckDB relation (from a file or given by the caller); every question is one SQL query."""

    def __init__(self, relation, label: str) -> None:
        self.relation, self.label = relation, label
        self._schema: dict[str, str] | None = None

    @classmethod
    def from_path(cls, path: str) -> DuckDBEngine:
        import duckdb

        if not os.path.exists(path):
            raise InputError("file not found", source=path)
        if os.path.isdir(path):
            raise InputError("is a directory, not a CSV or Parquet file", source=path)
        suffix = os.path.splitext(path)[1].lower()
        reader = _READERS.get(suffix)
        if reader is None:
            raise InputError(f"unsupported file type {suffix or '(none)'!r}: use .csv or .parquet", source=path)
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")  # the command line draws its own
        try:
            rel = getattr(con, reader)(path)
            engine = cls(rel, path)
            engine.schema()
        except duckdb.Error as exc:
            con.close()
            kind = "CSV" if reader == "read_csv" else "Parquet"
            raise InputError(f"cannot read as {kind}: {_first_line(exc)}", source=path) from None
        engine._con = con
        return engine

    def close(self) -> None:
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
            self._con = None

    # -- dialect ----------------------------------------------------------------------------
    def ident(self, name):
        return '"' + name.replace('"', '""') + '"'

    def text_list(self, values):
        return "[" + ", ".join(self.literal(v) for v in values) + "]::VARCHAR[]"

    # DuckDB 2.0 folds isnan(x) to false inside CASE from Parquet statistics (which leave NaN out),
    # so NaN is recognised as "neither finite nor infinite", which it evaluates correctly
    def is_nan(self, v):
        return f"(NOT isfinite({v}) AND NOT isinf({v}))"

    def is_finite(self, v):
        return f"isfinite({v})"

    def quantiles_expr(self, expr, levels):
        return f"quantile_cont({expr}, [{', '.join(repr(float(x)) for x in levels)}])"

    def schema(self):
        if self._schema is None:
            self._schema = {c: _kind(str(t)) for c, t in zip(self.relation.columns, self.relation.dtypes)}
        return self._schema

    def _query(self, sql: str):
        import duckdb

        try:
            return self.relation.query("__dv_source", sql)
        except duckdb.Error as exc:
            raise InputError(f"DuckDB could not read the data: {_first_line(exc)}", source=self.label) from None

    def _fetch(self, sql: str, one: bool = True):
        import duckdb

        try:
            rel = self._query(sql)
            rows = rel.fetchall()
            return rows[0] if one else rows
        except duckdb.Error as exc:
            raise InputError(f"DuckDB could not read the data: {_first_line(exc)}", source=self.label) from None

    def run_layered(self, inner, middle, aggregates):
        sql = (f"SELECT {', '.join(aggregates)} FROM (SELECT {', '.join(middle)} FROM "
               f"(SELECT {', '.join(inner)} FROM __dv_source) AS l1) AS l2")
        return self._fetch(sql)

    def grouped_counts(self, inner, middle, sizes, summed, split):
        # one pass: GROUPING SETS hash-aggregates every column's bin index (and target) at once
        cols = len(sizes)
        keys = [f"i{k}" for k in range(cols)] + (["y"] if split else [])
        sets = ", ".join(f"(i{k}, y)" if split else f"(i{k})" for k in range(cols))
        aggs = ["count(*)"] + [f"sum(f{k})" for k in range(summed)]
        sql = (f"SELECT {', '.join(keys + aggs)} FROM (SELECT {', '.join(middle)} FROM "
               f"(SELECT {', '.join(inner)} FROM __dv_source) AS l1) AS l2"
               f"{' WHERE y IS NOT NULL' if split else ''} GROUP BY GROUPING SETS ({sets})")
        base = len(keys)
        for row in self._fetch(sql, one=False):
            k = next(j for j in range(cols) if row[j] is not None)
            total = row[base + 1 + k] if k < summed else None
            yield k, int(row[cols]) if split else 0, int(row[k]), int(row[base]), 0.0 if total is None else float(total)

    def top_values(self, column, limit):
        sql = (f"SELECT t, count(*) AS n FROM (SELECT {self.text_expr(column)} AS t FROM __dv_source) AS l1 "
               f"WHERE t IS NOT NULL GROUP BY t ORDER BY n DESC, t LIMIT {int(limit)}")
        return [(str(t), int(n)) for t, n in self._fetch(sql, one=False)]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


