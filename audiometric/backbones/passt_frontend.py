"""PaSST's log-mel front end (Koutini et al. 2022), as the official AudioSet model was trained with it.

Settings of hear21passt's ``base.get_basic_model`` (``AugmentMelSTFT`` in eval mode, i.e. without its
SpecAugment masks and random band edges): 32 kHz mono, pre-emphasis ``x[n+1] - 0.97 x[n]``, STFT with
``n_fft=1024``, a symmetric 800-sample Hann window (centred in the 1024 frame), hop 320 (10 ms), centred
frames with reflect padding; power spectrum; 128 Kaldi-style triangular mel bands from 0 to 15 kHz (Nyquist
minus half of the 2 kHz ``fmax`` augmentation range); ``log(mel + 1e-5)``, then ``(x + 4.5) / 5``.
Everything here is computed in float32 whatever the network's dtype, as the original runs its mel product
outside autocast. No weights: the front end is not part of the checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 32000  # Hz
N_FFT = 1024  # samples
WIN_LENGTH = 800  # samples, symmetric Hann (torch.hann_window(periodic=False))
HOP = 320  # samples (10 ms)
N_MELS = 128
FMIN, FMAX = 0.0, 15000.0  # Hz: fmax = sr // 2 - fmax_aug_range // 2 with fmax_aug_range = 2000
PREEMPHASIS = 0.97  # y[n] = x[n + 1] - 0.97 x[n] (a length-2 valid convolution: one sample shorter)
LOG_OFFSET = 1e-5  # added to the mel power before the natural log
NORM_SHIFT, NORM_SCALE = 4.5, 5.0  # "fast normalisation": (log_mel + 4.5) / 5


def hz_to_mel_kaldi(hz: np.ndarray | float) -> np.ndarray:
    """Kaldi's mel scale, 1127 ln(1 + f / 700) for f in Hz (Kaldi feat/mel-computations.h, MelScale)."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def kaldi_mel_banks(
    n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: float = SAMPLE_RATE, fmin: float = FMIN, fmax: float = FMAX
) -> np.ndarray:
    """Kaldi mel filterbank with a zero Nyquist column, shape ``(n_mels, n_fft // 2 + 1)``, float64.

    Triangles with unit peak, linear in mel, band edges evenly spaced in mel between ``fmin`` and ``fmax``
    Hz, evaluated at the ``n_fft // 2`` bins ``k * sample_rate / n_fft`` (Kaldi feat/mel-computations.cc,
    MelBanks::MelBanks, without VTLN warping); the Nyquist bin gets no weight, as hear21passt pads it.
    """
    edges = np.linspace(hz_to_mel_kaldi(fmin), hz_to_mel_kaldi(fmax), n_mels + 2)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    bins = hz_to_mel_kaldi(np.arange(n_fft // 2) * (sample_rate / n_fft))[None, :]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    banks = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(banks, ((0, 0), (0, 1)))


def num_frames(num_samples: int) -> int:
    """Mel frames of a clip of ``num_samples`` (pre-emphasis drops one sample, centred STFT frames)."""
    return (num_samples - 1) // HOP + 1


class PasstMel(nn.Module):
    """Waveform ``(batch, samples)`` at 32 kHz -> normalised log-mel ``(batch, 128, frames)``, float32.

    Its window and mel matrix are non-persistent buffers made on the CPU even under a ``meta`` device
    context, so a network built on ``meta`` for a checkpoint still gets a working front end.
    """

    window: torch.Tensor
    mel_banks: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        window = torch.hann_window(WIN_LENGTH, periodic=False, dtype=torch.float32, device="cpu")
        banks = torch.from_numpy(kaldi_mel_banks().astype(np.float32))
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("mel_banks", banks, persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``wav`` ``(batch, samples)``, samples > 513 -> ``(batch, 128, (samples - 1) // 320 + 1)``."""
        with torch.autocast(wav.device.type, enabled=False):  # float32 under ``--precision`` fp16/bf16 too
            return self._logmel(wav.float())

    def _logmel(self, wav: torch.Tensor) -> torch.Tensor:
        emphasised = wav[:, 1:] - PREEMPHASIS * wav[:, :-1]
        spec = torch.stft(
            emphasised,
            N_FFT,
            hop_length=HOP,
            win_length=WIN_LENGTH,
            window=self.window.float(),  # float32 even when the module was cast to a lower precision
            center=True,
            pad_mode="reflect",
            normalized=False,
            return_complex=True,
        )
        power = torch.view_as_real(spec).square().sum(dim=-1)  # (batch, n_fft // 2 + 1, frames)
        mel = torch.matmul(self.mel_banks.float(), power)
        return (torch.log(mel + LOG_OFFSET) + NORM_SHIFT) / NORM_SCALE


__all__ = ["PasstMel", "kaldi_mel_banks", "num_frames"]
