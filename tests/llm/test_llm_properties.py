"""Properties (hypothesis) of the analysis scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from divergences.llm import (  # noqa: E402
    FrequencyTable,
    dcpdd_score,
    perplexity_entropy_gap,
    select_blocks,
    step_radius,
    topk_js,
)

seeds = st.integers(0, 2**31 - 1)


def _z(seed, *shape, scale=3.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


@settings(max_examples=40)
@given(seeds, st.integers(2, 12), st.floats(0.05, 1.0))
def test_select_blocks_is_a_minimal_cover(seed, n, gamma):
    s = torch.rand(3, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    keep = select_blocks(s, gamma)
    share = s / s.sum(-1, keepdim=True)
    kept = (share * keep).sum(-1)
    assert (kept >= gamma - 1e-6).all()
    smallest = torch.where(keep, share, torch.full_like(share, math.inf)).amin(-1)
    assert ((kept - smallest < gamma - 1e-6) | (keep.sum(-1) == 1)).all()  # dropping any kept block breaks the cover


@settings(max_examples=30)
@given(seeds, st.integers(1, 9))
def test_topk_js_bounds_and_union_symmetry(seed, k):
    p, q = _z(seed, 2, 3, 9), _z(seed + 1, 2, 3, 9)
    v = topk_js(p, q, k=k)
    assert (v >= -1e-12).all() and (v <= math.log(2) + 1e-12).all()
    torch.testing.assert_close(topk_js(p, q, k=k, index_from="union"), topk_js(q, p, k=k, index_from="union"))
    torch.testing.assert_close(topk_js(p, p, k=k), torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)


@settings(max_examples=30)
@given(seeds, st.floats(-50, 50))
def test_gap_invariant_to_a_constant_shift_of_logits(seed, shift):
    z = _z(seed, 2, 6, 7)
    ids = torch.randint(0, 7, (2, 6), generator=torch.Generator().manual_seed(seed))
    a, b = perplexity_entropy_gap(z, ids), perplexity_entropy_gap(z + shift, ids)
    torch.testing.assert_close(a.gap, b.gap, atol=1e-9, rtol=1e-9)


@settings(max_examples=30)
@given(seeds, st.floats(1e-4, 1.0))
def test_dcpdd_bounded_by_a(seed, a):
    z = _z(seed, 2, 6, 7)
    ids = torch.randint(0, 7, (2, 6), generator=torch.Generator().manual_seed(seed))
    counts = np.random.default_rng(seed).integers(0, 30, 7)
    s = dcpdd_score(z, ids, FrequencyTable(counts), a=a)
    assert (s >= 0).all() and (s <= a + 1e-15).all()


@settings(max_examples=30)
@given(seeds, st.floats(0.01, 100.0))
def test_step_radius_scales_inversely(seed, c):
    a = _z(seed, 4, 5)
    torch.testing.assert_close(step_radius(c * a), step_radius(a) / c)
    torch.testing.assert_close(step_radius(a + 3.0), step_radius(a))  # a shift of all logits is not a step
