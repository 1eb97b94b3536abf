"""resampy's ``kaiser_best`` resampling, the resampler of audioldm_eval's FAD input (``metrics/fad.py``).

Only ``--compat`` uses it, through the optional ``resampy`` package (``pip install 'audiometric[compat]'``):
the precomputed ``kaiser_best`` filter and resampy's interpolation are what published FAD numbers were
computed with, so calling resampy itself is the exact reproduction (no re-implementation to drift).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .errors import AudiometricError


@lru_cache(maxsize=1)
def require_resampy():
    """The resampy module, or a one-line error saying how to install it."""
    try:
        import resampy
    except ImportError:
        raise AudiometricError("--compat needs resampy for audioldm_eval's kaiser_best resampling; "
                               "pip install 'audiometric[compat]'") from None
    return resampy


def _settings() -> dict:
    try:
        from importlib.metadata import version

        found = version("resampy")
    except Exception:  # not installed: the key is never used then (extraction stops at the import error)
        found = None
    return {"method": "resampy", "filter": "kaiser_best", "resampy": found}


#: The resampler's settings, part of the cache key of every output computed on a ``kaiser_best`` view.
KAISER_BEST = _settings()


def resample_kaiser_best(x: np.ndarray, orig_freq: int, new_freq: int) -> np.ndarray:
    """``resampy.resample(x, orig_freq, new_freq, filter="kaiser_best")`` of a mono float64 ``x`` (Hz rates)."""
    if orig_freq == new_freq:
        return x
    return require_resampy().resample(np.asarray(x, dtype=np.float64), orig_freq, new_freq, filter="kaiser_best")
