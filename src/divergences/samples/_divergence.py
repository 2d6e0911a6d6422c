"""The samples layer's one reading of a ``divergence`` argument.

Every estimator that takes a divergence (:func:`~divergences.samples.histogram`, the variational bounds)
accepts a registered name or alias with its parameters as keywords, a :func:`divergences.spec` value
(its parameters inside it), a term object or class, or a generator callable f(t), and resolves it here
with :func:`divergences.core.divergence.spec`. What a divergence can do is read from its record and
term (``kind``, ``inputs``, ``has_conjugate``), never from its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.divergence import Divergence, DivergenceLike, spec
from ..core.terms import Generator

__all__ = ["f_generator", "resolve"]


def resolve(divergence: DivergenceLike, params: Mapping[str, Any]) -> Divergence:
    """The :class:`~divergences.core.divergence.Divergence` for ``divergence`` with the keyword
    parameters ``params``.

    :raises ValueError: for ``None`` or a bool, an unknown name, an unknown parameter or a value out of
        range (each named), or parameters given beside a ``dv.spec(...)`` value instead of inside it.
    :raises TypeError: for an object that is neither a name, a spec, a term nor a callable.
    """
    if divergence is None or isinstance(divergence, bool):
        raise ValueError(f"divergence must be a registered name, dv.spec(...), a term or a callable f(t), "
                         f"got {divergence!r}")
    if isinstance(divergence, Divergence) and params:
        raise ValueError(f"give the parameters {sorted(params)} inside dv.spec(...), not beside {divergence!r}")
    return spec(divergence, **params)


def f_generator(divergence: DivergenceLike, params: Mapping[str, Any], *, conjugate: bool = False) -> Generator:
    """The f-divergence generator of ``divergence`` (see :func:`resolve`).

    :param conjugate: require a closed-form convex conjugate f* (the f-GAN bound).
    :raises ValueError: naming the divergence when it is not an f-divergence, or has no conjugate.
    """
    value = resolve(divergence, params)
    gen = value.term() if value.kind == "f" else None
    if not isinstance(gen, Generator):
        raise ValueError(f"divergence {value.name!r} is not an f-divergence (no generator f)")
    if conjugate and not gen.has_conjugate:
        raise ValueError(f"divergence {value.name!r} has no closed-form convex conjugate f* (the f-GAN bound "
                         "needs one)")
    return gen
