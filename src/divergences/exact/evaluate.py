"""Evaluate a registry record between categorical distributions on any Array API backend.

:class:`Inputs` checks and aligns the two arguments; :func:`evaluate` reads the record (a pointwise
term, or a "function" record's row reduction) and runs it: NumPy probabilities through the block
runner (:mod:`divergences.exact.runner`), anything else (torch with autograd, CuPy, JAX, logits) in
one masked log-space pass. Every divergence is clipped at 0 and exactly 0 where the two inputs are
identical along the category axis.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.backend import Array, as_array_input, as_float, is_numpy, log_normalize, namespace, result_dtype, safe_log
from ..core.record import Record
from ..core.terms import Pointwise
from ..core.validation import (
    check_axis,
    check_base,
    check_flag,
    check_logits,
    check_nonempty,
    check_probabilities,
    check_shapes,
    sum_atol,
)
from . import runner

__all__ = ["Inputs", "apply_base", "evaluate", "evaluate_term"]


def _as_array(x: Any, name: str, xp: Any) -> Any:
    if is_numpy(xp):
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be an array of numbers: {exc}") from None
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
        return arr
    return x if hasattr(x, "shape") else xp.asarray(x)


def _normalize(x: Array, xp: Any, axis: int) -> Array:
    """x / Σx along ``axis``, first scaled by a power of two near its maximum (exact, without a
    gradient of its own) so that counts whose sum overflows the dtype still normalise."""
    top = xp.max(x, axis=axis, keepdims=True)
    top = xp.where(top > 0, top, xp.ones_like(top))
    if hasattr(top, "detach"):
        top = top.detach()
    x = x / 2.0 ** xp.floor(xp.log2(top))
    return x / xp.sum(x, axis=axis, keepdims=True)


class Inputs:
    """Two validated inputs, in a common compute dtype, with the category axis resolved."""

    def __init__(self, p, q, *, axis, from_logits, normalize, validate, names=("p", "q")):
        from_logits = check_flag(from_logits, "from_logits")
        normalize = check_flag(normalize, "normalize")
        validate = check_flag(validate, "validate")
        p, q = as_array_input(p, names[0]), as_array_input(q, names[1])
        xp = namespace(p, q, names=names)
        p, q = _as_array(p, names[0], xp), _as_array(q, names[1], xp)
        self.atol = max(sum_atol(p.dtype), sum_atol(q.dtype))
        dtype = result_dtype(xp, p, q)
        p, q = as_float(p, xp, dtype), as_float(q, xp, dtype)
        shape = check_shapes(tuple(p.shape), tuple(q.shape), names)
        self.axis = check_axis(axis, len(shape))
        check_nonempty(shape[self.axis], axis)
        self.xp, self.p, self.q, self.shape, self.names = xp, p, q, shape, names
        self.from_logits, self.normalize, self.validate = from_logits, normalize, validate

    def check(self) -> None:
        """Validate both inputs (the NumPy block runner validates its blocks itself). Tensors on
        torch's ``meta`` device have shapes but no values: only their shapes are checked, and the
        result is a meta tensor of the result's shape (shape inference)."""
        if not self.validate or any(str(getattr(x, "device", "")) == "meta" for x in (self.p, self.q)):
            return
        for x, name in zip(self._broadcast(), self.names):
            if self.from_logits:
                check_logits(x, name, self.xp, self.axis)
            else:
                check_probabilities(x, name, self.xp, self.axis, self.normalize, self.atol)

    def _broadcast(self):
        xp = self.xp
        p, q = self.p, self.q
        if tuple(p.shape) != self.shape:
            p = xp.broadcast_to(p, self.shape)
        if tuple(q.shape) != self.shape:
            q = xp.broadcast_to(q, self.shape)
        return p, q

    def logs(self) -> tuple[Array, Array]:
        """log p and log q (log-softmax of logits, or masked logs of probabilities)."""
        xp, ax = self.xp, self.axis
        p, q = self._broadcast()
        if self.from_logits:
            return log_normalize(p, xp, ax), log_normalize(q, xp, ax)
        if self.normalize:
            p, q = _normalize(p, xp, ax), _normalize(q, xp, ax)
        return safe_log(p, xp), safe_log(q, xp)

    def numpy_fast(self) -> bool:
        return is_numpy(self.xp) and not self.from_logits

    def as_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """NumPy: both inputs as C-contiguous (rows, categories) arrays."""
        p, q = self._broadcast()
        p = np.moveaxis(p, self.axis, -1)
        q = np.moveaxis(q, self.axis, -1)
        n = p.shape[-1]
        return np.ascontiguousarray(p).reshape(-1, n), np.ascontiguousarray(q).reshape(-1, n)

    def finish(self, rows_or_array: Array, *, keepdims: bool, reduced: bool = False) -> Array:
        """Shape a per-distribution result: from NumPy rows, or from an array reduced over axis."""
        xp = self.xp
        out_shape = self.shape[: self.axis] + self.shape[self.axis + 1 :]
        out = rows_or_array if reduced else xp.reshape(rows_or_array, out_shape)
        if keepdims:
            out = xp.expand_dims(out, axis=self.axis)
        if is_numpy(xp) and out.ndim == 0:
            return out[()]
        return out


