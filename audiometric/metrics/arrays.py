"""Input checks shared by the array-level metric functions."""

from __future__ import annotations

import numpy as np

from audiometric.errors import AudiometricError


def feature_rows(x: np.ndarray, metric: str, label: str, min_rows: int = 2) -> np.ndarray:
    """``x`` as a float64 ``(rows, dim)`` array with at least ``min_rows`` finite rows, else a one-line error
    naming ``metric`` and the ``label`` of the set (``"generated"``, ``"reference"``)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < min_rows:
        raise AudiometricError(
            f"{metric}: {label} features must be a (rows >= {min_rows}, dim) array, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise AudiometricError(f"{metric}: {label} features contain NaN or Inf; recompute the features")
    return arr
