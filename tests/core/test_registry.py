"""A divergence defined once is served everywhere: user generators and functions."""

import math

import numpy as np
import pytest

import divergences as dv
from divergences.core import record


@pytest.fixture
def registered():
    names = []

    def add(name, *args, **kwargs):
        names.append(name)
        return dv.register(name, *args, **kwargs)

    yield add
    for n in names:
        dv.unregister(n)


def test_available_lists_the_contract_names():
    for name in ("kl", "reverse_kl", "js", "jeffreys", "tv", "hellinger", "pearson", "neyman", "alpha", "skew_kl",
                 "skew_reverse_kl", "triangular", "renyi", "bhattacharyya", "cauchy_schwarz", "cross_entropy"):
        assert name in dv.available()
    assert set(dv.available(kind="function")) == {"renyi", "bhattacharyya", "cauchy_schwarz"}


def test_register_plain_callable_generator(registered):
    registered("squared_hellinger_full", lambda t: (t**0.5 - 1) ** 2)
    p, q = np.array([0.2, 0.8, 0.0]), np.array([0.5, 0.25, 0.25])
    assert "squared_hellinger_full" in dv.available()
    got = dv.divergence("squared_hellinger_full", p, q)
    assert got == pytest.approx(2 * dv.hellinger(p, q), rel=1e-12)
    spec = record.get("squared_hellinger_full")
    gen = spec.generator()
    assert gen.value_p_zero == 1.0 and gen.value_q_zero == pytest.approx(1.0)
    assert gen.f_prime_one == pytest.approx(0.0, abs=1e-8)
    # the generator is served to the torch layer too
    torch = pytest.importorskip("torch")
    v = dv.divergence("squared_hellinger_full", torch.tensor(p), torch.tensor(q))
    assert float(v) == pytest.approx(float(got), rel=1e-12)


def test_register_generator_subclass_with_parameters(registered):
    class Power(dv.Generator):
        """A Cressie–Read-like family, f(t) = (t^k − 1 − k(t − 1)) / (k(k − 1))."""

        def __init__(self, k: float = 2.0):
            super().__init__(lambda t: (t**k - 1 - k * (t - 1)) / (k * (k - 1)), name="power")
            self.k = k

    registered("power", Power)
    p, q = np.array([0.2, 0.8]), np.array([0.5, 0.5])
    assert dv.divergence("power", p, q, k=2.0) == pytest.approx(0.5 * dv.pearson(p, q), rel=1e-12)
    assert dv.divergence("power", p, q, k=0.5) == pytest.approx(dv.alpha(p, q, alpha=0.5), rel=1e-12)
    with pytest.raises(ValueError, match="takes no parameter"):
        dv.divergence("power", p, q, alpha=0.3)


def test_register_function(registered):
    def max_ratio(p, q, *, axis=-1, keepdims=False, base=None, from_logits=False, normalize=False, validate=True):
        return dv.renyi(p, q, axis=axis, keepdims=keepdims, base=base, from_logits=from_logits,
                        normalize=normalize, validate=validate, alpha=math.inf)

    registered("max_ratio", function=max_ratio)
    assert dv.divergence("max_ratio", [0.5, 0.5], [0.25, 0.75]) == pytest.approx(math.log(2))
    assert record.get("max_ratio").kind == "function"


def test_register_refuses_duplicates_and_bad_names(registered):
    registered("mine", lambda t: (t - 1) ** 2)
    with pytest.raises(ValueError, match="already registered"):
        dv.register("mine", lambda t: (t - 1) ** 4)
    # built-in names are protected (issue 10): neither replaced nor removed, overwrite or not
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="built-in"):
            dv.register("kl", lambda t: (t - 1) ** 2, overwrite=overwrite)
    with pytest.raises(ValueError, match="built-in"):
        dv.unregister("js")
    assert float(dv.kl([0.5, 0.5], [0.9, 0.1])) == pytest.approx(0.5108256237659907)
    with pytest.raises(ValueError, match="identifier"):
        dv.register("not a name", lambda t: t)
    with pytest.raises(ValueError, match="exactly one"):
        dv.register("x_y")


def test_generator_metadata():
    js = record.get_generator("js", beta=0.25)
    assert js.params == {"beta": 0.25}
    assert js.upper_bound == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert record.get_generator("kl").f_prime_one == 1.0
    t = np.array([0.5, 1.0, 2.0])
    # r² f''(r) weights (f-distill): reverse KL 1, forward KL r, JS(½) ∝ r/(1+r), Neyman 2/r
    np.testing.assert_allclose(record.get_generator("reverse_kl").weight(t), 1.0)
    np.testing.assert_allclose(record.get_generator("kl").weight(t), t)
    np.testing.assert_allclose(record.get_generator("js").weight(t), 0.5 * t / (1 + t))
    np.testing.assert_allclose(record.get_generator("neyman").weight(t), 2 / t)
    for name in dv.available(kind="f"):
        gen = record.get_generator(name)
        assert float(gen.f(np.asarray(1.0))) == pytest.approx(0.0, abs=1e-15), name
        h = 1e-6
        numeric = float((gen.f(np.asarray(1 + h)) - gen.f(np.asarray(1 - h))) / (2 * h))
        assert numeric == pytest.approx(gen.f_prime_one, abs=1e-6), name
        # f'(t) against a central difference at a few points
        for x in (0.3, 1.7, 4.0):
            num = float((gen.f(np.asarray(x + h)) - gen.f(np.asarray(x - h))) / (2 * h))
            assert float(gen.f_prime(np.asarray(x))) == pytest.approx(num, rel=1e-5, abs=1e-7), (name, x)
            num2 = float((gen.f_prime(np.asarray(x + h)) - gen.f_prime(np.asarray(x - h))) / (2 * h))
            assert float(gen.f_second(np.asarray(x))) == pytest.approx(num2, rel=1e-5, abs=1e-7), (name, x)


@pytest.mark.parametrize(("name", "params", "slope"), [
    ("kl", {}, 1.0), ("reverse_kl", {}, -1.0), ("skew_kl", {"skew": 0.3}, 0.7), ("skew_reverse_kl", {"skew": 0.3}, -0.7),
    ("js", {"beta": 0.3}, 0.0), ("jeffreys", {}, 0.0), ("alpha", {"alpha": 0.0}, -1.0), ("alpha", {"alpha": 1.0}, 1.0),
    ("alpha", {"alpha": 2.0}, 0.0), ("pearson", {}, 0.0), ("neyman", {}, 0.0), ("hellinger", {}, 0.0), ("tv", {}, 0.0),
    ("triangular", {}, 0.0), ("le_cam", {}, 0.0),
])
def test_f_prime_one_is_the_exact_constant_from_the_closed_form_derivative(name, params, slope):
    assert record.get_generator(name, **params).f_prime_one == slope
