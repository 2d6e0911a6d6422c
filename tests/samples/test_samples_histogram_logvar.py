"""Binned divergences between samples (any registry name) and the log-variance divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest

import divergences as dv
from divergences.catalogue.hellinger_tv import Hellinger
from divergences.samples import histogram, log_variance


def test_histogram_known_answer():
    # reference y = 0..99 on 4 quantile bins (25 values each); x entirely in the top bin
    y = np.arange(100.0)
    x = np.full(10, 150.0)
    p, q = np.array([0, 0, 0, 1.0]), np.full(4, 0.25)
    m = (p + q) / 2
    js = 0.5 * np.sum(p[p > 0] * np.log(p[p > 0] / m[p > 0])) + 0.5 * np.sum(q * np.log(q / m))
    assert histogram(x, y, "js", bins=4) == pytest.approx(js, rel=1e-12)
    assert histogram(x, y, "kl", bins=4) == pytest.approx(math.log(4), rel=1e-12)
    assert histogram(x, y, "reverse_kl", bins=4) == math.inf  # no silent epsilon for empty bins
    assert histogram(x, y, "tv", bins=4) == pytest.approx(0.75)


def test_histogram_edges_from_reference_only():
    rng = np.random.default_rng(0)
    y = rng.normal(size=1000)
    x1, x2 = rng.normal(0.5, 1.0, 500), rng.normal(0.5, 1.0, 800)
    edges = np.quantile(y, np.arange(1, 10) / 10)
    for x in (x1, x2):  # right-closed bins with open ends, counted independently of the implementation
        cx = np.array([np.sum((x > lo) & (x <= hi)) for lo, hi in zip(np.r_[-np.inf, edges], np.r_[edges, np.inf])])
        cy = np.array([np.sum((y > lo) & (y <= hi)) for lo, hi in zip(np.r_[-np.inf, edges], np.r_[edges, np.inf])])
        assert histogram(x, y, "jeffreys") == pytest.approx(float(dv.jeffreys(cx / cx.sum(), cy / cy.sum())), rel=1e-12)
    # reference="x" bins on x's quantiles instead
    assert histogram(x1, y, "jeffreys", reference="x") != histogram(x1, y, "jeffreys")


@pytest.mark.parametrize("name", dv.available())
def test_histogram_serves_every_registered_divergence(name):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=300), rng.normal(0.2, 1.0, size=300)
    value = histogram(x, y, name, bins=5, smoothing=0.5)
    assert np.isfinite(value)


def test_histogram_parameters_user_divergences_and_smoothing():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=400), rng.normal(0.3, 1.0, size=400)
    assert histogram(x, y, "renyi", alpha=1.0) == pytest.approx(histogram(x, y, "kl"))
    assert histogram(x, y, "js", beta=0.3) != histogram(x, y, "js")
    dv.register("test_sq_chi", lambda t: (t - 1) ** 2)
    try:
        assert histogram(x, y, "test_sq_chi") == pytest.approx(histogram(x, y, "pearson"), rel=1e-9)
    finally:
        dv.unregister("test_sq_chi")
    assert histogram(x, y, Hellinger()) == pytest.approx(histogram(x, y, "hellinger"))  # a term object
    assert histogram(x, y, Hellinger) == pytest.approx(histogram(x, y, "hellinger"))  # a term class
    far = np.full(5, 100.0)
    assert histogram(far, y, "reverse_kl", bins=4) == math.inf
    assert np.isfinite(histogram(far, y, "reverse_kl", bins=4, smoothing=1.0))


@pytest.mark.parametrize(("name", "params"), [("js", {"beta": 0.3}), ("renyi", {"alpha": 2.0}), ("psi", {}),
                                              ("jensen_tsallis", {"order": 1.5})])
def test_histogram_takes_a_spec_with_the_same_value(name, params):
    """Issue 20: a ``dv.spec`` value gives the same number as the name with its keywords."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=300), rng.normal(0.4, 1.0, size=300)
    d = dv.spec(name, **params)
    assert histogram(x, y, d, bins=6) == histogram(x, y, name, bins=6, **params)
    # an independent count: the quantile bins of y, then the exact value of the spec on the proportions
    edges = np.quantile(y, np.arange(1, 6) / 6)
    cx, cy = (np.bincount(np.searchsorted(edges, v, side="left"), minlength=6) for v in (x, y))
    assert histogram(x, y, d, bins=6) == pytest.approx(float(d(cx / cx.sum(), cy / cy.sum())), rel=1e-12)
    if params:  # the divergence's parameters travel inside the spec, not beside it
        with pytest.raises(ValueError, match="inside dv.spec"):
            histogram(x, y, d, **params)


def test_histogram_reads_what_a_record_compares():
    """Raw-vector comparisons are refused by the record's ``inputs`` fact; ordered ones see unit-spaced bins."""
    x, y = np.arange(100.0), np.arange(100.0) + 30.0
    with pytest.raises(ValueError, match="raw vectors"):
        histogram(x, y, "cosine")
    # y's quartiles; x moves 30 values down: W1 over bins one unit apart, by the CDF difference
    cx, cy = np.array([55, 25, 20, 0.0]), np.full(4, 25.0)
    w1 = np.abs(np.cumsum(cx / 100) - np.cumsum(cy / 100))[:-1].sum()
    assert histogram(x, y, "wasserstein", bins=4) == pytest.approx(w1, rel=1e-12)


def test_histogram_bad_input():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="x contains NaN"):
        histogram(np.r_[x, np.nan], x)
    with pytest.raises(ValueError, match="1-D"):
        histogram(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="reference"):
        histogram(x, x, reference="pooled")
    with pytest.raises(ValueError, match="bins"):
        histogram(x, x, bins=0)
    with pytest.raises(ValueError, match="unknown divergence"):
        histogram(x, x, "nope")
    with pytest.raises(ValueError, match="smoothing"):
        histogram(x, x, smoothing=-1)


def test_log_variance_definition_and_invariance():
    rng = np.random.default_rng(3)
    lp, lq = rng.normal(size=50), rng.normal(size=50)
    assert log_variance(lp, lq) == pytest.approx(np.var(lp - lq, ddof=1), rel=1e-12)
    assert log_variance(lp, lq, ddof=0) == pytest.approx(np.var(lp - lq), rel=1e-12)
    assert log_variance(lp + 7.0, lq - 3.0) == pytest.approx(log_variance(lp, lq), rel=1e-10)  # normalisers cancel
    assert log_variance(lq + 2.0, lq) == pytest.approx(0.0, abs=1e-24)
    batch = log_variance(np.stack([lp, lq]), lq)
    assert batch.shape == (2,) and batch[1] == 0.0


def test_log_variance_torch_gradcheck():
    torch = pytest.importorskip("torch")
    lp = torch.randn(6, dtype=torch.float64, requires_grad=True)
    lq = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(log_variance, (lp, lq))
    assert float(log_variance(lp, lq).detach()) == pytest.approx(float(torch.var(lp - lq).detach()), rel=1e-12)


def test_log_variance_bad_input():
    with pytest.raises(ValueError, match="ddof=1 needs at least 2"):
        log_variance([1.0], [0.0])
    with pytest.raises(ValueError, match="NaN"):
        log_variance([np.inf, 0.0], [np.inf, 1.0])
    with pytest.raises(ValueError, match="at least one axis"):
        log_variance(1.0, 2.0)
    with pytest.raises(ValueError, match="ddof"):
        log_variance([1.0, 2.0], [0.0, 0.0], ddof=-1)
