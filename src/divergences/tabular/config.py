"""Per-column drift configuration from a TOML file (``--config drift.toml``), checked by one schema.

.. code-block:: toml

    # drift.toml: every key is optional
    drift_metric = "psi"      # or "auto": the test or metric chosen by type and size (see .rules)
    threshold = 0.1
    bins = 10                 # any option of CompareOptions: metrics, confidence, drift_share, ...
    exclude = ["user_id"]     # columns to leave out

    [columns.income]          # a rule of its own for one column
    drift_metric = "wasserstein"
    threshold = 0.2

    [columns.comment]
    ignore = true             # the same as listing it in exclude

:func:`load_config` returns keywords for :func:`~divergences.tabular.compare` and
:func:`~divergences.tabular.monitor` (``tb.compare(ref, cur, **tb.load_config("drift.toml"))``); a
file that cannot be read, is not TOML, or has an unknown key or a value of the wrong type is an
:class:`~.errors.InputError` naming the file and the key.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError
from .options import CompareOptions

__all__ = ["load_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Positive = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _ColumnConfig(_Strict):
    drift_metric: str | None = None
    threshold: Positive | None = None
    ignore: bool = False


class _Config(_Strict):
    bins: int | None = None
    max_categories: int | None = None
    metrics: list[str] | str | None = None
    smoothing: Literal["auto"] | Positive | None = None
    confidence: float | None = None
    drift_metric: str | None = None
    threshold: Positive | None = None
    drift_share: float | None = None
    tests: bool | None = None
    quantiles: bool | None = None
    unseen_threshold: float | None = None
    missing_threshold: float | None = None
    exclude: list[str] = Field(default_factory=list)
    columns: dict[str, _ColumnConfig] = Field(default_factory=dict)


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Keywords of :func:`~divergences.tabular.compare` from a TOML configuration file (see the module).

    Options given in the file are checked as :class:`~.options.CompareOptions` checks them; per-column
    rules become ``column_rules``; ``ignore = true`` columns join ``exclude``.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    where = os.fspath(path)
    try:
        with open(where, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read the configuration: {exc.strerror}", source=where) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a TOML file: {exc}", source=where) from None
    try:
        doc = _Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in first.get("loc", ()) if not str(p).startswith(("function-", "literal[")))
        raise InputError(f"field {key!r}: {first.get('msg', 'invalid')}", source=where) from None
    options = {k: v for k, v in doc.model_dump(exclude={"exclude", "columns"}).items() if v is not None}
    rules = {name: {k: v for k, v in (("drift_metric", c.drift_metric), ("threshold", c.threshold)) if v is not None}
             for name, c in doc.columns.items() if not c.ignore}
    rules = {k: v for k, v in rules.items() if v}
    try:
        CompareOptions(**options, column_rules=rules)
    except ValueError as exc:
        raise InputError(f"{exc}", source=where) from None
    exclude = list(dict.fromkeys([*doc.exclude, *(n for n, c in doc.columns.items() if c.ignore)]))
    out: dict[str, Any] = {**options, "column_rules": rules}
    if exclude:
        out["exclude"] = exclude
    return out
