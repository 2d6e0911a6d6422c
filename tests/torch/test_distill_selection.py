"""token_entropy, token_divergence and select_tokens."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.torch import DistillOptions, select_tokens, token_divergence, token_entropy  # noqa: E402


def _rand(*shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * 2


def test_token_entropy_matches_direct_and_handles_masked_entries():
    z = _rand(3, 4, 7, seed=1)
    z[0, 0, 5:] = -math.inf
    p = torch.softmax(z / 1.3, -1)
    want = -torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(-1)
    got = token_entropy(z, temperature=1.3, chunk_size=5)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert got.shape == (3, 4) and not got.requires_grad


def test_token_divergence_matches_core():
    z, t = _rand(2, 5, 9, seed=2).requires_grad_(), _rand(2, 5, 9, seed=3)
    got = token_divergence(z, t, dv.spec("skew_kl", skew=0.2), options=DistillOptions(chunk_size=3))
    want = dv.skew_kl(torch.softmax(t, -1), torch.softmax(z.detach(), -1), skew=0.2)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert not got.requires_grad


def test_select_tokens_strategies():
    ent = torch.tensor([[0.1, 0.9, 0.5, 0.3], [0.7, 0.2, 0.8, 0.4]], dtype=torch.float64)
    div = torch.tensor([[5.0, 1.0, 2.0, 4.0], [0.5, 3.0, 0.1, 6.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    q_e = torch.quantile(ent[mask], 0.5)
    q_d = torch.quantile(div[mask], 0.5)
    high = select_tokens(ent, strategy="high_entropy", entropy_quantile=0.5, mask=mask)
    assert torch.equal(high, mask & (ent >= q_e))
    low = select_tokens(ent, strategy="low_entropy", entropy_quantile=0.5, mask=mask)
    assert torch.equal(low, mask & (ent <= q_e))
    hd = select_tokens(divergence=div, strategy="high_divergence", divergence_quantile=0.5, mask=mask)
    assert torch.equal(hd, mask & (div >= q_d))
    quad = select_tokens(ent, div, strategy="low_entropy_high_divergence", entropy_quantile=0.5,
                         divergence_quantile=0.5, mask=mask)
    assert torch.equal(quad, mask & (ent <= q_e) & (div >= q_d))
    assert quad.sum() > 0 and not quad[1, 3]


def test_select_tokens_feeds_the_loss_mask():
    from divergences.torch import divergence_loss

    z, t = _rand(2, 6, 5, seed=4), _rand(2, 6, 5, seed=5)
    keep = select_tokens(token_entropy(z), token_divergence(z, t), strategy="low_entropy_high_divergence")
    got = divergence_loss(z, t, "kl", mask=keep, options=DistillOptions(reduction="sum"))
    torch.testing.assert_close(got, token_divergence(z, t)[keep].sum())


def test_select_tokens_edge_cases_and_errors():
    ent = torch.tensor([0.3, 0.1])
    assert not select_tokens(ent, mask=torch.tensor([False, False])).any()
    with pytest.raises(ValueError, match="strategy"):
        select_tokens(ent, strategy="random")
    with pytest.raises(ValueError, match="needs divergence"):
        select_tokens(ent, strategy="high_divergence")
    with pytest.raises(ValueError, match="entropy_quantile"):
        select_tokens(ent, entropy_quantile=1.5)
    with pytest.raises(ValueError, match="mask"):
        select_tokens(ent, mask=torch.tensor([True]))
