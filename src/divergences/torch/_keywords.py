"""The removed keyword spellings of the losses, refused with the new spelling in the message.

The losses take the divergence (a name or ``dv.spec(...)``, carrying its own parameters) and one options
object (:class:`~divergences.torch.DistillOptions`). The keywords that did these jobs before (a divergence
parameter beside the name, ``params=``, a loss knob such as ``temperature=``) are not in the signatures any
more, so a type checker reports them; at run time :func:`keywords_checked` turns Python's bare "unexpected
keyword" into a TypeError that shows the new spelling. The check costs one set lookup per keyword, on the
error path only (the signature's keywords pass straight through).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any, ParamSpec, TypeVar

from ..core.record import records
from .options import LOSS_KEYWORDS, DistillOptions

P = ParamSpec("P")
R = TypeVar("R")

#: keywords that carried a divergence's parameters beside it
PARAMETER_KEYWORDS = ("params", "divergence_params", "flat_params")


def parameter_names() -> set[str]:
    """Every parameter name of a registered divergence (``beta``, ``alpha``, ``skew``, ...)."""
    return {name for record in records() for name in record.defaults}


def refuse_moved(owner: str, keywords: Iterable[str], divergence: Any = None, *, options: bool = True,
                 moved: Mapping[str, str] | None = None) -> None:
    """Raise a TypeError showing the new spelling when ``keywords`` hold a removed one.

    :param owner: the function or class named in the message.
    :param keywords: the keyword arguments the call received beyond its signature.
    :param divergence: the call's divergence argument (shown in the suggested ``dv.spec(...)``).
    :param options: whether ``owner`` takes its loss knobs in ``options=DistillOptions(...)``.
    :param moved: other removed keywords of ``owner``, each with the text of its new spelling.
    :raises TypeError: for the first removed spelling found (keywords that were never spellings are left to
        Python's own error).
    """
    name = repr(divergence) if isinstance(divergence, str) else "'js'"
    option_fields = {f.name for f in fields(DistillOptions)} if options else set()
    parameters = parameter_names()
    for key in keywords:
        if moved and key in moved:
            raise TypeError(f"{owner}() got the keyword {key}=: {moved[key]}")
        if key in PARAMETER_KEYWORDS or key in parameters:
            shown = "beta=0.3" if key in PARAMETER_KEYWORDS else f"{key}=..."
            raise TypeError(f"{owner}() got the keyword {key}=: a divergence's parameters travel inside it, "
                            f"divergence=dv.spec({name}, {shown})")
        if key in option_fields:
            raise TypeError(f"{owner}() got the keyword {key}=: the loss options are one object, "
                            f"options=DistillOptions({key}=...) (from divergences.torch)")


def keywords_checked(*, options: bool = True, owner: str | None = None, moved: Mapping[str, str] | None = None
                     ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function so that a removed keyword spelling fails with the new one (:func:`refuse_moved`).

    The signature seen by type checkers and by ``inspect`` is the function's own. A token loss whose
    signature ends in ``**keywords: Unpack[LossKeywords]`` takes exactly those keys there: any other is
    refused here (with the new spelling when it is a removed one), as Python refuses an unknown keyword.

    :param options: whether the function takes its loss knobs in ``options=DistillOptions(...)``.
    :param owner: the name shown in the messages (default: the function's).
    :param moved: other removed keywords, each with the text of its new spelling.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        named = [n for n, p in signature.parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        open_ended = len(named) < len(signature.parameters)
        known = frozenset(named) | (LOSS_KEYWORDS if open_ended else frozenset())

        @functools.wraps(fn)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            if not known.issuperset(kwargs):
                extra = [k for k in kwargs if k not in known]
                try:
                    given = signature.bind_partial(*args, **{k: v for k, v in kwargs.items() if k in known})
                except TypeError:  # too many positional arguments: Python's own error follows
                    given = None
                divergence = given.arguments.get("divergence") if given is not None else None
                shown = owner or fn.__name__.replace("__init__", type(args[0]).__name__ if args else "")
                refuse_moved(shown, extra, divergence, options=options, moved=moved)
                if open_ended:  # Python's own error, which a ``**keywords`` signature does not raise
                    raise TypeError(f"{shown}() got an unexpected keyword argument {extra[0]!r}")
            return fn(*args, **kwargs)

        return checked

    return decorate
