"""The schema of a saved profile (format ``divergences.profile/2``; ``/1`` is still read), declared
once with pydantic and checked in one place when a profile is read (:func:`check_profile_document`).

A damaged, hand-edited or hostile file gives an :class:`InputError` naming the file and the field
(``columns[0].counts[2]``): an unknown format version, a missing field, a wrong type (no coercion: the
text ``"3"`` is not a count), a negative count or one beyond 2⁶³ − 1, counts that do not add up to the
table's rows, NaN or ±inf where a number is expected, edges that do not increase, duplicate column
names, categories or seen values, more edges or categories than the documented caps
(:data:`~.options.MAX_BINS`, :data:`~.options.MAX_CATEGORIES`), a negative scale.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError
from .options import MAX_BINS, MAX_CATEGORIES

__all__ = ["FORMAT", "FORMATS", "ColumnDocument", "ProfileDocument", "check_profile_document"]

FORMAT = "divergences.profile/2"
FORMATS = ("divergences.profile/1", FORMAT)

Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=1_000_000)]


def _unique(values: list | None, what: str) -> list | None:
    if values is not None and len(set(values)) != len(values):
        seen, dup = set(), None
        for v in values:
            if v in seen:
                dup = v
                break
            seen.add(v)
        raise ValueError(f"repeats the {what} {dup!r}")
    return values


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SkippedDocument(_Strict):
    """A column left out of the profile, with the reason."""

    column: Text
    reason: Text
    where: Literal["reference", "current", "both"] = "reference"


class ColumnDocument(_Strict):
    """One column's bins and reference counts (see :class:`~.profile.ColumnProfile`)."""

    name: Text
    kind: Literal["numeric", "datetime", "categorical", "missing"]
    dtype: Text
    counts: Annotated[list[Count], Field(max_length=max(MAX_BINS, MAX_CATEGORIES) + 1)]
    missing: Count
    edges: Annotated[list[Finite], Field(max_length=MAX_BINS)] | None = None
    categories: Annotated[list[Text], Field(max_length=MAX_CATEGORIES)] | None = None
    locations: Annotated[list[Finite], Field(max_length=MAX_BINS + 1)] | None = None
    scale: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    seen: list[Text] | None = None
    quantiles: Annotated[list[Finite], Field(min_length=99, max_length=99)] | None = None
    minimum: Finite | None = None
    maximum: Finite | None = None
    finite: Count | None = None
    mean: Finite | None = None
    seen_counts: list[Count] | None = None

    @field_validator("categories")
    @classmethod
    def _distinct_categories(cls, v):
        return _unique(v, "category")

    @field_validator("seen")
    @classmethod
    def _distinct_seen(cls, v):
        return _unique(v, "value")

    @field_validator("edges")
    @classmethod
    def _increasing(cls, v):
        if v is not None and any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("must be strictly increasing")
        return v

    @field_validator("quantiles")
    @classmethod
    def _ordered(cls, v):
        if v is not None and any(b < a for a, b in zip(v, v[1:])):
            raise ValueError("must not decrease")
        return v

    @model_validator(mode="after")
    def _shape(self):
        k = self.kind
        if k in ("numeric", "datetime"):
            if self.edges is None:
                raise ValueError(f"edges: required for a {k} column")
            if len(self.counts) != len(self.edges) + 1:
                raise ValueError(f"counts: must have {len(self.edges) + 1} entries (one per bin)")
            if self.locations is not None and len(self.locations) != len(self.counts):
                raise ValueError("locations: must have one entry per bin")
            if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
                raise ValueError("minimum: must not exceed the maximum")
            if self.finite is not None and self.finite > sum(self.counts):
                raise ValueError("finite: more finite values than binned values")
        elif k == "categorical":
            if self.categories is None:
                raise ValueError("categories: required for a categorical column")
            if self.seen_counts is not None and (self.seen is None or len(self.seen_counts) != len(self.seen)):
                raise ValueError("seen_counts: must have one count per seen value")
            if self.seen_counts is not None and sum(self.seen_counts) != sum(self.counts):
                raise ValueError("seen_counts: must add up to the column's binned values")
            if len(self.counts) != len(self.categories) + 1:
                raise ValueError(f"counts: must have {len(self.categories) + 1} entries (categories, then <other>)")
        elif self.counts:
            raise ValueError("counts: must be empty for a column whose every value is missing")
        return self


class ProfileDocument(_Strict):
    """A whole profile document."""

    format: Literal["divergences.profile/1", "divergences.profile/2"]
    bins: Annotated[int, Field(ge=1, le=MAX_BINS)]
    max_categories: Annotated[int, Field(ge=1, le=MAX_CATEGORIES)]
    rows: Count
    source: Text = "reference"
    meta: dict[str, Any] = Field(default_factory=dict)
    skipped: list[SkippedDocument] = Field(default_factory=list)
    columns: Annotated[list[ColumnDocument], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self):
        names = [c.name for c in self.columns]
        try:
            _unique(names, "column")
        except ValueError as exc:
            raise ValueError(f"columns: {exc}") from None
        for i, c in enumerate(self.columns):
            total = sum(c.counts) + c.missing
            if total != self.rows:
                raise ValueError(f"columns[{i}]: counts and missing add up to {total}, not to the {self.rows} rows")
        return self


def _where(loc: tuple, message: str) -> str:
    """The field of a pydantic error location, as ``columns[0].counts[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("int", "float", "str", "list[...]", "constrained-float", "function-after[_increasing(), "
                      "nullable[list[float]]]") or "[" in str(part) or part.startswith(("function-", "nullable")):
            continue
        else:
            out += f".{part}" if out else str(part)
    # a model-level check names its field in its message ("columns[2]: ...", "edges: ...")
    head, sep, _ = message.partition(": ")
    if sep and head.replace("[", "").replace("]", "").replace(".", "").replace("_", "").isalnum():
        out = f"{out}.{head}" if out and not head.startswith("columns[") else head
    return out or "(document)"


def check_profile_document(doc: Any, where: str = "profile") -> ProfileDocument:
    """The checked :class:`ProfileDocument` of ``doc``, or an :class:`InputError` naming ``where`` (the
    file) and the field.

    >>> check_profile_document({"format": "divergences.profile/2", "bins": 2})
    Traceback (most recent call last):
    ...
    divergences.tabular.errors.InputError: profile: not a valid profile: field 'max_categories': Field required
    """
    if not isinstance(doc, dict):
        raise InputError("not a profile (a JSON object is expected)", source=where)
    version = doc.get("format")
    if version not in FORMATS:
        raise InputError(f"not a profile (expected format {FORMAT!r}, found {version!r}: written by another "
                         "version?)", source=where)
    try:
        return ProfileDocument.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        message = str(first.get("msg", "invalid"))
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        field = _where(tuple(first.get("loc", ())), message)
        if message.startswith(f"{field.rsplit('.', 1)[-1]}: "):
            message = message.split(": ", 1)[1]
        raise InputError(f"not a valid profile: field {field!r}: {message}", source=where) from None
