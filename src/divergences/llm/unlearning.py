r"""Unlearning evaluation: top-k JS between two models, metric agreement, composite score.

* :func:`topk_js` — JS divergence between the output distributions of two models (the unlearned
  model and a reference: the retrained "oracle" or the original), restricted to the k most likely
  tokens, smoothed by ε and renormalised, averaged over the positions of each sample.
* :func:`metric_agreement` — Kendall τ (``scipy.stats.kendalltau``) between the rankings of
  unlearning methods induced by two evaluation metrics, for every pair of metrics.
* :func:`composite_score` — the metrics combined with weights given by each metric's Spearman
  correlation (``scipy.stats.spearmanr``) with an oracle distance.

Convention of the unified-unlearning evaluation (repository neurips26/UnifiedUnl, as summarised
in our reference notes; the repository itself was not available to us): JS is
``scipy.spatial.distance.jensenshannon(p, q) ** 2`` (natural log) on the top-1000 probabilities
plus 1e-10, renormalised. We read JS from the registry (``divergences.js``), which equals that
squared distance; ``k`` and ``eps`` are arguments with those defaults. Which top-k: the indices
are taken from the *first* distribution (``p``, the reference) by default and the same tokens are
read from ``q``, so both vectors describe the same tokens (``index_from="q"`` or ``"union"``
otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["composite_score", "metric_agreement", "topk_js"]


def topk_js(p_logits: Any, q_logits: Any, *, k: int = 1000, eps: float = 1e-10, attention_mask: Any = None,
            index_from: str = "p") -> Any:
    r"""Per-sample mean of JS(p̃ ‖ q̃) over positions, p̃, q̃ the top-k probabilities + ε, renormalised.

    ``p_logits`` and ``q_logits`` are ``[batch, length, V]`` (or ``[batch, V]``: one position per
    sample) logits of the two models on the same inputs. ``attention_mask`` ``[batch, length]``
    drops padded positions. Returns ``[batch]`` (natural log; 0 ≤ JS ≤ log 2).
    """
    import torch

    import divergences as dv

    p_logits, q_logits = torch.as_tensor(p_logits), torch.as_tensor(q_logits)
    if p_logits.shape[-1] != q_logits.shape[-1]:
        raise ValueError(f"q_logits has V={q_logits.shape[-1]} but p_logits has V={p_logits.shape[-1]}"
                         " (vocabulary mismatch between the two models)")
    if p_logits.shape != q_logits.shape:
        raise ValueError(f"p_logits {tuple(p_logits.shape)} and q_logits {tuple(q_logits.shape)} differ in shape")
    vocab = p_logits.shape[-1]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= vocab:
        raise ValueError(f"k must be an integer in [1, V={vocab}], got {k!r}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    if index_from not in ("p", "q", "union"):
        raise ValueError(f"index_from must be 'p', 'q' or 'union', got {index_from!r}")
    squeeze = p_logits.ndim == 2
    if squeeze:
        p_logits, q_logits = p_logits.unsqueeze(1), q_logits.unsqueeze(1)
    dtype = torch.promote_types(torch.promote_types(p_logits.dtype, q_logits.dtype), torch.float32)
    p = torch.softmax(p_logits.to(dtype), dim=-1)
    q = torch.softmax(q_logits.to(dtype), dim=-1)
    if index_from == "union":
        keep = torch.zeros_like(p, dtype=torch.bool)
        keep.scatter_(-1, p.topk(k, dim=-1).indices, True)
        keep.scatter_(-1, q.topk(k, dim=-1).indices, True)
        pk = torch.where(keep, p + eps, torch.zeros_like(p))
        qk = torch.where(keep, q + eps, torch.zeros_like(q))
    else:
        idx = (p if index_from == "p" else q).topk(k, dim=-1).indices
        pk = torch.gather(p, -1, idx) + eps
        qk = torch.gather(q, -1, idx) + eps
    value = dv.js(pk, qk, normalize=True)
    if attention_mask is None:
        return value.mean(-1)
    mask = torch.as_tensor(attention_mask, device=value.device).reshape(value.shape).to(dtype)
    count = mask.sum(-1)
    if (count == 0).any():
        raise ValueError("attention_mask leaves a sample with no position")
    return (value * mask).sum(-1) / count


def _scores(metrics: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not metrics:
        raise ValueError("metrics is empty")
    out = {name: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=np.float64).reshape(-1)
           for name, v in metrics.items()}
    sizes = {v.size for v in out.values()}
    if len(sizes) != 1 or sizes.pop() < 2:
        raise ValueError(f"every metric needs one value per method (at least 2, all the same count); got "
                         f"{ {n: v.size for n, v in out.items()} }")
    return out


def metric_agreement(metrics: Mapping[str, Any], *, higher_is_better: Mapping[str, bool] | None = None
                     ) -> tuple[list[str], np.ndarray, np.ndarray]:
    r"""Kendall τ between the rankings of methods that each pair of metrics induces.

    ``metrics[name]`` holds one value per method (same method order for all metrics).
    ``higher_is_better[name]`` (default True) orients each metric so that τ = 1 means "the two
    metrics rank the methods the same way". Returns ``(names, tau, pvalue)`` with ``[m, m]``
    matrices (SciPy's τ-b, which handles ties). Kendall τ is invariant under monotone maps, so
    τ between the rankings equals τ between the (oriented) scores.
    """
    from scipy.stats import kendalltau

    scores = _scores(metrics)
    names = list(scores)
    sign = {n: 1.0 if (higher_is_better or {}).get(n, True) else -1.0 for n in names}
    m = len(names)
    tau, pval = np.eye(m), np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            res = kendalltau(sign[names[i]] * scores[names[i]], sign[names[j]] * scores[names[j]])
            tau[i, j] = tau[j, i] = res.statistic
            pval[i, j] = pval[j, i] = res.pvalue
    return names, tau, pval


def composite_score(metrics: Mapping[str, Any], oracle_distance: Sequence[float] | Any) -> tuple[np.ndarray, dict]:
    r"""Σₘ wₘ zₘ with wₘ = ρ_S(metric m, oracle distance) / Σ |ρ_S|, zₘ the metric standardised.

    ``metrics[name]`` and ``oracle_distance`` hold one value per method (or per model checkpoint).
    zₘ = (xₘ − mean) / std (population std; a constant metric gets z = 0 and, having no rank
    correlation, weight 0). A metric that correlates negatively with the oracle distance enters
    with a negative weight, so the composite is oriented like the oracle distance (larger = farther
    from the retrained model). Returns ``(composite, weights)``.
    """
    from scipy.stats import spearmanr

    scores = _scores(metrics)
    oracle = np.asarray(oracle_distance, dtype=np.float64).reshape(-1)
    n = next(iter(scores.values())).size
    if oracle.size != n:
        raise ValueError(f"oracle_distance has {oracle.size} values but metrics have {n}")
    rho = {}
    for name, x in scores.items():
        r = spearmanr(x, oracle).statistic if np.ptp(x) > 0 and np.ptp(oracle) > 0 else 0.0
        rho[name] = float(r)
    total = sum(abs(r) for r in rho.values())
    if total == 0:
        raise ValueError("no metric has a non-zero Spearman correlation with oracle_distance")
    weights = {name: r / total for name, r in rho.items()}
    composite = np.zeros(n)
    for name, x in scores.items():
        sd = x.std()
        if sd > 0:
            composite += weights[name] * (x - x.mean()) / sd
    return composite, weights
