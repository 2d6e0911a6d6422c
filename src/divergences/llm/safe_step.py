r"""Safe step radius of cross-entropy along an update direction ("Ghosts of softmax", Sao 2026).

Linearise the logits along a parameter update θ + τv: zₖ(τ) ≈ zₖ + τaₖ with aₖ = ∇zₖ·v (one
Jacobian–vector product, ``torch.func.jvp``). The softmax partition function Σ exp(zₖ + τaₖ) has
complex zeros in τ, which make the cross-entropy's Taylor series in τ diverge beyond them:

* multiclass lower bound: ρ_a = π / Δ_a, Δ_a = maxₖ aₖ − minₖ aₖ (per sample);
* binary exact radius: ρ* = √(δ² + π²) / |Δ_a|, δ the logit margin (z₁ − z₀, or the single logit
  of a sigmoid model) and Δ_a its directional derivative.

A batch's radius is the smallest over its samples. The normalised step r = τ/ρ (τ = ‖step‖₂ with v
the unit direction) separates safe (r < 1) from dangerous updates; :class:`StepRadiusCap` wraps an
optimizer and caps τ ≤ c·ρ, logging r.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["StepRadiusCap", "binary_step_radius", "directional_logit_derivatives", "step_radius"]


def _logits_of(output: Any) -> Any:
    return output.logits if hasattr(output, "logits") else output


def directional_logit_derivatives(fn: Callable[..., Any], params: Any, direction: Any, *args: Any,
                                  **kwargs: Any) -> tuple[Any, Any]:
    """(logits, a) with a = J_θ z(θ) · v, by one ``torch.func.jvp`` of ``fn(params, *args, **kwargs)``.

    ``params`` is a tensor or a mapping name → tensor (e.g. ``dict(model.named_parameters())``
    with ``fn = lambda p, x: torch.func.functional_call(model, p, (x,))``); ``direction`` has the
    same structure and shapes. ``fn`` may return logits or an object with ``.logits``.
    """
    import torch

    if isinstance(params, Mapping):
        if not isinstance(direction, Mapping) or set(direction) != set(params):
            raise ValueError("direction must be a mapping with the same names as params")
        for name, p in params.items():
            if tuple(direction[name].shape) != tuple(p.shape):
                raise ValueError(f"direction[{name!r}] has shape {tuple(direction[name].shape)} but the parameter has "
                                 f"{tuple(p.shape)}")
        primals = ({n: p.detach() for n, p in params.items()},)
        tangents = ({n: direction[n].detach().to(p.dtype) for n, p in params.items()},)
    else:
        if tuple(direction.shape) != tuple(params.shape):
            raise ValueError(f"direction has shape {tuple(direction.shape)} but params has {tuple(params.shape)}")
        primals, tangents = (params.detach(),), (direction.detach().to(params.dtype),)

    def call(p):
        return _logits_of(fn(p, *args, **kwargs))

    out = torch.func.jvp(call, primals, tangents)  # (value, tangent): the output and its directional derivative
    return out[0], out[1]


def step_radius(a: Any, *, reduce: bool = True) -> Any:
    r"""Multiclass lower bound ρ_a = π / (maxₖ aₖ − minₖ aₖ) over the class axis (last).

    ``a`` ``[..., K]`` are directional logit derivatives. ``reduce=True`` returns the batch radius
    (minimum over samples), else one per sample. Δ_a = 0 gives +inf (the step cannot reach a ghost).
    NaN or ±inf derivatives are a ValueError naming ``a`` (a NaN spread would read as "no ghost").

    >>> import torch
    >>> round(float(step_radius(torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.5, 0.5]]))), 6)  # π / 2
    1.570796
    """
    import torch

    from ._checks import finite_tensor

    a = torch.as_tensor(a)
    if a.ndim < 1 or a.shape[-1] < 2:
        raise ValueError(f"a needs a class axis of length >= 2, got shape {tuple(a.shape)}")
    if a.is_complex() or a.dtype == torch.bool:
        raise ValueError(f"a must hold real derivatives, got dtype {a.dtype}")
    if a.numel() == 0:
        raise ValueError("a is empty: no sample to take the radius of")
    # a NaN derivative has no spread: it would read as "no ghost", radius +inf, any step safe
    finite_tensor(a, "a (the directional logit derivatives)")
    spread = (a.amax(-1) - a.amin(-1)).to(torch.promote_types(a.dtype, torch.float32))
    rho = torch.where(spread > 0, math.pi / spread, torch.full_like(spread, math.inf))
    return rho.min() if reduce else rho


def binary_step_radius(logits: Any, a: Any, *, reduce: bool = True) -> Any:
    r"""Exact binary radius ρ* = √(δ² + π²) / |Δ_a|.

    ``logits`` ``[N]`` (or ``[N, 1]``: one sigmoid logit, δ = z) or ``[N, 2]`` (δ = z₁ − z₀), with
    ``a`` of the same shape.
    """
    import torch

    from ._checks import finite_tensor

    z, a = torch.as_tensor(logits), torch.as_tensor(a)
    if z.shape != a.shape:
        raise ValueError(f"a has shape {tuple(a.shape)} but logits has {tuple(z.shape)}")
    if z.numel() == 0:
        raise ValueError("logits is empty: no sample to take the radius of")
    for x, name in ((z, "logits"), (a, "a (the directional logit derivatives)")):
        if x.is_complex() or x.dtype == torch.bool:
            raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
        finite_tensor(x, name)
    if z.ndim >= 1 and z.shape[-1] == 2 and z.ndim > 1:
        delta, da = z[..., 1] - z[..., 0], a[..., 1] - a[..., 0]
    elif z.ndim >= 1 and z.shape[-1] == 1 and z.ndim > 1:
        delta, da = z[..., 0], a[..., 0]
    elif z.ndim == 1:
        delta, da = z, a
    else:
        raise ValueError(f"logits must be [N], [N, 1] or [N, 2] for the binary radius, got {tuple(z.shape)}")
    dtype = torch.promote_types(z.dtype, torch.float32)
    delta, da = delta.to(dtype), da.abs().to(dtype)
    # hypot: √(δ² + π²) without squaring δ (a margin of 1e200 would overflow)
    rho = torch.where(da > 0, torch.hypot(delta, torch.full_like(delta, math.pi)) / da, torch.full_like(da, math.inf))
    return rho.min() if reduce else rho


class StepRadiusCap:
    r"""Optimizer wrapper capping each step's length τ = ‖Δθ‖₂ at c·ρ_a along its own direction.

    ``step(*inputs)``: runs the wrapped optimizer's step, reads the proposed update Δθ, computes
    ρ_a = π/Δ_a on ``model(*inputs)`` at the *old* parameters along v = Δθ/τ (one JVP), and if
    τ > c·ρ_a rescales the update to length c·ρ_a. The optimizer's internal state (momentum, Adam
    moments) is kept as the optimizer left it. Each call appends
    ``{"tau", "rho", "r", "applied_tau", "capped"}`` to :attr:`history` (r = τ/ρ before capping) and
    returns it. ``model`` returns logits ``[..., K]`` (or an object with ``.logits``); only the
    optimizer's parameters that require grad are moved.
    """

    def __init__(self, optimizer: Any, model: Any, *, c: float = 1.0) -> None:
        from ._checks import real

        real(c, "c", low=0.0, low_open=True)
        self.optimizer, self.model, self.c = optimizer, model, float(c)
        self.history: list[dict[str, float]] = []

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, *inputs: Any, **kwargs: Any) -> dict[str, float]:
        import torch

        names = {id(p): n for n, p in self.model.named_parameters()}
        params = [p for group in self.optimizer.param_groups for p in group["params"] if p.requires_grad]
        missing = [p for p in params if id(p) not in names]
        if missing:
            raise ValueError("optimizer holds parameters that are not parameters of model")
        old = [p.detach().clone() for p in params]
        self.optimizer.step()
        with torch.no_grad():
            delta = [p.detach() - o for p, o in zip(params, old)]
            tau = float(torch.sqrt(sum(((d.double() ** 2).sum() for d in delta), torch.zeros((), dtype=torch.float64))))
            if not math.isfinite(tau):  # put the parameters back: a NaN / inf step is never applied
                for p, o in zip(params, old):
                    p.copy_(o)
                raise ValueError("optimizer: its step holds NaN or inf (a NaN gradient or loss?); the step was "
                                 "undone")
        if tau == 0.0:
            record = {"tau": 0.0, "rho": math.inf, "r": 0.0, "applied_tau": 0.0, "capped": False}
            self.history.append(record)
            return record
        primal = {n: p.detach() for n, p in self.model.named_parameters()}
        tangent = {n: torch.zeros_like(p) for n, p in primal.items()}
        for p, o, d in zip(params, old, delta):
            primal[names[id(p)]] = o
            tangent[names[id(p)]] = d / tau

        def fn(pr):
            return torch.func.functional_call(self.model, pr, inputs, kwargs)

        _, a = directional_logit_derivatives(fn, primal, tangent)
        rho = float(step_radius(a.reshape(-1, a.shape[-1])))
        limit = self.c * rho
        capped = tau > limit
        if capped:
            with torch.no_grad():
                for p, o, d in zip(params, old, delta):
                    p.copy_(o + d * (limit / tau))
        record = {"tau": tau, "rho": rho, "r": tau / rho, "applied_tau": limit if capped else tau, "capped": capped}
        self.history.append(record)
        return record
