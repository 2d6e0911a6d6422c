"""The verbs module is generated from the registry and checked in: regenerating it gives no difference."""

from __future__ import annotations

import inspect

import divergences as dv
from divergences.core import record
from divergences.exact import codegen, verb_docs


def test_the_checked_in_verbs_module_is_what_the_registry_generates():
    assert codegen.TARGET.read_text(encoding="utf-8") == codegen.render(), (
        "src/divergences/exact/verbs.py is out of date: run python -m divergences.exact.codegen")


def test_every_built_in_record_has_its_verb_with_the_real_signature():
    for rec in record.records():
        if not rec.builtin:
            continue
        verb = getattr(dv, rec.name)
        params = inspect.signature(verb).parameters
        assert list(params)[:2] == ["p", "q"]
        for name, default in rec.defaults.items():
            assert params[name].default == default and params[name].kind is inspect.Parameter.KEYWORD_ONLY
        for name in record.SHARED_KEYWORDS:
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert verb.__module__ == "divergences.exact.verbs"
        # the whole text at run time: the record's docstring (once, in the catalogue) and the shared keywords
        assert verb.__doc__ and "Keywords (shared by every verb" in verb.__doc__
        assert verb_docs.summary(rec, False) in verb.__doc__
        if rec.distance:
            assert getattr(dv, rec.distance).__name__ == rec.distance
        assert rec.name in dv.__all__


def test_a_keyword_typo_is_a_type_error_at_run_time_too():
    import pytest

    with pytest.raises(TypeError, match="bse"):
        dv.kl([0.5, 0.5], [0.9, 0.1], bse=2)  # type: ignore[call-overload]
