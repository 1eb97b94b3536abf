"""VGGish (Hershey et al. 2017, "CNN Architectures for Large-Scale Audio Classification"), the FAD backbone.

The network is the AudioSet VGGish: a VGG-style CNN over 96x64 log-mel patches (0.96 s each) with a
128-d embedding, laid out so that its ``state_dict`` loads torchvggish's ``vggish-10086976.pth``
(converted from the TensorFlow release) unchanged. The front end follows the public specification of
tensorflow/models ``research/audioset/vggish`` (``vggish_params``, ``mel_features``, ``vggish_input``)
and runs in torch, batched, on any device.

The embedding is the output of the last linear layer *before* its ReLU and without the PCA/quantisation
post-processing, as audioldm_eval computes FAD (``use_activation=False``, ``use_pca=False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from audiometric.backbones.base import Backbone, check_layout, with_weights
from audiometric.backbones.checkpoint import load_checkpoint
from audiometric.backbones.weights import resolve_checkpoint
from audiometric.errors import WeightsError
from corruptions.dsp import hann

SAMPLE_RATE = 16000  # Hz (vggish_params.SAMPLE_RATE)
WINDOW = 400  # samples: 0.025 s STFT window (vggish_params.STFT_WINDOW_LENGTH_SECONDS)
HOP = 160  # samples: 0.010 s STFT hop (vggish_params.STFT_HOP_LENGTH_SECONDS)
N_FFT = 512  # next power of two >= WINDOW (mel_features.log_mel_spectrogram)
N_MELS = 64  # vggish_params.NUM_MEL_BINS
FMIN, FMAX = 125.0, 7500.0  # Hz: vggish_params.MEL_MIN_HZ / MEL_MAX_HZ
LOG_OFFSET = 0.01  # vggish_params.LOG_OFFSET, added to the mel magnitude before the log
PATCH_FRAMES = 96  # 0.96 s patches, hop 0.96 s (vggish_params.EXAMPLE_WINDOW/HOP_SECONDS)
EMBEDDING_DIM = 128  # vggish_params.EMBEDDING_SIZE

# Conv widths; "M" is a 2x2 max-pool (Hershey et al. 2017, configuration "VGGish": VGG-A without the last group).
_CONV_PLAN: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")
_POOLED_HW = (PATCH_FRAMES // 16, N_MELS // 16)  # (6, 4): time x mel after four 2x2 pools


def hz_to_mel_htk(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, mel = 1127 ln(1 + f / 700) for f in Hz (mel_features.hertz_to_mel)."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def vggish_mel_matrix(
    sample_rate: float = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """VGGish mel weights, shape ``(n_fft // 2 + 1, n_mels)``, float64, to post-multiply a magnitude spectrum.

    Triangles with unit peak, linear in the mel domain, evaluated at FFT bins spaced linearly over
    0..Nyquist Hz; band edges evenly spaced in HTK mel between ``fmin`` and ``fmax`` Hz; the DC bin gets
    no weight; no area normalisation (mel_features.spectrogram_to_mel_matrix).
    """
    bins_mel = hz_to_mel_htk(np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1))
    edges = np.linspace(hz_to_mel_htk(fmin), hz_to_mel_htk(fmax), n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def _make_features() -> nn.Sequential:
    """The convolutional trunk; indices match torchvggish (conv, ReLU[, pool] per entry of ``_CONV_PLAN``)."""
    layers: list[nn.Module] = []
    channels = 1
    for item in _CONV_PLAN:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(item)
    return nn.Sequential(*layers)


class VGGish(Backbone):
    """VGGish: 16 kHz mono audio -> one 128-d embedding per non-overlapping 0.96 s patch.

    ``forward(wav)`` takes ``(batch, samples)`` float32 in [-1, 1] at 16 kHz and returns
    ``{"embedding": (batch, n_patches, 128)}`` with ``n_patches = (1 + (samples - 400) // 160) // 96``
    (a trailing partial patch is dropped, as in VGGish). Clips shorter than ``min_samples`` (15600
    samples, 0.975 s: the shortest input holding one full patch) are zero-padded at the end to it, so
    every clip yields at least one patch. Under ``--compat`` the extractor leaves such clips out instead,
    as audioldm_eval's FAD does (``Preprocess.short == "drop"``), and feeds audioldm_eval's FAD input
    (:func:`audiometric.audio.preprocess.compat_fad`).
    """

    name = "vggish"
    sample_rate = SAMPLE_RATE
    min_samples = WINDOW + (PATCH_FRAMES - 1) * HOP
    outputs = ("embedding",)
    window: torch.Tensor  # (400,) periodic Hann, a buffer
    mel_matrix: torch.Tensor  # (257, 64) mel weights, a buffer

    def __init__(self) -> None:
        super().__init__()
        self.features = _make_features()
        flat = 512 * _POOLED_HW[0] * _POOLED_HW[1]
        self.embeddings = nn.Sequential(
            nn.Linear(flat, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, EMBEDDING_DIM),
        )
        # Front-end constants are derived, not learned: kept out of the state_dict. float64 like the
        # numpy reference; in float32 the FFT noise floor of a loud tone moves near-silent bands by ~2e-4.
        self.register_buffer("window", torch.from_numpy(hann(WINDOW, periodic=True)), persistent=False)
        self.register_buffer("mel_matrix", torch.from_numpy(vggish_mel_matrix()), persistent=False)

    def log_mel_patches(self, wav: torch.Tensor) -> torch.Tensor:
        """Float32 log-mel patches ``(batch, n_patches, 96, 64)`` (frames x mel bands) of ``wav`` ``(batch, samples)``.

        Magnitude STFT (periodic Hann, 400-sample window, hop 160, 512-point FFT, no centring), 64 HTK mel
        bands 125-7500 Hz, ``ln(mel + 0.01)``, cut into non-overlapping 96-frame patches
        (mel_features.log_mel_spectrogram and vggish_input.waveform_to_examples). Computed in float64
        (float32 on MPS, which has no float64).
        """
        if wav.shape[-1] < self.min_samples:
            wav = nn.functional.pad(wav, (0, self.min_samples - wav.shape[-1]))
        dtype = torch.float32 if wav.device.type == "mps" else torch.float64
        with torch.autocast(wav.device.type, enabled=False):  # never lowered by --precision fp16/bf16
            frames = wav.to(dtype).unfold(-1, WINDOW, HOP) * self.window.to(dtype)  # (batch, n_frames, 400)
            magnitude = torch.fft.rfft(frames, n=N_FFT).abs()  # (batch, n_frames, 257)
            log_mel = torch.log(magnitude @ self.mel_matrix.to(dtype) + LOG_OFFSET)  # (batch, n_frames, 64)
        n_patches = log_mel.shape[1] // PATCH_FRAMES
        patches = log_mel[:, : n_patches * PATCH_FRAMES].reshape(wav.shape[0], n_patches, PATCH_FRAMES, N_MELS)
        return patches.float()

    def embed_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """Pre-ReLU 128-d embeddings ``(n, 128)`` of log-mel patches ``(n, 96, 64)``."""
        x = self.features(patches.unsqueeze(1))  # (n, 512, 6, 4) NCHW
        # The weights were converted from TF (NHWC): flatten in (time, mel, channel) order.
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.embeddings(x)

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"embedding": (batch, n_patches, 128)}`` for ``wav`` ``(batch, samples)`` at 16 kHz."""
        patches = self.log_mel_patches(wav)
        batch, n_patches = patches.shape[:2]
        emb = self.embed_patches(patches.reshape(batch * n_patches, PATCH_FRAMES, N_MELS))
        return {"embedding": emb.reshape(batch, n_patches, emb.shape[-1])}


def _check_layout(state: object, path: Path) -> Mapping[str, Any]:
    """``state``, after a one-line WeightsError unless it has exactly the keys and shapes of VGGish's state_dict."""
    fix = "expected torchvggish's vggish-10086976.pth state_dict"
    if not isinstance(state, Mapping):
        raise WeightsError(f"VGGish checkpoint {path} is a {type(state).__name__}, not a state_dict; {fix}")
    check_layout(
        lambda: VGGish().state_dict(), state, f"VGGish checkpoint {path} does not match the VGGish layout", fix
    )
    return state


def load_vggish(checkpoint: str | None, device: str | torch.device) -> VGGish:
    """VGGish with weights from ``checkpoint`` (default: the cached torchvggish file) on ``device``, eval mode."""
    path = resolve_checkpoint("vggish", checkpoint)
    return with_weights(VGGish(), _check_layout(load_checkpoint(path), path), path, device)
