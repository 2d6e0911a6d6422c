"""The exact verbs on unusual array types and extreme counts: the right value or a clear error.

Classes of input (issue 19, "Core verbs"): NumPy ``longdouble``; masked arrays; counts whose sum
overflows the dtype; array-likes of other libraries (pandas, polars, ``array.array``); sparse and
nested torch tensors and SciPy sparse matrices; tensors on torch's ``meta`` device.
"""

from __future__ import annotations

import array

import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse
import torch
from hypothesis import given
from hypothesis import strategies as st

import divergences as dv
from divergences.core import record as core_record

NAMES = [s.name for s in core_record.records() if s.builtin]  # every record, geometry ones included
P = np.array([0.5, 0.3, 0.2])
Q = np.array([0.4, 0.4, 0.2])


@pytest.mark.parametrize("name", NAMES)
def test_longdouble_is_computed_and_returned_in_longdouble(name):
    value = dv.divergence(name, P.astype(np.longdouble), Q.astype(np.longdouble))
    assert value.dtype == np.longdouble
    assert abs(float(value) - float(dv.divergence(name, P, Q))) <= 1e-14 * max(1.0, abs(float(value)))


def test_longdouble_keeps_its_extra_digits_where_the_platform_has_them():
    if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("longdouble is float64 on this platform")
    p = np.array([1, 3], dtype=np.longdouble) / 4
    q = np.array([1, 2], dtype=np.longdouble) / 3
    exact = p[0] * np.log(p[0] / q[0]) + p[1] * np.log(p[1] / q[1])  # computed in longdouble
    assert dv.kl(p, q) == pytest.approx(exact, rel=float(np.finfo(np.longdouble).eps) * 16)


@pytest.mark.parametrize("which", ["p", "q"])
def test_masked_arrays_with_masked_entries_are_refused_naming_the_argument(which):
    masked = np.ma.array([0.5, 0.3, 0.2], mask=[False, True, False])
    args = (masked, Q) if which == "p" else (P, masked)
    with pytest.raises(ValueError, match=rf"^{which} is a masked array with 1 masked entry"):
        dv.kl(*args)


def test_masked_arrays_without_masked_entries_are_their_data():
    assert dv.js(np.ma.array(P), np.ma.array(Q, mask=[False] * 3)) == dv.js(P, Q)


@given(st.floats(1e-300, 1e300), st.lists(st.integers(1, 1000), min_size=2, max_size=6))
def test_counts_of_any_size_normalise(scale, counts):
    """Counts scaled by any factor give the same value, also where their sum overflows float64."""
    c = np.array(counts, dtype=np.float64)
    big = c * scale
    if not np.isfinite(big).all() or (big == 0).any():
        return
    ref = np.arange(1, len(c) + 1, dtype=np.float64)
    expected = dv.kl(c, ref, normalize=True)
    assert dv.kl(big, ref, normalize=True) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert dv.hellinger(big, ref, normalize=True) == pytest.approx(dv.hellinger(c, ref, normalize=True), rel=1e-12,
                                                                      abs=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_counts_whose_sum_overflows_the_dtype_normalise(dtype):
    top = float(np.finfo(dtype).max)
    counts = np.array([0.6, 0.6, 0.2], dtype=np.float64) * top
    small = np.array([3, 3, 1], dtype=np.float64)
    ref = np.array([1.0, 2.0, 3.0])
    value = dv.kl(counts.astype(dtype), ref.astype(dtype), normalize=True)
    assert np.isfinite(value) and value > 0
    assert float(value) == pytest.approx(float(dv.kl(small, ref, normalize=True)), rel=5e-3 if dtype == np.float16 else 1e-6)
    t = torch.tensor(counts.astype(dtype))
    tv = dv.kl(t, torch.tensor(ref.astype(dtype)), normalize=True)
    assert torch.isfinite(tv) and float(tv) == pytest.approx(float(value), rel=1e-3)
    assert dv.entropy(counts.astype(dtype), normalize=True) == pytest.approx(float(dv.entropy(small, normalize=True)),
                                                                            rel=5e-3)


def test_integer_counts_near_the_int64_limit_normalise():
    counts = np.array([2**62, 2**62, 2**61], dtype=np.int64)
    assert dv.kl(counts, np.array([2, 2, 1]), normalize=True) == pytest.approx(0.0, abs=1e-15)
    assert dv.js(counts.astype(np.uint64), np.array([1, 1, 1]), normalize=True) > 0


def _kinds(values):
    return [
        pd.Series(values),
        pl.Series(values),
        array.array("d", values),
        memoryview(array.array("d", values)),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_array_likes_of_other_libraries_are_read_as_numpy(name):
    expected = dv.divergence(name, P, Q)
    for p, q in zip(_kinds(P.tolist()), _kinds(Q.tolist())):
        assert dv.divergence(name, p, q) == expected, type(p)
    assert dv.divergence(name, pd.Series(P), Q) == expected  # mixed with NumPy


def test_pandas_missing_values_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match="^q contains NaN"):
        dv.kl(P, pd.Series([0.5, None, 0.5], dtype="Float64"))
    with pytest.raises(ValueError, match="^p holds values that are not numbers"):
        dv.kl(pd.Series([0.5, "x", 0.5], dtype=object), P)


def test_a_pandas_series_beside_a_torch_tensor_is_refused_as_two_libraries():
    with pytest.raises(ValueError, match="different array libraries"):
        dv.kl(pd.Series(P), torch.tensor(Q))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda x: torch.tensor(x).to_sparse(), "layout torch.sparse_coo; pass p.to_dense()"),
        (lambda x: torch.tensor([x]).to_sparse_csr(), "layout torch.sparse_csr"),
        (lambda x: torch.nested.nested_tensor([torch.tensor(x), torch.tensor(x[:2])]), "nested torch tensor"),
        (lambda x: scipy.sparse.csr_matrix(np.asarray([x])), "SciPy sparse matrix; pass p.toarray()"),
    ],
)
def test_sparse_and_nested_inputs_are_refused_naming_the_argument(make, message):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's nested-tensor prototype warning
        bad = make(P.tolist())
    other = torch.tensor(np.asarray([Q])) if isinstance(bad, torch.Tensor) else np.asarray([Q])
    with pytest.raises(ValueError, match="^p is a ") as info:
        dv.kl(bad, other)
    assert message in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_meta_tensors_give_meta_results_of_the_right_shape(name):
    p = torch.empty(4, 3, 10, device="meta")
    value = dv.divergence(name, p, p)
    assert value.device.type == "meta" and tuple(value.shape) == (4, 3)
    assert tuple(dv.divergence(name, p, p, keepdims=True, axis=1).shape) == (4, 1, 10)
    assert dv.entropy(p).device.type == "meta"
