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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import InputError
from .base import Engine

__all__ = ["Engine", "open_source", "opened"]


def open_source(data: Any, label: str, *, delimiter: str | None = None, decimal: str | None = None) -> Engine:
    """The engine for ``data``: a path (str or os.PathLike), a DuckDB relation, a PySpark DataFrame or
    a dataframe Narwhals supports (eager or lazy). ``label`` names the input in error messages when it
    is not a file; ``delimiter`` is the CSV field separator (sniffed when None), ``decimal`` its
    decimal separator (``"."`` or ``","``; a CSV whose text columns look like decimal-comma numbers
    gets a warning, in ``engine.notes``). The caller closes the engine (or uses :func:`opened`)."""
    if isinstance(data, Engine):
        return data
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"'"):
        raise ValueError(f"delimiter must be one character (not a quote or a line break), got {delimiter!r}")
    if decimal is not None and decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',' (the decimal separator of CSV files), got {decimal!r}")
    if decimal == "," and delimiter == ",":
        raise ValueError("decimal ',' needs another field delimiter (delimiter=';' for most such files)")
    if isinstance(data, (str, os.PathLike)):
        from .duckdb_engine import DuckDBEngine

        return DuckDBEngine.from_path(os.fspath(data), delimiter=delimiter, decimal=decimal)
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


@contextmanager
def opened(data: Any, label: str, *, delimiter: str | None = None, decimal: str | None = None) -> Iterator[Engine]:
    """``with opened(data, label) as engine:`` the engine for ``data``, closed on exit unless
    ``data`` was an engine already (then its owner closes it)."""
    engine = open_source(data, label, delimiter=delimiter, decimal=decimal)
    try:
        yield engine
    finally:
        if engine is not data:
            engine.close()
