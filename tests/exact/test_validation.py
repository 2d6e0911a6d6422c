"""Bad input gets a ValueError that names the argument and the problem."""

import math

import numpy as np
import pytest

import divergences as dv

GOOD = np.array([0.2, 0.3, 0.5])


@pytest.mark.parametrize("fn", [dv.kl, dv.js, dv.tv, dv.renyi, dv.bhattacharyya, dv.cauchy_schwarz, dv.alpha])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([0.5, -0.1, 0.6], "negative mass"),
        ([np.nan, 0.5, 0.5], "NaN"),
        ([np.inf, 0.0, 0.0], "infinite"),
        ([0.5, 0.4, 0.0], "does not sum to 1"),
    ],
)
def test_bad_probabilities(fn, bad, message):
    with pytest.raises(ValueError, match=f"^p .*{message}"):
        fn(np.array(bad), GOOD)
    with pytest.raises(ValueError, match=f"^q .*{message}"):
        fn(GOOD, np.array(bad))


def test_bad_probabilities_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="^q has negative mass"):
        dv.kl(torch.tensor([0.5, 0.5]), torch.tensor([1.5, -0.5]))
    with pytest.raises(ValueError, match="^p contains NaN"):
        dv.js(torch.tensor([math.nan, 1.0]), torch.tensor([0.5, 0.5]))


def test_negative_entries_hidden_from_the_fast_kernel_are_caught():
    """Both sides negative at the same entry keeps p/q > 0: still refused."""
    p = np.array([-0.5, 1.5])
    with pytest.raises(ValueError, match="negative mass"):
        dv.kl(p, p)
    with pytest.raises(ValueError, match="negative mass"):
        dv.js(p, p)
    with pytest.raises(ValueError, match="negative mass"):
        dv.cross_entropy(p, p)
    with pytest.raises(ValueError, match="negative mass"):
        dv.entropy(np.array([-0.5, 1.5]))


def test_shapes_axes_and_empty_axis():
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(4,\).*do not broadcast"):
        dv.kl(np.full((2, 3), 1 / 3), np.full(4, 0.25))
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        dv.kl(GOOD, GOOD, axis=2)
    with pytest.raises(ValueError, match="empty"):
        dv.kl(np.empty((3, 0)), np.empty((3, 0)))
    with pytest.raises(ValueError, match="at least one dimension"):
        dv.kl(np.float64(1.0), np.float64(1.0))


def test_normalize_accepts_counts_and_refuses_empty_counts():
    counts_p, counts_q = np.array([2, 3, 5]), np.array([10, 10, 0])
    assert dv.kl(counts_p, counts_p, normalize=True) == 0.0
    np.testing.assert_allclose(dv.js(counts_p, counts_q, normalize=True),
                               dv.js(counts_p / 10, counts_q / 20), rtol=1e-14)
    with pytest.raises(ValueError, match="zero total mass"):
        dv.kl(np.zeros(3), counts_q, normalize=True)
    with pytest.raises(ValueError, match="pass normalize=True"):
        dv.kl(counts_p, counts_q)


def test_sum_tolerance_follows_input_dtype():
    p = np.array([0.2, 0.3, 0.5 + 5e-7])
    dv.kl(p, GOOD)  # within 1e-6
    with pytest.raises(ValueError, match="does not sum to 1"):
        dv.kl(np.array([0.2, 0.3, 0.5 + 5e-6]), GOOD)
    dv.kl(np.array([0.2, 0.3, 0.5 + 5e-4], np.float32), GOOD.astype(np.float32))


def test_logits_validation():
    with pytest.raises(ValueError, match="^p contains NaN"):
        dv.kl(np.array([0.0, np.nan]), np.zeros(2), from_logits=True)
    with pytest.raises(ValueError, match=r"\+inf"):
        dv.kl(np.array([0.0, np.inf]), np.zeros(2), from_logits=True)
    with pytest.raises(ValueError, match="all -inf"):
        dv.kl(np.array([-np.inf, -np.inf]), np.zeros(2), from_logits=True)
    # −inf entries are masked categories
    assert dv.kl(np.array([0.0, -np.inf]), np.array([0.0, 0.0]), from_logits=True) == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: dv.js(GOOD, GOOD, beta=1.5), "beta must lie in"),
        (lambda: dv.js(GOOD, GOOD, beta=-0.1), "beta must lie in"),
        (lambda: dv.skew_kl(GOOD, GOOD, skew=2), "skew must lie in"),
        (lambda: dv.renyi(GOOD, GOOD, alpha=-1), "alpha must be ≥ 0"),
        (lambda: dv.alpha(GOOD, GOOD, alpha=math.inf), "alpha must be finite"),
        (lambda: dv.kl(GOOD, GOOD, base=1), "base must be"),
        (lambda: dv.kl(GOOD, GOOD, base=-2), "base must be"),
        (lambda: dv.tv(GOOD, GOOD, base=2), "base= does not apply to tv"),
        (lambda: dv.kl(GOOD, GOOD, axis=0.5), "axis must be an int"),
        (lambda: dv.divergence("nope", GOOD, GOOD), "unknown divergence 'nope'; available: alpha"),
        (lambda: dv.divergence("kl", GOOD, GOOD, beta=0.3), "takes no parameter"),
        (lambda: dv.divergence("renyi", GOOD, GOOD, beta=0.3), "takes no parameter"),
        (lambda: dv.f_divergence(GOOD, GOOD, 3), "f must be"),
        (lambda: dv.f_divergence(GOOD, GOOD, lambda t: t * t), "f\\(1\\) = 0"),
    ],
)
def test_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_validate_false_skips_checks_for_trusted_input():
    counts = np.array([2.0, 3.0, 5.0])
    # unnormalised input is not checked (nor normalised) with validate=False: the caller's responsibility
    assert np.isfinite(dv.kl(counts, counts, validate=False))
