"""The registry: one record (:class:`Record`) per named divergence, registered where it is defined.

A record (:class:`Record`) says what the divergence *is*; every layer reads it and restates nothing:

* ``kind="f"``: an f-divergence given by a generator class (its constructor's keyword arguments are
  the parameters); ``kind="pointwise"``: a sum of pointwise terms that is not an f-divergence
  (cross-entropy, Jensen–Tsallis). Both carry the log-space term, its partials, its degree-aware
  boundary, units and fast NumPy kernel on the term class (:mod:`divergences.core.terms`);
* ``kind="function"``: a function of a few sums over the categories (Rényi, Bhattacharyya,
  Cauchy–Schwarz): ``rows(a, b, xp, axis, reduce=..., **params)`` reduces log-probabilities along
  ``axis`` (every backend, autograd) through a reducer of sums, log-sum-exps and maxima (the same
  definition serves a vocabulary sharded across processes), and ``numpy_rows(p, q, **params)`` is an
  optional fast NumPy kernel.

Built-in records are registered by the ``@register(...)`` decorator in their catalogue module and
are protected: they cannot be overwritten or removed. Users add their own with
:func:`divergences.register`; every layer then serves them under their name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import terms as t
from .conventions import DriftRule

if TYPE_CHECKING:
    from .divergence import Divergence

__all__ = ["SHARED_KEYWORDS", "Record", "available", "builtin", "builtin_sums", "get", "get_generator", "records",
           "register", "unregister"]


@dataclass(frozen=True)
class Record:
    """One named divergence: what every layer reads. Called with parameters it gives the
    :class:`~divergences.core.divergence.Divergence` value (``dv.get("js")(beta=0.3)``)."""

    name: str
    kind: str  # "f", "pointwise" or "function"
    factory: Callable[..., t.Pointwise] | None = None
    #: a user's "function" record: ``function(p, q, *, axis, keepdims, base, from_logits, normalize,
    #: validate, **params)`` (built-in "function" records give ``rows`` instead)
    function: Callable[..., Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    aliases: tuple[str, ...] = ()
    builtin: bool = False
    #: "function" records: log-space row reduction ``rows(a, b, xp, axis, *, reduce=None, **params)``; its
    #: reductions over the categories go through ``reduce`` (:class:`~divergences.core.reduce.LocalReduce`
    #: by default; the vocab-parallel losses pass one that all-reduces)
    rows: Callable[..., Any] | None = None
    #: "function" records: fast NumPy kernel ``numpy_rows(p, q, **params) -> (values, lowest)`` or None
    numpy_rows: Callable[..., Any] | None = None
    #: "function" records: ``numpy_near_equal(p, q, **params) -> values`` on 2-D NumPy blocks: the value
    #: formed without cancellation for near-equal rows (see :mod:`divergences.core.near_equal`)
    numpy_near_equal: Callable[..., Any] | None = None
    #: "function" records: ``prepare(params) -> params`` checks and normalises the parameters
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    #: what the two arguments are: ``"distributions"`` (probabilities, counts or logits: every
    #: divergence), ``"ordered"`` (distributions over ordered categories, compared through their CDFs:
    #: Wasserstein; no vocabulary order exists, so the token losses refuse it) or ``"vectors"`` (raw
    #: vectors compared by direction, not distributions: cosine; tabular metrics refuse it)
    inputs: str = "distributions"
    #: "function" records: measured in units of information (``base=`` applies)
    information_units: bool = True
    #: "function" records: D(P, P) = 0 and D ≥ 0
    is_divergence: bool = True
    #: "function" records: D(P, Q) = D(Q, P) (pointwise records: their term's). Like every fact in
    #: :data:`PARAMETRIC_FACTS`, it may be a function of the parameters (Rényi: α = ½)
    symmetric: bool | Callable[..., bool] = False
    #: "function" records: the largest value D can take, None if unbounded (pointwise records: their term's)
    upper_bound: float | None | Callable[..., float | None] = None
    #: "function" records: the conventional drift rule (pointwise records: their term's ``drift``)
    drift: DriftRule | None = None
    #: the name of the square-root distance verb, if one is served (``js_distance``)
    distance: str | None = None
    #: the verb's docstring (formula, conventions, peer mapping, examples)
    doc: str = ""

    def __call__(self, **params: Any) -> Divergence:
        """This divergence with ``params``, as a value every layer accepts (:func:`divergences.spec`)."""
        from .divergence import Divergence

        return Divergence(self, params)

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters with defaults filled in and checked (ValueError naming the divergence and
        its parameters for an unknown one, and naming a parameter whose value is out of range)."""
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"divergence {self.name!r} takes no parameter(s) {sorted(unknown)}; "
                f"its parameters are {sorted(self.defaults) or 'none'}"
            )
        full = {**self.defaults, **params}
        return self.prepare(full) if self.prepare is not None else full

    def generator(self, **params: Any) -> t.Pointwise:
        """The pointwise term (generator) with ``params``; ValueError for other kinds."""
        if self.factory is None:
            raise ValueError(f"divergence {self.name!r} is not pointwise-separable (it has no generator)")
        self.check_params(params)
        return self.factory(**params)

    @property
    def pointwise(self) -> bool:
        return self.factory is not None

    def term_attribute(self, attribute: str, params: dict[str, Any] | None = None) -> Any:
        """An attribute of the record's term (``information_units``, ``is_divergence``, ...), or of
        the record itself for "function" records."""
        if self.factory is None:
            value = getattr(self, attribute)
            return value(**(params or self.defaults)) if attribute in PARAMETRIC_FACTS and callable(value) else value
        return getattr(self.generator(**(params or {})), attribute)


