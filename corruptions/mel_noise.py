"""Gaussian noise in the log-mel domain, brought back to a waveform.

Noise ``N(0, severity^2)`` in dB is added to every cell of the log-mel spectrogram (the same noise
field for every channel), i.e. the mel power of cell ``(m, t)`` is multiplied by
``10 ** (z[m, t] * severity / 10)``; :func:`corruptions._mel.apply_mel_gains` resynthesises it with the
original phase. In natural-log units of mel *magnitude* (as in AudioLDM's log-mel), a std of
``sigma`` corresponds to ``severity = 20 / ln(10) * sigma = 8.686 * sigma`` dB.
"""

from __future__ import annotations

import numpy as np

from ._audio import as_channels, draw_seed, restore
from ._mel import MelConfig, apply_mel_gains, check_length, n_frames
from .registry import Corruption, Param

MEL_PARAMS: tuple[Param, ...] = (
    Param(
        name="n_fft",
        unit="samples",
        default=1024,
        range=">= 16",
        doc="STFT frame length (periodic Hann window)",
        type=int,
    ),
    Param(name="hop_length", unit="samples", default=256, range="[1, n_fft/2]", doc="STFT hop", type=int),
    Param(name="n_mels", unit="count", default=64, range=">= 1", doc="number of Slaney mel bands", type=int),
    Param(name="fmin", unit="Hz", default=0.0, range="[0, fmax)", doc="lowest mel band edge"),
    Param(
        name="fmax",
        unit="Hz",
        default=0.0,
        range="[0, sample_rate/2]",
        doc="highest mel band edge; 0 means sample_rate / 2",
    ),
)


def mel_config(n_fft: int, hop_length: int, n_mels: int, fmin: float, fmax: float, sample_rate: int) -> MelConfig:
    """A validated :class:`MelConfig` from the registry's mel parameters (``fmax == 0`` means Nyquist)."""
    cfg = MelConfig(
        n_fft=int(n_fft),
        hop_length=int(hop_length),
        n_mels=int(n_mels),
        fmin=float(fmin),
        fmax=float(fmax) if fmax else None,
    )
    cfg.validate(sample_rate)
    return cfg


def mel_noise(
    audio: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
    severity: float,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 64,
    fmin: float = 0.0,
    fmax: float = 0.0,
) -> tuple[np.ndarray, dict]:
    """Add Gaussian noise with standard deviation ``severity`` dB to the log-mel spectrogram.

    ``severity == 0`` returns ``audio`` unchanged. Raises :class:`ClipTooShortError` for a clip
    shorter than ``n_fft`` samples.
    """
    s = CORRUPTION.check(severity)
    if s == 0.0:
        return audio, {"severity": 0.0}
    cfg = mel_config(n_fft, hop_length, n_mels, fmin, fmax, sample_rate)
    x, mono = as_channels(audio)
    check_length(x.shape[-1], cfg)
    noise_seed = draw_seed(rng)
    noise_db = s * np.random.default_rng(noise_seed).standard_normal((cfg.n_mels, n_frames(x.shape[-1], cfg)))
    out = apply_mel_gains(x, sample_rate, 10.0 ** (noise_db / 10.0), cfg)
    return restore(out, mono), {"severity": s, "noise_seed": noise_seed, "noise_shape": list(noise_db.shape)}


def noise_field_db(record: dict, severity: float) -> np.ndarray:
    """The log-mel noise (dB, ``(n_mels, frames)``) that :func:`mel_noise` drew, rebuilt from its record."""
    return severity * np.random.default_rng(record["noise_seed"]).standard_normal(tuple(record["noise_shape"]))


CORRUPTION = Corruption(
    name="mel_noise",
    summary="Gaussian noise added to the log-mel spectrogram, resynthesised with the original phase",
    apply=mel_noise,
    severity=Param(
        name="severity",
        unit="dB",
        default=0.0,
        range="",
        doc="standard deviation of the noise added to the log-mel (dB)",
        bounds=(0.0, 100.0),
    ),
    params=MEL_PARAMS,
    levels=(0, 1, 2, 4, 8),
    axis="log-mel noise std (dB)",
)
