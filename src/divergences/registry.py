"""The registry of named divergences, read by every layer.

Each entry is a :class:`Spec`:

* ``kind="f"``: an f-divergence, given by a generator factory ``factory(**params) -> Generator``;
  served everywhere (exact values, chunked torch losses with closed-form or autograd gradients,
  sample estimators, binned comparisons of tables).
* ``kind="pointwise"``: a sum of pointwise terms that is not an f-divergence (cross-entropy);
  served wherever a pointwise term suffices.
* ``kind="function"``: anything else (Rényi, Bhattacharyya, Cauchy–Schwarz): a function
  ``fn(p, q, *, axis, keepdims, base, from_logits, normalize, **params)`` on categorical
  distributions; the torch layer differentiates it by autograd.

``register`` adds a user's divergence; it is then available under its name to
``divergences.divergence``, ``divergences.torch.divergence_loss``, the sample estimators and the
tabular comparisons.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import generators as g

__all__ = ["Spec", "available", "get", "get_generator", "register", "unregister"]


@dataclass(frozen=True)
class Spec:
    """One named divergence."""

    name: str
    kind: str  # "f", "pointwise" or "function"
    factory: Callable[..., g.Pointwise] | None = None
    function: Callable[..., Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    aliases: tuple[str, ...] = ()

    def generator(self, **params: Any) -> g.Pointwise:
        """The pointwise term (generator) with ``params``; ValueError for other kinds."""
        if self.factory is None:
            raise ValueError(f"divergence {self.name!r} is not pointwise-separable (it has no generator)")
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"divergence {self.name!r} takes no parameter(s) {sorted(unknown)}; "
                f"its parameters are {sorted(self.defaults) or 'none'}"
            )
        return self.factory(**params)


_REGISTRY: dict[str, Spec] = {}
_ALIASES: dict[str, str] = {}


def _defaults_of(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    return {
        n: p.default
        for n, p in sig.parameters.items()
        if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD
    }


_CATEGORICAL_KEYWORDS = {"axis", "keepdims", "base", "from_logits", "normalize", "validate"}


def register(
    name: str,
    generator: Any = None,
    *,
    function: Callable[..., Any] | None = None,
    overwrite: bool = False,
    description: str = "",
) -> Spec:
    """Register a named divergence so that every layer serves it.

    Give exactly one of:

    * ``generator``: a :class:`~divergences.generators.Generator` instance, a Generator subclass
      (its constructor's keyword arguments become the divergence's parameters), or a plain callable
      ``f(t)`` (wrapped by ``Generator(f)``);
    * ``function``: ``fn(p, q, *, axis=-1, keepdims=False, base=None, from_logits=False,
      normalize=False, **params)`` for a divergence that is not a sum of pointwise terms.

    Returns the :class:`Spec`. Registering an existing name raises unless ``overwrite=True``.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier string, got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a divergence named {name!r} is already registered (pass overwrite=True)")
    if (generator is None) == (function is None):
        raise ValueError("give exactly one of generator= and function=")
    if function is not None:
        defaults = {k: v for k, v in _defaults_of(function).items() if k not in _CATEGORICAL_KEYWORDS}
        spec = Spec(name, "function", function=function, defaults=defaults, description=description)
    elif isinstance(generator, type) and issubclass(generator, g.Pointwise):
        kind = "f" if issubclass(generator, g.Generator) else "pointwise"
        spec = Spec(name, kind, factory=generator, defaults=_defaults_of(generator.__init__),
                    description=description or (generator.__doc__ or "").strip().split("\n")[0])
    else:
        gen = g.as_generator(generator)
        if isinstance(gen, g.Generator) and gen.name == "custom":
            gen.name = name
        kind = "f" if isinstance(gen, g.Generator) else "pointwise"
        spec = Spec(name, kind, factory=lambda: gen, defaults={}, description=description)
    _REGISTRY[name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a user-registered divergence."""
    _REGISTRY.pop(name, None)


def get(name: str) -> Spec:
    """The :class:`Spec` registered under ``name`` (ValueError listing the names otherwise)."""
    try:
        return _REGISTRY[_ALIASES.get(name, name)]
    except (KeyError, TypeError):
        raise ValueError(f"unknown divergence {name!r}; available: {', '.join(available())}") from None


def get_generator(divergence: Any, **params: Any) -> g.Pointwise:
    """The pointwise term for a registered name, a generator object or a callable f(t)."""
    if isinstance(divergence, str):
        return get(divergence).generator(**params)
    if params:
        raise ValueError("parameters are given to a named divergence, not to a generator object")
    return g.as_generator(divergence)


def available(kind: str | None = None) -> list[str]:
    """Names of the registered divergences (optionally only ``kind`` "f", "pointwise", "function")."""
    return sorted(n for n, s in _REGISTRY.items() if kind is None or s.kind == kind)


for _cls in (
    g.KL,
    g.ReverseKL,
    g.Jeffreys,
    g.JensenShannon,
    g.TotalVariation,
    g.Hellinger,
    g.Pearson,
    g.Neyman,
    g.Alpha,
    g.SkewKL,
    g.SkewReverseKL,
    g.Triangular,
):
    register(_cls.name, _cls)
register("cross_entropy", g.CrossEntropy, description="cross-entropy H(P, Q) = −Σ p log q")
# the names data teams use: PSI and information value are Jeffreys; "chi2" is Pearson's χ² divergence
_ALIASES.update({"psi": "jeffreys", "chi2": "pearson"})
