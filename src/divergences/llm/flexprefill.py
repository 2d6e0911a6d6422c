r"""FlexPrefill's per-head choice of sparse-attention pattern (Lai et al., ICLR 2025).

For each head, take the last ``block_size`` queries Q̂ and all keys K (length L, b blocks):

* true block attention ā: the causal attention softmax(Q̂Kᵀ/√d) of those queries, averaged over
  the queries and summed inside each key block (a distribution over the b key blocks);
* estimate â: softmax over key blocks of mean(Q̂)·mean_block(K)ᵀ/√d (queries and keys mean-pooled).

D = √JS(â, ā) (registry JS, natural log; 0 ≤ D ≤ √log 2). The head uses the *query-aware*
pattern when D < τ (the block-pooled estimate is faithful, paper τ = 0.1), else the
*vertical-slash* pattern. Either way blocks are kept in decreasing attention until their
cumulative share reaches γ (paper γ = 0.9): :func:`select_blocks`. :func:`sparse_block_mask`
puts the two together into a causal ``[blocks, blocks]`` mask per head:

* query-aware: for each query block, the block-pooled estimate softmax(mean(Q_i)·mean(K_j)ᵀ/√d)
  over the causal key blocks j ≤ i, blocks kept per row until γ;
* vertical-slash: from the last queries' true attention, the *vertical* mass of each key block and
  the *slash* mass of each block diagonal (query block − key block), each kept until γ; a block
  (i, j ≤ i) is active when its key block or its diagonal is kept. The first key block and the
  main diagonal are always kept (as in the repository).

Differences from the repository (bytedance/FlexPrefill, ``get_active_blocks``): it computes √JS
in probability space (``p * log(p / m)``), which is NaN when a block has zero attention; the
registry's JS is 0·log 0 = 0 safe. Its γ budget is converted to a block count with a hard-coded
``// 128``, right only for 128-token blocks; :func:`select_blocks` counts blocks directly. Inputs
here are ``[..., heads, length, head_dim]`` (batch and heads leading, any number of leading axes);
the repository's are ``[batch, length, heads, head_dim]``. The repository selects query-aware
blocks over the whole flattened block matrix with a budget of γ·blocks; here each query block
(row) covers γ of its own estimated mass. Grouped-query attention: repeat the
key heads to the query heads before calling.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

__all__ = ["PatternChoice", "block_attention", "choose_pattern", "select_blocks", "sparse_block_mask"]


class PatternChoice(NamedTuple):
    """Result of :func:`choose_pattern`; leading axes are those of the inputs (e.g. ``[batch, heads]``)."""

    query_aware: Any   #: bool, True where D < τ
    distance: Any      #: D = √JS(estimate, true)
    estimate: Any      #: â, ``[..., blocks]``
    true: Any          #: ā, ``[..., blocks]``


def _check(q: Any, k: Any, block_size: int) -> None:
    import torch

    from ._checks import finite_tensor

    if not isinstance(q, torch.Tensor) or not isinstance(k, torch.Tensor):
        raise ValueError(f"q and k must be torch tensors, got {type(q).__name__} and {type(k).__name__}")
    if q.ndim < 2 or k.ndim != q.ndim or q.shape[:-2] != k.shape[:-2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must be [..., length, head_dim] with the same leading axes and head_dim; got "
                         f"{tuple(q.shape)} and {tuple(k.shape)}")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    if q.shape[-2] < 1 or k.shape[-2] < 1:
        raise ValueError("q and k need at least one position")
    if q.shape[-1] < 1:
        raise ValueError("q and k need a head_dim of at least 1")
    # a NaN query or key gives NaN attention; its distance would decide the pattern silently
    for x, name in ((q, "q"), (k, "k")):
        if x.is_complex() or x.dtype == torch.bool:
            raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
        finite_tensor(x, name)


def block_attention(q: Any, k: Any, *, block_size: int = 128) -> tuple[Any, Any]:
    """(estimate â, true ā) over key blocks for the last ``block_size`` queries; see the module doc.

    ``q`` ``[..., Lq, d]`` and ``k`` ``[..., Lk, d]``; the queries are the *last* ``Lq`` positions of
    the ``Lk`` keys (prefill: ``Lq = Lk``), so query i sees keys ``0 .. Lk − Lq + i`` (causal). The
    last key block may be partial: its mean is over its actual keys. Computed in float32 at least.
    """
    import torch

    _check(q, k, block_size)
    lq, lk, d = q.shape[-2], k.shape[-2], q.shape[-1]
    if lq > lk:
        raise ValueError(f"q has {lq} positions but k only {lk}: queries must be the last positions of the keys")
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), torch.float32)
    attn = _last_rows_attention(q.to(dtype), k.to(dtype), block_size)            # [..., m, Lk]
    n_blocks = math.ceil(lk / block_size)
    true = _pool_blocks(attn.mean(-2)[..., None], block_size, n_blocks, mean=False)[..., 0]
    k_mean = _pool_blocks(k.to(dtype), block_size, n_blocks, mean=True)          # [..., blocks, d]
    q_mean = q[..., -min(block_size, lq):, :].to(dtype).mean(-2, keepdim=True)
    est = torch.softmax((q_mean @ k_mean.transpose(-1, -2)).squeeze(-2) / math.sqrt(d), dim=-1)
    if not (torch.isfinite(est).all() and torch.isfinite(true).all()):
        raise ValueError(f"q and k: q·kᵀ/√d overflows {dtype} (entries up to {float(q.abs().max()):.3g} and "
                         f"{float(k.abs().max()):.3g}); pass them in float64 or scaled down")
    return est, true


def choose_pattern(q: Any, k: Any, *, block_size: int = 128, tau: float = 0.1) -> PatternChoice:
    """Query-aware (D < τ) or vertical-slash pattern per head, D = √JS(â, ā) from the registry.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> q, k = torch.randn(1, 2, 64, 16, generator=g), torch.randn(1, 2, 64, 16, generator=g)
    >>> choice = choose_pattern(q, k, block_size=16, tau=0.1)
    >>> tuple(choice.distance.shape), choice.query_aware.dtype
    ((1, 2), torch.bool)
    """
    import divergences as dv

    from ._checks import real

    real(tau, "tau", low=0.0, low_open=True)
    est, true = block_attention(q, k, block_size=block_size)
    distance = dv.js_distance(est, true, validate=False)
    return PatternChoice(distance < tau, distance, est, true)


def select_blocks(block_scores: Any, gamma: float = 0.9) -> Any:
    """Boolean mask of the fewest blocks, by decreasing score, whose cumulative share reaches γ.

    ``block_scores`` ``[..., blocks]`` are non-negative (attention mass per block); each row is
    normalised by its sum first. Ties keep the lower index first (stable sort).

    >>> import torch
    >>> select_blocks(torch.tensor([0.1, 0.5, 0.3, 0.1]), gamma=0.75).tolist()
    [False, True, True, False]
    """
    import torch

    from ._checks import real

    real(gamma, "gamma", low=0.0, high=1.0, low_open=True)
    scores = torch.as_tensor(block_scores)
    if scores.ndim < 1 or scores.shape[-1] == 0:
        raise ValueError("block_scores needs a non-empty last axis")
    if (scores < 0).any() or not torch.isfinite(scores).all():
        raise ValueError("block_scores must be finite and non-negative")
    total = scores.sum(-1, keepdim=True)
    share = scores / torch.where(total > 0, total, torch.ones_like(total))
    ordered, order = torch.sort(share, dim=-1, descending=True, stable=True)
    before = torch.cumsum(ordered, dim=-1) - ordered        # share accumulated before each block
    # keep a block while the share before it is still short of γ (tolerance for rounding)
    keep_sorted = before < gamma - 1e-6 * max(1.0, gamma)
    keep_sorted[..., 0] = True
    return torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)


def _pool_blocks(x: Any, block_size: int, n_blocks: int, *, mean: bool) -> Any:
    """Sum (or mean over the actual positions) of ``x`` ``[..., L, d]`` inside blocks of the L axis."""
    import torch

    length = x.shape[-2]
    pad = n_blocks * block_size - length
    pooled = torch.nn.functional.pad(x.transpose(-1, -2), (0, pad)).unflatten(-1, (n_blocks, block_size)).sum(-1)
    if mean:
        sizes = torch.full((n_blocks,), float(block_size), dtype=x.dtype, device=x.device)
        sizes[-1] = block_size - pad
        pooled = pooled / sizes
    return pooled.transpose(-1, -2)


def sparse_block_mask(q: Any, k: Any, *, block_size: int = 128, tau: float = 0.1, gamma: float = 0.9
                      ) -> tuple[Any, PatternChoice]:
    """Causal block mask ``[..., blocks, blocks]`` per head (query block × key block) and the choice.

    Prefill: ``q`` and ``k`` ``[..., L, d]`` of the same length. Heads with D < τ get the query-aware
    mask, the others the vertical-slash mask (see the module doc); every kept set covers γ.
    """
    import torch

    if q.shape[-2] != k.shape[-2]:
        raise ValueError(f"sparse_block_mask is for prefill: q and k need the same length, got {q.shape[-2]} and "
                         f"{k.shape[-2]}")
    choice = choose_pattern(q, k, block_size=block_size, tau=tau)
    n = choice.true.shape[-1]
    dtype = choice.true.dtype
    causal = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
    # query-aware: per query block, the pooled estimate over causal key blocks
    q_mean = _pool_blocks(q.to(dtype), block_size, n, mean=True)
    k_mean = _pool_blocks(k.to(dtype), block_size, n, mean=True)
    est = (q_mean @ k_mean.transpose(-1, -2) / math.sqrt(q.shape[-1])).masked_fill(~causal, float("-inf"))
    query_aware = select_blocks(torch.softmax(est, dim=-1), gamma) & causal
    # vertical-slash from the last queries' attention: vertical = key-block mass, slash = diagonal mass
    vertical = choice.true
    blocks = torch.arange(n, device=q.device)
    diag = (blocks[:, None] - blocks[None, :]).clamp(min=0)                       # [n, n] block diagonal index
    est_rows = _last_rows_attention(q.to(dtype), k.to(dtype), block_size)         # [..., m, L]
    m, length = est_rows.shape[-2], est_rows.shape[-1]
    q_pos = torch.arange(length - m, length, device=q.device)
    offset = (q_pos[:, None] - torch.arange(length, device=q.device)[None, :]).clamp(min=0) // block_size
    slash = torch.zeros(*est_rows.shape[:-2], n, dtype=dtype, device=q.device)
    slash = slash.scatter_add(-1, offset.expand(est_rows.shape).flatten(-2), est_rows.flatten(-2)) / m
    keep_v = select_blocks(vertical, gamma)
    keep_s = select_blocks(slash, gamma)
    keep_v[..., 0] = True
    keep_s[..., 0] = True
    vs = (keep_v[..., None, :] | torch.gather(keep_s, -1, diag.flatten().expand(*keep_s.shape[:-1], n * n))
          .unflatten(-1, (n, n))) & causal
    mask = torch.where(choice.query_aware[..., None, None], query_aware, vs)
    return mask, choice


def _last_rows_attention(q: Any, k: Any, block_size: int) -> Any:
    import torch

    m, length = min(block_size, q.shape[-2]), k.shape[-2]
    scores = q[..., -m:, :] @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    q_pos = torch.arange(length - m, length, device=q.device)
    causal = torch.arange(length, device=q.device)[None, :] <= q_pos[:, None]
    return torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
