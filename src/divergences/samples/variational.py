r"""Variational (critic-based) lower bounds on f-divergences from samples, and the causal f-bound.

Given a critic T evaluated on samples x_i ~ P (``critic_p``) and y_j ~ Q (``critic_q``):

* :func:`f_gan_bound` — the f-GAN / Nguyen–Wainwright–Jordan bound for any registered generator
  (Nowozin et al. 2016; Nguyen, Wainwright & Jordan 2010):
  :math:`D_f(P\|Q) \ge E_P[T] - E_Q[f^*(T)]`, with equality at :math:`T^* = f'(p/q)`
  (:func:`optimal_critic`). :math:`f^*` is the generator's convex conjugate ``gen.conjugate``.
* :func:`nwj_bound` — the f-GAN bound of KL, :math:`E_P[T] - E_Q[e^{T-1}]` (NWJ, "MINE-f"); optimal
  critic :math:`1 + \log(p/q)`.
* :func:`donsker_varadhan_bound` — :math:`\mathrm{KL}(P\|Q) \ge E_P[T] - \log E_Q[e^{T}]` (MINE's
  bound; tighter than NWJ for the same critic, invariant to T + c); optimal critic
  :math:`\log(p/q) + c`. The log-mean-exp is computed stably.

Expectations are (weighted) sample means; ``weights_p`` / ``weights_q`` give the weights (normalised
here), so on a discrete distribution the support points with their probabilities as weights give the
exact expectations, and the bounds at the optimal critic equal the exact divergence (tested).
NumPy in, float out; torch in, a differentiable 0-d tensor out (to train the critic, maximise the
bound). Critic values outside the conjugate's domain (reverse KL: T ≥ 0; TV: |T| > ½) make
:math:`f^*(T) = +\infty`, so the bound is −inf there, as it should be (parametrise the critic with the
output activation of Nowozin et al.'s Table 6 to stay inside).

:func:`causal_f_bound` — the propensity-score bound on the f-divergence between the observational
and the interventional distribution of an outcome (Jung & Kang 2026, "Information-Theoretic Causal
Bounds under Unmeasured Confounding").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.divergence import DivergenceLike
from ._divergence import f_generator
from ._torch_inputs import any_tensor

__all__ = ["causal_f_bound", "donsker_varadhan_bound", "f_gan_bound", "nwj_bound", "optimal_critic"]


def _values(t: Any, name: str, torch_mode: bool):
    if torch_mode:
        import torch

        t = t if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t, dtype=np.float64))
        if not t.dtype.is_floating_point or t.dtype in (torch.float16, torch.bfloat16):
            t = t.to(torch.float32)
        t = t.reshape(-1)
        bad = not bool(torch.isfinite(t).all())
    else:
        arr = np.asarray(t)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        t = np.asarray(arr, dtype=np.float64).reshape(-1)
        bad = not np.isfinite(t).all()
    if t.shape[0] < 1:
        raise ValueError(f"{name} needs at least one critic value")
    if bad:
        raise ValueError(f"{name} contains NaN or an infinite value")
    return t


def _weights(w: Any, n: int, name: str, like, torch_mode: bool):
    if w is None:
        return None
    if torch_mode:
        import torch

        w = (w if isinstance(w, torch.Tensor) else torch.as_tensor(np.asarray(w, dtype=np.float64))).to(like.dtype)
        w = w.reshape(-1)
        ok = w.shape[0] == n and bool(torch.isfinite(w).all()) and not bool((w < 0).any()) and float(w.sum()) > 0
    else:
        w = np.asarray(w, dtype=np.float64).reshape(-1)
        ok = w.shape[0] == n and np.isfinite(w).all() and not (w < 0).any() and w.sum() > 0
    if not ok:
        raise ValueError(f"{name} must be {n} finite non-negative weights with a positive sum")
    return w / w.sum()


def _mean(t, w):
    return t.mean() if w is None else (w * t).sum()


def _prepare(critic_p, critic_q, weights_p, weights_q):
    torch_mode = any_tensor(critic_p, critic_q, weights_p, weights_q)
    tp = _values(critic_p, "critic_p", torch_mode)
    tq = _values(critic_q, "critic_q", torch_mode)
    if torch_mode:
        import torch

        dtype = torch.promote_types(tp.dtype, tq.dtype)
        tp, tq = tp.to(dtype), tq.to(dtype)
    wp = _weights(weights_p, tp.shape[0], "weights_p", tp, torch_mode)
    wq = _weights(weights_q, tq.shape[0], "weights_q", tq, torch_mode)
    return tp, tq, wp, wq, torch_mode


def _finish(value, torch_mode):
    return value if torch_mode else float(value)


def f_gan_bound(critic_p: Any, critic_q: Any, divergence: DivergenceLike = "kl", *, weights_p: Any = None,
                weights_q: Any = None, **params: float) -> Any:
    r"""f-GAN lower bound :math:`E_P[T] - E_Q[f^*(T)] \le D_f(P\|Q)` from critic values.

    Equality holds at :math:`T = f'(p/q)` (:func:`optimal_critic`). Values outside the conjugate's
    domain give −inf (module notes).

    >>> import numpy as np
    >>> p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    >>> t = optimal_critic(p, q, "kl")
    >>> round(f_gan_bound(t, t, "kl", weights_p=p, weights_q=q), 10) == round(float(np.sum(p * np.log(p / q))), 10)
    True

    :param critic_p: critic values T(x_i) at the samples of P.
    :param critic_q: critic values T(y_j) at the samples of Q.
    :param divergence: an f-divergence with a closed-form conjugate f*: a registered name with its
        parameters as keywords (``"js", beta=0.3``), the same as ``dv.spec("js", beta=0.3)``, or a
        generator object defining ``conjugate``.
    :param weights_p: optional non-negative weights of the samples of P (normalised here).
    :param weights_q: optional weights of the samples of Q.
    :param params: the divergence's parameters, beside a name only.
    :returns: the bound: a float (NumPy in) or a differentiable 0-d tensor (torch in).
    :raises ValueError: naming the argument: NaN or infinite critic values, bad weights, a divergence
        that is not an f-divergence or has no closed-form conjugate, an unknown parameter.
    """
    gen = f_generator(divergence, params, conjugate=True)
    tp, tq, wp, wq, torch_mode = _prepare(critic_p, critic_q, weights_p, weights_q)
    if torch_mode:
        import torch

        conj = gen.conjugate(tq)
        conj = torch.where(torch.isnan(conj), torch.full_like(conj, math.inf), conj)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            conj = gen.conjugate(tq)
            conj = np.where(np.isnan(conj), np.inf, conj)
    return _finish(_mean(tp, wp) - _mean(conj, wq), torch_mode)


def nwj_bound(critic_p: Any, critic_q: Any, *, weights_p: Any = None, weights_q: Any = None) -> Any:
    r"""NWJ lower bound on KL(P‖Q): :math:`E_P[T] - E_Q[e^{T-1}]` (the f-GAN bound of KL).

    Optimal critic :math:`T = 1 + \log(p/q)`. Some texts (MINE-f) write it with :math:`T' = T - 1`:
    :math:`E_P[T'] + 1 - E_Q[e^{T'}]`.

    >>> round(nwj_bound([1.0], [1.0]), 12)  # P = Q, optimal critic T = 1
    0.0
    """
    return f_gan_bound(critic_p, critic_q, "kl", weights_p=weights_p, weights_q=weights_q)


def donsker_varadhan_bound(critic_p: Any, critic_q: Any, *, weights_p: Any = None, weights_q: Any = None) -> Any:
    r"""Donsker–Varadhan lower bound on KL(P‖Q): :math:`E_P[T] - \log E_Q[e^{T}]`.

    The log-mean-exp is max-shifted (no overflow for large critic values). Invariant to T + c;
    optimal critic :math:`\log(p/q)` (+ any constant). ≥ the NWJ bound for the same T.

    >>> round(donsker_varadhan_bound([0.0, 5.0], [3.0, 3.0]), 12)  # E_P T − log e³ = 2.5 − 3
    -0.5
    """
    tp, tq, wp, wq, torch_mode = _prepare(critic_p, critic_q, weights_p, weights_q)
    if torch_mode:
        import torch

        n = tq.shape[0]
        log_w = torch.full_like(tq, -math.log(n)) if wq is None else torch.log(wq)
        lme = torch.logsumexp(tq + log_w, 0)
    else:
        from scipy.special import logsumexp

        lme = logsumexp(tq, b=np.full(tq.shape[0], 1.0 / tq.shape[0]) if wq is None else wq)
    return _finish(_mean(tp, wp) - lme, torch_mode)


def optimal_critic(p: Any, q: Any, divergence: DivergenceLike = "kl", **params: float) -> Any:
    r"""The optimal f-GAN critic :math:`f'(p/q)` at points with probabilities (or densities) p and q.

    For Donsker–Varadhan use ``log(p/q)`` instead (any constant may be added).

    >>> float(optimal_critic([0.5], [0.25], "pearson")[0])  # f′(t) = 2(t − 1) at t = 2
    2.0

    :param p: probabilities or densities of P at the points (> 0).
    :param q: probabilities or densities of Q at the same points (> 0).
    :param divergence: an f-divergence: a name with its parameters as keywords, a ``dv.spec(...)``
        value, a generator object or a callable f(t).
    :param params: the divergence's parameters, beside a name only.
    :returns: f′(p/q), on the caller's backend.
    :raises ValueError: for p or q ≤ 0, NaN, or a divergence that is not an f-divergence.
    """
    gen = f_generator(divergence, params)
    torch_mode = any_tensor(p, q)
    pv, qv = _values(p, "p", torch_mode), _values(q, "q", torch_mode)
    if (pv <= 0).any() or (qv <= 0).any():
        raise ValueError("p and q must be > 0 where the critic is evaluated (the ratio p/q)")
    return gen.f_prime(pv / qv)


def causal_f_bound(propensity: Any, divergence: DivergenceLike = "kl", **params: float) -> Any:
    r"""Upper bound on :math:`D_f\big(P(Y\mid A{=}a, X{=}x)\,\|\,P(Y\mid do(A{=}a), X{=}x)\big)` from
    the propensity score :math:`e = P(A{=}a\mid X{=}x)` alone (Jung & Kang 2026).

    The interventional distribution is the mixture :math:`e\,P_{obs} + (1-e)\,Q` with Q the (unknown)
    outcome distribution of the units that did not take a, so :math:`P_{obs}/P_{do} \le 1/e`, and by
    joint convexity the worst case is Q disjoint from :math:`P_{obs}`:

    .. math:: D_f(P_{obs}\|P_{do}) \le e\,f(1/e) + (1-e)\,f(0^+),

    which is attained (the bound is sharp). KL gives :math:`-\log e`; TV gives 1 − e; generators
    with :math:`f(0^+) = \infty` (reverse KL, Neyman) give +inf for e < 1 (no bound). ``propensity``
    is a number or array in (0, 1] (NumPy or torch, elementwise, differentiable in torch).

    >>> round(float(causal_f_bound(0.25, "kl")), 10) == round(float(np.log(4.0)), 10)
    True

    :param propensity: e = P(A=a | X=x) in (0, 1], a number or an array.
    :param divergence: an f-divergence: a name with its parameters as keywords, a ``dv.spec(...)``
        value, a generator object or a callable f(t).
    :param params: the divergence's parameters, beside a name only.
    :returns: the bound, elementwise: a float for a scalar NumPy input, else an array or tensor.
    :raises ValueError: for a propensity outside (0, 1] or NaN, or a divergence that is not an
        f-divergence.
    """
    gen = f_generator(divergence, params)
    f0 = float(gen.phi(np.asarray(-math.inf), np.asarray(0.0)))  # f(0+): the term at p = 0, q = 1
    refused = ValueError("propensity must lie in (0, 1] (a propensity of 0 leaves the observational distribution "
                         "undefined)")
    if any_tensor(propensity):
        import torch

        et = propensity if isinstance(propensity, torch.Tensor) else torch.as_tensor(propensity)
        if not et.dtype.is_floating_point:
            et = et.to(torch.float32)
        if not bool(((et > 0) & (et <= 1)).all()):  # NaN fails both comparisons
            raise refused
        rest = 1 - et
        # 0·inf is 0 at e = 1 (P_do = P_obs), inf below
        tail = rest * f0 if math.isfinite(f0) else torch.where(rest > 0, math.inf, 0.0).to(rest.dtype)
        return et * gen.f(1 / et) + tail
    try:
        e = np.asarray(propensity, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"propensity must be a number or an array in (0, 1], got {propensity!r}") from None
    if not np.all((e > 0) & (e <= 1)):
        raise refused
    rest = 1 - e
    tail = rest * f0 if math.isfinite(f0) else np.where(rest > 0, np.inf, 0.0)
    value = e * gen.f(1 / e) + tail
    return float(value) if np.ndim(value) == 0 else value