#: the facts of a "function" record that may be given as a function of its parameters (evaluated at them by
#: :meth:`Record.term_attribute`; a pointwise record's term computes its own facts from its parameters)
PARAMETRIC_FACTS = ("information_units", "is_divergence", "symmetric", "upper_bound", "drift")

_REGISTRY: dict[str, Record] = {}
_ALIASES: dict[str, str] = {}
#: keywords shared by every exact verb; never divergence parameters
SHARED_KEYWORDS = ("axis", "keepdims", "base", "from_logits", "normalize", "validate")


def _defaults_of(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    return {
        n: p.default
        for n, p in sig.parameters.items()
        if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD
        and n not in SHARED_KEYWORDS
    }


def _constructible_with_defaults(cls: type) -> bool:
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return False
    return all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in params)


def _check_name(name: str, overwrite: bool) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier string, got {name!r}")
    current = _REGISTRY.get(_ALIASES.get(name, name))
    if current is not None and current.builtin:
        raise ValueError(f"{name!r} is a built-in divergence and cannot be replaced; register yours under another name")
    if current is not None and not overwrite:
        raise ValueError(f"a divergence named {name!r} is already registered (pass overwrite=True)")


def _add(spec: Record) -> Record:
    for alias in spec.aliases:
        if alias in _REGISTRY or (alias in _ALIASES and _ALIASES[alias] != spec.name):
            raise ValueError(f"alias {alias!r} of {spec.name!r} is already a registered name")
    _REGISTRY[spec.name] = spec
    for alias in spec.aliases:
        _ALIASES[alias] = spec.name
    return spec


def register(
    name: str,
    generator: Any = None,
    *,
    function: Callable[..., Any] | None = None,
    overwrite: bool = False,
    description: str = "",
    aliases: tuple[str, ...] = (),
    _builtin: bool = False,
    **record: Any,
) -> Any:
    """Register a named divergence so that every layer serves it.

    Give exactly one of:

    * ``generator``: a :class:`~divergences.core.terms.Generator` or
      :class:`~divergences.core.terms.Pointwise` instance, a subclass of either (its constructor's
      keyword arguments become the divergence's parameters), or a plain callable ``f(t)`` (wrapped
      by ``Generator(f)``);
    * ``function``: ``fn(p, q, *, axis=-1, keepdims=False, base=None, from_logits=False,
      normalize=False, **params)`` for a divergence that is not a sum of pointwise terms.

    Returns the :class:`Record`. (The catalogue registers its classes where they are defined with the
    decorator :func:`builtin`.) Registering an existing name raises unless ``overwrite=True``; built-in names can
    never be replaced.
    """
    _check_name(name, overwrite)
    if (generator is None) == (function is None):
        raise ValueError("give exactly one of generator= and function=")
    doc = record.pop("doc", "")
    if function is not None:
        if not callable(function):
            raise ValueError(f"function must be callable, got {type(function).__name__}")
        defaults = _defaults_of(function)
        spec = Record(name, "function", function=function, defaults=defaults, description=description,
                    aliases=tuple(aliases), builtin=_builtin, doc=doc or (function.__doc__ or ""), **record)
    elif isinstance(generator, type) and issubclass(generator, t.Pointwise):
        kind = "f" if issubclass(generator, t.Generator) else "pointwise"
        spec = Record(name, kind, factory=generator, defaults=_defaults_of(generator.__init__),
                    description=description or (generator.__doc__ or "").strip().split("\n")[0],
                    aliases=tuple(aliases), builtin=_builtin, doc=doc, **record)
    else:
        gen = t.as_generator(generator)
        if isinstance(gen, t.Generator) and gen.name == "custom":
            gen.name = name
        gen.check()  # degree and boundary checked now: a term that cannot be served is refused here
        kind = "f" if isinstance(gen, t.Generator) else "pointwise"
        spec = Record(name, kind, factory=lambda: gen, defaults={}, description=description,
                    aliases=tuple(aliases), builtin=_builtin, doc=doc, **record)
    if isinstance(generator, type) and _constructible_with_defaults(generator):
        generator().check()
    return _add(spec)


