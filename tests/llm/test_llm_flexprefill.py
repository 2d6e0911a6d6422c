"""FlexPrefill: block attention vs loops, √JS vs SciPy, τ decision, γ block selection vs brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy.spatial.distance import jensenshannon  # noqa: E402

from divergences.llm import block_attention, choose_pattern, select_blocks  # noqa: E402


def _loops(q, k, bs):
    """One head: causal attention of the last bs queries, by explicit loops over keys and blocks."""
    lq, d = q.shape
    lk = k.shape[0]
    m = min(bs, lq)
    nb = math.ceil(lk / bs)
    true = np.zeros(nb)
    for i in range(lq - m, lq):
        pos = lk - lq + i
        s = np.array([q[i] @ k[j] / math.sqrt(d) for j in range(pos + 1)])
        w = np.exp(s - s.max())
        w /= w.sum()
        for j in range(pos + 1):
            true[j // bs] += w[j] / m
    qbar = q[lq - m:].mean(0)
    kbar = np.stack([k[b * bs:(b + 1) * bs].mean(0) for b in range(nb)])
    e = kbar @ qbar / math.sqrt(d)
    est = np.exp(e - e.max())
    return est / est.sum(), true


@pytest.mark.parametrize("lq,lk,bs", [(40, 40, 8), (37, 37, 8), (10, 50, 16), (5, 20, 8)])
def test_block_attention_matches_loops(lq, lk, bs):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, lq, 8, generator=g, dtype=torch.float64)
    k = torch.randn(2, 3, lk, 8, generator=g, dtype=torch.float64)
    est, true = block_attention(q, k, block_size=bs)
    for b, h in itertools.product(range(2), range(3)):
        e, t = _loops(q[b, h].numpy(), k[b, h].numpy(), bs)
        np.testing.assert_allclose(est[b, h].numpy(), e, rtol=1e-10)
        np.testing.assert_allclose(true[b, h].numpy(), t, rtol=1e-10)


def test_choose_pattern_distance_and_threshold():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(1, 4, 32, 8, generator=g, dtype=torch.float64)
    k = torch.randn(1, 4, 32, 8, generator=g, dtype=torch.float64)
    k[:, 0] = k[:, 0, :1]  # head 0: identical keys, so block pooling is exact up to the causal edge
    choice = choose_pattern(q, k, block_size=8, tau=0.1)
    for h in range(4):
        want = jensenshannon(choice.estimate[0, h].numpy(), choice.true[0, h].numpy())
        assert choice.distance[0, h].item() == pytest.approx(want, rel=1e-8, abs=1e-12)
        assert bool(choice.query_aware[0, h]) == (want < 0.1)
    assert choice.distance.max() <= math.sqrt(math.log(2)) + 1e-12


def _brute(scores, gamma):
    s = np.asarray(scores, dtype=float) / np.sum(scores)
    for size in range(1, len(s) + 1):
        best = max(itertools.combinations(range(len(s)), size), key=lambda c: (s[list(c)].sum(), [-i for i in c]))
        if s[list(best)].sum() >= gamma - 1e-9:
            return sorted(best)
    return list(range(len(s)))


@pytest.mark.parametrize("gamma", [0.3, 0.75, 0.9, 1.0])
def test_select_blocks_is_the_smallest_cover(gamma):
    rng = np.random.default_rng(0)
    scores = rng.random((5, 7))
    got = select_blocks(torch.from_numpy(scores), gamma)
    for r in range(5):
        assert np.flatnonzero(got[r].numpy()).tolist() == _brute(scores[r], gamma)


def test_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        select_blocks(torch.rand(3), 0.0)
    with pytest.raises(ValueError, match="block_size"):
        block_attention(torch.randn(1, 4, 8), torch.randn(1, 4, 8), block_size=0)
    with pytest.raises(ValueError, match="head_dim"):
        block_attention(torch.randn(1, 4, 8), torch.randn(1, 4, 6))
