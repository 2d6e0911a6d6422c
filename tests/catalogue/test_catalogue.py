"""Every record of the registry, enumerated: a new catalogue entry is checked here with no edit.

For each record: its value against a direct definition written differently (the ratio form
Σ q f(p/q) with f's limits for f-divergences, the probability-space form for other pointwise terms,
log-sum-exp sums for "function" records), its gradient by ``torch.autograd.gradcheck`` in float64,
the torch loss's closed-form gradient against autograd of the exact value, D(P, P) = 0, D ≥ 0, the
data-processing inequality for f-divergences, and Fenchel–Young for every closed-form conjugate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import divergences as dv
from divergences.core import record as core_record

from ..exact.conftest import random_simplex

RECORDS = [s.name for s in core_record.records() if s.builtin and s.inputs == "distributions"]
DIVERGENCES = [n for n in RECORDS if core_record.get(n).term_attribute("is_divergence")]
F_RECORDS = [n for n in RECORDS if core_record.get(n).kind == "f"]
#: non-default parameters, so that every parameter is exercised (a new record works without a row)
PARAMS = {"js": {"beta": 0.3}, "alpha": {"alpha": 0.7}, "renyi": {"alpha": 2.0}, "skew_kl": {"skew": 0.2},
          "skew_reverse_kl": {"skew": 0.2}, "jensen_tsallis": {"order": 1.5}}


def _direct(name: str, p: np.ndarray, q: np.ndarray) -> float:
    """The record's value by a route other than the verb's."""
    spec = core_record.get(name)
    params = PARAMS.get(name, {})
    if spec.kind == "f":
        gen = spec.generator(**params)
        total = 0.0
        for a, b in zip(p, q):
            if a == 0 and b == 0:
                continue
            if b == 0:
                total += a * gen.value_q_zero if math.isfinite(gen.value_q_zero) else math.inf
            elif a == 0:
                total += b * gen.value_p_zero if math.isfinite(gen.value_p_zero) else math.inf
            else:
                total += b * float(gen.f(np.asarray(a / b)))
        return total
    if spec.kind == "pointwise":
        gen = spec.generator(**params)
        inside = (p > 0) & (q > 0)
        with np.errstate(all="ignore"):
            naive = gen._naive(p[inside], q[inside], np).sum()
        d, v0, v1 = gen._boundary()
        edge = sum(b**d * v0 for a, b in zip(p, q) if a == 0 and b > 0) + sum(
            a**d * v1 for a, b in zip(p, q) if b == 0 and a > 0)
        return float(naive + edge)
    full = spec.check_params(params)
    return FUNCTION_REFERENCES[name](p, q, **full)


def _renyi(p, q, alpha):
    s = math.fsum(0.0 if a == 0 else (math.inf if b == 0 and alpha > 1 else (0.0 if b == 0 else a**alpha * b ** (1 - alpha)))
                  for a, b in zip(p, q))
    return math.log(s) / (alpha - 1) if s > 0 else math.inf


#: closed forms of the "function" records (a new one needs its row here: the test below says so)
FUNCTION_REFERENCES = {
    "renyi": _renyi,
    "bhattacharyya": lambda p, q: -math.log(math.fsum(math.sqrt(a * b) for a, b in zip(p, q))) if np.any(p * q > 0) else math.inf,
    "cauchy_schwarz": lambda p, q: (-math.log(math.fsum(p * q) ** 2 / (math.fsum(p * p) * math.fsum(q * q))))
    if np.any(p * q > 0) else math.inf,
}


def test_every_function_record_has_a_reference():
    assert {n for n in RECORDS if core_record.get(n).kind == "function"} <= set(FUNCTION_REFERENCES)


@pytest.mark.parametrize("zeros", [0.0, 0.3])
@pytest.mark.parametrize("name", RECORDS)
def test_value_against_direct_definition(name, zeros):
    rng = np.random.default_rng(7)
    for _ in range(4):
        p, q = random_simplex(rng, (11,), zeros), random_simplex(rng, (11,), zeros)
        want = _direct(name, p, q)
        got = float(dv.divergence(name, p, q, **PARAMS.get(name, {})))
        if math.isinf(want):
            assert got == want, name
        else:
            assert got == pytest.approx(want, rel=1e-10, abs=1e-13), name


@pytest.mark.parametrize("name", DIVERGENCES)
def test_zero_on_identical_and_non_negative(name):
    rng = np.random.default_rng(3)
    torch = pytest.importorskip("torch")
    for zeros in (0.0, 0.3):
        p, q = random_simplex(rng, (5, 13), zeros), random_simplex(rng, (5, 13), zeros)
        params = PARAMS.get(name, {})
        same = dv.divergence(name, p, p, **params)
        assert np.all(same == 0.0), name
        assert np.all(dv.divergence(name, p, q, **params) >= 0), name
        for dtype in (torch.float64, torch.float32):
            t = torch.tensor(p, dtype=dtype)
            assert bool((dv.divergence(name, t, t, **params) == 0).all()), (name, dtype)
            z = torch.randn(5, 13, dtype=dtype)
            assert bool((dv.divergence(name, z, z, from_logits=True, **params) == 0).all()), (name, dtype)
            assert bool((dv.divergence(name, t, torch.tensor(q, dtype=dtype), **params) >= 0).all())


@pytest.mark.parametrize("name", F_RECORDS)
def test_data_processing_inequality(name):
    rng = np.random.default_rng(11)
    for _ in range(5):
        p, q = random_simplex(rng, (12,), 0.2), random_simplex(rng, (12,), 0.2)
        labels = rng.integers(0, 5, size=12)
        pm, qm = np.bincount(labels, weights=p, minlength=5), np.bincount(labels, weights=q, minlength=5)
        before = float(dv.divergence(name, p, q, **PARAMS.get(name, {})))
        after = float(dv.divergence(name, pm, qm, **PARAMS.get(name, {})))
        assert after <= before + 1e-12 * max(1.0, before), name


@pytest.mark.parametrize("name", RECORDS)
def test_gradcheck_float64(name):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 6, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.randn(3, 6, dtype=torch.float64, generator=g, requires_grad=True)
    params = PARAMS.get(name, {})

    def fn(a, b):
        return dv.divergence(name, a, b, from_logits=True, **params)

    assert torch.autograd.gradcheck(fn, (t, z), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", RECORDS)
def test_torch_loss_gradient_equals_autograd_of_exact_value(name):
    torch = pytest.importorskip("torch")
    from divergences.torch import DistillOptions, divergence_loss

    g = torch.Generator().manual_seed(1)
    s = torch.randn(4, 9, dtype=torch.float64, generator=g)
    s[0, 3] = -math.inf  # a masked vocabulary entry on both sides
    t = torch.randn(4, 9, dtype=torch.float64, generator=g)
    t[0, 3] = -math.inf
    params = PARAMS.get(name, {})
    s1 = s.clone().requires_grad_(True)
    loss = divergence_loss(s1, t, dv.spec(name, **params), options=DistillOptions(reduction="sum"))
    loss.backward()
    s2 = s.clone().requires_grad_(True)
    ref = dv.divergence(name, t, s2, from_logits=True, **params).sum()
    ref.backward()
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-10, abs=1e-12)
    assert torch.allclose(s1.grad, s2.grad, rtol=1e-8, atol=1e-10)
    assert torch.isfinite(s1.grad).all()


@pytest.mark.parametrize("name", F_RECORDS)
def test_conjugate_fenchel_young(name):
    gen = core_record.get(name).generator(**PARAMS.get(name, {}))
    assert gen.has_conjugate, f"{name}: every built-in generator has a closed-form conjugate"
    t = np.array([1e-3, 0.05, 0.3, 0.9, 1.0, 1.7, 4.0, 25.0])
    s_opt = gen.f_prime(t)
    with np.errstate(all="ignore"):
        f_t = gen.f(t)
        # equality at s = f'(t) (where f' is finite: TV's sign is a subgradient)
        np.testing.assert_allclose(gen.f(t) + gen.conjugate(s_opt), t * s_opt, rtol=1e-9, atol=1e-9)
        for s in np.linspace(-4, 4, 33):
            fy = f_t + gen.conjugate(np.full_like(t, s)) - s * t
            assert np.all(fy >= -1e-9), (name, s)


def test_a_term_of_another_degree_is_exact_at_zeros_or_refused():
    """Jensen–Tsallis of order 2 as a user's pointwise term: the old rule (degree 1) gave a wrong value."""

    class Declared(dv.Pointwise):  # interior formula right, degree left as the default 1
        value_p_zero = value_q_zero = None

        def _phi(self, a, b, xp):
            p, q = xp.exp(a), xp.exp(b)
            return (p - q) ** 2 / 4

    with pytest.raises(ValueError, match="degree 2"):
        dv.register("jt2_declared", Declared)

    class Probed(Declared):
        degree = None  # probed: 2

    dv.register("jt2_probed", Probed)
    try:
        p, q = np.array([0.6, 0.4, 0.0]), np.array([0.1, 0.2, 0.7])
        want = float(np.sum((p - q) ** 2) / 4)
        assert float(dv.divergence("jt2_probed", p, q)) == pytest.approx(want, rel=1e-12)
        assert float(dv.jensen_tsallis(p, q, order=2.0)) == pytest.approx(want, rel=1e-12)
    finally:
        dv.unregister("jt2_probed")

    class NotHomogeneous(dv.Pointwise):
        degree = None
        value_p_zero = value_q_zero = None

        def _phi(self, a, b, xp):
            return (xp.exp(a) - xp.exp(b)) ** 2 + (xp.exp(a) - xp.exp(b)) ** 4

    with pytest.raises(ValueError, match="not homogeneous"):
        dv.register("not_homogeneous", NotHomogeneous)


