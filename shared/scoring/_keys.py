"""Grouping of integer keys (numpy only)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def group_keys(keys: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """``np.unique(keys, return_inverse=True)`` for integer keys, several times faster on millions of rows.

    ``np.unique`` argsorts; numpy's plain ``sort`` of integers is a vectorised (SIMD) sort, and the inverse
    is then a binary search of each key among the distinct ones.
    """
    flat = np.asarray(keys, dtype=np.int64).ravel()
    if flat.size == 0:
        return flat.copy(), np.zeros(0, dtype=np.intp)
    ordered = np.sort(flat)
    new = np.empty(ordered.size, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    uniq = ordered[new]
    inverse: NDArray[np.intp] = np.searchsorted(uniq, flat).astype(np.intp)
    return uniq, inverse