def builtin(name: str, **record: Any) -> Callable[[Any], Any]:
    """The catalogue's decorator: register a built-in (protected) term class where it is defined."""

    def decorate(cls: type) -> type:
        register(name, cls, _builtin=True, **record)
        return cls

    return decorate


def builtin_sums(name: str, *, defaults: dict[str, Any] | None = None, **record: Any) -> Callable[[Any], Any]:
    """The catalogue's decorator for a built-in "function" record: the decorated function is its row
    reduction ``rows(a, b, xp, axis, **params)`` (of log-probabilities; of the raw vectors for
    ``inputs="vectors"``); the exact layer serves it as a verb."""
    if record.get("inputs", "distributions") not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS}, got {record['inputs']!r}")

    def decorate(rows: Callable[..., Any]) -> Callable[..., Any]:
        _check_name(name, False)
        description = record.pop("description", "")
        _add(Record(name, "function", rows=rows, defaults=dict(defaults or {}), description=description,
                  builtin=True, **record))
        return rows

    return decorate


def unregister(name: str) -> None:
    """Remove a user-registered divergence (built-in ones are protected)."""
    spec = _REGISTRY.get(_ALIASES.get(name, name))
    if spec is None:
        return
    if spec.builtin:
        raise ValueError(f"{name!r} is a built-in divergence and cannot be unregistered")
    del _REGISTRY[spec.name]
    for alias in spec.aliases:
        _ALIASES.pop(alias, None)


def get(name: str) -> Record:
    """The :class:`Record` registered under ``name`` or an alias (ValueError listing the names otherwise)."""
    if not isinstance(name, str):
        raise ValueError(f"a divergence name must be a string, got {name!r}")
    try:
        return _REGISTRY[_ALIASES.get(name, name)]
    except KeyError:
        raise ValueError(f"unknown divergence {name!r}; available: {', '.join(available())}") from None


def get_generator(divergence: Any, **params: Any) -> t.Pointwise:
    """The pointwise term for a registered name, a generator object or a callable f(t)."""
    if isinstance(divergence, str):
        return get(divergence).generator(**params)
    if params:
        raise ValueError("parameters are given to a named divergence, not to a generator object")
    return t.as_generator(divergence)


INPUTS = ("distributions", "ordered", "vectors")


def available(kind: str | None = None, *, inputs: str | None = "distributions") -> list[str]:
    """Names of the registered divergences between distributions (optionally only ``kind`` "f",
    "pointwise", "function"); ``inputs=None`` lists every record, ``inputs="ordered"`` or ``"vectors"``
    the comparisons of other objects (Wasserstein over ordered categories, cosine of raw vectors)."""
    if inputs is not None and inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS} or None, got {inputs!r}")
    return sorted(n for n, s in _REGISTRY.items()
                  if (kind is None or s.kind == kind) and (inputs is None or s.inputs == inputs))


def records() -> list[Record]:
    """Every registered record (distributions, ordered and vectors alike), sorted by name."""
    return [_REGISTRY[n] for n in available(inputs=None)]
