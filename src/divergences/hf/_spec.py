"""The one place where :mod:`divergences.hf` reads a ``divergence`` argument, and names the removed spellings.

Every loss, trainer and logits processor of :mod:`divergences.hf` that takes a divergence accepts what
:func:`divergences.spec` accepts: a registered name or alias (``"kl"``, ``"psi"``), a ``dv.spec(...)`` value
carrying its own parameters (``dv.spec("js", beta=0.3)``), a term object or class, or a generator callable
f(t). :func:`divergence_arg` turns it into a :class:`~divergences.core.divergence.Divergence` once; the
callers then read its record and facts (``kind``, ``record.inputs``, ``term()``), never its name.

The divergence's parameters travel only inside it: the keywords that carried them before (``beta=`` beside
a name, ``params=``, ``divergence_params=``) and the loss knobs that moved into an options object
(``temperature=`` on :func:`~divergences.hf.distillation_loss` and the trainers) are refused by
:func:`refuse_moved` with a TypeError that shows the new spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, ParamSpec, TypeVar, overload

from ..core.divergence import Divergence, DivergenceLike, spec
from ..core.record import records
from ..core.terms import Generator
from ..torch.engine import RowDivergence, keywords_checked
from ..torch.engine import refuse_moved as torch_refuse_moved

__all__: list[str] = []

#: re-exported for the hf modules: :func:`divergences.torch.engine.keywords_checked`
__internal__ = (keywords_checked,)

#: what the hf layer accepts as a divergence: the arguments of :func:`divergences.spec`, and a torch row
#: divergence (:func:`divergences.torch.balanced_kl`), which only the token losses compute
DivergenceArg = DivergenceLike | RowDivergence

#: a divergence as :func:`divergence_arg` returns it
DivergenceValue = Divergence | RowDivergence

#: what the caller computes: ``"tokens"``, the torch token losses (distributions, a torch row divergence,
#: or raw vectors: the cosine loss on logits); ``"distributions"``, the torch losses on distributions
#: (buckets of a vocabulary union, span events); ``"exact"``, the exact verbs between distributions;
#: ``"f"``, the sampled estimators, which need the generator f
Needs = Literal["tokens", "distributions", "exact", "f"]

P = ParamSpec("P")
R = TypeVar("R")


@overload
def divergence_arg(divergence: Any, *, what: str = ..., needs: Literal["exact", "f"]) -> Divergence: ...


@overload
def divergence_arg(divergence: Any, *, what: str = ..., needs: Literal["tokens", "distributions"] = ...
                   ) -> DivergenceValue: ...


def divergence_arg(divergence: Any, *, what: str = "divergence", needs: Needs = "tokens") -> DivergenceValue:
    """``divergence`` as a :class:`~divergences.core.divergence.Divergence` (or a torch row divergence), checked
    once.

    :param divergence: a registered name or alias, a ``dv.spec(...)`` value, a term object or class, a generator
        callable f(t), or (``needs`` ``"tokens"`` or ``"distributions"``) a torch row divergence.
    :param what: the argument's name in the error messages.
    :param needs: what the caller computes (see :data:`Needs`).
    :returns: the divergence with its parameters.
    :raises ValueError: for ``None``, an unknown name or parameter, a divergence over ordered categories (a
        vocabulary has no order), or one the caller cannot compute (``needs``, read from the record's
        ``inputs`` and ``kind``), each naming ``what``.
    :raises TypeError: for an object that is none of the above (a dict of weights is named: build the
        mixture with :func:`divergences.torch.mixture`).
    """
    if divergence is None or isinstance(divergence, bool):
        raise ValueError(f"{what} must be a registered name, dv.spec(...), a term or a callable f(t), got "
                         f"{divergence!r}")
    if isinstance(divergence, Mapping):
        raise TypeError(f"{what}: a mapping of weights is not a divergence; build the weighted sum with "
                        "divergences.torch.mixture({...}) and pass that")
    if isinstance(divergence, RowDivergence):
        if needs in ("exact", "f"):
            raise ValueError(f"{what}: {divergence.name} is a torch row divergence, which only the token losses "
                             "compute; give a registered divergence "
                             f"{'(an f-divergence)' if needs == 'f' else 'between distributions'}")
        return divergence
    try:
        value = spec(divergence)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    except TypeError as exc:
        raise TypeError(f"{what}: {exc}") from None
    inputs = value.record.inputs if value.record is not None else "distributions"
    if inputs == "ordered":
        raise ValueError(f"{what}: {value.name!r} compares distributions over ordered categories; a vocabulary "
                         "has no order, so no token loss takes it")
    if needs != "tokens" and inputs != "distributions":
        raise ValueError(f"{what}: {value.name!r} compares raw vectors, not distributions; give a divergence "
                         "between distributions (e.g. 'kl', 'js')")
    if needs == "f" and value.kind != "f":
        raise ValueError(f"{what}: {value.name!r} is not an f-divergence (no generator f), which the sampled "
                         "estimate needs; the f-divergences are "
                         f"{', '.join(r.name for r in records() if r.kind == 'f')}")
    return value


def f_generator(value: Divergence) -> Generator:
    """The configured generator f of an f-divergence (checked by ``divergence_arg(..., needs="f")``)."""
    term = value.term() if value.pointwise else None
    if not isinstance(term, Generator):
        raise ValueError(f"divergence {value.name!r} is not an f-divergence (no generator f)")
    return term


# ---------------------------------------------------------------------------------------------
# the spellings removed in favour of dv.spec(...) and the options objects
# ---------------------------------------------------------------------------------------------

#: the generation keywords of the trainers, now fields of :class:`~divergences.hf.GenerationOptions`
_GENERATION_KEYWORDS = {"max_new_tokens": "max_new_tokens", "generation_temperature": "temperature",
                        "generation_kwargs": "generation_kwargs"}


def refuse_moved(owner: str, keywords: Iterable[str], divergence: Any = None, *, options: bool = True,
                 generation: bool = False) -> None:
    """Raise a TypeError showing the new spelling when ``keywords`` hold a removed one (the torch layer's
    check, :func:`divergences.torch.engine.refuse_moved`, plus the trainers' generation keywords).

    :param owner: the function or class named in the message.
    :param keywords: the keyword arguments the call received beyond its signature.
    :param divergence: the call's divergence argument (shown in the suggested ``dv.spec(...)``).
    :param options: whether ``owner`` takes its loss knobs in ``options=DistillOptions(...)``.
    :param generation: whether ``owner`` takes its sampling knobs in ``generation=GenerationOptions(...)``.
    :raises TypeError: for the first removed spelling found (keywords that were never spellings are left to
        Python's own error).
    """
    moved = {key: f"the sampling options are one object, generation=GenerationOptions({field}=...) (from "
                  "divergences.hf)" for key, field in _GENERATION_KEYWORDS.items()} if generation else None
    torch_refuse_moved(owner, keywords, divergence, options=options, moved=moved)
