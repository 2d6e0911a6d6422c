"""DuckDB: CSV and Parquet files (streamed from disk) and DuckDB relations, aggregated in SQL."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import threading

import numpy as np

from ..errors import InputError
from ..extras import require
from .base import BinCounts, SQLEngine

__all__ = ["DuckDBEngine"]

_NUMERIC = re.compile(r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|REAL|DECIMAL.*)$")
_DATETIME = re.compile(r"^(DATE|TIME|TIMESTAMP.*|TIME WITH TIME ZONE|DATETIME)$")
_READERS = {".csv": "read_csv", ".tsv": "read_csv", ".txt": "read_csv", ".parquet": "read_parquet",
            ".pq": "read_parquet"}
_LINE = re.compile(r"CSV Error on Line: (\d+)")
# a relation given by the caller belongs to the caller's connection, which runs one query at a time:
# queries on such relations are serialised (threads then get the results of a serial run)
_SHARED = threading.RLock()


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if _NUMERIC.match(t):
        return "numeric"
    if t == "VARCHAR" or t.startswith("ENUM"):
        return "string"
    if t == "BOOLEAN":
        return "boolean"
    if _DATETIME.match(t):
        return "datetime"
    return "other"


class DuckDBEngine(SQLEngine):
    """A DuckDB relation (from a file or given by the caller); every question is one SQL query.

    Exact quantiles hold every value of a column in memory, so numeric columns are summarised in
    batches of about :attr:`quantile_budget` bytes (256 MiB): reference bins stay exact and the
    peak memory stays bounded however many columns a table has."""

    quantile_budget = 256 * 2**20
    values_local = True

    def __init__(self, relation, label: str) -> None:
        self.relation, self.label = relation, label
        self._schema: dict[str, str] | None = None
        self._con = None
        self._csv = False
        self._parquet = False

    @classmethod
    def from_path(cls, path: str, *, delimiter: str | None = None, decimal: str | None = None) -> DuckDBEngine:
        duckdb = require("duckdb")
        if not os.path.exists(path):
            raise InputError("file not found", source=path)
        if os.path.isdir(path):
            raise InputError("is a directory, not a CSV or Parquet file", source=path)
        if os.path.getsize(path) == 0:
            raise InputError("is empty (0 bytes): no header, no rows", source=path)
        suffix = os.path.splitext(path)[1].lower()
        reader = _READERS.get(suffix)
        if reader is None:
            raise InputError(f"unsupported file type {suffix or '(none)'!r}: use .csv or .parquet", source=path)
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")  # the command line draws its own
        con.execute("SET preserve_insertion_order = false")  # aggregates only: less memory
        try:
            if reader == "read_csv":
                options = {k: v for k, v in (("delimiter", delimiter), ("decimal", decimal)) if v}
                rel = con.read_csv(path, **options)
            else:
                rel = con.read_parquet(path)
                _check_parquet_names(rel, path)
            engine = cls(rel, path)
            engine._con, engine._csv, engine._parquet = con, reader == "read_csv", reader == "read_parquet"
            if engine._csv:  # every fetch parses the file again: fewer, larger batches
                engine.fetch_budget = 256 * 2**20
            engine.schema()
            if engine._csv:
                _check_csv_header(con, rel, path, delimiter)
                if decimal is None:
                    engine.notes = _decimal_comma_notes(engine)
        except duckdb.Error as exc:
            con.close()
            kind = "CSV" if reader == "read_csv" else "Parquet"
            raise InputError(f"cannot read as {kind}: {_first_line(exc)}", source=path) from None
        except InputError:
            con.close()
            raise
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

    def epoch_expr(self, column):
        return f"CAST(epoch({self.ident(column)}) AS DOUBLE)"

    def schema(self):
        if self._schema is None:
            with self._guard():
                self._types = {c: str(t) for c, t in zip(self.relation.columns, self.relation.dtypes)}
            self._schema = {c: _kind(t) for c, t in self._types.items()}
        return self._schema

    def type_name(self, column):
        self.schema()
        return self._types.get(column, "unknown")

    def _fetch(self, sql: str, one: bool = True):
        import duckdb

        try:
            with self._guard():
                rows = self.relation.query("__dv_source", sql).fetchall()
        except duckdb.Error as exc:
            raise self._error(exc) from None
        return rows[0] if one else rows

    def _fetch_columns(self, sql: str) -> list[list]:
        """The result of ``sql`` as one Python list per column (through Arrow: far faster than tuples
        for the hundred thousand rows of a column's distinct values)."""
        import duckdb

        try:
            with self._guard():
                rel = self.relation.query("__dv_source", sql)
                table = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
        except duckdb.Error as exc:
            raise self._error(exc) from None
        return [table.column(i).to_pylist() for i in range(table.num_columns)]

    def bin_counts_unseen(self, numeric, categorical, seen):
        # the columns whose unseen share needs a lookup are counted by value, one GROUP BY each fetched
        # through Arrow (not row tuples: a hundred thousand values), and looked up in Python sets; the
        # others in the usual single pass
        if not seen:
            return self.bin_counts(numeric, categorical), {}
        rest = {c: v for c, v in categorical.items() if c not in seen}
        counts = self.bin_counts(numeric, rest) if (numeric or rest) else {}
        unseen = {}
        for c in seen:
            ts, ns = self._fetch_columns(f"SELECT t, count(*) AS n FROM (SELECT {self.text_expr(c)} AS t "
                                         "FROM __dv_source) AS l1 GROUP BY t")
            cats = categorical[c]
            position = {v: i for i, v in enumerate(cats)}
            known = set(seen[c])
            other = len(cats)
            bins = np.zeros(other + 1, dtype=np.int64)
            missing = new = 0
            for t, n in zip(ts, ns):
                if t is None:
                    missing += n
                    continue
                bins[position.get(t, other)] += n
                if t not in known:
                    new += n
            unseen[c] = int(new)
            counts[c] = BinCounts(bins, int(missing))
        return counts, unseen

    def _guard(self):
        """The caller's relation: one query at a time on its connection (threads are serialised)."""
        return _SHARED if self._con is None else contextlib.nullcontext()

    def _error(self, exc: Exception) -> Exception:
        text = str(exc)
        if "Resource In Use" in text or type(exc).__name__ == "ResourceInUseException":
            return RuntimeError(f"{self.label}: the DuckDB connection of this relation is busy with another query "
                                "(a connection runs one query at a time; give each thread its own "
                                "connection.cursor())")
        line = _LINE.search(text)
        if self._csv and line:
            found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
            what = (f"expected {found.group(1)} fields, found {found.group(2)}" if found
                    else _first_line(exc).split("Error: ", 1)[-1])
            return InputError(f"line {line.group(1)}: {what}; the delimiter or the quoting may be misread "
                              "(give the delimiter: delimiter=... / --delimiter)", source=self.label)
        kind = "CSV" if self._csv else "the data"
        return InputError(f"DuckDB could not read {kind}: {_first_line(exc)}", source=self.label)

    def fetch_arrays(self, exprs):
        import duckdb

        # NULL arrives as NaN (missing either way): plain arrays, no masked-array copies (the fastest way
        # out of DuckDB measured, ahead of masked arrays and of Arrow)
        nan = "CAST('NaN' AS DOUBLE)"
        sql = f"SELECT {', '.join(f'coalesce(CAST({e} AS DOUBLE), {nan}) AS a{i}' for i, e in enumerate(exprs))} " \
              "FROM __dv_source"
        try:
            with self._guard():
                got = self.relation.query("__dv_source", sql).fetchnumpy()
        except duckdb.Error as exc:
            raise self._error(exc) from None
        return [np.ma.filled(a, np.nan) if isinstance(a, np.ma.MaskedArray) else np.asarray(a, dtype=np.float64)
                for a in (got[f"a{i}"] for i in range(len(exprs)))]

    def run_layered(self, inner, middle, aggregates):
        sql = (f"SELECT {', '.join(aggregates)} FROM (SELECT {', '.join(middle)} FROM "
               f"(SELECT {', '.join(inner)} FROM __dv_source) AS l1) AS l2")
        return self._fetch(sql)

    counts_by_value = True

    def _layers(self, inner, middle, where=""):
        return (f"(SELECT {', '.join(middle)} FROM (SELECT {', '.join(inner)} FROM __dv_source) AS l1) AS l2"
                f"{where}")

    def grouped_counts(self, inner, middle, sizes, summed, split, by_value=frozenset()):
        cols = len(sizes)
        where = " WHERE y IS NOT NULL" if split else ""
        aggs = ["count(*)"] + [f"sum(f{k})" for k in range(summed)]
        if self._parquet:
            # a Parquet file: one small aggregate per column, all in one query (UNION ALL); each reads
            # only its column, and this is faster than GROUPING SETS, which feed every aggregate to every set
            branches = []
            for k in range(cols):
                i = f"CASE WHEN i{k} IS NULL THEN -1 END" if k in by_value else f"i{k}"
                t = f"i{k}" if k in by_value else "NULL"
                total = f"sum(f{k})" if k < summed else "NULL"
                mid = _aliased(middle, {f"i{k}", f"f{k}", "y"})
                used = set(_NAME.findall(" ".join(mid)))
                branches.append(f"SELECT {k} AS k, CAST({i} AS BIGINT) AS i, CAST({t} AS VARCHAR) AS t, "
                                f"{'y' if split else '0'} AS g, count(*) AS n, CAST({total} AS DOUBLE) AS s "
                                f"FROM {self._layers(_aliased(inner, used), mid, where)} "
                                f"GROUP BY i{k}{', y' if split else ''}")
            for k, i, t, g, n, total in self._fetch(" UNION ALL ".join(branches), one=False):
                yield k, int(g), t if k in by_value else int(i), int(n), 0.0 if total is None else float(total)
            return
        # otherwise one pass (a CSV file is parsed once): GROUPING SETS hash-aggregate every column's bin
        # index (or value) and target at once; GROUPING() names the column of each result row
        keys = [f"i{k}" for k in range(cols)] + (["y"] if split else [])
        sets = ", ".join(f"(i{k}, y)" if split else f"(i{k})" for k in range(cols))
        which = "CASE " + " ".join(f"WHEN GROUPING(i{k}) = 0 THEN {k}" for k in range(cols)) + " END"
        sql = (f"SELECT {', '.join([which] + keys + aggs)} FROM {self._layers(inner, middle, where)} "
               f"GROUP BY GROUPING SETS ({sets})")
        base = 1 + len(keys)
        for row in self._fetch(sql, one=False):
            k = int(row[0])
            total = row[base + 1 + k] if k < summed else None
            b = row[1 + k] if k in by_value else int(row[1 + k])
            yield (k, int(row[1 + cols]) if split else 0, b, int(row[base]),
                   0.0 if total is None else float(total))

    def window_rows(self, inner, middle, columns):
        keys = [f"i{k}" for k in range(columns)]
        sets = ", ".join(f"(w, i{k})" for k in range(columns))
        sql = (f"SELECT w, {', '.join(keys)}, count(*) FROM (SELECT {', '.join(middle)} FROM "
               f"(SELECT {', '.join(inner)} FROM __dv_source) AS l1) AS l2 WHERE w IS NOT NULL "
               f"GROUP BY GROUPING SETS ({sets})")
        for row in self._fetch(sql, one=False):
            k = next(j for j in range(columns) if row[1 + j] is not None)
            yield k, int(row[0]), int(row[1 + k]), int(row[-1])

    def category_summary(self, columns, limit):
        # one query for every categorical column: counts per (column, value) (per column in a UNION ALL
        # for a Parquet file, else GROUPING SETS in one pass), then the top ones with each column's
        # total of non-missing values
        if len(columns) <= 1:
            return super().category_summary(columns, limit)
        inner = [f"{self.text_expr(c)} AS t{i}" for i, c in enumerate(columns)]
        keys = [f"t{i}" for i in range(len(columns))]
        source = f"(SELECT {', '.join(inner)} FROM __dv_source) AS l1"
        if self._parquet:
            counted = " UNION ALL ".join(f"SELECT {i} AS k, t{i} AS t, count(*) AS n FROM (SELECT {e} FROM "
                                         f"__dv_source) AS l1 GROUP BY t{i}" for i, e in enumerate(inner))
        else:
            which = "CASE " + " ".join(f"WHEN GROUPING({t}) = 0 THEN {i}" for i, t in enumerate(keys)) + " END"
            counted = (f"SELECT {which} AS k, coalesce({', '.join(keys)}) AS t, count(*) AS n FROM {source} "
                       f"GROUP BY GROUPING SETS ({', '.join(f'({t})' for t in keys)})")
        sql = (f"SELECT k, t, n, total FROM (SELECT k, t, n, sum(n) OVER (PARTITION BY k) AS total, "
               f"row_number() OVER (PARTITION BY k ORDER BY n DESC, t) AS r "
               f"FROM ({counted}) AS l2 WHERE t IS NOT NULL) AS l3 WHERE r <= {int(limit)} ORDER BY k, r")
        rows = self.row_count()
        present = {c: 0 for c in columns}
        top: dict[str, list] = {c: [] for c in columns}
        ks, ts, ns, totals = self._fetch_columns(sql)
        for k, t, n, total in zip(ks, ts, ns, totals):
            c = columns[int(k)]
            top[c].append((str(t), int(n)))
            present[c] = int(total)
        return {c: (rows - present[c], present[c], top[c]) for c in columns}

    def unseen_counts(self, seen):
        # one pass: count every distinct current value of these columns (a hash aggregate), then look
        # them up in Python; a per-row IN list over thousands of values is far slower
        columns = list(seen)
        inner = ", ".join(f"{self.text_expr(c)} AS t{i}" for i, c in enumerate(columns))
        sql = (f"SELECT k, t, count(*) FROM (UNPIVOT (SELECT {inner} FROM __dv_source) "
               f"ON {', '.join(f't{i}' for i in range(len(columns)))} INTO NAME k VALUE t) GROUP BY k, t")
        known = {c: set(v) for c, v in seen.items()}
        out = {c: 0 for c in columns}
        for k, t, n in self._fetch(sql, one=False):
            c = columns[int(k[1:])]
            if t not in known[c]:
                out[c] += int(n)
        return out

    def sample_rows(self, columns, limit, seed):
        exprs = [f"{self._double(c)} AS v{i}" for i, c in enumerate(columns)]
        finite = " AND ".join(f"isfinite(v{i})" for i in range(len(columns)))
        sql = (f"SELECT * FROM (SELECT {', '.join(exprs)} FROM __dv_source) AS l1 WHERE {finite} "
               f"USING SAMPLE reservoir({int(limit)} ROWS) REPEATABLE ({int(seed)})")
        cols = self._fetch_columns(sql)
        return np.asarray(cols, dtype=np.float64).T.reshape(-1, len(columns))

    def is_integer(self, column):
        self.schema()
        return bool(re.match(r"^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$", self._types.get(column, "").upper()))

    def distinct_values(self, columns, limit):
        # one query: per column, its distinct finite values (a hash aggregate), the smallest limit + 1 kept
        if not columns:
            return {}
        branches = " UNION ALL ".join(
            f"SELECT {k} AS k, v FROM (SELECT {self._double(c)} AS v FROM __dv_source) AS l1 "
            f"WHERE isfinite(v) GROUP BY v" for k, c in enumerate(columns))
        sql = (f"SELECT k, v FROM (SELECT k, v, row_number() OVER (PARTITION BY k ORDER BY v) AS r "
               f"FROM ({branches}) AS l2) AS l3 WHERE r <= {int(limit) + 1} ORDER BY k, v")
        out: dict[str, list] = {c: [] for c in columns}
        for k, v in self._fetch(sql, one=False):
            out[columns[int(k)]].append(float(v))
        return {c: np.asarray(v, dtype=np.float64) for c, v in out.items()}

    def top_values(self, column, limit):
        sql = (f"SELECT t, count(*) AS n FROM (SELECT {self.text_expr(column)} AS t FROM __dv_source) AS l1 "
               f"WHERE t IS NOT NULL GROUP BY t ORDER BY n DESC, t LIMIT {int(limit)}")
        ts, ns = self._fetch_columns(sql)
        return [(str(t), int(n)) for t, n in zip(ts, ns)]


def _check_csv_header(con, rel, path: str, delimiter: str | None) -> None:
    """Refuse a CSV file whose header the reader did not take as it is (misread delimiter, no
    header row, duplicate or empty names that the reader renamed)."""
    cols = list(rel.columns)
    if len(cols) == 1 and any(d in cols[0] for d in ",;\t|"):
        raise InputError(f"was read as one text column named {cols[0]!r}: the delimiter or the quoting looks "
                         "misread (rows with different numbers of fields?); give the delimiter "
                         "(delimiter=... / --delimiter)", source=path)
    args = [path] + ([delimiter] if delimiter else [])
    sniffed = con.execute(f"SELECT Delimiter, Quote, HasHeader FROM sniff_csv(?{', delim=?' if delimiter else ''})",
                          args).fetchall()[0]
    sep, quote, header = sniffed
    if not header:
        raise InputError(f"has no header row (the reader would name the columns {', '.join(cols[:3])}"
                         f"{', ...' if len(cols) > 3 else ''}): add a first line with the column names", source=path)
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        first = next(csv.reader(fh, delimiter=sep or ",", quotechar=quote if quote and quote != "(empty)" else '"'),
                     [])
    if len(first) == len(cols) and first != cols:
        renamed = [f"{a!r} → {b!r}" for a, b in zip(first, cols) if a != b]
        raise InputError(f"has duplicate or empty column names in its header, which the reader would rename "
                         f"({', '.join(renamed[:4])}{', ...' if len(renamed) > 4 else ''}): give every column a "
                         "distinct name", source=path)


def _check_parquet_names(rel, path: str) -> None:
    """Refuse a Parquet file with duplicate or empty column names (the reader would rename them
    ``a_1``, ``C2``: every result must be reported under the names in the file), as for CSV files."""
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    if list(rel.columns) != names or len(set(names)) != len(names) or any(not n for n in names):
        renamed = [f"{a!r} → {b!r}" for a, b in zip(names, rel.columns) if a != b]
        raise InputError("has duplicate or empty column names, which the reader would rename "
                         f"({', '.join(renamed[:4])}{', ...' if len(renamed) > 4 else ''}): give every column a "
                         "distinct name", source=path)


_NAME = re.compile(r"\b[vtyf]\d*\b")
# numbers written with a decimal comma, with or without a thousands dot: 1,5  -2,25  1.234,5
_DECIMAL_COMMA = r"\s*[-+]?([0-9]+|[0-9]{1,3}(\.[0-9]{3})+),[0-9]+\s*"


def _decimal_comma_notes(engine: DuckDBEngine) -> tuple[str, ...]:
    """Warnings for the text columns of a CSV file whose values (in its first 5 000 rows) are nearly
    all numbers with a decimal comma: read without ``decimal=","`` they would be compared as text."""
    text = [c for c, k in engine.schema().items() if k == "string"]
    if not text:
        return ()
    aggs = ", ".join(f"count({engine.ident(c)}), count(CASE WHEN regexp_full_match({engine.ident(c)}, "
                     f"'{_DECIMAL_COMMA}') THEN 1 END)" for c in text)
    row = engine._fetch(f"SELECT {aggs} FROM (SELECT * FROM __dv_source LIMIT 5000) AS l1")
    found = [c for i, c in enumerate(text) if row[2 * i] and row[2 * i + 1] >= 0.9 * row[2 * i]]
    if not found:
        return ()
    names = ", ".join(repr(c) for c in found[:5]) + (" ..." if len(found) > 5 else "")
    return (f"{engine.label}: column(s) {names} look like numbers with a decimal comma (1,5) and are read as text "
            "categories; give the decimal separator (decimal=',' / --decimal ,) to read them as numbers",)


def _aliased(exprs: list[str], names: set[str]) -> list[str]:
    """The expressions of a SELECT list (``expr AS name`` or a bare name) whose name is in ``names``."""
    return [e for e in exprs if e.rsplit(" AS ", 1)[-1] in names]


def _first_line(exc: Exception) -> str:
    """DuckDB's message: its first line, and the cause it states below it (not UTF-8, a line too long,
    ...), never the echoed row or the list of reader options."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    cause = next((line.strip() for line in text[1:] if line.strip() and not line.startswith(("Original Line", " "))
                  and not line.startswith("Possible Solution")), None)
    head = text[0]
    if cause and cause not in head:
        head = f"{head}: {cause[:300]}"
    return head


