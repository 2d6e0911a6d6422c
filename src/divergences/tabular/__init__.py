"""Compare two tables column by column with honest uncertainty (drift, scorecards).

* :func:`profile`: reproducible bins from a reference alone, serialisable to JSON;
* :func:`compare`: PSI, JS, Hellinger, Wasserstein, χ² (or any registered divergence) per column,
  with standard errors, intervals, a test of "no change" and bands;
* :func:`monitor`: every time window of a table against one reference, with the first window
  where each column drifted;
* :func:`information_value`: IV and WoE per feature for a binary target.

Inputs are file paths (CSV, Parquet: read by DuckDB) or dataframes (pandas, Polars, PyArrow,
DuckDB relations, PySpark DataFrames); aggregation happens in the engine, only bin counts come back.
"""

from __future__ import annotations

from .compare import compare
from .config import load_config
from .errors import InputError
from .information_value import information_value
from .metrics import iv_band, psi_band
from .monitor import Monitoring, WindowRow, monitor
from .options import DEFAULT_METRICS, CompareOptions
from .profile import ColumnProfile, Profile, profile
from .results import (
    ColumnComparison,
    Comparison,
    DataQuality,
    DatasetSummary,
    Histogram,
    MetricEstimate,
    MissingShare,
    Quantiles,
    SkippedColumn,
    TestResult,
)

__all__ = [
    "DEFAULT_METRICS",
    "ColumnComparison",
    "ColumnProfile",
    "CompareOptions",
    "Comparison",
    "DataQuality",
    "DatasetSummary",
    "Histogram",
    "InputError",
    "MetricEstimate",
    "MissingShare",
    "Monitoring",
    "Profile",
    "Quantiles",
    "SkippedColumn",
    "TestResult",
    "WindowRow",
    "compare",
    "information_value",
    "iv_band",
    "load_config",
    "monitor",
    "profile",
    "psi_band",
]
