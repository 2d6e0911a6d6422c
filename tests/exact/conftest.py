import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_simplex(rng, shape, zeros=0.0):
    """Random distributions along the last axis; a share ``zeros`` of entries set to 0."""
    x = rng.gamma(0.5, size=shape)
    if zeros:
        x = np.where(rng.random(shape) < zeros, 0.0, x)
        x[..., 0] += 1e-3  # never an all-zero row
    return x / x.sum(axis=-1, keepdims=True)
