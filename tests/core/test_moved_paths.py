"""Names that moved in the design step still work from their old paths, with a DeprecationWarning."""

import importlib
import sys

import numpy as np
import pytest


@pytest.mark.parametrize(("old", "name", "new"), [
    ("divergences.categorical", "kl", "divergences.exact"),
    ("divergences._backend", "safe_log", "divergences.core.backend"),
])
def test_old_paths_warn_and_serve_the_same_objects(old, name, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match="moved to"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_generators_and_registry_stay_public():
    import divergences as dv

    assert dv.generators.JensenShannon is dv.catalogue.JensenShannon
    assert dv.registry.get("psi").name == "jeffreys"
    assert float(dv.generators.KL().term(np.array([0.5]), np.array([0.25]))[0]) == pytest.approx(0.5 * np.log(2))
