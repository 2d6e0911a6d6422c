r"""Unlearning evaluation: top-k JS between two models, metric agreement, composite score.

* :func:`topk_js` — JS divergence between the output distributions of two models (the unlearned
  model and a reference: the retrained "oracle" or the original), restricted to the k most likely
  tokens, smoothed by ε and renormalised, averaged over the positions of each sample.
* :func:`metric_agreement` — Kendall τ (``scipy.stats.kendalltau``) between the rankings of
  unlearning methods induced by two evaluation metrics, for every pair of metrics.
* :func:`composite_score` — the metrics combined with weights given by each metric's Spearman
  correlation (``scipy.stats.spearmanr``) with an oracle distance.

Conventions of the unified-unlearning evaluation (repository neurips26/UnifiedUnl,
``evaluation/metrics.py`` and ``evaluation/uqs.py``), and where we differ:

* JS: the repository takes, for each model, the softmax of the last position's logits, keeps its
  own top-1000 probability *values* (``torch.topk``, indices dropped), adds 1e-10, renormalises and
  averages ``scipy.spatial.distance.jensenshannon(p, q) ** 2`` over samples. Each side is thus
  sorted by its own ranking, so two models that give the same probabilities to *different* tokens
  get JS = 0. By default we keep the top-k tokens of ``p`` and read the *same tokens* from ``q``
  (``index_from="p"``; ``"q"`` and ``"union"`` are offered); ``index_from="sorted"`` reproduces the
  repository. JS itself is the registry's (``divergences.js``, natural log), equal to SciPy's
  squared distance. ``k`` and ``eps`` default to the repository's 1000 and 1e-10; we average over
  all unpadded positions of a sample (pass the last position only to match the repository).
* Composite (the repository's UQS): each metric is oriented so that larger is better, its
  weight is max(ρ_S(metric, −oracle distance), 0.01) normalised to sum 1, and the score is the
  weighted sum. The repository estimates ρ_S by K-fold cross-validation and maps each metric to
  [0, 1] by a fixed transform (1 − FA, RA, 1 − MIA, 1/(1 + AD), 1 − JS); we use the full-data ρ_S
  and, by default, standardised metrics (``standardize=False`` with transformed metrics reproduces
  the UQS sum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._checks import finite_array, finite_tensor, real

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
    real(eps, "eps", low=0.0)
    finite_tensor(p_logits, "p_logits", allow_neg_inf=True)
    finite_tensor(q_logits, "q_logits", allow_neg_inf=True)
    for x, name in ((p_logits, "p_logits"), (q_logits, "q_logits")):
        if x.numel() and x.is_floating_point() and bool((x == -math.inf).all(-1).any()):
            raise ValueError(f"{name} hold a position whose logits are all -inf (no token is possible)")
    if index_from not in ("p", "q", "union", "sorted"):
        raise ValueError(f"index_from must be 'p', 'q', 'union' or 'sorted', got {index_from!r}")
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
    elif index_from == "sorted":  # the repository's rule: each side's own top-k values
        pk, qk = p.topk(k, dim=-1).values + eps, q.topk(k, dim=-1).values + eps
    else:
        idx = (p if index_from == "p" else q).topk(k, dim=-1).indices
        pk = torch.gather(p, -1, idx) + eps
        qk = torch.gather(q, -1, idx) + eps
    for kept, name in ((pk, "p_logits"), (qk, "q_logits")):
        if bool((kept.sum(-1) == 0).any()):
            raise ValueError(f"{name}: the kept tokens have probability 0 under this model at some position (their "
                             f"softmax underflows); JS of the renormalised top-k is undefined there: give eps > 0")
    value = dv.js(pk, qk, normalize=True)
    if attention_mask is None:
        return value.mean(-1)
    mask = torch.as_tensor(attention_mask, device=value.device).reshape(value.shape).to(dtype)
    count = mask.sum(-1)
    if (count == 0).any():
        raise ValueError("attention_mask leaves a sample with no position")
    return (value * mask).sum(-1) / count


def _scores(metrics: Mapping[str, Any], higher_is_better: Mapping[str, bool] | None = None) -> dict[str, np.ndarray]:
    if not isinstance(metrics, Mapping) or not metrics:
        raise ValueError("metrics must be a non-empty mapping name → one value per method")
    out = {}
    for name, v in metrics.items():
        try:
            values = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"metrics[{name!r}] must hold real numbers, got {type(v).__name__}") from None
        # a NaN metric would rank anywhere and weigh NaN in the composite
        out[name] = finite_array(values, f"metrics[{name!r}]")
    unknown = sorted(map(str, set(higher_is_better or {}) - set(out)))
    if unknown:
        raise ValueError(f"higher_is_better names metrics that are not in metrics: {unknown}")
    for name, flag in (higher_is_better or {}).items():
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"higher_is_better[{name!r}] must be True or False, got {flag!r}")
    sizes = {v.size for v in out.values()}
    if len(sizes) != 1 or sizes.pop() < 2:
        raise ValueError(f"every metric needs one value per method (at least 2, all the same count); got "
                         f"{ {n: v.size for n, v in out.items()} }")
    return out


def metric_agreement(metrics: Mapping[str, Any], *, higher_is_better: Mapping[str, bool] | None = None,
                     groups: Sequence[Any] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    r"""Kendall τ between the rankings of methods that each pair of metrics induces.

    ``metrics[name]`` holds one value per evaluated model (same order for all metrics).
    ``higher_is_better[name]`` (default True) orients each metric so that τ = 1 means "the two
    metrics rank the methods the same way". Returns ``(names, tau, pvalue)`` with ``[m, m]``
    matrices. SciPy's τ-b on the oriented scores: Kendall τ is invariant under monotone maps, so it
    equals τ between the rankings, with ties counted as ties (the repository ranks with
    ``argsort``, which breaks ties by position).

    ``groups`` (one label per value, e.g. dataset × seed) computes τ within each group and averages
    it, as the repository's Finding 1 does; the p-value is then its one-sample t-test of the
    per-group τ against 0 (NaN with a single group), otherwise SciPy's p-value of τ.
    """
    from scipy.stats import kendalltau, ttest_1samp

    scores = _scores(metrics, higher_is_better)
    names = list(scores)
    sign = {n: 1.0 if (higher_is_better or {}).get(n, True) else -1.0 for n in names}
    size = scores[names[0]].size
    labels = np.zeros(size, dtype=int) if groups is None else np.asarray(groups)
    if labels.shape != (size,):
        raise ValueError(f"groups must hold one label per value ({size}), got shape {labels.shape}")
    members = [np.flatnonzero(labels == g) for g in dict.fromkeys(labels.tolist())]
    if any(idx.size < 2 for idx in members):
        raise ValueError("every group needs at least two values to rank")
    m = len(names)
    tau, pval = np.eye(m), np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            a, b = sign[names[i]] * scores[names[i]], sign[names[j]] * scores[names[j]]
            # SciPy's results unpack as (statistic, p-value)
            results = [tuple(kendalltau(a[idx], b[idx])) for idx in members]
            taus = np.array([float(r[0]) for r in results])
            tau[i, j] = tau[j, i] = float(np.mean(taus))
            if groups is None:
                pval[i, j] = pval[j, i] = float(results[0][1])
            else:
                pval[i, j] = pval[j, i] = float(tuple(ttest_1samp(taus, 0))[1]) if taus.size > 1 else math.nan
    return names, tau, pval


def composite_score(metrics: Mapping[str, Any], oracle_distance: Sequence[float] | Any, *,
                    higher_is_better: Mapping[str, bool] | None = None, min_weight: float = 0.01,
                    standardize: bool = True) -> tuple[np.ndarray, dict]:
    r"""Σₘ wₘ xₘ, wₘ ∝ max(ρ_S(xₘ, −oracle distance), ``min_weight``), xₘ the oriented metric.

    ``metrics[name]`` and ``oracle_distance`` hold one value per evaluated model (method, seed,
    ...). Each metric is oriented so that larger is better (``higher_is_better[name]``, default
    True; a False metric is negated), its Spearman correlation with the *negated* oracle distance
    (closeness to the retrained model) gives its weight, floored at ``min_weight`` and normalised to
    sum 1, as in the repository's UQS. With ``standardize=True`` each oriented metric is z-scored
    (population std; a constant metric contributes 0) before the weighted sum. Larger composite =
    closer to the oracle. Returns ``(composite, weights)``.
    """
    from scipy.stats import spearmanr

    real(min_weight, "min_weight", low=0.0)
    scores = _scores(metrics, higher_is_better)
    try:
        raw: Any = oracle_distance
        oracle = np.asarray(raw.detach().cpu().numpy() if hasattr(raw, "detach") else raw,
                            dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"oracle_distance must hold real numbers, got {type(oracle_distance).__name__}") from None
    finite_array(oracle, "oracle_distance")
    n = next(iter(scores.values())).size
    if oracle.size != n:
        raise ValueError(f"oracle_distance has {oracle.size} values but metrics have {n}")
    oriented = {name: (x if (higher_is_better or {}).get(name, True) else -x) for name, x in scores.items()}
    rho = {}
    for name, x in oriented.items():
        r = tuple(spearmanr(x, -oracle))[0] if x.max() > x.min() and oracle.max() > oracle.min() else 0.0
        rho[name] = max(float(r), min_weight)
    total = sum(rho.values())
    if total == 0:
        raise ValueError("no metric correlates with closeness to the oracle and min_weight is 0")
    weights = {name: r / total for name, r in rho.items()}
    composite = np.zeros(n)
    for name, x in oriented.items():
        if standardize:  # z-scores are scale-free: scaled to |x| <= 1 first, so huge metrics cannot overflow
            scale = np.abs(x).max()
            y = x / scale if scale > 0 else x
            sd = y.std()
            x = (y - y.mean()) / sd if sd > 0 else np.zeros_like(x)
        composite += weights[name] * x
    return composite, weights