def test_le_cam_and_jensen_tsallis_are_served_by_every_layer():
    """The CONTRIBUTING.md examples: one catalogue module each, nothing else edited."""
    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.1, 0.3, 0.3, 0.3])
    assert float(dv.le_cam(p, q)) == pytest.approx(0.5 * float(dv.triangular(p, q)), rel=1e-14)
    jt = float(dv.jensen_tsallis(p, q, order=1.5))
    m = (p + q) / 2

    def tsallis(x, o):
        return (1 - np.sum(x**o)) / (o - 1)

    assert jt == pytest.approx(tsallis(m, 1.5) - 0.5 * (tsallis(p, 1.5) + tsallis(q, 1.5)), rel=1e-12)
    # order → 1 is the Jensen–Shannon divergence
    assert float(dv.jensen_tsallis(p, q, order=1 + 1e-7)) == pytest.approx(float(dv.js(p, q)), rel=1e-5)
    # samples.histogram reads the record too
    from divergences.samples import histogram

    x, y = np.random.default_rng(0).normal(size=400), np.random.default_rng(1).normal(0.5, 1, size=400)
    for name, params in (("le_cam", {}), ("jensen_tsallis", {"order": 2.0})):
        v = histogram(x, y, name, bins=8, **params)
        assert float(v) > 0


def test_le_cam_and_jensen_tsallis_are_tabular_metrics_with_standard_errors():
    pd = pytest.importorskip("pandas")
    tb = pytest.importorskip("divergences.tabular")
    rng = np.random.default_rng(0)
    ref, cur = pd.DataFrame({"x": rng.normal(size=3000)}), pd.DataFrame({"x": rng.normal(0.3, 1, size=3000)})
    result = tb.compare(ref, cur, metrics=["psi", "le_cam", ("jensen_tsallis", {"order": 2.0})])
    metrics = result.columns[0].metrics
    for name in ("le_cam", "jensen_tsallis"):
        est = metrics[name]
        assert est.value > 0 and math.isfinite(est.se) and est.se > 0, name
        assert est.ci_low <= est.value <= est.ci_high, name
    # the values are the record's, on the reported bins
    h = result.columns[0].histogram
    p, q = np.array(h.current, float), np.array(h.reference, float)
    assert metrics["le_cam"].value == pytest.approx(float(dv.le_cam(p, q, normalize=True)), rel=1e-12)
    assert metrics["jensen_tsallis"].value == pytest.approx(float(dv.jensen_tsallis(p, q, normalize=True, order=2.0)),
                                                            rel=1e-12)
