"""Extremes (±1e4 logits, −inf masks, half precision) and float64 gradients of the analysis scores."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from divergences.llm import (  # noqa: E402
    FrequencyTable,
    choose_pattern,
    dcpdd_score,
    perplexity_entropy_gap,
    topk_js,
)

F64 = torch.float64


def _logits(*shape, scale=3.0, seed=0, dtype=F64):
    return (torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64) * scale).to(dtype)


def test_gap_masked_vocabulary_equals_the_cropped_vocabulary():
    z = _logits(2, 6, 9)
    ids = torch.randint(0, 6, (2, 6), generator=torch.Generator().manual_seed(1))
    masked = torch.cat([z[..., :6], torch.full_like(z[..., 6:], -torch.inf)], -1)
    a, b = perplexity_entropy_gap(masked, ids), perplexity_entropy_gap(z[..., :6], ids)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_and_huge_logits_stay_finite(dtype):
    z = _logits(2, 5, 7, scale=1e4, dtype=F64).clamp(-6e4, 6e4).to(dtype)
    ids = torch.randint(0, 7, (2, 5), generator=torch.Generator().manual_seed(2))
    res = perplexity_entropy_gap(z, ids)
    assert res.entropy.dtype == torch.float32 and torch.isfinite(res.entropy).all()
    assert (res.entropy >= 0).all() and (res.varentropy >= 0).all()
    table = FrequencyTable(np.arange(7) + 1)
    score = dcpdd_score(z, ids, table)
    assert score.dtype == torch.float32 and torch.isfinite(score).all()
    js = topk_js(z, _logits(2, 5, 7, scale=1e4, seed=5).clamp(-6e4, 6e4).to(dtype), k=4)
    assert torch.isfinite(js).all() and (js >= -1e-6).all() and (js <= np.log(2) + 1e-5).all()
    q = _logits(1, 2, 16, 8, scale=30.0, dtype=dtype)
    choice = choose_pattern(q, q, block_size=4)
    assert torch.isfinite(choice.distance).all()


def test_gradients_float64():
    z = _logits(2, 5, 6, scale=1.0).requires_grad_()
    ids = torch.randint(0, 6, (2, 5), generator=torch.Generator().manual_seed(3))
    torch.autograd.gradcheck(lambda x: perplexity_entropy_gap(x, ids).gap, (z,))
    table = FrequencyTable(np.arange(6) + 2)
    torch.autograd.gradcheck(lambda x: dcpdd_score(x, ids, table, a=100.0), (z,))
    w = _logits(2, 5, 6, scale=1.0, seed=4)
    torch.autograd.gradcheck(lambda x: topk_js(x, w, k=4), (z,))
    q = _logits(1, 2, 12, 4, scale=1.0).requires_grad_()
    k = _logits(1, 2, 12, 4, scale=1.0, seed=6)
    torch.autograd.gradcheck(lambda x: choose_pattern(x, k, block_size=4).distance, (q,))
