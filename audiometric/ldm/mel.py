"""AudioLDM's mel front end: a 16 kHz clip fitted to ``duration`` seconds, then a 64-band log-mel.

Settings are those of AudioLDM's published configuration (``audioldm_original.yaml`` of
haoheliu/AudioLDM-training-finetuning, ``preprocessing``): 16 kHz, STFT filter/window 1024, hop 160,
64 mel bands 0–8000 Hz, duration 10.24 s; the Slaney mel filterbank with Slaney area normalisation
(librosa's defaults, which AudioLDM's ``TacotronSTFT`` uses), magnitudes (not power), ``log(clamp(·, 1e-5))``
(AudioLDM's ``dynamic_range_compression``), frames centred with reflect padding (N/160 + 1 frames), cut
to ``duration · 100`` frames. Waveforms are mean-removed and peak-normalised to 0.5 (AudioLDM's
``normalize_wav`` and ``0.5 * waveform``), long clips cropped at an offset (seeded here, random per read in
AudioLDM), short ones zero-padded at the end.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from audiometric.audio.decode import decode, read_and_hash
from audiometric.audio.resample import resample
from audiometric.errors import AudiometricError, DataError
from corruptions.dsp import mel_filterbank_slaney

SAMPLE_RATE = 16000
N_FFT = 1024
HOP = 160
WIN = 1024
N_MELS = 64
FMIN = 0.0
FMAX = 8000.0
DURATION = 10.24


@lru_cache(maxsize=4)
def mel_filterbank(
    sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = FMIN, fmax: float = FMAX
) -> torch.Tensor:
    """AudioLDM's Slaney filters (the one Slaney filterbank, :mod:`corruptions.dsp`), ``(n_mels, n_fft // 2 + 1)``, float32."""
    return torch.from_numpy(mel_filterbank_slaney(sample_rate, n_fft, n_mels, fmin, fmax).astype(np.float32))


def frames(duration: float) -> int:
    """Mel frames AudioLDM keeps for ``duration`` seconds (``duration · 100`` at hop 160, 16 kHz)."""
    return int(round(duration * SAMPLE_RATE / HOP))


def log_mel(wave: torch.Tensor, duration: float, n_mels: int = N_MELS) -> torch.Tensor:
    """Log-mel of waveforms ``(B, samples)`` at 16 kHz: ``(B, frames(duration), n_mels)``, float32.

    ``n_mels`` follows the pipeline's vocoder (64 for AudioLDM; tiny test pipelines use fewer).
    """
    window = torch.hann_window(WIN, periodic=True, device=wave.device, dtype=torch.float32)
    spec = torch.stft(
        wave.float(), N_FFT, HOP, WIN, window, center=True, pad_mode="reflect", return_complex=True
    ).abs()  # (B, 513, samples / 160 + 1)
    mel = mel_filterbank(n_mels=n_mels).to(wave.device) @ spec
    logmel = torch.log(torch.clamp(mel, min=1e-5)).transpose(1, 2)
    target = frames(duration)
    if logmel.shape[1] < target:  # AudioLDM's _pad_spec: zeros at the end
        logmel = torch.nn.functional.pad(logmel, (0, 0, 0, target - logmel.shape[1]))
    return logmel[:, :target]


def crop_offset(samples: int, target: int, seed: int, key: str) -> int:
    """Start sample of the ``target``-sample window of a longer clip: seeded by ``(seed, key)``, else 0."""
    if samples <= target:
        return 0
    stream = int(hashlib.sha256(key.encode()).hexdigest()[:15], 16)
    return int(np.random.default_rng([seed, stream]).integers(0, samples - target + 1))


def fit_waveform(wave: np.ndarray, target: int, offset: int = 0) -> np.ndarray:
    """Crop at ``offset`` (long clips), remove the mean, peak-normalise to 0.5, zero-pad to ``target``."""
    wave = np.asarray(wave, dtype=np.float32)[offset : offset + target]
    wave = wave - wave.mean()
    wave = 0.5 * wave / (np.abs(wave).max() + 1e-8)
    return np.pad(wave, (0, target - wave.size)).astype(np.float32)


def load_clip(path: str | Path) -> tuple[np.ndarray, str]:
    """A file's first channel at 16 kHz (float32 ``(samples,)``) and the file's sha256."""
    try:
        data, sha = read_and_hash(Path(path))
        decoded = decode(data, sha)
    except AudiometricError as err:
        raise DataError(f"{path}: {err}; replace the file or remove it from the dataset") from err
    wave = torch.from_numpy(decoded.audio[0].copy())
    return resample(wave, decoded.sample_rate, SAMPLE_RATE).numpy(), sha


def clip_for_training(path: str | Path, duration: float, seed: int) -> tuple[np.ndarray, str, int]:
    """``(waveform (duration · 16000,), file sha256, crop offset)`` as AudioLDM's data loader prepares it."""
    wave, sha = load_clip(path)
    target = int(round(duration * SAMPLE_RATE))
    offset = crop_offset(wave.size, target, seed, sha)
    return fit_waveform(wave, target, offset), sha, offset
