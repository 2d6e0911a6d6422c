"""Engines: where the binning happens. Only summaries and bin counts come back to Python.

* :class:`~.duckdb_engine.DuckDBEngine`: CSV and Parquet files (read by DuckDB, streamed, never
  loaded whole) and DuckDB relations; the embedded default.
* :class:`~.spark_engine.SparkEngine`: PySpark DataFrames, aggregated inside Spark.
* :class:`~.narwhals_engine.NarwhalsEngine`: in-memory pandas, Polars and PyArrow frames (and
  anything else Narwhals reads eagerly).

All three implement :class:`~.base.Engine`; :func:`open_source` picks one for an input.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InputError
from .base import Engine

__all__ = ["Engine", "open_source"]


def open_source(data: Any, label: str) -> Engine:
    """The engine for ``data``: a path (str or os.PathLike), a DuckDB relation, a PySpark DataFrame or
    a dataframe Narwhals supports. ``label`` names the input in error messages when it is not a file."""
    if isinstance(data, Engine):
        return data
    if isinstance(data, (str, os.PathLike)):
        from .duckdb_engine import DuckDBEngine

        return DuckDBEngine.from_path(os.fspath(data))
    module = type(data).__module__
    if module.startswith("duckdb"):
        from .duckdb_engine import DuckDBEngine

        return DuckDBEngine(data, label)
    if module.startswith("pyspark"):
        from .spark_engine import SparkEngine

        return SparkEngine(data, label)
    from .narwhals_engine import NarwhalsEngine

    try:
        return NarwhalsEngine(data, label)
    except TypeError as exc:
        raise InputError(f"unsupported input of type {type(data).__name__}: give a file path (CSV, Parquet) "
                         "or a dataframe (pandas, Polars, PyArrow, DuckDB, PySpark)", source=label) from exc
