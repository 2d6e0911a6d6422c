"""The schema of a saved profile (format ``divergences.profile/2``; ``/1`` is still read), checked
key by key so that a damaged or hand-edited file gives an :class:`InputError` naming the key."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .errors import InputError

__all__ = ["FORMAT", "FORMATS", "check_profile_document"]

FORMAT = "divergences.profile/2"
FORMATS = ("divergences.profile/1", FORMAT)

_TOP = {"format": "text", "bins": "count", "max_categories": "count", "rows": "count", "columns": "list",
        "source": "text?", "meta": "dict?", "skipped": "list?"}
_COLUMN = {"name": "text", "kind": "text", "dtype": "text", "counts": "counts", "missing": "count",
           "edges": "numbers?", "categories": "texts?", "locations": "numbers?", "scale": "number?",
           "seen": "texts?", "quantiles": "numbers?"}
_NEW_IN_2 = {"seen", "skipped", "quantiles"}


def _ok(value: Any, rule: str) -> bool:
    if rule.endswith("?"):
        if value is None:
            return True
        rule = rule[:-1]
    if rule == "text":
        return isinstance(value, str)
    if rule == "count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if rule == "number":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if rule == "list":
        return isinstance(value, list)
    if rule == "dict":
        return isinstance(value, dict)
    if rule == "counts":
        return isinstance(value, list) and all(_ok(v, "count") for v in value)
    if rule == "numbers":
        return isinstance(value, list) and all(_ok(v, "number") for v in value)
    if rule == "texts":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    raise AssertionError(rule)  # pragma: no cover


_WHAT = {"text": "a string", "count": "an integer ≥ 0", "number": "a number", "list": "a list", "dict": "an object",
         "counts": "a list of integers ≥ 0", "numbers": "a list of numbers", "texts": "a list of strings"}


def _fail(where: str, key: str, message: str) -> InputError:
    return InputError(f"not a valid profile: key {key!r} {message}", source=where)


def _check_keys(doc: dict, rules: dict, prefix: str, where: str, version: str) -> None:
    for key, rule in rules.items():
        full = f"{prefix}{key}"
        if key not in doc:
            if rule.endswith("?") and (key in ("source", "meta") or version != FORMAT or key in _NEW_IN_2):
                continue
            raise _fail(where, full, "is missing")
        if not _ok(doc[key], rule):
            raise _fail(where, full, f"must be {_WHAT[rule.rstrip('?')]}"
                        f"{' or null' if rule.endswith('?') else ''}, got {type(doc[key]).__name__}")
    extra = [k for k in doc if k not in rules]
    if extra:
        raise _fail(where, f"{prefix}{extra[0]}", "is not a key of a profile (written by another version?)")


def check_profile_document(doc: Any, where: str = "profile") -> None:
    """Raise :class:`InputError` (naming the key) unless ``doc`` is a valid profile document.

    >>> check_profile_document({"format": "divergences.profile/2", "bins": 2})
    Traceback (most recent call last):
    ...
    divergences.tabular.errors.InputError: profile: not a valid profile: key 'max_categories' is missing
    """
    if not isinstance(doc, dict):
        raise InputError("not a profile (a JSON object is expected)", source=where)
    version = doc.get("format")
    if version not in FORMATS:
        raise InputError(f"not a profile (expected format {FORMAT!r}, found {version!r})", source=where)
    _check_keys(doc, _TOP, "", where, version)
    if not doc["columns"]:
        raise _fail(where, "columns", "is empty")
    names = set()
    for i, col in enumerate(doc["columns"]):
        prefix = f"columns[{i}]."
        if not isinstance(col, dict):
            raise _fail(where, f"columns[{i}]", "must be an object")
        _check_keys(col, _COLUMN, prefix, where, version)
        if col["name"] in names:
            raise _fail(where, prefix + "name", f"repeats the column {col['name']!r}")
        names.add(col["name"])
        kind = col["kind"]
        if kind in ("numeric", "datetime"):
            edges = col["edges"]
            if edges is None:
                raise _fail(where, prefix + "edges", f"is required for a {kind} column")
            if any(not math.isfinite(e) for e in edges) or any(b <= a for a, b in zip(edges, edges[1:])):
                raise _fail(where, prefix + "edges", "must be finite and strictly increasing")
            if len(col["counts"]) != len(edges) + 1:
                raise _fail(where, prefix + "counts", f"must have {len(edges) + 1} entries (one per bin)")
            if col["locations"] is not None and len(col["locations"]) != len(col["counts"]):
                raise _fail(where, prefix + "locations", "must have one entry per bin")
        elif kind == "categorical":
            cats = col["categories"]
            if cats is None:
                raise _fail(where, prefix + "categories", "is required for a categorical column")
            if len(col["counts"]) != len(cats) + 1:
                raise _fail(where, prefix + "counts", f"must have {len(cats) + 1} entries (categories, then <other>)")
        elif kind == "missing":
            if col["counts"]:
                raise _fail(where, prefix + "counts", "must be empty for a column whose every value is missing")
        else:
            raise _fail(where, prefix + "kind", f"must be numeric, categorical, datetime or missing, got {kind!r}")
    for j, s in enumerate(doc.get("skipped") or []):
        if not isinstance(s, dict) or not isinstance(s.get("column"), str) or not isinstance(s.get("reason"), str):
            raise _fail(where, f"skipped[{j}]", "must be an object with the strings 'column' and 'reason'")
