"""resampy's ``kaiser_best`` resampling, the resampler of audioldm_eval's FAD input (``metrics/fad.py``).

Only ``--compat`` uses it, through the optional ``resampy`` package (``pip install 'audiometric[compat]'``):
the precomputed ``kaiser_best`` filter and resampy's interpolation are what published FAD numbers were
computed with, so calling resampy itself is the exact reproduction (no re-implementation to drift).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from audiometric.errors import AudiometricError


@lru_cache(maxsize=1)
def require_resampy():
    """The resampy module, or a one-line error saying how to install it."""
    try:
        import resampy
    except ImportError:
        raise AudiometricError(
            "--compat needs resampy for audioldm_eval's kaiser_best resampling; pip install 'audiometric[compat]'"
        ) from None
    return resampy


@lru_cache(maxsize=1)
def kaiser_settings() -> dict:
    """The resampler's settings, part of the cache key of every output computed on a ``kaiser_best`` view."""
    try:
        from importlib.metadata import version

        found = version("resampy")
    except Exception:  # not installed: the key is never used then (extraction stops at the import error)
        found = None
    return {"method": "resampy", "filter": "kaiser_best", "resampy": found}


#: Output samples per resampy call when streaming (2 MiB of float64).
STREAM_SAMPLES = 1 << 18


def resample_kaiser_best(x: np.ndarray, orig_freq: int, new_freq: int, block: int = STREAM_SAMPLES) -> np.ndarray:
    """``resampy.resample(x, orig_freq, new_freq, filter="kaiser_best")`` of a mono ``x``, as float32 (Hz rates).

    Bit-identical to one resampy call on ``x`` in float64 (tests/test_compat_fad.py), but streamed ``block``
    output samples at a time: each call gets the input slice its filter wings reach (plus a margin) and the
    output times ``k / ratio`` shifted by the slice's integer start, which subtracts exactly, so every output
    sample sums the same products in the same order; memory is O(block) beyond ``x`` and the output.
    """
    resampy = require_resampy()
    if orig_freq == new_freq:
        return np.asarray(x, dtype=np.float32)
    n_out = int(len(x) * float(new_freq) / float(orig_freq))  # resampy's output length (resampy #111)
    out = np.zeros(max(0, n_out), dtype=np.float32)
    if n_out < 1:  # resampy raises on these; they are far below any backbone's minimum length anyway
        return out
    ratio = float(new_freq) / orig_freq
    window, precision, _ = resampy.filters.get_filter("kaiser_best")
    if ratio < 1:
        window = ratio * window
    delta = np.diff(window, append=window[-1])
    scale = min(1.0, ratio)
    reach = len(window) // max(1, int(scale * precision)) + 2  # input samples a wing spans, plus slack
    for first in range(0, n_out, block):
        last = min(n_out, first + block)
        times = np.arange(first, last) * (1.0 / ratio)
        start = max(0, int(times[0]) - reach)
        stop = min(len(x), int(times[-1]) + reach + 2)
        piece = np.asarray(x[start:stop], dtype=np.float64)
        y = np.zeros(last - first)
        resampy.interpn.resample_f_s(piece, times - start, window, delta, precision, scale, y)
        out[first:last] = y
    return out
