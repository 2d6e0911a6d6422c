"""PySpark: the same aggregations as DuckDB, run inside Spark; only one row of counts comes back."""

from __future__ import annotations

from .base import SQLEngine

__all__ = ["SparkEngine"]


class SparkEngine(SQLEngine):
    """A PySpark DataFrame. Quantiles use Spark's exact ``percentile`` (linear interpolation, the
    same rule as NumPy's default and DuckDB's ``quantile_cont``), so bins match the other engines."""

    string_type = "STRING"

    def __init__(self, frame, label: str) -> None:
        self.frame, self.label = frame, label
        self._schema: dict[str, str] | None = None

    def ident(self, name):
        return "`" + name.replace("`", "``") + "`"

    def literal(self, text):
        # Spark string literals treat the backslash as an escape character
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def text_list(self, values):
        return "array(" + ", ".join(self.literal(v) for v in values) + ")"

    def quantiles_expr(self, expr, levels):
        return f"percentile({expr}, array({', '.join(repr(float(x)) for x in levels)}))"

    def schema(self):
        if self._schema is None:
            from pyspark.sql import types as T

            kinds, self._types = {}, {}
            for field in self.frame.schema.fields:
                t = field.dataType
                self._types[field.name] = t
                if isinstance(t, T.NumericType):
                    kinds[field.name] = "numeric"
                elif isinstance(t, (T.StringType, T.VarcharType, T.CharType)):
                    kinds[field.name] = "string"
                elif isinstance(t, T.BooleanType):
                    kinds[field.name] = "boolean"
                elif isinstance(t, (T.DateType, T.TimestampType, T.TimestampNTZType)):
                    kinds[field.name] = "datetime"
                else:
                    kinds[field.name] = "other"
            self._schema = kinds
        return self._schema

    def type_name(self, column):
        self.schema()
        t = self._types.get(column)
        return t.simpleString() if t is not None else "unknown"

    def epoch_expr(self, column):
        from pyspark.sql import types as T

        self.schema()
        c = self.ident(column)
        t = self._types[column]
        if isinstance(t, T.DateType):  # days since the epoch, independent of the session time zone
            return f"CAST(unix_date({c}) AS DOUBLE) * 86400"
        # TIMESTAMP_NTZ is read in the session time zone (set spark.sql.session.timeZone=UTC to match DuckDB)
        return f"CAST(unix_micros(CAST({c} AS TIMESTAMP)) AS DOUBLE) / 1e6"

    def fetch_arrays(self, exprs):
        import numpy as np

        rows = self.frame.selectExpr(*[f"CAST({e} AS DOUBLE) AS a{i}" for i, e in enumerate(exprs)]).collect()
        return [np.array([np.nan if r[i] is None else r[i] for r in rows], dtype=np.float64)
                for i in range(len(exprs))]

    def window_rows(self, inner, middle, columns):
        df = self.frame.selectExpr(*inner).selectExpr(*middle).where("w IS NOT NULL")
        for k in range(columns):
            for r in df.groupBy("w", f"i{k}").count().collect():
                yield k, int(r[0]), int(r[1]), int(r[2])

    def run_layered(self, inner, middle, aggregates):
        from pyspark.sql import functions as F

        df = self.frame.selectExpr(*inner).selectExpr(*middle)
        return tuple(df.agg(*[F.expr(a) for a in aggregates]).collect()[0])

    def top_values(self, column, limit):
        from pyspark.sql import functions as F

        df = self.frame.selectExpr(f"{self.text_expr(column)} AS t").where("t IS NOT NULL")
        ordered = df.groupBy("t").count().orderBy(F.desc("count"), F.asc("t"))
        rows = (ordered.limit(int(limit)) if limit < 2**31 - 1 else ordered).collect()
        return [(str(r["t"]), int(r["count"])) for r in rows]

    def is_integer(self, column):
        from pyspark.sql import types as T

        self.schema()
        return isinstance(self._types.get(column), T.IntegralType)

    def sorted_values(self, column):
        import numpy as np

        df = self.frame.selectExpr(f"{self._double(column)} AS v").where("v IS NOT NULL AND NOT isnan(v)")
        rows = df.groupBy("v").count().orderBy("v").collect()
        values = np.array([r[0] for r in rows], dtype=np.float64)
        counts = np.array([r[1] for r in rows], dtype=np.int64)
        return values, counts

    def distinct_values(self, columns, limit):
        import numpy as np

        out = {}
        for c in columns:
            df = self.frame.selectExpr(f"{self._double(c)} AS v").where(f"NOT isnan(v) AND {self.is_finite('v')}")
            rows = df.distinct().orderBy("v").limit(int(limit) + 1).collect()
            out[c] = np.array([r[0] for r in rows], dtype=np.float64)
        return out

    def sorted_values_many(self, columns):
        for c in columns:  # counted by value inside Spark, never every value collected to the driver
            yield c, self.sorted_values(c)

    def sample_rows(self, columns, limit, seed):
        import numpy as np

        from ..multivariate import numpy_sample

        exprs = [f"CAST({self._double(c)} AS DOUBLE) AS v{i}" for i, c in enumerate(columns)]
        finite = " AND ".join(f"{self.is_finite(f'v{i}')}" for i in range(len(columns)))
        df = self.frame.selectExpr(*exprs).where(finite)
        total = df.count()
        if total > limit:  # a seeded Bernoulli sample a little larger than asked, cut to size below
            df = df.sample(fraction=min(1.0, 1.2 * limit / total), seed=seed)
        rows = np.array(df.limit(4 * limit).collect(), dtype=np.float64).reshape(-1, len(columns))
        return numpy_sample(rows, limit, seed)
