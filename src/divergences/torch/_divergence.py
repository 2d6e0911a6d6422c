r"""Resolving the ``divergence`` argument of the token losses, and the per-row values for autograd.

A divergence is a registered name with optional ``params`` (``"js", params={"beta": 0.3}``), a
configured generator instance (``JensenShannon(beta=0.3)``), a callable ``f(t)`` (an f-divergence
generator), a weighted mixture (:func:`divergences.torch.mixture`), or ``"cosine"`` (the
cosine-similarity distillation loss, not a registry divergence).

The registry's ``"function"`` divergences (Rényi, Bhattacharyya, Cauchy–Schwarz) are not sums of
pointwise terms; on one process their registry function gives the per-row value, on a sharded
vocabulary :func:`function_rows` forms them from their sufficient sums (log-sum-exps and sums across
shards). Every path of a chunk loss resolves its divergence here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import registry
from ..core.terms import Pointwise

Tensor = torch.Tensor


@dataclass(frozen=True)
class Divergence:
    """A resolved divergence: a pointwise term, a registry function of two log-prob arrays, or cosine."""

    name: str
    kind: str  # "pointwise" | "function" | "cosine"
    generator: Pointwise | None = None
    function: Callable[..., Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: a row divergence's own ``rows(a, b, comm)`` and, optionally, ``rows_dphi`` (:class:`RowDivergence`)
    row_fn: Callable[..., Any] | None = None
    row_dphi: Callable[..., Any] | None = None

    @property
    def closed_form(self) -> bool:
        if self.kind == "cosine" or self.row_dphi is not None:
            return True
        return self.generator is not None and self.generator.has_closed_form_gradient

    def rows(self, a: Tensor, b: Tensor, comm: Any) -> Tensor:
        """Per-row value from log-probabilities ``a`` (teacher) and ``b`` (student): differentiable."""
        if self.generator is not None:
            return comm.row_sums(self.generator.phi(a, b))[0]
        if self.row_fn is not None:
            return self.row_fn(a, b, comm)
        if comm.parallel or registry.get(self.name).rows is not None:
            return function_rows(self.name, a, b, comm, **self.params)
        return self.function(a, b, from_logits=True, validate=False, axis=-1, **self.params)


class RowDivergence:
    """A divergence given by its per-row value ``rows(a, b, comm)`` from log-probabilities ``a`` (teacher)
    and ``b`` (student) of shape (rows, V_local), every vocabulary sum taken with ``comm.row_sums`` (so a
    sharded vocabulary works); differentiated by autograd within each chunk, unless the subclass also
    defines ``rows_dphi(a, b, comm, masked) -> (rows, ∂rows/∂a, ∂rows/∂b)`` (entrywise partials in
    log-probability space, as :meth:`~divergences.generators.Pointwise.phi_dphi` gives them), which the
    dense and fused kernels then use in closed form. Subclasses set ``name``."""

    name = "rows"
    rows_dphi: Callable[..., Any] | None = None

    def rows(self, a: Tensor, b: Tensor, comm: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


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
    hint = ""
    try:
        js = registry.get("js").factory
    except ValueError:  # pragma: no cover - the registry always has "js"
        js = None
    beta = getattr(gen, "beta", None)
    if js is not None and type(gen) is js and beta in (0.0, 1.0):
        kl = "'kl' (forward KL(teacher‖student))" if beta == 0.0 else "'reverse_kl' (KL(student‖teacher))"
        side = "student" if beta == 0.0 else "teacher"
        hint = (f" With beta={beta:g} the mixture M = β·teacher + (1−β)·student is the {side}, so the generalised JSD "
                f"is 0 everywhere. TRL's generalized_jsd_loss reads beta={beta:g} as the KL itself: use divergence={kl}.")
    raise ValueError(f"{what} {gen!r} is 0 for every pair of distributions, so as a loss it trains nothing (zero "
                     f"loss, zero gradient).{hint}")


def _mixture_name(div: Any) -> bool:
    return isinstance(div, Mapping)


def resolve(divergence: Any, params: Mapping[str, Any] | None = None, flat: Mapping[str, Any] | None = None) -> Divergence:
    """A :class:`Divergence` from the ``divergence``, ``params`` and flattened-parameter arguments of a loss."""
    if params is not None and not isinstance(params, Mapping):
        raise ValueError(f"params must be a mapping of divergence parameters (e.g. {{'beta': 0.3}}), "
                         f"got {type(params).__name__}")
    flat = dict(flat or {})
    if params is not None and flat:
        raise ValueError(f"give the divergence's parameters either in params= or as keywords, not both "
                         f"(got params={dict(params)!r} and {sorted(flat)})")
    kw = dict(params) if params is not None else flat
    if divergence is None:
        raise ValueError("divergence must be a registered name, a generator or a callable f(t), got None")
    if isinstance(divergence, str):
        if divergence == "cosine":
            if kw:
                raise ValueError(f"divergence 'cosine' takes no parameters, got {sorted(kw)}")
            return Divergence("cosine", "cosine")
        spec = registry.get(divergence)
        if spec.kind == "function":
            spec.check_params(kw)  # unknown names and bad values, named, before any work
            return Divergence(spec.name, "function", function=spec.function, params=dict(kw))
        try:
            gen = spec.generator(**kw)
        except TypeError as exc:
            raise ValueError(f"bad parameter for divergence {divergence!r}: {exc}") from None
        refuse_identically_zero(gen)
        return Divergence(spec.name, "pointwise", generator=gen)
    if kw:
        raise ValueError(f"parameters {sorted(kw)} are given to a named divergence, not to "
                         f"{type(divergence).__name__} (configure the generator instance instead)")
    if isinstance(divergence, RowDivergence):
        return Divergence(divergence.name, "function", row_fn=divergence.rows, row_dphi=divergence.rows_dphi)
    if _mixture_name(divergence):
        from .mixtures import mixture

        gen = mixture(divergence)
        refuse_identically_zero(gen)
        return Divergence(gen.name, "pointwise", generator=gen)
    gen = registry.get_generator(divergence)
    refuse_identically_zero(gen)
    return Divergence(getattr(gen, "name", "custom"), "pointwise", generator=gen)


# ---------------------------------------------------------------------------------------------
# the registry's "function" divergences over a sharded vocabulary: the record's own rows, reduced by comm
# ---------------------------------------------------------------------------------------------


class CommReduce:
    """The reducer of the registry's "function" records (:class:`divergences.core.reduce.LocalReduce`)
    over the vocabulary as ``comm`` holds it: sums and log-sum-exps all-reduced across shards."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm

    def sum(self, x: Tensor) -> Tensor:
        return self.comm.row_sums(x)[0]

    def logsumexp(self, x: Tensor) -> Tensor:
        return self.comm.logsumexp(x).squeeze(-1)

    def max(self, x: Tensor) -> Tensor:
        return self.comm.max_rows(x.amax(dim=-1))


def function_rows(name: str, a: Tensor, b: Tensor, comm: Any, **params: Any) -> Tensor:
    """Per-row value of a registry ``"function"`` divergence over a vocabulary split across ``comm``: the
    record's row reduction (the same definition as the exact verbs) with its sums all-reduced."""
    spec = registry.get(name)
    if spec.rows is None:
        raise ValueError(f"divergence {name!r} (a user's function of p and q) has no vocab-parallel form; "
                         "register it as a pointwise term, or use one process")
    return spec.rows(a, b, torch, -1, reduce=CommReduce(comm), **spec.check_params(params))
