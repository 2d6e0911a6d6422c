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

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import registry
from ..generators import Pointwise

Tensor = torch.Tensor


@dataclass(frozen=True)
class Divergence:
    """A resolved divergence: a pointwise term, a registry function of two log-prob arrays, or cosine."""

    name: str
    kind: str  # "pointwise" | "function" | "cosine"
    generator: Pointwise | None = None
    function: Callable[..., Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def closed_form(self) -> bool:
        if self.kind == "cosine":
            return True
        return self.generator is not None and self.generator.has_closed_form_gradient

    def rows(self, a: Tensor, b: Tensor, comm: Any) -> Tensor:
        """Per-row value from log-probabilities ``a`` (teacher) and ``b`` (student): differentiable."""
        if self.generator is not None:
            return comm.row_sums(self.generator.phi(a, b))[0]
        if comm.parallel:
            return function_rows(self.name, a, b, comm, **self.params)
        return self.function(a, b, from_logits=True, validate=False, axis=-1, **self.params)


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
            unknown = set(kw) - set(spec.defaults)
            if unknown:
                raise ValueError(
                    f"divergence {divergence!r} takes no parameter(s) {sorted(unknown)}; "
                    f"its parameters are {sorted(spec.defaults) or 'none'}"
                )
            for k, v in kw.items():
                if isinstance(v, (bool, str)) or not hasattr(v, "__float__"):
                    raise ValueError(f"parameter {k!r} of divergence {divergence!r} must be a number, got {v!r}")
            return Divergence(spec.name, "function", function=spec.function, params=dict(kw))
        try:
            gen = spec.generator(**kw)
        except TypeError as exc:
            raise ValueError(f"bad parameter for divergence {divergence!r}: {exc}") from None
        return Divergence(spec.name, "pointwise", generator=gen)
    if kw:
        raise ValueError(f"parameters {sorted(kw)} are given to a named divergence, not to "
                         f"{type(divergence).__name__} (configure the generator instance instead)")
    if _mixture_name(divergence):
        from .mixtures import mixture

        gen = mixture(divergence)
        return Divergence(gen.name, "pointwise", generator=gen)
    gen = registry.get_generator(divergence)
    return Divergence(getattr(gen, "name", "custom"), "pointwise", generator=gen)


# ---------------------------------------------------------------------------------------------
# the registry's "function" divergences from their sufficient sums (vocab-parallel)
# ---------------------------------------------------------------------------------------------


def _safe(a: Tensor, b: Tensor):
    pz, qz = a == -math.inf, b == -math.inf
    both = pz | qz
    zero = torch.zeros((), dtype=a.dtype, device=a.device)
    return pz, qz, torch.where(both, zero, a), torch.where(both, zero, b)


def _renyi(a: Tensor, b: Tensor, comm: Any, alpha: float = 0.5) -> Tensor:
    al = float(alpha)
    if not al >= 0:
        raise ValueError(f"alpha must be ≥ 0 for the Rényi divergence, got {alpha!r}")
    if math.isinf(al):
        raise ValueError("alpha=inf (the max-ratio Rényi divergence) is not available on a sharded vocabulary")
    if al == 1.0:
        return comm.row_sums(registry.get("kl").generator().phi(a, b))[0]
    pz, qz, a_s, b_s = _safe(a, b)
    inf = torch.full_like(a, math.inf)
    x = al * a_s + (1 - al) * b_s
    x = torch.where(qz & ~pz, inf if al > 1 else -inf, x)
    x = torch.where(pz, -inf, x)
    value = comm.logsumexp(x).squeeze(-1) / (al - 1)
    if abs(al - 1) <= 0.5:
        # near α = 1: log1p(Σ p·expm1((α−1)(a − b)))/(α−1) keeps the limit exact
        term = torch.exp(a_s) * torch.expm1((al - 1) * (a_s - b_s))
        term = torch.where(qz & ~pz, inf if al > 1 else -torch.exp(torch.where(pz, torch.zeros_like(a), a)), term)
        term = torch.where(pz, torch.zeros_like(term), term)
        (s,) = comm.row_sums(term)
        ok = torch.isfinite(s) & (s > -0.5)
        near = torch.log1p(torch.where(ok, s, torch.zeros_like(s))) / (al - 1)
        value = torch.where(ok, near, value)
    return value


def _bhattacharyya(a: Tensor, b: Tensor, comm: Any) -> Tensor:
    (h2,) = comm.row_sums(registry.get("hellinger").generator().phi(a, b))
    pz, qz, a_s, b_s = _safe(a, b)
    half = torch.where(pz | qz, torch.full_like(a, -math.inf), 0.5 * (a_s + b_s))
    far = -comm.logsumexp(half).squeeze(-1)
    close = h2 < 0.5
    near = -torch.log1p(-torch.where(close, h2.clamp(0.0, 0.5), torch.zeros_like(h2)))
    return torch.where(close, near, far)


def _cauchy_schwarz(a: Tensor, b: Tensor, comm: Any) -> Tensor:
    cross = comm.logsumexp(a + b).squeeze(-1)
    value = comm.logsumexp(2 * a).squeeze(-1) + comm.logsumexp(2 * b).squeeze(-1) - 2 * cross
    return torch.where(cross == -math.inf, torch.full_like(value, math.inf), value.clamp_min(0.0))


_FUNCTIONS = {"renyi": _renyi, "bhattacharyya": _bhattacharyya, "cauchy_schwarz": _cauchy_schwarz}


def function_rows(name: str, a: Tensor, b: Tensor, comm: Any, **params: Any) -> Tensor:
    """Per-row value of a registry ``"function"`` divergence over a vocabulary split across ``comm``."""
    fn = _FUNCTIONS.get(name)
    if fn is None:
        raise ValueError(f"divergence {name!r} (a registry function) has no vocab-parallel form; "
                         f"the vocab-parallel ones are {sorted(_FUNCTIONS)} and every pointwise divergence")
    return fn(a, b, comm, **params)
