"""Type aliases of the public signatures (for type checkers; nothing here runs at import cost).

NumPy input (arrays, lists, scalars, pandas and polars Series: anything ``numpy.asarray`` reads) gives
a NumPy result: a NumPy scalar for one distribution, an array for a batch. Torch tensors give
tensors (with autograd). Other Array API libraries (CuPy, JAX) give their own arrays.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ArrayLike", "NumPyValue"]

#: what the exact verbs return for NumPy input: a scalar for one distribution, an array for a batch
NumPyValue: TypeAlias = np.floating[Any] | NDArray[np.floating[Any]]
