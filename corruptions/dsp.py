"""Small numpy DSP helpers (Slaney mel scale and filterbank, Hann window); audiometric's backbones use them too."""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3.0  # Hz per mel below 1 kHz (Slaney, Auditory Toolbox 1998)
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel_slaney(hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above (Slaney 1998, Auditory Toolbox)."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, mel)


def mel_to_hz_slaney(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel_slaney` (mel to Hz)."""
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * _F_SP
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, hz)


def mel_filterbank_slaney(sample_rate: float, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Area-normalised triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``, float64.

    Slaney-style mel scale and normalisation (each triangle scaled by 2 / bandwidth in Hz), the
    filterbank that PANNs and most mel front ends build (Slaney 1998, Auditory Toolbox ``MakeMelFilterBank``).
    """
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz_slaney(np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def hann(length: int, periodic: bool = True) -> np.ndarray:
    """Hann window of ``length`` samples, float64; periodic (DFT-even) by default."""
    n = np.arange(length)
    denom = length if periodic else length - 1
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / max(denom, 1))
