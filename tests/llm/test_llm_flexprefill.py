"""FlexPrefill: block attention vs loops, √JS vs SciPy, τ decision, γ block selection vs brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy.spatial.distance import jensenshannon  # noqa: E402

from divergences.llm import block_attention, choose_pattern, select_blocks, sparse_block_mask  # noqa: E402


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


def _cover(scores, gamma):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    total, kept, acc = sum(scores), set(), 0.0
    for i in order:
        if acc >= gamma * total - 1e-9:
            break
        kept.add(i)
        acc += scores[i]
    return kept


def _naive_masks(q, k, bs, gamma):
    """One head (NumPy): query-aware and vertical-slash block masks built with explicit loops."""
    length, d = q.shape
    nb = math.ceil(length / bs)
    qm = np.stack([q[i * bs:(i + 1) * bs].mean(0) for i in range(nb)])
    km = np.stack([k[j * bs:(j + 1) * bs].mean(0) for j in range(nb)])
    qa = np.zeros((nb, nb), dtype=bool)
    for i in range(nb):
        e = np.array([qm[i] @ km[j] / math.sqrt(d) for j in range(i + 1)])
        w = np.exp(e - e.max())
        for j in _cover(list(w / w.sum()), gamma):
            qa[i, j] = True
    m = min(bs, length)
    vertical, slash = np.zeros(nb), np.zeros(nb)
    for r in range(length - m, length):
        s = np.array([q[r] @ k[j] / math.sqrt(d) for j in range(r + 1)])
        w = np.exp(s - s.max())
        w /= w.sum()
        for j in range(r + 1):
            vertical[j // bs] += w[j] / m
            slash[(r - j) // bs] += w[j] / m
    keep_v, keep_s = _cover(list(vertical), gamma) | {0}, _cover(list(slash), gamma) | {0}
    vs = np.array([[j <= i and (j in keep_v or (i - j) in keep_s) for j in range(nb)] for i in range(nb)])
    return qa, vs


@pytest.mark.parametrize("length,bs,gamma", [(48, 8, 0.9), (45, 8, 0.6), (32, 16, 0.95)])
def test_sparse_block_mask_matches_loops(length, bs, gamma):
    g = torch.Generator().manual_seed(3)
    q = torch.randn(1, 2, length, 8, generator=g, dtype=torch.float64) * 2
    k = torch.randn(1, 2, length, 8, generator=g, dtype=torch.float64) * 2
    all_qa, choice = sparse_block_mask(q, k, block_size=bs, tau=1.0, gamma=gamma)   # τ > √log 2: all query-aware
    all_vs, _ = sparse_block_mask(q, k, block_size=bs, tau=1e-12, gamma=gamma)     # nothing below τ
    assert choice.query_aware.all()
    for h in range(2):
        qa, vs = _naive_masks(q[0, h].numpy(), k[0, h].numpy(), bs, gamma)
        assert np.array_equal(all_qa[0, h].numpy(), qa)
        assert np.array_equal(all_vs[0, h].numpy(), vs)
