"""Zero-shot ℓ − h test: statistic vs a direct loop; ε rules keep the false-positive rate at α."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy.stats import entropy as scipy_entropy  # noqa: E402

from divergences.llm import (  # noqa: E402
    calibrated_epsilon,
    concentration_epsilon,
    false_positive_rate,
    perplexity_entropy_gap,
    zero_shot_test,
)
from divergences.llm.detection import GapResult  # noqa: E402


def test_gap_matches_direct_with_padding():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 7, 5, generator=g, dtype=torch.float64) * 3
    ids = torch.randint(0, 5, (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[0, :2] = 0
    res = perplexity_entropy_gap(logits, ids, attention_mask=mask)
    assert isinstance(res, GapResult)
    for b in range(2):
        ell, h, var, n = [], [], [], 0
        for t in range(1, 7):
            if not mask[b, t]:
                continue
            p = torch.softmax(logits[b, t - 1], -1).numpy()
            ell.append(-math.log(p[ids[b, t]]))
            h.append(scipy_entropy(p))
            var.append(float(np.sum(p * np.log(p) ** 2) - scipy_entropy(p) ** 2))
            n += 1
        assert res.log_perplexity[b].item() == pytest.approx(np.mean(ell), rel=1e-12)
        assert res.entropy[b].item() == pytest.approx(np.mean(h), rel=1e-12)
        assert res.gap[b].item() == pytest.approx(np.mean(ell) - np.mean(h), rel=1e-10, abs=1e-12)
        assert res.varentropy[b].item() == pytest.approx(np.sum(var) / n**2, rel=1e-10)
        assert res.length[b].item() == n


def _simulate(n_texts, length, vocab, generator_logits, scorer_logits, g):
    """Texts drawn token by token from `generator` (fixed per-position distributions), scored by `scorer`."""
    probs = torch.softmax(generator_logits, -1)                    # [length, V]
    ids = torch.multinomial(probs.repeat(n_texts, 1), 1, generator=g).view(n_texts, length)
    return perplexity_entropy_gap(scorer_logits.expand(n_texts, length, vocab), ids, shifted=False)


def test_epsilon_rules_control_false_positives_and_detect_other_source():
    g = torch.Generator().manual_seed(1)
    vocab, length, alpha = 8, 200, 0.05
    a_logits = torch.randn(length, vocab, generator=g, dtype=torch.float64) * 1.5
    b_logits = torch.randn(length, vocab, generator=g, dtype=torch.float64) * 1.5
    from_a = _simulate(400, length, vocab, a_logits, a_logits, g)
    from_b = _simulate(400, length, vocab, b_logits, a_logits, g)
    # Azuma bound with c = max |−log p − H| over the support of A
    logp = torch.log_softmax(a_logits, -1)
    ent = -(logp.exp() * logp).sum(-1, keepdim=True)
    c = float((-logp - ent).abs().max())
    eps_bound = concentration_epsilon(length, alpha, bound=c)
    assert false_positive_rate(from_a.gap, eps_bound) <= alpha
    eps_var = concentration_epsilon(length, alpha, variance=from_a.varentropy)
    assert false_positive_rate(from_a.gap, eps_var) <= alpha
    calib = calibrated_epsilon(from_a.gap[:200], alpha)
    assert false_positive_rate(from_a.gap[200:], calib) <= 2 * alpha  # held-out: ≈ α up to sampling noise
    assert zero_shot_test(from_b.gap, calib).float().mean() > 0.9   # B's texts are rejected
    two = calibrated_epsilon(from_a.gap, alpha, two_sided=True)
    assert two == pytest.approx(float(np.quantile(np.abs(from_a.gap.numpy()), 1 - alpha, method="higher")))


def test_concentration_formula_and_bad_input():
    assert concentration_epsilon(100, 0.1, bound=3.0) == pytest.approx(3.0 * math.sqrt(2 * math.log(10) / 100))
    assert concentration_epsilon(100, 0.1, bound=3.0, two_sided=True) == pytest.approx(
        3.0 * math.sqrt(2 * math.log(20) / 100))
    assert concentration_epsilon(1, 0.2, variance=0.04) == pytest.approx(0.2 * math.sqrt(0.8 / 0.2))
    with pytest.raises(ValueError, match="alpha"):
        concentration_epsilon(10, 1.5, bound=1.0)
    with pytest.raises(ValueError, match="exactly one"):
        concentration_epsilon(10, 0.1)
    with pytest.raises(ValueError, match="reference is empty"):
        calibrated_epsilon([], 0.05)
    with pytest.raises(ValueError, match="input_ids"):
        perplexity_entropy_gap(torch.randn(1, 3, 4), torch.tensor([[0, 1, 9]]))