def _exact_zero(value: Array, a: Array, b: Array, xp: Any, axis: int) -> Array:
    """Clip a divergence at 0, and 0 exactly where the log-probabilities are identical."""
    same = xp.all(a == b, axis=axis)
    return xp.where(same, xp.zeros_like(value), xp.clip(value, 0.0, None))


def _log_space(inp: Inputs, reduce: Any, divergence: bool) -> Array:
    """``reduce(log p, log q, xp, axis)`` on any backend, checked first."""
    inp.check()
    a, b = inp.logs()
    if is_numpy(inp.xp):
        with np.errstate(all="ignore"):
            value = reduce(a, b, inp.xp, inp.axis)
    else:
        value = reduce(a, b, inp.xp, inp.axis)
    return _exact_zero(value, a, b, inp.xp, inp.axis) if divergence else value


def evaluate_term(term: Pointwise, inp: Inputs, keepdims: bool) -> Array:
    """Σ_x φ(log p(x), log q(x)) over the category axis, never above the term's ``upper_bound``
    (rounding of a value at its supremum: TV of disjoint distributions is 1, not 1 + 1e-16)."""
    bound = term.upper_bound
    if inp.numpy_fast():
        p2, q2 = inp.as_rows()
        vals = runner.pointwise_rows(term, p2, q2, normalize=inp.normalize, validate=inp.validate,
                                     names=inp.names, atol=inp.atol)
        if bound is not None:
            np.minimum(vals, bound, out=vals)
        return inp.finish(vals, keepdims=keepdims)
    value = _log_space(inp, lambda a, b, xp, ax: xp.sum(term.phi(a, b), axis=ax), term.is_divergence)
    if bound is not None:
        value = inp.xp.clip(value, None, bound)
    return inp.finish(value, keepdims=keepdims, reduced=True)


def _evaluate_rows(spec: Record, params: dict[str, Any], inp: Inputs, keepdims: bool) -> Array:
    """A "function" record: its row reduction, with its fast NumPy kernel first where it has one."""
    rows, numpy_rows, near_rows = spec.rows, spec.numpy_rows, spec.numpy_near_equal
    assert rows is not None
    if inp.numpy_fast():
        p2, q2 = inp.as_rows()

        def exact(pb: np.ndarray, qb: np.ndarray) -> np.ndarray:
            return rows(safe_log(pb, np), safe_log(qb, np), np, -1, **params)

        fast = None if numpy_rows is None else (lambda pb, qb, sp, sq: numpy_rows(pb, qb, **params))
        near = None if near_rows is None else (lambda pb, qb: near_rows(pb, qb, **params))
        vals = runner.run_blocks(exact, fast, p2, q2, normalize=inp.normalize, validate=inp.validate,
                                 names=inp.names, atol=inp.atol, divergence=spec.is_divergence, near_equal=near)
        return inp.finish(vals, keepdims=keepdims)
    value = _log_space(inp, lambda a, b, xp, ax: rows(a, b, xp, ax, **params), spec.is_divergence)
    return inp.finish(value, keepdims=keepdims, reduced=True)


