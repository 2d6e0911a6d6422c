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

            kinds = {}
            for field in self.frame.schema.fields:
                t = field.dataType
                if isinstance(t, T.NumericType):
                    kinds[field.name] = "numeric"
                elif isinstance(t, T.StringType):
                    kinds[field.name] = "string"
                elif isinstance(t, T.BooleanType):
                    kinds[field.name] = "boolean"
                else:
                    kinds[field.name] = "other"
            self._schema = kinds
        return self._schema

    def run_layered(self, inner, middle, aggregates):
        from pyspark.sql import functions as F

        df = self.frame.selectExpr(*inner).selectExpr(*middle)
        return tuple(df.agg(*[F.expr(a) for a in aggregates]).collect()[0])

    def top_values(self, column, limit):
        from pyspark.sql import functions as F

        df = self.frame.selectExpr(f"{self.text_expr(column)} AS t").where("t IS NOT NULL")
        rows = df.groupBy("t").count().orderBy(F.desc("count"), F.asc("t")).limit(int(limit)).collect()
        return [(str(r["t"]), int(r["count"])) for r in rows]
