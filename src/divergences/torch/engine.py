"""Internal API shared with :mod:`divergences.hf`; not part of the user-facing surface, may change.

The hf layer (trainers, cross-tokenizer and alignment losses, top-k teachers) builds on the torch
layer's chunk engine and checks. It imports them from here, the one public-internal module of
:mod:`divergences.torch`, never from the underscore modules: the names below are what the torch layer
promises its sibling package; everything else in ``divergences.torch._*`` may change without notice.

* :class:`RowDivergence`: a divergence given by its per-row value (BD-KD's balanced KL is one);
* :func:`chunk_rows`: the rows per chunk for a vocabulary width on a device;
* :func:`check_topk`: the checks of a top-k teacher (shapes, index range, distinct indices, mass ≤ 1);
* the row-wise helpers of the speculative and cross-tokenizer losses (:func:`checked_options`,
  :func:`checked_pair`, :func:`chunked`, :func:`compute_dtype`, :func:`kept`, :func:`reduce`);
* :func:`keywords_checked` and :func:`refuse_moved`: the TypeError that shows the new spelling of a
  removed keyword.
"""

from __future__ import annotations

# the redundant "as" marks each name as re-exported (a type checker then lets hf import it)
from ._divergence import RowDivergence as RowDivergence
from ._engine import chunk_rows as chunk_rows
from ._keywords import keywords_checked as keywords_checked
from ._keywords import parameter_names as parameter_names
from ._keywords import refuse_moved as refuse_moved
from ._rowwise import checked_options as checked_options
from ._rowwise import checked_pair as checked_pair
from ._rowwise import chunked as chunked
from ._rowwise import compute_dtype as compute_dtype
from ._rowwise import kept as kept
from ._rowwise import reduce as reduce
from .topk import check_topk as check_topk

__all__: list[str] = []  # internal: no API page (the module docstring lists what it holds)
