"""Issue 20 in the tabular layer: a ``dv.spec(...)`` value is accepted wherever a metric is, and what a
metric shows (threshold, bands, placement at the bins, refusal) is read from its record, never from
its name. Records are enumerated by their facts, so a new divergence needs no edit here."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import divergences as dv
from divergences.core.conventions import DriftRule
from divergences.core.record import available, records, register, unregister
from divergences.core.terms import Generator
from divergences.tabular import compare, monitor
from divergences.tabular.metrics import frequencies, resolve

from ._records import divergences, with_defaults


def _tables(n=4000, shift=0.4, seed=0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1])})
    cur = pd.DataFrame({"x": rng.normal(shift, size=n), "c": rng.choice(list("abcd"), n, p=[0.25, 0.25, 0.25, 0.25])})
    return ref, cur


#: records between distributions, built with their default parameters, that are divergences
DIVERGENCES = divergences()
WITH_DRIFT = [d for d in DIVERGENCES if d.attribute("drift") is not None]
WITHOUT_DRIFT = [d for d in DIVERGENCES if d.attribute("drift") is None]


def test_the_enumeration_by_facts_is_not_empty():
    assert WITH_DRIFT and WITHOUT_DRIFT and available(inputs="ordered") and available(inputs="vectors")


def test_a_spec_value_is_a_metric_with_its_parameters():
    ref, cur = _tables()
    js03 = dv.spec("js", beta=0.3)
    c = compare(ref, cur, metrics=[js03, "psi"], bins=5)
    x = c["x"]["js"]
    p, q, _ = frequencies(np.asarray(c["x"].histogram.current), np.asarray(c["x"].histogram.reference), 0.0)
    assert x.divergence == "js" and x.value == pytest.approx(float(dv.js(p, q, beta=0.3)), rel=1e-12)
    assert x.value != pytest.approx(float(dv.js(p, q)), rel=1e-6)  # the parameter travelled
    # the same through a (name, params) pair and through params=
    pair = compare(ref, cur, metrics=[("js", {"beta": 0.3})], bins=5)["x"]["js"].value
    by_params = compare(ref, cur, metrics="js", params={"js": {"beta": 0.3}}, bins=5)["x"]["js"].value
    assert pair == by_params == x.value
    assert json.loads(c.to_json())["options"]["metrics"] == ["spec('js', beta=0.3)", "psi"]


def test_drift_metric_and_column_rules_accept_a_spec_value():
    ref, cur = _tables()
    js03 = dv.spec("js", beta=0.3)
    c = compare(ref, cur, metrics=["psi", js03], drift_metric=js03, bins=5)
    assert c.headline_metric == "js" and c.drift_rule.startswith("js ≥ 0.01")
    assert c["x"].decided_by == "js"
    # a value equal to a metric finds it: jeffreys is the psi metric
    assert compare(ref, cur, metrics="psi", drift_metric=dv.spec("jeffreys"), bins=5).headline_metric == "psi"
    with pytest.raises(ValueError, match="drift_metric"):
        compare(ref, cur, metrics="psi", drift_metric=dv.spec("js", beta=0.2), bins=5)
    ruled = compare(ref, cur, metrics="psi", bins=5,
                    column_rules={"x": {"drift_metric": dv.spec("hellinger"), "threshold": 0.001}})
    assert ruled["x"].decided_by == "hellinger" and ruled["x"].rule.startswith("hellinger ≥ 0.001")
    m = monitor(ref.assign(t=pd.Timestamp("2024-01-01")),
                cur.assign(t=pd.date_range("2024-01-01", periods=len(cur), freq="min")),
                by="t", every="1d", metrics=[js03], bins=5)
    assert m.metric == "js" and m.threshold == 0.01 and json.loads(m.to_json())["options"]["metrics"] == [repr(js03)]


@pytest.mark.parametrize("d", WITH_DRIFT, ids=lambda d: d.name)
def test_default_threshold_and_bands_come_from_the_record(d):
    ref, cur = _tables()
    c = compare(ref, cur, metrics=[d], bins=5)
    rule = d.attribute("drift")
    assert c.drift_rule.startswith(f"{d.name} ≥ {rule.threshold:g}")
    e = c["x"][d.name]
    assert e.divergence == d.name
    significant = e.p_value < 0.05
    assert e.band == (rule.band(e.value) if significant else rule.band(0.0))
    assert c["x"].drifted == (e.value >= rule.threshold and significant)


@pytest.mark.parametrize("d", WITHOUT_DRIFT, ids=lambda d: d.name)
def test_a_divergence_without_a_conventional_threshold_needs_one(d):
    ref, cur = _tables(400)
    with pytest.raises(ValueError, match=f"threshold is required when the drift metric is '{d.name}'"):
        compare(ref, cur, metrics=[d], bins=5)
    c = compare(ref, cur, metrics=[d], threshold=0.05, bins=5)
    assert c["x"][d.name].band == ""  # no conventional bands


@pytest.mark.parametrize("name", available(inputs="ordered"))
def test_an_ordered_record_is_placed_at_the_bins_numeric_only(name):
    ref, cur = _tables()
    c = compare(ref, cur, metrics=[dv.spec(name), "psi"], drift_metric="psi", bins=5)
    e, cp = c["x"][name], c["x"]
    assert e.divergence == name and math.isnan(c["c"][name].value)
    assert resolve(name).ordered and not resolve("psi").ordered
    # W1 of the binned distributions placed at the reference's per-bin means, over the reference's std
    from divergences.tabular import profile

    prof = profile(ref, bins=5).columns["x"]
    p, q, kept = frequencies(np.asarray(cp.histogram.current), np.asarray(cp.histogram.reference), 0.0)
    loc = np.asarray(prof.locations)[kept]
    want = np.sum(np.abs(np.cumsum(p)[:-1] - np.cumsum(q)[:-1]) * np.diff(loc)) / prof.scale
    assert e.value == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("name", available(inputs="vectors"))
def test_a_comparison_of_raw_vectors_is_refused_as_a_metric(name):
    ref, cur = _tables(200)
    for given in (name, dv.spec(name)):
        with pytest.raises(ValueError, match=f"metrics: '{name}' compares raw vectors"):
            compare(ref, cur, metrics=[given], threshold=0.1)


def test_a_sum_that_is_no_divergence_is_refused():
    names = [r.name for r in records() if r.inputs == "distributions" and r.kind != "function"
             and with_defaults(r.name) is not None and not dv.spec(r.name).attribute("is_divergence")]
    assert names  # cross-entropy
    ref, cur = _tables(200)
    for name in names:
        with pytest.raises(ValueError, match="is not a divergence"):
            compare(ref, cur, metrics=[name], threshold=0.1)


def test_a_registered_divergence_brings_its_own_drift_rule():
    class Halved(Generator):
        """Half the squared Hellinger generator (a test record)."""

        name = "halved_test"
        drift = DriftRule(0.005, ((0.005, "fine"), (math.inf, "moved")), "a test convention")

        def f(self, t):
            return 0.5 * (np.sqrt(t) - 1.0) ** 2

    register("halved_test", Halved)
    try:
        ref, cur = _tables()
        c = compare(ref, cur, metrics="halved_test", bins=5)
        assert c.drift_rule.startswith("halved_test ≥ 0.005") and c["x"]["halved_test"].band == "moved"
        assert c["x"].drifted
    finally:
        unregister("halved_test")


def test_bad_metric_values_name_the_option():
    ref, cur = _tables(200)
    for bad, word in ((3, "metrics: each metric is a name"), (("js", 2), "metrics: each metric is a name"),
                      (object(), "metrics: each metric is a name"), ("nope", "unknown metric .nope.")):
        with pytest.raises(ValueError, match=word):
            compare(ref, cur, metrics=[bad], threshold=0.1)
    with pytest.raises(ValueError, match="drift_metric must be a metric name or dv.spec"):
        compare(ref, cur, metrics="psi", drift_metric=3)
