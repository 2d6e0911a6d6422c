"""Random mutations of valid JSON documents, for "a clear error naming file and field, or a valid result" tests.

:func:`mutated` draws a copy of a document with one change at a random place: a value replaced by another JSON
value of any type (NaN, ±inf, huge and negative numbers, strings, lists, objects), a key deleted or added, a
list item deleted or duplicated, a number nudged (0, -1, +1, ×2**60). :func:`check_error` asserts the message
names the file and a field (or the offending key / the document).
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from hypothesis import strategies as st

ANY_JSON = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308]),
    st.text(max_size=4), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(-2, 2), max_size=2),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated(draw: Any, document: Any) -> tuple[Any, str]:
    """(a mutated deep copy of ``document``, a description of the change)."""
    doc = copy.deepcopy(document)
    paths = _paths(doc)
    path = draw(st.sampled_from(paths))
    parent, key = _parent(doc, path), path[-1]
    kind = draw(st.sampled_from(["replace", "replace", "nudge", "delete", "duplicate", "add_key", "version"]))
    if kind == "version" and isinstance(doc, dict):
        doc["format_version"] = draw(st.one_of(st.integers(-2, 5), ANY_JSON))
    elif kind == "replace":
        parent[key] = draw(ANY_JSON)
    elif kind == "nudge" and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        v = parent[key]
        parent[key] = draw(st.sampled_from([0, -1, v + 1, v - 1, -v, v * 2**60, float(v) * 0.5]))
    elif kind == "delete":
        del parent[key]
    elif kind == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif kind == "add_key" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=4))] = draw(ANY_JSON)
    else:
        parent[key] = draw(ANY_JSON)
    return doc, f"{kind} at {path}"


def write_json(path: Any, doc: Any) -> None:
    """``doc`` as JSON text (NaN and infinities written as the non-standard constants Python's json writes)."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)


_NAMED = re.compile(r"field ['\"]|column '[^']*'|key '[^']*'|JSON object|not JSON|not a frequency table")


def check_error(message: str, file: Any) -> None:
    """The message of a refused document names the file and a field (or key / column)."""
    assert str(file) in message or getattr(file, "name", "\0") in message, message
    assert _NAMED.search(message), message
