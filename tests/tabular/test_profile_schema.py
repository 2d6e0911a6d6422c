"""Saved profiles: one declared schema (pydantic), checked when read (issue 19).

Valid documents are mutated at random (keys dropped, types changed, NaN / negative / huge numbers,
duplicated entries): reading each gives either a clear error (an InputError, a ValueError, naming the
file and the field) or a profile that compares and renders; never another exception type.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divergences.tabular import InputError, Profile, compare, profile

_REF = pd.DataFrame({"x": np.linspace(0.0, 9.0, 60), "c": ["a", "b", "c"] * 20, "k": np.zeros(60),
                     "t": pd.date_range("2024-01-01", periods=60, freq="D"), "m": [None] * 60})
_CUR = pd.DataFrame({"x": np.linspace(1.0, 10.0, 60), "c": ["a", "b", "d"] * 20, "k": np.ones(60),
                     "t": pd.date_range("2024-02-01", periods=60, freq="D"), "m": ["z"] * 60})
_DOC = json.loads(profile(_REF, columns=["x", "c", "k", "t", "m"], quantiles=True).to_json())

_POOL = [None, "x", "", -1, 0, 1, 2**63, 2**70, -2**70, 3.5, -0.5, math.nan, math.inf, -math.inf, True, False, [],
         {}, [1, 2], ["a", "a"], {"a": 1}, "divergences.profile/2", 1e308]


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _mutate(doc, data):
    paths = [p for p in _paths(doc) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        op = data.draw(st.sampled_from(["drop", "set", "duplicate", "append"]))
        target = parent[last]
        if op == "drop":
            if isinstance(parent, dict):
                del parent[last]
            else:
                parent.pop(last)
        elif op == "duplicate" and isinstance(target, list) and target:
            target.append(target[data.draw(st.integers(0, len(target) - 1))])
        elif op == "append" and isinstance(target, list):
            target.append(copy.deepcopy(data.draw(st.sampled_from(_POOL))))  # never the pool's own lists
        else:
            parent[last] = copy.deepcopy(data.draw(st.sampled_from(_POOL)))
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_profiles_give_a_clear_error_or_a_valid_result(tmp_path_factory, data):
    doc = _mutate(json.loads(json.dumps(_DOC)), data)
    path = tmp_path_factory.mktemp("p") / "ref.json"
    path.write_text(json.dumps(doc, allow_nan=True))
    try:
        prof = Profile.from_json(str(path))
    except InputError as exc:
        assert "ref.json" in str(exc) and isinstance(exc, ValueError)
        assert "field '" in str(exc) or "not a profile" in str(exc)
        return
    try:  # a profile that reads must compare and render
        result = compare(prof, _CUR)
        result.to_html()
        result.to_json()
    except ValueError:
        pass  # a clear error about the data (e.g. a column the current table lacks)


@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d["columns"][0].update(scale=-2.0), r"columns\[0\]\.scale"),
    (lambda d: d["columns"][0]["counts"].__setitem__(0, -1), r"columns\[0\]\.counts\[0\]"),
    (lambda d: d["columns"][0]["counts"].__setitem__(0, 2**64), r"columns\[0\]\.counts\[0\]"),
    (lambda d: d["columns"][1]["categories"].append(d["columns"][1]["categories"][0]), r"columns\[1\]\.categories"),
    (lambda d: d["columns"][1]["seen"].append("a"), r"columns\[1\]\.seen"),
    (lambda d: d.update(format="divergences.profile/3"), "not a profile .expected format"),
    (lambda d: d.update(bins=10**6), "'bins'"),
    (lambda d: d.update(skipped=[{"column": "z", "reason": "r", "where": 7}]), r"skipped\[0\]\.where"),
    (lambda d: d["columns"][0].update(missing=5), r"columns\[0\]'?: counts and missing add up"),
    (lambda d: d["columns"].append(dict(d["columns"][0])), "repeats the column 'x'"),
])
def test_each_defect_class_names_the_file_and_field(tmp_path, edit, field):
    doc = json.loads(json.dumps(_DOC))
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=f"bad.json: .*{field}"):
        Profile.from_json(str(path))


def test_nan_and_infinity_are_refused_and_a_valid_profile_round_trips(tmp_path):
    doc = json.loads(json.dumps(_DOC))
    doc["columns"][0]["edges"][0] = math.nan
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(doc, allow_nan=True))
    with pytest.raises(InputError, match="nan.json: not a profile .invalid JSON: NaN"):
        Profile.from_json(str(path))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_DOC))
    again = Profile.from_json(str(good))
    assert json.loads(again.to_json()) == _DOC
    result = compare(again, _CUR)
    assert result["m"].status == "all missing in reference" and result["k"].drifted


def test_wasserstein_is_never_negative_and_skipped_where_is_text():
    prof = Profile.from_json(json.dumps(_DOC))
    w = compare(prof, _CUR, metrics="psi,wasserstein")["x"]["wasserstein"].value
    assert w >= 0


def test_wasserstein_refuses_a_negative_scale_even_in_memory():
    import numpy as np

    from divergences.tabular.metrics import evaluate, resolve

    e = evaluate(resolve("wasserstein"), np.array([5, 5]), np.array([2, 8]), locations=np.array([0.0, 1.0]),
                 scale=-1.0)
    assert math.isnan(e.value)
