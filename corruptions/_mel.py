"""STFT, mel analysis and mel-gain resynthesis shared by the mel-domain corruptions (numpy only).

The analysis is a centred STFT (zero padding of ``n_fft // 2`` on both sides) with a periodic Hann
window; the synthesis is the weighted overlap-add inverse (Griffin & Lim 1984, eq. 6), which
reconstructs the input to float precision whenever every STFT frame is left unchanged. A mel-domain
corruption is a field of power gains on the mel grid ``(n_mels, frames)``; :func:`apply_mel_gains`
turns it into gains on STFT bins, keeps the original phase, and refines the bin gains so that the
log-mel of the resynthesised waveform matches the intended (corrupted) log-mel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .dsp import hann, mel_filterbank_slaney
from .errors import ClipTooShortError, CorruptionError

# Power floor of the log-mel (as librosa.power_to_db's ``amin``), so that silence has a finite log.
AMIN = 1e-10


@dataclass(kw_only=True, frozen=True)
class MelConfig:
    """Mel analysis grid: FFT size and hop in samples, number of mel bands, band edges in Hz."""

    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None

    def validate(self, sample_rate: int) -> None:
        """Raise :class:`CorruptionError` on a grid that cannot be analysed and resynthesised at ``sample_rate`` Hz."""
        if self.n_fft < 16 or self.hop_length < 1 or self.hop_length > self.n_fft // 2:
            raise CorruptionError(
                f"need n_fft >= 16 and 1 <= hop_length <= n_fft / 2, got {self.n_fft}, {self.hop_length}"
            )
        fmax = self.top_hz(sample_rate)
        if not 0.0 <= self.fmin < fmax <= sample_rate / 2.0:
            raise CorruptionError(f"need 0 <= fmin < fmax <= {sample_rate / 2} Hz, got fmin={self.fmin}, fmax={fmax}")
        if self.n_mels < 1:
            raise CorruptionError(f"n_mels must be >= 1, got {self.n_mels}")

    def top_hz(self, sample_rate: int) -> float:
        """Upper band edge in Hz (``fmax``, or Nyquist when unset)."""
        return float(self.fmax) if self.fmax is not None else sample_rate / 2.0

    def filterbank(self, sample_rate: int) -> np.ndarray:
        """Slaney mel filterbank, ``(n_mels, n_fft // 2 + 1)`` float64."""
        return mel_filterbank_slaney(sample_rate, self.n_fft, self.n_mels, self.fmin, self.top_hz(sample_rate))


def n_frames(n_samples: int, cfg: MelConfig) -> int:
    """Frames of the centred STFT of ``n_samples`` samples."""
    return 1 + n_samples // cfg.hop_length


def check_length(n_samples: int, cfg: MelConfig) -> None:
    """Raise :class:`ClipTooShortError` for a clip shorter than one STFT frame (``n_fft`` samples)."""
    if n_samples < cfg.n_fft:
        raise ClipTooShortError(
            f"clip has {n_samples} samples, shorter than one STFT frame (n_fft={cfg.n_fft}); "
            "use a longer clip or a smaller n_fft"
        )


def stft(x: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Centred STFT of ``x`` ``(channels, samples)``: complex128 ``(channels, n_fft // 2 + 1, frames)``."""
    pad = cfg.n_fft // 2
    frames = n_frames(x.shape[-1], cfg)
    total = (frames - 1) * cfg.hop_length + cfg.n_fft
    padded = np.zeros((x.shape[0], total), dtype=np.float64)
    padded[:, pad : pad + x.shape[-1]] = x
    idx = np.arange(cfg.n_fft)[None, :] + cfg.hop_length * np.arange(frames)[:, None]
    segments = padded[:, idx] * hann(cfg.n_fft)  # (channels, frames, n_fft)
    return np.fft.rfft(segments, axis=-1).transpose(0, 2, 1)


def istft(spec: np.ndarray, n_samples: int, cfg: MelConfig) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`stft` (Griffin & Lim 1984): ``(channels, n_samples)`` float64."""
    window = hann(cfg.n_fft)
    frames = spec.shape[-1]
    segments = np.fft.irfft(spec.transpose(0, 2, 1), n=cfg.n_fft, axis=-1) * window
    total = (frames - 1) * cfg.hop_length + cfg.n_fft
    out = np.zeros((spec.shape[0], total))
    norm = np.zeros(total)
    for t in range(frames):
        sl = slice(t * cfg.hop_length, t * cfg.hop_length + cfg.n_fft)
        out[:, sl] += segments[:, t]
        norm[sl] += window**2
    pad = cfg.n_fft // 2
    return out[:, pad : pad + n_samples] / norm[pad : pad + n_samples]


def mel_power(x: np.ndarray, sample_rate: int, cfg: MelConfig) -> np.ndarray:
    """Mel power spectrogram of ``x`` ``(channels, samples)``: ``(channels, n_mels, frames)`` float64."""
    return np.einsum("mf,cft->cmt", cfg.filterbank(sample_rate), np.abs(stft(x, cfg)) ** 2)


def log_mel_db(x: np.ndarray, sample_rate: int, cfg: MelConfig) -> np.ndarray:
    """Log-mel in dB, ``10 log10(max(mel power, AMIN))``: ``(channels, n_mels, frames)``."""
    return 10.0 * np.log10(np.maximum(mel_power(x, sample_rate, cfg), AMIN))


# Multiplicative fitting steps that make the mel of the gained STFT match the target (see apply_mel_gains).
FIT_ITERATIONS = 30


def _bin_gains(mel_gains: np.ndarray, share_t: sparse.csr_array, uncovered: np.ndarray) -> np.ndarray:
    """Per-bin power gains ``(bins, frames)`` interpolated from mel-band gains ``(n_mels, frames)``."""
    gains = share_t @ mel_gains
    gains[uncovered] = 1.0
    return gains


def apply_mel_gains(x: np.ndarray, sample_rate: int, mel_gains: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Scale the mel power of ``x`` ``(channels, samples)`` by ``mel_gains`` ``(n_mels, frames)``, in float64.

    Target: mel power ``mel_gains * mel(x)`` on the analysis grid, per channel. Bin gains start as the
    filterbank-weighted interpolation of the band gains and are refined per frame by iterative
    proportional fitting so that ``filterbank @ (bin_gain * |X|^2)`` equals the target (bands with gain 0
    stay exactly 0, which zeroes every bin they cover). The gains scale the STFT magnitude, the original
    phase is kept, and the weighted overlap-add inverse returns the waveform. Bins outside
    ``[fmin, fmax]`` are left untouched. With all gains 1 the output equals ``x`` to float precision.
    """
    check_length(x.shape[-1], cfg)
    dense = cfg.filterbank(sample_rate)
    cover = dense.sum(axis=0)
    uncovered = cover <= 0
    fb = sparse.csr_array(dense)
    share_t = sparse.csr_array(np.where(uncovered, 0.0, dense / np.where(uncovered, 1.0, cover)).T)
    spec = stft(x, cfg)
    power = np.abs(spec) ** 2
    out = np.empty_like(spec)
    for c in range(spec.shape[0]):
        target = mel_gains * (fb @ power[c])
        gains = mel_gains.copy()
        for _ in range(FIT_ITERATIONS):
            realised = fb @ (_bin_gains(gains, share_t, uncovered) * power[c])
            gains = gains * np.divide(target, realised, out=np.zeros_like(target), where=realised > 0)
        out[c] = spec[c] * np.sqrt(_bin_gains(gains, share_t, uncovered))
    return istft(out, x.shape[-1], cfg)
