"""aiSFX (Ma & Lerch, ISMIR 2022, "Representation Learning for the Automatic Indexing of Sound Effects
Libraries"): a sound-effects embedding CNN, 512-d per ~2.3 s block.

The weights are the trained ``X-Sequential-CE`` checkpoint shipped in the ``aisfx`` PyPI package
(0.1.2, CC BY 4.0) at ``aisfx/models/checkpoint.pth``: a ``(state_dict, dataset_dict)`` tuple whose
``embedding_net.*`` entries hold the CNN used here (the ``fc.*`` entries are per-dataset classifier
heads, unused). The package itself is never imported: its pinned dependencies are broken.

The front end reproduces the essentia path the network was trained on (``aisfx/spectrogram/
spectrogram_essentia.py``; essentia ``FrameCutter``, ``Windowing``, ``Spectrum``, ``MelBands``,
``UnaryOperator``), time-major ``(frames, bands)``, in torch, batched, on any device:

- frames of 2048 samples every 1024 at 44.1 kHz, the first one *centred* on sample 0 (1024 zeros
  before the signal; ``FrameCutter(startFromZero=False)``), the last one the first whose centre is at
  or past the end of the signal, zero-padded: ``ceil(samples / 1024) + 1`` frames, i.e. every frame
  that overlaps the signal;
- symmetric Hann window ``0.5 - 0.5 cos(2 pi n / 2047)``, not normalised (``Windowing(type='hann',
  normalized=False)``; its zero-phase rotation does not change magnitudes), no zero padding;
- power spectrum ``|FFT|^2`` of the 1025 bins (``Spectrum`` magnitude squared by ``MelBands(type='power')``);
- 96 triangular bands, edges evenly spaced on the HTK mel scale from 0 to 22050 Hz, triangles linear
  in HTK mel, each band normalised to unit sum of its weights (``MelBands(warpingFormula='htkMel',
  weighting='warping', normalize='unit_sum')``);
- ``log10(1 + 10^4 * band)`` (``UnaryOperator(identity, scale=1e4, shift=1)`` then ``log10``);
- min-max normalisation by the published constants ``(x - 0) / 9.457798957824707``
  (``preprocessing.spectrogram_normalize(spec_norm='original')``);
- blocks of 100 frames with hop 50, a trailing partial block dropped (``inference.main`` defaults
  ``emb_hop_size=0.5``, ``drop_partial_block=True``); a spectrogram shorter than 100 frames is
  zero-padded at the end to one block (``preprocessing.blocking``).

Zero frames of the normalised spectrogram are exactly what silent audio gives (``log10(1 + 0) = 0``)
and essentia emits every frame that overlaps the signal, so zero-padding the *audio* at the end to
``min_samples`` (what the embedding pipeline does) gives the same embedding as the package's
spectrogram-level padding. (The package itself fails with an assertion for clips of 50 frames or less,
i.e. <= 50176 samples; here they get one padded block too.) Silent frames are exact zeros, as from
essentia 2.1-beta6-dev (its streaming ``FrameCutter`` default ``silentFrames='noise'`` left them at 0).
Not reproduced: the decoding and libsamplerate resampling of essentia's ``EasyLoader`` (its default
replayGain of -6 dB plus its 6 dB preamp is a gain of exactly 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiometric.backbones.base import Backbone, check_layout, with_weights
from audiometric.backbones.checkpoint import load_checkpoint
from audiometric.backbones.weights import resolve_checkpoint
from audiometric.errors import WeightsError
from corruptions.dsp import hann

SAMPLE_RATE = 44100  # Hz (aisfx inference.SAMPLE_RATE)
N_FFT = 2048  # samples per frame (inference.SPEC_BLOCK_LENGTH)
HOP = 1024  # samples between frames (inference.SPEC_HOP_LENGTH)
N_MELS = 96  # inference.MEL_BINS
FMIN, FMAX = 0.0, 22050.0  # Hz (inference.F_MIN, F_MAX)
LOG_SCALE = 1e4  # log10(1 + 1e4 * band): essentia "shift_scale_log" compression
NORM_MIN, NORM_MAX = 0.0, 9.457798957824707  # preprocessing.spectrogram_normalize('original')
BLOCK_FRAMES = 100  # frames per embedding block, ~2.3 s (inference.EMB_BLOCK_LENGTH)
BLOCK_HOP = 50  # frames: emb_hop_size 0.5 of the block
EMBEDDING_DIM = 512  # channels of the last conv block (EmbeddingNet('max', 3, 1, 64))
WIDTHS = (64, 128, 256, 512)  # conv block widths: hl1 = 64, doubled per block
BLOCKS_PER_PASS = 64  # blocks per CNN call: bounds the first layers' activations to ~160 MB (float32)

CHECKPOINT_ENV = "AUDIOMETRIC_CHECKPOINT_AISFX"
_PREFIX = "embedding_net."  # the CNN's keys inside the package's CrossNet state_dict
_HEADS = "fc."  # per-dataset classifier heads, not used for embeddings
_FIX = f"run `pip install --no-deps aisfx==0.1.2`, set {CHECKPOINT_ENV}=PATH or pass --checkpoint aisfx=PATH"


def n_frames(n_samples: int) -> int:
    """Spectrogram frames essentia's FrameCutter (2048/1024, startFromZero=False) cuts from ``n_samples`` >= 1."""
    return -(-n_samples // HOP) + 1


def n_blocks(frames: int) -> int:
    """Embedding blocks for ``frames`` spectrogram frames: 100-frame blocks, hop 50, partial tail dropped, >= 1."""
    return max(1, (frames - BLOCK_FRAMES) // BLOCK_HOP + 1)


def hz_to_mel_htk(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, mel = 2595 log10(1 + f / 700) for f in Hz (essentia ``hz2mel10``; Young et al., HTK Book)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz_htk(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel_htk` (HTK mel to Hz; essentia ``mel102hz``)."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def essentia_mel_filterbank(
    sample_rate: float = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """Essentia ``MelBands`` weights (htkMel, 'warping', 'unit_sum'), shape ``(n_mels, n_fft // 2 + 1)``, float64.

    Band edges evenly spaced in HTK mel between ``fmin`` and ``fmax`` Hz; band ``i`` covers the bins
    whose frequency lies in ``[edge_i, edge_{i+2}]`` Hz, with triangle weights linear in mel (zero at
    both ends), divided by their sum so each band's weights add up to 1 (essentia TriangularBands).
    """
    bin_hz = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    edges = mel_to_hz_htk(np.linspace(hz_to_mel_htk(fmin), hz_to_mel_htk(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    bin_mel = hz_to_mel_htk(bin_hz)[None, :]
    rising = (bin_mel - hz_to_mel_htk(lower)) / (hz_to_mel_htk(centre) - hz_to_mel_htk(lower))
    falling = (hz_to_mel_htk(upper) - bin_mel) / (hz_to_mel_htk(upper) - hz_to_mel_htk(centre))
    inside = (bin_hz >= lower) & (bin_hz <= upper)
    weights = np.where(inside, np.where(bin_hz < centre, rising, falling), 0.0).clip(min=0.0)
    return weights / weights.sum(axis=1, keepdims=True)


class _ConvBlock(nn.Module):
    """Two 3x3 conv (no bias) + batch-norm + ReLU layers, then an optional 2x2 max-pool (Kong et al. 2018, CNN9)."""

    def __init__(self, in_channels: int, out_channels: int, pool: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.max_pool2d(x, kernel_size=2) if self.pool else x


class Aisfx(Backbone):
    """aiSFX: 44.1 kHz mono audio -> one 512-d embedding per 100-frame (~2.3 s) block, hop 50 frames (~1.16 s).

    ``forward(wav)`` takes ``(batch, samples)`` float32 in [-1, 1] at 44.1 kHz and returns
    ``{"embedding": (batch, n_blocks, 512)}`` with ``n_blocks = max(1, (F - 100) // 50 + 1)`` for
    ``F = ceil(samples / 1024) + 1`` frames. ``min_samples`` (100353 samples, 2.276 s) is the shortest
    input giving one full 100-frame block; shorter inputs are zero-padded (see the module docstring:
    padding the audio and padding the spectrogram give the same result).
    """

    name = "aisfx"
    sample_rate = SAMPLE_RATE
    min_samples = (BLOCK_FRAMES - 2) * HOP + 1
    outputs = ("embedding",)
    window: torch.Tensor  # (N_FFT,) symmetric Hann, a buffer
    mel_weights: torch.Tensor  # (1025, 96) Essentia mel weights, a buffer

    def __init__(self) -> None:
        super().__init__()
        self.conv_block1 = _ConvBlock(1, WIDTHS[0], pool=True)
        self.conv_block2 = _ConvBlock(WIDTHS[0], WIDTHS[1], pool=True)
        self.conv_block3 = _ConvBlock(WIDTHS[1], WIDTHS[2], pool=True)
        self.conv_block4 = _ConvBlock(WIDTHS[2], WIDTHS[3], pool=False)
        # Derived front-end constants, kept out of the state_dict; float64 (float32 on MPS).
        self.register_buffer("window", torch.from_numpy(hann(N_FFT, periodic=False)), persistent=False)
        self.register_buffer("mel_weights", torch.from_numpy(essentia_mel_filterbank().T.copy()), persistent=False)

    def log_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """Essentia's ``log10(1 + 1e4 * mel power)`` spectrogram, ``(batch, frames, 96)`` time-major, float32.

        ``wav`` is ``(batch, samples)`` at 44.1 kHz; ``frames = ceil(samples / 1024) + 1`` (module docstring).
        """
        samples = wav.shape[-1]
        dtype = torch.float32 if wav.device.type == "mps" else torch.float64
        frames = n_frames(samples)
        padded = F.pad(wav.to(dtype), (HOP, frames * HOP - samples))  # (frames + 1) * HOP samples
        with torch.autocast(wav.device.type, enabled=False):  # never lowered by --precision fp16/bf16
            spectrum = torch.fft.rfft(padded.unfold(-1, N_FFT, HOP) * self.window.to(dtype))  # (batch, frames, 1025)
            power = spectrum.real.square() + spectrum.imag.square()
            bands = power @ self.mel_weights.to(dtype)  # (batch, frames, 96)
        return (torch.log1p(LOG_SCALE * bands) / np.log(10.0)).float()

    def embed_blocks(self, blocks: torch.Tensor) -> torch.Tensor:
        """512-d embeddings ``(n, 512)`` of normalised spectrogram blocks ``(n, 100, 96)`` (frames x bands)."""
        x = blocks.unsqueeze(1)  # (n, 1, 100, 96)
        for block in (self.conv_block1, self.conv_block2, self.conv_block3, self.conv_block4):
            x = block(x)  # -> (n, 512, 12, 12)
        return x.mean(dim=3).amax(dim=2)  # mean over bands, max over time

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"embedding": (batch, n_blocks, 512)}`` for ``wav`` ``(batch, samples)`` at 44.1 kHz."""
        spec = (self.log_mel(wav) - NORM_MIN) / (NORM_MAX - NORM_MIN)
        if spec.shape[1] < BLOCK_FRAMES:
            spec = F.pad(spec, (0, 0, 0, BLOCK_FRAMES - spec.shape[1]))
        blocks = spec.unfold(1, BLOCK_FRAMES, BLOCK_HOP).transpose(-1, -2)  # (batch, n_blocks, 100, 96)
        batch, count = blocks.shape[:2]
        flat = blocks.reshape(batch * count, BLOCK_FRAMES, N_MELS)
        emb = torch.cat([self.embed_blocks(chunk) for chunk in flat.split(BLOCKS_PER_PASS)])
        return {"embedding": emb.reshape(batch, count, EMBEDDING_DIM)}


def _embedding_state(loaded: object, path: Path) -> dict[str, torch.Tensor]:
    """The CNN's entries of a loaded aisfx checkpoint, ``embedding_net.`` prefix dropped, checked against ``Aisfx``.

    Raises a one-line WeightsError when the checkpoint is not a state_dict (or ``(state_dict, datasets)``
    tuple), holds keys other than the CNN's and the ``fc.*`` heads, or lacks any CNN entry or shape.
    """
    state = loaded[0] if isinstance(loaded, tuple) and len(loaded) == 2 else loaded
    if not isinstance(state, Mapping):
        raise WeightsError(f"aisfx checkpoint {path} holds a {type(state).__name__}, not a state_dict; {_FIX}")
    stray = {k: v for k, v in state.items() if not str(k).startswith((_PREFIX, _HEADS))}
    embedding = {str(k).removeprefix(_PREFIX): v for k, v in state.items() if str(k).startswith(_PREFIX)}
    check_layout(
        lambda: {_PREFIX + k: v for k, v in Aisfx().state_dict().items()},
        {_PREFIX + k: v for k, v in embedding.items()} | stray,
        f"aisfx checkpoint {path} does not match the aiSFX CNN",
        _FIX,
    )
    return embedding


def load_aisfx(checkpoint: str | None, device: str | torch.device) -> Aisfx:
    """aiSFX with the trained weights from ``checkpoint`` (default: the aisfx package's) on ``device``, eval mode."""
    path = resolve_checkpoint("aisfx", checkpoint)
    return with_weights(Aisfx(), _embedding_state(load_checkpoint(path), path), path, device)
