"""Numerically stable softmax-family functions in numpy, float64.

Own code instead of ``scipy.special`` because importing that costs about 0.25 s (its array-API layer pulls in
``numpy.f2py`` and ``numpy.testing``), a third of a fully cached ``score`` process; the results agree with
scipy's to float64 rounding (``tests/test_metrics.py``).
"""

from __future__ import annotations

import numpy as np


def logsumexp(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """``log(sum(exp(x), axis))`` computed as ``m + log(sum(exp(x - m)))`` with ``m`` the maximum."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x - logsumexp(x, axis)``, broadcast back along ``axis``."""
    return x - np.expand_dims(logsumexp(x, axis=axis), axis)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic sigmoid ``1 / (1 + exp(-x))``, without overflow for large negative ``x``."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * log(y)``, 0 where ``x == 0`` (the convention 0 log 0 = 0)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    out = np.zeros_like(x)
    nz = x != 0
    out[nz] = x[nz] * np.log(y[nz])
    return out
