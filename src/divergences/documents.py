r"""Reading the documents the project stores, each against one declared schema, in one place.

Every document the library reads back (a teacher-cache manifest, an n-gram prior, a token frequency table)
has one schema, a pydantic v2 model declared next to the code that writes it. :func:`read_document` is the
only way such a document is read:

* a path is read as UTF-8 JSON text; an object holding one key twice (Python's ``json`` would keep the last
  silently) and text that is not JSON are refused; ``NaN`` / ``Infinity`` are read as floats and refused by
  the schemas wherever a finite number is expected (every schema of this library sets ``allow_inf_nan=False``);
* the document must be an object whose version field (``format_version``) holds a version this library
  knows; a document of a later version is refused rather than half-read;
* the model validates types, bounds and the relations between fields;
* any failure is a ``ValueError`` that names the file and the field path, for example
  ``manifest.json: field 'k': Input should be greater than or equal to 1``.

pydantic is imported when a document is read (never when ``divergences`` is imported); it comes with the
``hf`` and ``llm`` extras. Models raise :class:`FieldError` from their cross-field checks to name the field
at fault (``counts[1][4]``), which the message then carries.

>>> from pydantic import BaseModel, ConfigDict
>>> class Doc(BaseModel):
...     model_config = ConfigDict(extra="forbid", strict=True)
...     format_version: int = 1
...     size: int
>>> read_document(Doc, {"size": 3}, source_name="doc.json").size
3
>>> read_document(Doc, {"size": "3"}, source_name="doc.json")
Traceback (most recent call last):
...
ValueError: doc.json: field 'size': Input should be a valid integer
>>> read_document(Doc, {"size": 3, "format_version": 2}, source_name="doc.json")
Traceback (most recent call last):
...
ValueError: doc.json: field 'format_version': version 2 is not one this version of divergences reads (1); upgrade divergences or write the document again
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["FieldError", "field_path", "load_json", "parse_json", "read_document"]

M = TypeVar("M")

#: largest JSON text read (bytes); a larger document is refused before it is parsed
MAX_JSON_BYTES = 1 << 31


class FieldError(ValueError):
    """A cross-field check of a document model failed; ``field`` is the path of the field at fault."""

    def __init__(self, field: str | Sequence[str | int], message: str) -> None:
        self.field = field if isinstance(field, str) else field_path(field)
        self.message = message
        super().__init__(f"{self.field}: {message}")


def field_path(loc: Iterable[str | int]) -> str:
    """``('counts', 0, 3)`` → ``counts[0][3]`` (pydantic's error location as a field path)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"an object holds the key {key!r} twice")
        out[key] = value
    return out


def parse_json(text: str | bytes | bytearray) -> Any:
    """JSON text parsed strictly: an object holding one key twice is refused (``ValueError``; Python's
    ``json`` would keep the last value silently). Invalid JSON raises ``json.JSONDecodeError`` (a
    ``ValueError``), a document nested too deeply ``RecursionError``: the callers name the source.

    >>> parse_json('{"a": 1}')
    {'a': 1}
    >>> parse_json('{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    ValueError: an object holds the key 'a' twice
    """
    return json.loads(text, object_pairs_hook=_no_duplicate_keys)


def load_json(path: str | os.PathLike) -> Any:
    """The JSON value stored in ``path``, parsed strictly; any problem is a ``ValueError`` naming the file."""
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        if size > MAX_JSON_BYTES:
            raise ValueError(f"{name}: {size} bytes is beyond the {MAX_JSON_BYTES} bytes a document may hold")
        with open(name, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ValueError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        # NaN / Infinity are read as floats and refused by the schema, which names the field
        return parse_json(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    except RecursionError:
        raise ValueError(f"{name}: is nested too deeply to be a document of this library") from None


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    """(field path, message) of one pydantic error; a :class:`FieldError` names its own field."""
    loc = field_path(error.get("loc", ()))
    exc = (error.get("ctx") or {}).get("error")
    if isinstance(exc, FieldError):
        return (f"{loc}.{exc.field}" if loc and exc.field else loc or exc.field), exc.message
    message = str(exc) if isinstance(exc, ValueError) else str(error.get("msg", "invalid"))
    return loc or "(document)", message


def read_document(model: type[M], source: str | os.PathLike | Mapping[str, Any], *, source_name: str | None = None,
                  version_field: str | None = "format_version", versions: Sequence[int] = (1,),
                  default_version: int | None = 1, context: Mapping[str, Any] | None = None) -> M:
    """Validate a document against its pydantic ``model``; errors are ``ValueError`` naming file and field.

    :param model: a pydantic ``BaseModel`` subclass (the document's declared schema).
    :param source: a path to a JSON document, or the document already parsed (a mapping).
    :param source_name: the name used in messages (default: the path; ``"document"`` for a mapping).
    :param version_field: the field holding the document's version (``None``: the document has none).
    :param versions: the versions this library reads.
    :param default_version: the version of a document without the field (documents written before it existed);
        ``None`` makes the field required.
    :param context: passed to the model's validators (``model_validate(..., context=)``).

    :returns: The validated model instance.
    """
    from pydantic import ValidationError

    if isinstance(source, (str, os.PathLike)):
        name = source_name or os.fspath(source)
        data = load_json(source)
    else:
        name = source_name or "document"
        data = source
    if not isinstance(data, Mapping):
        raise ValueError(f"{name}: the document must be a JSON object, got {type(data).__name__}")
    if version_field is not None:
        if version_field in data:
            version = data[version_field]
            known = ", ".join(map(str, versions))
            if isinstance(version, bool) or not isinstance(version, int) or version not in versions:
                raise ValueError(f"{name}: field {version_field!r}: version {version!r} is not one this version of "
                                 f"divergences reads ({known}); upgrade divergences or write the document again")
        elif default_version is None:
            raise ValueError(f"{name}: field {version_field!r}: missing (the document's version)")
    try:
        return model.model_validate(data, context=dict(context) if context is not None else None)  # type: ignore[attr-defined]
    except ValidationError as exc:
        errors = exc.errors()
        field, message = _describe(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ValueError(f"{name}: field {field!r}: {message}{more}") from None
    except FieldError as exc:  # raised outside pydantic's wrapping
        raise ValueError(f"{name}: field {exc.field!r}: {exc.message}") from None
    except RecursionError:
        raise ValueError(f"{name}: is nested too deeply to be a document of this library") from None