def apply_base(value: Array, base: float | None, logarithmic: bool, name: str) -> Array:
    base = check_base(base)
    if base is None:
        return value
    if not logarithmic:
        raise ValueError(f"base= does not apply to {name}: it is not measured in units of information")
    return value / math.log(base)


def evaluate(
    spec: Record | Pointwise,
    p: Array,
    q: Array,
    params: dict[str, Any],
    *,
    axis: int = -1,
    keepdims: bool = False,
    base: float | None = None,
    from_logits: bool = False,
    normalize: bool = False,
    validate: bool = True,
) -> Array:
    """The divergence of a record (or of a pointwise term object) between ``p`` and ``q``."""
    keepdims = check_flag(keepdims, "keepdims")
    if isinstance(spec, Pointwise):
        term: Pointwise | None = spec
    elif spec.pointwise:
        term = spec.generator(**params)
    else:
        term = None
    if term is not None:
        check_base(base)
        inp = Inputs(p, q, axis=axis, from_logits=from_logits, normalize=normalize, validate=validate)
        value = evaluate_term(term, inp, keepdims)
        return apply_base(value, base, term.information_units, spec.name)
    assert isinstance(spec, Record)
    if spec.rows is None:  # a user's function: it takes the shared keywords itself
        assert spec.function is not None
        spec.check_params(params)
        return spec.function(p, q, axis=axis, keepdims=keepdims, base=base, from_logits=from_logits,
                             normalize=normalize, validate=validate, **params)
    check_base(base)
    if spec.inputs == "vectors":
        return apply_base(_evaluate_vectors(spec, p, q, spec.check_params(params), axis=axis, keepdims=keepdims,
                                            from_logits=from_logits, normalize=normalize, validate=validate),
                          base, spec.information_units, spec.name)
    inp = Inputs(p, q, axis=axis, from_logits=from_logits, normalize=normalize, validate=validate)
    full = spec.check_params(params)
    value = _evaluate_rows(spec, full, inp, keepdims)
    return apply_base(value, base, spec.information_units, spec.name)


def _evaluate_vectors(spec: Record, p: Array, q: Array, params: dict[str, Any], *, axis: int, keepdims: bool,
                      from_logits: bool, normalize: bool, validate: bool) -> Array:
    """A record of raw vectors (``inputs="vectors"``): any finite values, no normalisation."""
    if check_flag(from_logits, "from_logits") or check_flag(normalize, "normalize"):
        raise ValueError(f"{spec.name!r} compares raw vectors, not distributions: from_logits and normalize "
                         "do not apply")
    inp = Inputs(p, q, axis=axis, from_logits=False, normalize=False, validate=validate, names=("x", "y"))
    x, y = inp._broadcast()
    if inp.validate and not any(str(getattr(v, "device", "")) == "meta" for v in (x, y)):
        for v, name in ((x, "x"), (y, "y")):
            if bool(inp.xp.any(~inp.xp.isfinite(v))):
                raise ValueError(f"{name} contains NaN or an infinite value")
    rows = spec.rows
    assert rows is not None
    value = rows(x, y, inp.xp, inp.axis, **params)
    xp = inp.xp
    same = xp.all(x == y, axis=inp.axis) & xp.any(x != 0, axis=inp.axis)  # a zero vector has no direction
    value = xp.where(same, xp.zeros_like(value), value)
    return inp.finish(value, keepdims=keepdims, reduced=True)
