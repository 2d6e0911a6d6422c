"""Array-backend plumbing: namespaces, dtypes and masked logarithms.

Everything here works on any Array API array through ``array-api-compat`` (NumPy, PyTorch with
autograd, CuPy, JAX, ...). Nothing here imports torch; the torch namespace is reached only when the
caller passes torch tensors.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np

Array = Any  # an array of any Array API backend

__all__ = [
    "Array",
    "as_array_input",
    "as_float",
    "compute_dtype",
    "is_numpy",
    "is_torch",
    "log_normalize",
    "logaddexp",
    "namespace",
    "result_dtype",
    "safe_log",
    "safe_sqrt",
    "torch_compute_dtype",
]


def _plain(a: Any) -> bool:
    """Python scalars and sequences, and array-likes that are not Array API arrays (pandas and
    polars Series, ``array.array``, ``memoryview``): they are read as NumPy arrays."""
    return isinstance(a, (int, float, bool, list, tuple)) or not array_api_compat.is_array_api_obj(a)


def as_array_input(x: Any, name: str) -> Any:
    """``x`` as an array the library computes on, or a clear error naming the argument.

    Array API arrays (NumPy, PyTorch, CuPy, JAX, ...) pass through. Array-likes of other libraries
    (pandas and polars Series, ``array.array``, ``memoryview``, nested lists) become NumPy arrays, so
    two pandas Series are two NumPy inputs. Refused, with the argument's name: NumPy masked arrays with
    masked entries (a masked category has no probability: fill or compress both inputs first),
    SciPy sparse matrices and sparse or nested torch tensors (densify them first), ``None``, strings,
    mappings and sets.
    """
    if x is None or isinstance(x, (str, bytes, dict, set, frozenset)):
        raise ValueError(f"{name} must be an array of numbers, got {type(x).__name__}")
    if isinstance(x, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(x)
        if mask.any():
            raise ValueError(
                f"{name} is a masked array with {int(mask.sum())} masked entr{'y' if mask.sum() == 1 else 'ies'}: a "
                "masked category has no probability; fill it (x.filled(0)) or drop it from both inputs first")
        return np.asarray(x.data)
    layout = getattr(x, "layout", None)
    if layout is not None and type(x).__module__.startswith("torch"):
        if getattr(x, "is_nested", False):
            raise ValueError(f"{name} is a nested torch tensor; pad it into a dense tensor first")
        if str(layout) != "torch.strided":
            raise ValueError(f"{name} is a torch tensor with layout {layout}; pass {name}.to_dense()")
    if hasattr(x, "tocsr") and hasattr(x, "nnz"):  # scipy.sparse, without importing SciPy
        raise ValueError(f"{name} is a SciPy sparse matrix; pass {name}.toarray()")
    if not isinstance(x, (int, float, bool, list, tuple)) and _plain(x):
        try:
            converted = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be an array of numbers: {exc}") from None
        if converted.dtype == object:
            raise ValueError(f"{name} holds values that are not numbers (missing values such as pd.NA or "
                             f"None, or text); got {type(x).__module__}.{type(x).__name__} of dtype object")
        return converted
    return x


def namespace(*arrays: Array, names: tuple[str, ...] | None = None) -> Any:
    """The Array API namespace of ``arrays`` (NumPy for Python scalars and lists).

    Array-likes that are not Array API arrays (pandas/polars Series, ``array.array``) count as NumPy.
    Arrays of two libraries (a NumPy array and a torch tensor, say) are refused with a ValueError
    naming the arguments (``names``, in the order of ``arrays``) and their types.
    """
    real = [(i, a) for i, a in enumerate(arrays) if a is not None and not _plain(a)]
    if not real:
        return array_api_compat.array_namespace(np.asarray(0.0))
    try:
        xp = array_api_compat.array_namespace(*(a for _, a in real))
    except TypeError as exc:
        label = names or tuple(f"argument {i + 1}" for i in range(len(arrays)))
        kinds = ", ".join(f"{label[i]} is {type(a).__module__}.{type(a).__name__}" for i, a in real)
        raise ValueError(f"inputs of different array libraries cannot be combined ({kinds}); "
                         "convert them to one library first") from exc
    if len(real) < len([a for a in arrays if a is not None]) and not is_numpy(xp):
        plain = [(i, a) for i, a in enumerate(arrays) if a is not None and _plain(a)
                 and not isinstance(a, (int, float, bool, list, tuple))]
        if plain:
            label = names or tuple(f"argument {i + 1}" for i in range(len(arrays)))
            kinds = ", ".join(f"{label[i]} is {type(a).__module__}.{type(a).__name__}" for i, a in [*real, *plain])
            raise ValueError(f"inputs of different array libraries cannot be combined ({kinds}); "
                             "convert them to one library first")
    return xp


def is_numpy(xp: Any) -> bool:
    return array_api_compat.is_numpy_namespace(xp)


def is_torch(xp: Any) -> bool:
    return array_api_compat.is_torch_namespace(xp)


def compute_dtype(xp: Any, dtype: Any) -> Any:
    """The floating dtype a computation on ``dtype`` runs in.

    float64 stays float64 and float32 stays float32; NumPy's ``longdouble`` (where it is wider than
    float64) stays ``longdouble``; float16 and bfloat16 are computed in float32; integers and booleans
    (counts) are computed in float64. Complex input is refused.
    """
    if xp.isdtype(dtype, "complex floating"):
        raise ValueError("complex input is not supported")
    if xp.isdtype(dtype, "real floating"):
        if dtype == xp.float64 or dtype == xp.float32:
            return dtype
        if is_numpy(xp) and np.dtype(dtype).itemsize > 8:
            return np.dtype(dtype)  # longdouble: computed in its own precision
        return xp.float32  # float16, bfloat16 (and any other narrow float)
    return xp.float64


def as_float(x: Array, xp: Any, dtype: Any = None) -> Array:
    """``x`` as an array of ``xp`` in its compute dtype (see :func:`compute_dtype`)."""
    if _plain(x) or (is_numpy(xp) and not isinstance(x, np.ndarray)):
        x = np.asarray(x)
        if not is_numpy(xp):
            x = xp.asarray(x)
    target = dtype if dtype is not None else compute_dtype(xp, x.dtype)
    if x.dtype != target:
        x = xp.astype(x, target)
    return x


def result_dtype(xp: Any, *arrays: Array) -> Any:
    """The common compute dtype of several arrays: the widest of their compute dtypes.

    The one dtype rule of the library (exact values, torch losses, RL per-token values): float64
    stays float64, float32 stays float32, NumPy ``longdouble`` stays ``longdouble``, float16/bfloat16
    compute in float32, integer counts in float64. ``None`` entries are ignored.
    """
    dtypes = [compute_dtype(xp, a.dtype) for a in arrays if a is not None]
    if is_numpy(xp):
        wide = [d for d in dtypes if np.dtype(d).itemsize > 8]
        if wide:
            return wide[0]
    return xp.float64 if any(d == xp.float64 for d in dtypes) else dtypes[0]


def torch_compute_dtype(*tensors: Any) -> Any:
    """:func:`result_dtype` for torch tensors (floating ones; ``None`` ignored), as a torch dtype."""
    import torch  # only reached with torch input

    real = [t for t in tensors if t is not None]
    return torch.float64 if any(t.dtype == torch.float64 for t in real) else torch.float32


def safe_log(p: Array, xp: Any) -> Array:
    """log p with log 0 = -inf, written so that autograd never sees log(0).

    The mask is applied before the logarithm (``torch.where`` on the output alone would still
    give NaN gradients), so the gradient at p = 0 is 0, not NaN.
    """
    positive = p > 0
    one = xp.ones_like(p)
    return xp.where(positive, xp.log(xp.where(positive, p, one)), xp.full_like(p, -math.inf))


def log_normalize(z: Array, xp: Any, axis: int) -> Array:
    """Stable log-softmax of unnormalised log-probabilities along ``axis``.

    Entries of -inf (masked vocabulary) stay -inf. A slice that is entirely -inf has no mass and is
    refused by the caller's validation; here it would give NaN.
    """
    if is_torch(xp):
        import torch  # only reached with torch input

        return torch.log_softmax(z, dim=axis)
    zmax = xp.max(z, axis=axis, keepdims=True)
    zmax = xp.where(xp.isfinite(zmax), zmax, xp.zeros_like(zmax))
    shifted = z - zmax
    lse = xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
    return shifted - lse


def logaddexp(x: Array, y: Array, xp: Any) -> Array:
    """log(e^x + e^y), exact when both are -inf (gives -inf, never NaN)."""
    if hasattr(xp, "logaddexp"):
        return xp.logaddexp(x, y)
    m = xp.maximum(x, y)
    m_safe = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    return m_safe + xp.log(xp.exp(x - m_safe) + xp.exp(y - m_safe))


def safe_sqrt(x: Array, xp: Any) -> Array:
    """√max(x, 0) with gradient 0 (the subgradient) where x ≤ 0, never NaN: the distances
    (√JS, √H²) are not differentiable at P = Q, where the divergence has its minimum."""
    positive = x > 0
    return xp.where(positive, xp.sqrt(xp.where(positive, x, xp.ones_like(x))), xp.zeros_like(x))
