"""Array helpers shared by the corruptions: shape handling, power, seeds (numpy only)."""

from __future__ import annotations

import numpy as np

from .errors import CorruptionError, SilentTargetError


def as_channels(audio: np.ndarray) -> tuple[np.ndarray, bool]:
    """``audio`` as float64 ``(channels, samples)`` plus whether it was mono ``(samples,)``.

    Raises :class:`CorruptionError` for other shapes, empty input, or NaN/Inf samples.
    """
    arr = np.asarray(audio)
    mono = arr.ndim == 1
    if mono:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise CorruptionError(
            f"audio must be (samples,) or (channels, samples) and non-empty, got shape {np.shape(audio)}"
        )
    if not np.all(np.isfinite(arr)):
        raise CorruptionError("audio contains NaN or Inf samples; clean the input first")
    return arr.astype(np.float64), mono


def restore(audio: np.ndarray, mono: bool) -> np.ndarray:
    """float32 output in the caller's layout (``(samples,)`` when the input was mono)."""
    out = np.asarray(audio, dtype=np.float32)
    return out[0] if mono else out


def mean_power(x: np.ndarray) -> float:
    """Mean square over all channels and samples (linear power, full scale = 1)."""
    return float(np.mean(np.square(x, dtype=np.float64)))


def target_power(name: str, x: np.ndarray) -> float:
    """:func:`mean_power` of a target that an SNR is defined against; :class:`SilentTargetError` if it is 0."""
    power = mean_power(x)
    if power == 0.0:
        raise SilentTargetError(
            f"{name}: the target is silent, so an SNR relative to it is undefined; "
            "remove silent files from the set or use a mel-domain corruption"
        )
    return power


def draw_seed(rng: np.random.Generator) -> int:
    """A 63-bit seed drawn from ``rng``, recorded so bulk random arrays can be regenerated."""
    return int(rng.integers(0, 2**63 - 1))
