r"""A divergence with its parameters, as one value: ``dv.spec("js", beta=0.3)``.

Every layer accepts a :class:`Divergence` wherever it accepts a divergence's name: the exact verbs
(``dv.divergence(js03, p, q)``, or the value called directly, ``js03(p, q)``), the torch losses
(``divergence_loss(s, t, js03)``), the RL and preference losses, the trainers, the sample estimators
and the tabular metrics. The divergence's own parameters travel inside it, so they never collide
with a loss's parameters (DPO's ``beta``, D2O's ``alpha``, a temperature): ``f_dpo_loss(...,
divergence=dv.spec("js", beta=0.3), beta=0.1)`` is unambiguous.

:func:`spec` builds one from a registered name or alias and parameters (checked at once: an unknown
parameter or a value out of range is a ValueError naming it), from a record called with its
parameters (``dv.get("js")(beta=0.3)``), or from a term object or a generator callable f(t) (an
unregistered divergence). Two values are equal when they name the same record with the same
parameters (defaults filled in): ``spec("psi") == spec("jeffreys")``.

>>> import divergences as dv
>>> js03 = dv.spec("js", beta=0.3)
>>> js03
spec('js', beta=0.3)
>>> round(float(js03([0.5, 0.5], [0.9, 0.1])), 6) == round(float(dv.js([0.5, 0.5], [0.9, 0.1], beta=0.3)), 6)
True
>>> dv.spec("psi") == dv.spec("jeffreys")
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import terms as t

if TYPE_CHECKING:
    from .record import Record

__all__ = ["Divergence", "DivergenceLike", "spec"]


class Divergence:
    """A divergence and its parameters (see the module docstring); immutable and hashable.

    ``name`` is the record's name (``"jeffreys"`` for ``spec("psi")``; the term's name for an
    unregistered term), ``params`` the full parameters (defaults filled in), ``record`` the registry
    record (None for an unregistered term).
    """

    __slots__ = ("_built", "_params", "_record", "_term")

    def __init__(self, record: Record | None, params: Mapping[str, Any] | None = None,
                 term: t.Pointwise | None = None) -> None:
        if (record is None) == (term is None):
            raise ValueError("a Divergence has a registry record or an unregistered term, not both")
        full = dict(params or {})
        built = term
        if record is not None:
            full = record.check_params(full)
            if record.factory is not None:
                try:
                    built = record.factory(**full)  # a value out of range is refused now, by name
                except TypeError as exc:
                    raise ValueError(f"bad parameters for divergence {record.name!r}: {exc}") from None
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "_params", full)
        object.__setattr__(self, "_term", term)
        object.__setattr__(self, "_built", built)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Divergence is immutable: use .with_params(...) for another one")

    @property
    def record(self) -> Record | None:
        """The registry record (None for an unregistered term)."""
        return self._record

    @property
    def name(self) -> str:
        """The record's own name (aliases resolved), or the unregistered term's name."""
        if self._record is not None:
            return self._record.name
        return getattr(self._term, "name", "custom")

    @property
    def params(self) -> dict[str, Any]:
        """The divergence's parameters, defaults filled in (a copy)."""
        return dict(self._params)

    @property
    def kind(self) -> str:
        """``"f"``, ``"pointwise"`` or ``"function"`` (the record's kind; for a term, by its class)."""
        if self._record is not None:
            return self._record.kind
        return "f" if isinstance(self._term, t.Generator) else "pointwise"

    @property
    def pointwise(self) -> bool:
        """Whether it is a sum of pointwise terms (every f-divergence; not Rényi, Bhattacharyya, CS)."""
        return self.kind != "function"

    def term(self) -> t.Pointwise:
        """The pointwise term with these parameters (ValueError for a "function" record)."""
        if self._built is None:
            assert self._record is not None
            raise ValueError(f"divergence {self._record.name!r} is not pointwise-separable (it has no term)")
        return self._built

    def with_params(self, **params: Any) -> Divergence:
        """The same divergence with some parameters changed."""
        if self._record is None:
            if params:
                raise ValueError(f"{self!r} is a term object: configure the object itself, not with_params")
            return self
        return Divergence(self._record, {**self._params, **params})

    def attribute(self, name: str) -> Any:
        """A fact of the divergence (``information_units``, ``is_divergence``, ``symmetric``,
        ``upper_bound``, ...), read from its term (pointwise) or its record ("function")."""
        if self._record is not None and self._record.kind == "function":
            return self._record.term_attribute(name, self._params)
        return getattr(self.term(), name)

    def facts(self) -> dict[str, Any]:
        """What the layers know about this divergence, as plain values (``divergences list`` shows them).

        ``symmetric`` (D(P, Q) = D(Q, P)), ``upper_bound`` (None: unbounded), ``bounded_gradient`` (the torch
        losses' gradients cannot overflow; None for a divergence that is not a sum of pointwise terms, whose
        losses run through autograd in log space), ``information_units`` (``base=`` applies), ``inputs``
        (``"distributions"``, ``"ordered"`` or ``"vectors"``), ``drift`` (the conventional threshold, or None).

        >>> import divergences as dv
        >>> facts = dv.spec("js").facts()
        >>> facts["symmetric"], round(facts["upper_bound"], 6), facts["bounded_gradient"]
        (True, 0.693147, True)
        """
        pointwise = self.kind != "function"
        fact = self.attribute
        rule, bound, record = fact("drift"), fact("upper_bound"), self._record
        return {
            "name": self.name,
            "kind": self.kind,
            "params": self.params,
            "inputs": record.inputs if record is not None else "distributions",
            "symmetric": bool(fact("symmetric")),
            "upper_bound": None if bound is None else float(bound),
            "bounded_gradient": bool(fact("bounded_gradient")) if pointwise else None,
            "information_units": bool(fact("information_units")),
            "drift": None if rule is None else {"threshold": rule.threshold, "source": rule.source},
            "aliases": list(record.aliases) if record is not None else [],
            "description": record.description if record is not None else "",
        }

    def __call__(self, p: Any, q: Any, **keywords: Any) -> Any:
        """The exact value D(p‖q) (``keywords``: the exact verbs' shared keywords, ``axis``, ``base``, ...)."""
        from ..exact.generic import divergence  # the exact layer sits above the core

        return divergence(self, p, q, **keywords)

    def _key(self) -> tuple[Any, ...]:
        if self._record is None:
            return ("term", id(self._term))
        return (self._record.name, tuple(sorted(self._params.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Divergence) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if self._record is None:
            return f"spec({self._term!r})"
        defaults = self._record.defaults
        shown = "".join(f", {k}={v!r}" for k, v in self._params.items() if k not in defaults or defaults[k] != v)
        return f"spec({self._record.name!r}{shown})"


#: what every layer accepts as a divergence: a registered name or alias, a :class:`Divergence`, a term
#: object or class, or a generator callable f(t)
DivergenceLike = str | Divergence | t.Pointwise | type[t.Pointwise] | Callable[[Any], Any]


def spec(divergence: str | Divergence | t.Pointwise | type[t.Pointwise] | Callable[[Any], Any], /,
         **params: Any) -> Divergence:
    """The :class:`Divergence` for ``divergence`` with ``params`` (see the module docstring).

    ``divergence`` is a registered name or alias (``"js"``, ``"psi"``), a :class:`Divergence` (its
    parameters updated by ``params``), a term class (constructed with ``params``), a term object, or
    a callable f(t) (an f-divergence generator: convex, f(1) = 0).

    >>> import divergences as dv
    >>> dv.spec("renyi", alpha=2.0).params
    {'alpha': 2.0}
    >>> dv.spec("js", gamma=1)
    Traceback (most recent call last):
    ...
    ValueError: divergence 'js' takes no parameter(s) ['gamma']; its parameters are ['beta']
    """
    from . import record as registry

    if isinstance(divergence, Divergence):
        return divergence.with_params(**params) if params else divergence
    if isinstance(divergence, str):
        return Divergence(registry.get(divergence), params)
    if isinstance(divergence, registry.Record):
        return Divergence(divergence, params)
    if isinstance(divergence, type) and issubclass(divergence, t.Pointwise):
        divergence = divergence(**params)
        params = {}
    if params:
        raise ValueError(f"parameters {sorted(params)} are given to a named divergence or a term class, not to "
                         f"{type(divergence).__name__} (configure the object itself)")
    if isinstance(divergence, t.Pointwise):
        for rec in registry.records():  # a built-in class's instance is that record with its parameters
            if rec.builtin and rec.factory is type(divergence):
                return Divergence(rec, divergence.params)
        return Divergence(None, term=divergence)
    if callable(divergence):
        return Divergence(None, term=t.as_generator(divergence))
    raise TypeError(f"divergence must be a registered name, dv.spec(...), a term or a callable f(t), "
                    f"got {type(divergence).__name__}")
