"""Waveform Gaussian noise at an exact signal-to-noise ratio.

White Gaussian noise is drawn from a recorded seed and scaled so that its power over the whole clip
(all channels together) is exactly ``severity`` times the clip's power: the target SNR is
``-10 log10(severity)`` dB and the realised SNR (measured on the float32 output) is recorded.
"""

from __future__ import annotations

import numpy as np

from ._audio import as_channels, draw_seed, mean_power, restore, target_power
from .registry import Corruption, Param


def snr_db_to_severity(snr_db: float) -> float:
    """Noise-to-signal power ratio for a target SNR in dB (``10 ** (-snr_db / 10)``)."""
    return float(10.0 ** (-snr_db / 10.0))


def realised_snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR in dB of ``noisy`` against ``clean``: ``10 log10(sum clean^2 / sum (noisy - clean)^2)``."""
    clean64 = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noisy, dtype=np.float64) - clean64
    return float(10.0 * np.log10(np.sum(clean64**2) / np.sum(noise**2)))


def gaussian_noise(
    audio: np.ndarray, sample_rate: int, rng: np.random.Generator, severity: float
) -> tuple[np.ndarray, dict]:
    """Add white Gaussian noise whose power is ``severity`` times the clip's power.

    ``severity`` is the noise-to-signal power ratio (linear; 0.1 = 10 dB SNR, 1 = 0 dB); 0 returns
    ``audio`` unchanged. Raises :class:`SilentTargetError` for an all-zero clip (SNR undefined).
    """
    s = CORRUPTION.check(severity)
    if s == 0.0:
        return audio, {"severity": 0.0}
    x, mono = as_channels(audio)
    signal_power = target_power("gaussian_noise", x)
    noise_seed = draw_seed(rng)
    noise = np.random.default_rng(noise_seed).standard_normal(x.shape)
    gain = float(np.sqrt(s * signal_power / mean_power(noise)))
    out = restore(x + gain * noise, mono)
    target = -10.0 * np.log10(s)
    return out, {
        "severity": s,
        "noise_seed": noise_seed,
        "noise_gain": gain,
        "target_snr_db": float(target),
        "realised_snr_db": realised_snr_db(restore(x, mono), out),
    }


CORRUPTION = Corruption(
    name="gaussian_noise",
    alias="noise",
    summary="white Gaussian noise added to the waveform at an exact SNR (all channels together)",
    apply=gaussian_noise,
    severity=Param(
        name="severity",
        unit="ratio",
        default=0.0,
        range="",
        doc="noise-to-signal power ratio; target SNR = -10*log10(severity) dB (0.1 -> 10 dB, 1 -> 0 dB)",
        bounds=(0.0, 1e6),
    ),
    levels=(0, 0.01, 0.03, 0.1, 0.3, 1.0),  # SNR inf, 20, 15, 10, 5, 0 dB
    axis="noise-to-signal power ratio",
    snr=True,
)
