"""A divergence with its parameters is one value (``dv.spec``), accepted wherever a name is."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv
from divergences.catalogue import JensenShannon

P, Q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.5, 0.3])


def test_spec_values_evaluate_like_the_verbs():
    js = dv.spec("js", beta=0.3)
    assert js(P, Q) == dv.js(P, Q, beta=0.3)
    assert dv.divergence(js, P, Q) == dv.js(P, Q, beta=0.3)
    assert dv.divergence(js, P, Q, base=2) == dv.js(P, Q, beta=0.3, base=2)
    assert dv.spec("renyi", alpha=2.0)(P, Q, axis=0) == dv.renyi(P, Q, alpha=2.0)


def test_the_same_divergence_is_the_same_value():
    assert dv.spec("psi") == dv.spec("jeffreys")
    assert dv.spec("js") == dv.spec("js", beta=0.5)
    assert dv.spec("js", beta=0.3) != dv.spec("js", beta=0.4)
    assert dv.get("js")(beta=0.3) == dv.spec("js", beta=0.3)
    assert dv.spec(JensenShannon(beta=0.3)) == dv.spec("js", beta=0.3)
    assert dv.spec(JensenShannon, beta=0.3) == dv.spec("js", beta=0.3)
    assert dv.spec(dv.spec("js"), beta=0.3) == dv.spec("js", beta=0.3)
    assert len({dv.spec("psi"), dv.spec("jeffreys"), dv.spec("kl")}) == 2
    assert dv.spec("psi").name == "jeffreys" and dv.spec("js").params == {"beta": 0.5}


def test_spec_values_are_immutable():
    js = dv.spec("js", beta=0.3)
    with pytest.raises(AttributeError):
        js.name = "kl"  # type: ignore[misc]
    params = js.params
    params["beta"] = 0.9
    assert js.params == {"beta": 0.3}
    assert js.with_params(beta=0.9) == dv.spec("js", beta=0.9) and js.params == {"beta": 0.3}


def test_bad_specs_are_refused_naming_the_parameter():
    with pytest.raises(ValueError, match=r"takes no parameter\(s\) \['gamma'\]"):
        dv.spec("js", gamma=1.0)
    with pytest.raises(ValueError, match="beta must lie in"):
        dv.spec("js", beta=2.0)
    with pytest.raises(ValueError, match="unknown divergence 'nope'"):
        dv.spec("nope")
    with pytest.raises(TypeError, match="divergence must be"):
        dv.spec(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inside spec"):
        dv.divergence(dv.spec("js"), P, Q, beta=0.2)


def test_user_generators_are_values_too():
    def f(t):
        return (t - 1) ** 2

    value = dv.spec(f)
    assert value.record is None and value.kind == "f"
    assert value(P, Q) == pytest.approx(dv.pearson(P, Q), rel=1e-12)
    assert value == value and value != dv.spec(f)  # unregistered terms compare by identity


def test_facts_are_read_from_the_value():
    assert dv.spec("js", beta=0.5).attribute("symmetric") is True
    assert dv.spec("js", beta=0.3).attribute("symmetric") is False
    assert dv.spec("renyi").attribute("information_units") is True
    assert dv.spec("tv").attribute("upper_bound") == 1.0
