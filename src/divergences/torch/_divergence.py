r"""Resolving the ``divergence`` argument of the token losses, and the per-row values for autograd.

A divergence is what :func:`divergences.spec` accepts (a registered name or alias, a ``dv.spec(...)``
value carrying its parameters, a term object or class, a callable ``f(t)``), a weighted mixture
(:class:`divergences.Mixture`, or a mapping of weights), or a torch row divergence (:class:`RowDivergence`,
e.g. :func:`divergences.torch.balanced_kl`). :func:`resolve` reads it once per call and the losses then
read the record's facts, never its name: ``inputs="vectors"`` (the cosine distance between raw vectors) runs
the cosine kernel, ``inputs="ordered"`` (Wasserstein over ordered categories) is refused (a vocabulary has no
order), ``kind="function"`` records (Rényi, Bhattacharyya, Cauchy–Schwarz) are not sums of pointwise terms:
on one process their record gives the per-row value, on a sharded vocabulary :func:`function_rows` forms
them from their sufficient sums (log-sum-exps and sums across shards).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from ..core.divergence import Divergence, DivergenceLike, spec
from ..core.record import Record
from ..core.terms import Pointwise

if TYPE_CHECKING:
    from ._engine import Comm

Tensor = torch.Tensor


@dataclass(frozen=True)
class Resolved:
    """A divergence as the kernels compute it: a pointwise term, a "function" record of two log-prob
    arrays, a torch row divergence, or raw vectors (the cosine kernel)."""

    name: str
    kind: str  # "pointwise" | "function" | "vectors"
    generator: Pointwise | None = None
    record: Record | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: a row divergence's own ``rows(a, b, comm)`` and, optionally, ``rows_dphi`` (:class:`RowDivergence`)
    row_fn: Callable[..., Any] | None = None
    row_dphi: Callable[..., Any] | None = None

    @property
    def closed_form(self) -> bool:
        if self.kind == "vectors" or self.row_dphi is not None:
            return True
        return self.generator is not None and self.generator.has_closed_form_gradient

    def rows(self, a: Tensor, b: Tensor, comm: Comm) -> Tensor:
        """Per-row value from log-probabilities ``a`` (teacher) and ``b`` (student): differentiable."""
        if self.generator is not None:
            return comm.row_sums(self.generator.phi(a, b))[0]
        if self.row_fn is not None:
            return self.row_fn(a, b, comm)
        assert self.record is not None  # a "function" record
        if comm.parallel or self.record.rows is not None:
            return function_rows(self.record, a, b, comm, **self.params)
        assert self.record.function is not None  # a user's "function" record gives its function
        return self.record.function(a, b, from_logits=True, validate=False, axis=-1, **self.params)


class RowDivergence:
    """A divergence given by its per-row value ``rows(a, b, comm)`` from log-probabilities ``a`` (teacher)
    and ``b`` (student) of shape (rows, V_local), every vocabulary sum taken with ``comm.row_sums`` (so a
    sharded vocabulary works); differentiated by autograd within each chunk, unless the subclass also
    defines ``rows_dphi(a, b, comm, masked) -> (rows, ∂rows/∂a, ∂rows/∂b)`` (entrywise partials in
    log-probability space, as :meth:`~divergences.core.terms.Pointwise.phi_dphi` gives them), which the
    dense and fused kernels then use in closed form. Subclasses set ``name``."""

    name = "rows"
    rows_dphi: Callable[..., Any] | None = None

    def rows(self, a: Tensor, b: Tensor, comm: Comm) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


#: what the token losses accept as ``divergence``: what :func:`divergences.spec` accepts (a name, ``dv.spec(...)``,
#: a term object or class, a callable f(t)), a mapping of mixture weights, or a :class:`RowDivergence`
DivergenceArg = DivergenceLike | Mapping[Any, float] | RowDivergence


_PROBES = ((0.7, 0.2, 0.1), (0.1, 0.3, 0.6))


def refuse_identically_zero(gen: Any, what: str = "divergence") -> None:
    """ValueError if the pointwise term ``gen`` is exactly 0 on two pairs of distinct distributions: as a
    training loss it would give zero loss and zero gradient (the generalised JSD at β = 0 or 1, skew KL at
    λ = 1). A term that cannot be evaluated on the probes is left to fail, with its own message, later."""
    from ._checks import compiling

    if compiling():  # traced: a host read of the probe would break the graph (checked when run eagerly)
        return
    p, q = (torch.tensor(x, dtype=torch.float64).log() for x in _PROBES)
    try:
        with torch.no_grad():
            zero = bool(gen.phi(p, q).sum() == 0) and bool(gen.phi(q, p).sum() == 0)
    except Exception:  # noqa: BLE001 - a user's term that fails here fails with its own error later
        return
    if not zero:
        return
    hint = gen.degenerate_hint() if callable(getattr(gen, "degenerate_hint", None)) else ""
    hint = f" {hint}" if hint else ""
    raise ValueError(f"{what} {gen!r} is 0 for every pair of distributions, so as a loss it trains nothing (zero "
                     f"loss, zero gradient).{hint}")


def resolve(divergence: DivergenceArg) -> Resolved:
    """The :class:`Resolved` form of a loss's ``divergence`` argument (see the module docstring).

    :raises ValueError: for None, an unknown name, a divergence over ordered categories, or a term that is 0
        for every pair of distributions (it would train nothing).
    :raises TypeError: for an object that is not a divergence.
    """
    if divergence is None:
        raise ValueError("divergence must be a registered name, dv.spec(...), a term or a callable f(t), got None")
    if isinstance(divergence, RowDivergence):
        return Resolved(divergence.name, "function", row_fn=divergence.rows, row_dphi=divergence.rows_dphi)
    if isinstance(divergence, Mapping):
        from .mixtures import mixture

        divergence = mixture(divergence)
    value = divergence if isinstance(divergence, Divergence) else spec(divergence)
    record = value.record
    inputs = record.inputs if record is not None else "distributions"
    if inputs == "ordered":
        raise ValueError(f"divergence {value.name!r} compares distributions over ordered categories "
                         f"(inputs='ordered'); a vocabulary has no order, so the token losses refuse it")
    if inputs == "vectors":
        return Resolved(value.name, "vectors", record=record, params=value.params)
    if value.kind == "function":
        return Resolved(value.name, "function", record=record, params=value.params)
    gen = value.term()
    refuse_identically_zero(gen)
    return Resolved(value.name, "pointwise", generator=gen, record=record, params=value.params)


# ---------------------------------------------------------------------------------------------
# the registry's "function" divergences over a sharded vocabulary: the record's own rows, reduced by comm
# ---------------------------------------------------------------------------------------------


class CommReduce:
    """The reducer of the registry's "function" records (:class:`divergences.core.reduce.LocalReduce`)
    over the vocabulary as ``comm`` holds it: sums and log-sum-exps all-reduced across shards."""

    def __init__(self, comm: Comm) -> None:
        self.comm = comm

    def sum(self, x: Tensor) -> Tensor:
        return self.comm.row_sums(x)[0]

    def logsumexp(self, x: Tensor) -> Tensor:
        return self.comm.logsumexp(x).squeeze(-1)

    def max(self, x: Tensor) -> Tensor:
        return self.comm.max_rows(x.amax(dim=-1))


def function_rows(record: Record, a: Tensor, b: Tensor, comm: Comm, **params: Any) -> Tensor:
    """Per-row value of a registry ``"function"`` divergence over a vocabulary split across ``comm``: the
    record's row reduction (the same definition as the exact verbs) with its sums all-reduced."""
    if record.rows is None:
        raise ValueError(f"divergence {record.name!r} (a user's function of p and q) has no vocab-parallel form; "
                         "register it as a pointwise term, or use one process")
    return record.rows(a, b, torch, -1, reduce=CommReduce(comm), **record.check_params(params))
