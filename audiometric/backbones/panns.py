"""PANNs Cnn14 (Kong et al. 2020, "PANNs: Large-Scale Pretrained Audio Neural Networks"), inference only.

The module tree mirrors the published checkpoints (``Cnn14_16k_mAP=0.438.pth``, ``Cnn14_mAP=0.431.pth``) key
for key, so their ``model`` state_dict loads with ``strict=True``: a DFT-as-Conv1d STFT
(``spectrogram_extractor.stft.conv_{real,imag}``), a Slaney mel matrix (``logmel_extractor.melW``), ``bn0``
over mel bins, six VGG-style conv blocks, ``fc1`` and ``fc_audioset``. Training-only parts of the original
(SpecAugment, mixup, dropout) hold no weights and are left out; dropout is the identity at inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiometric.backbones.base import Backbone, layout_problems
from audiometric.backbones.checkpoint import load_checkpoint
from audiometric.backbones.weights import WEIGHTS, resolve_checkpoint, sha256_file, strip_module_prefix
from audiometric.errors import WeightsError
from corruptions.dsp import hann, mel_filterbank_slaney

_CHANNELS = (1, 64, 128, 256, 512, 1024, 2048)  # conv block widths (Kong et al. 2020, Table I, "CNN14")
_EMBED_DIM = 2048
_PER_CLIP_BLOCKS = 3  # CPU: conv blocks run per clip before the rest run batched (see Cnn14.features)
_AMIN = 1e-10  # power floor before log10 (torchlibrosa power_to_db, ref=1.0, top_db=None)


@dataclass(kw_only=True, frozen=True)
class Cnn14Config:
    """Front-end and head settings of one Cnn14 checkpoint.

    ``window`` is both n_fft and the Hann window length, and ``hop`` the STFT hop, in samples at
    ``sample_rate`` Hz; ``fmin``/``fmax`` bound the ``mel_bins`` Slaney mel filters in Hz.
    """

    name: str
    sample_rate: int
    window: int
    hop: int
    mel_bins: int
    fmin: float
    fmax: float
    classes: int = 527

    @property
    def freq_bins(self) -> int:
        """One-sided STFT bins, ``window // 2 + 1``."""
        return self.window // 2 + 1


# Settings of the two released checkpoints (audioset_tagging_cnn README; audioldm_eval panns models.py).
CONFIGS: dict[str, Cnn14Config] = {
    "panns-cnn14-16k": Cnn14Config(
        name="panns-cnn14-16k", sample_rate=16000, window=512, hop=160, mel_bins=64, fmin=50.0, fmax=8000.0
    ),
    "panns-cnn14-32k": Cnn14Config(
        name="panns-cnn14-32k", sample_rate=32000, window=1024, hop=320, mel_bins=64, fmin=50.0, fmax=14000.0
    ),
}


def num_frames(num_samples: int, config: Cnn14Config) -> int:
    """STFT frames of a centred (reflect-padded by ``window // 2`` each side) signal of ``num_samples``."""
    return (num_samples + 2 * (config.window // 2) - config.window) // config.hop + 1


def cnn14_flops(num_samples: int, config: Cnn14Config | str) -> int:
    """Floating-point operations of one clip of ``num_samples`` samples through Cnn14, counted analytically.

    Counts every multiply-add of the matrix products (STFT convolutions, mel projection, the twelve 3x3
    convolutions, ``fc1``, ``fc_audioset``) as 2 FLOPs, the convention of the PANNs paper's "multi-adds";
    batch norm, ReLU, pooling and the log are elementwise and left out (< 0.1 % of the total).
    """
    cfg = CONFIGS[config] if isinstance(config, str) else config
    frames = num_frames(num_samples, cfg)
    macs = 2 * cfg.freq_bins * cfg.window * frames  # real and imaginary DFT kernels per frame
    macs += frames * cfg.freq_bins * cfg.mel_bins  # power spectrum @ melW
    height, width = frames, cfg.mel_bins
    for block, (c_in, c_out) in enumerate(zip(_CHANNELS, _CHANNELS[1:])):
        macs += height * width * 9 * (c_in * c_out + c_out * c_out)  # conv1 then conv2, 3x3, "same" padding
        if block < len(_CHANNELS) - 2:  # blocks 1-5 end with a 2x2 average pool (floor)
            height, width = height // 2, width // 2
    macs += _EMBED_DIM * _EMBED_DIM + _EMBED_DIM * cfg.classes
    return 2 * macs


def _dft_kernels(window: int) -> tuple[np.ndarray, np.ndarray]:
    """Windowed real and imaginary DFT kernels, each ``(window // 2 + 1, 1, window)``, float64.

    Row k is ``hann[n] * exp(-2πi k n / N)`` split into cos and -sin parts (torchlibrosa ``STFT``), so
    one Conv1d with stride ``hop`` computes the one-sided STFT.
    """
    bins = np.arange(window // 2 + 1)[:, None]
    phase = 2.0 * np.pi * ((bins * np.arange(window)[None, :]) % window) / window
    win = hann(window, periodic=True)[None, :]
    return (win * np.cos(phase))[:, None, :], (-win * np.sin(phase))[:, None, :]


class _Stft(nn.Module):
    """Frozen Conv1d DFT kernels (state_dict ``conv_real.weight``, ``conv_imag.weight``)."""

    def __init__(self, window: int, hop: int) -> None:
        super().__init__()
        bins = window // 2 + 1
        self.conv_real = nn.Conv1d(1, bins, window, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, bins, window, stride=hop, bias=False)
        real, imag = _dft_kernels(window)
        with torch.no_grad():
            self.conv_real.weight.copy_(torch.from_numpy(real))
            self.conv_imag.weight.copy_(torch.from_numpy(imag))
        self.requires_grad_(False)


class _Spectrogram(nn.Module):
    """Holds the STFT under the checkpoint's ``spectrogram_extractor.stft`` prefix."""

    def __init__(self, window: int, hop: int) -> None:
        super().__init__()
        self.stft = _Stft(window, hop)


class _LogMel(nn.Module):
    """Frozen Slaney mel matrix ``melW`` of shape ``(freq_bins, mel_bins)``."""

    def __init__(self, cfg: Cnn14Config) -> None:
        super().__init__()
        mel = mel_filterbank_slaney(cfg.sample_rate, cfg.window, cfg.mel_bins, cfg.fmin, cfg.fmax)
        self.melW = nn.Parameter(torch.from_numpy(mel.T.astype(np.float32)), requires_grad=False)


class _ConvBlock(nn.Module):
    """Two (3x3 conv without bias -> batch norm -> ReLU) layers (Kong et al. 2020, Sec. III-A)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        nn.init.xavier_uniform_(self.conv1.weight)
        nn.init.xavier_uniform_(self.conv2.weight)

    def forward(self, x: torch.Tensor, pool: bool) -> torch.Tensor:
        """``(batch, c_in, frames, mels)`` -> ``(batch, c_out, frames // 2, mels // 2)`` (halved if ``pool``)."""
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        x = F.relu(self.bn2(self.conv2(x)), inplace=True)
        return F.avg_pool2d(x, 2) if pool else x

    def sources(self) -> list[torch.Tensor]:
        """Every tensor the folded weights of :meth:`folded` depend on."""
        return [
            t
            for layer in (self.conv1, self.bn1, self.conv2, self.bn2)
            for t in layer.state_dict().values()
            if t.is_floating_point()
        ]

    @torch.no_grad()
    def folded(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight, bias) of each conv with its eval-mode batch norm folded in, weights channels-last.

        BN(conv(x)) = s * (W x - mean) + beta with s = gamma / sqrt(var + eps), i.e. a conv with weight
        ``s W`` and bias ``beta - s mean`` (Ioffe & Szegedy 2015, eq. in Alg. 1, applied at inference).
        """
        out = []
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
            mean, var = bn.running_mean, bn.running_var
            assert mean is not None and var is not None  # Cnn14's batch norms track running statistics
            scale = bn.weight * torch.rsqrt(var + bn.eps)
            weight = (conv.weight * scale[:, None, None, None]).contiguous(memory_format=torch.channels_last)
            out.append((weight, bn.bias - mean * scale))
        return out


class Cnn14(Backbone):
    """Cnn14 clip embedding (2048-d, after ``fc1`` + ReLU) and AudioSet logits (pre-sigmoid).

    Subclasses fix :attr:`config`. A fresh instance builds its STFT kernels and mel matrix from the
    formulas and Xavier-initialises the rest, as the original does; a checkpoint overwrites all of it.
    """

    config: ClassVar[Cnn14Config]
    min_samples: ClassVar[int] = 32000  # audioldm_eval pads every clip to >= 32000 samples (pad_short_audio)
    outputs: ClassVar[tuple[str, ...]] = ("embedding", "logits")

    def __init__(self) -> None:
        super().__init__()
        cfg = self.config
        self.spectrogram_extractor = _Spectrogram(cfg.window, cfg.hop)
        self.logmel_extractor = _LogMel(cfg)
        self.bn0 = nn.BatchNorm2d(cfg.mel_bins)
        for i, (c_in, c_out) in enumerate(zip(_CHANNELS, _CHANNELS[1:]), start=1):
            self.add_module(f"conv_block{i}", _ConvBlock(c_in, c_out))
        self.fc1 = nn.Linear(_EMBED_DIM, _EMBED_DIM)
        self.fc_audioset = nn.Linear(_EMBED_DIM, cfg.classes)
        for fc in (self.fc1, self.fc_audioset):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.zeros_(fc.bias)
        self._blocks = [getattr(self, f"conv_block{i}") for i in range(1, len(_CHANNELS))]
        self._folded: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
        self._folded_key: tuple[tuple[int, int], ...] = ()
        self.register_load_state_dict_post_hook(_forget_folded)

    def logmel(self, wav: torch.Tensor) -> torch.Tensor:
        """Log-mel power in dB (ref 1.0, floor 1e-10), ``(batch, samples)`` -> ``(batch, frames, mel_bins)``.

        Float32 under any ``--precision``: autocast is off here (the DFT and mel products lose ~1e-2 in bf16)."""
        stft = self.spectrogram_extractor.stft
        half = self.config.window // 2
        with torch.autocast(wav.device.type, enabled=False):
            padded = F.pad(wav[:, None, :], (half, half), mode="reflect")  # centre frames (librosa center=True)
            kernels = torch.cat((stft.conv_real.weight, stft.conv_imag.weight))  # both DFT convs in one pass
            spec = F.conv1d(padded, kernels, stride=self.config.hop)  # (batch, 2 * bins, frames)
            real, imag = spec.split(self.config.freq_bins, dim=1)
            power = real.square() + imag.square()
            mel = torch.matmul(power.transpose(1, 2), self.logmel_extractor.melW)  # (batch, frames, mels)
            return 10.0 * torch.log10(mel.clamp_min(_AMIN))  # librosa power_to_db with ref=1.0, top_db=None

    def _folded_weights(self) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """Per block, the BN-folded conv weights, rebuilt whenever a source tensor moved or changed.

        A change is a new storage (``.to``, ``assign``), a bumped version counter (any in-place write) or
        a ``load_state_dict`` (the only write to inference tensors, which keep no version counter).
        """
        key = tuple(
            (t.data_ptr(), -1 if t.is_inference() else t._version) for block in self._blocks for t in block.sources()
        )
        if key != self._folded_key:
            self._folded = [block.folded() for block in self._blocks]
            self._folded_key = key
        return self._folded

    def features(self, logmel: torch.Tensor) -> torch.Tensor:
        """Conv stack on ``(batch, frames, mel_bins)`` log-mels -> ``(batch, 2048, frames // 32, mel_bins // 32)``.

        Without autograd in eval mode (``torch.inference_mode``/``no_grad``), each batch norm is folded
        into its conv and activations are channels-last: the same function, 15-30 % faster on a 2-core CPU.
        """
        x = self.bn0(logmel.transpose(1, 2)[..., None])  # normalise each mel bin: (batch, mels, frames, 1)
        x = x[..., 0].transpose(1, 2)[:, None]  # (batch, 1, frames, mels)
        last = len(self._blocks) - 1
        if self.training or torch.is_grad_enabled():
            for i, block in enumerate(self._blocks):
                x = block(x, pool=i < last)
            return x
        folded = self._folded_weights()
        # On CPU the first blocks (large activations) run fastest one clip at a time and the last ones (small
        # activations, big weights) on the whole batch; measured in benchmarks/run.py (4.7 -> 6.3 clips/s).
        split = _PER_CLIP_BLOCKS if x.device.type == "cpu" else 0
        if split:
            x = torch.cat([self._blocks_run(clip, folded[:split], last) for clip in x.split(1)])
        return self._blocks_run(x, folded[split:], last - split)

    @staticmethod
    def _blocks_run(x: torch.Tensor, blocks: list[list[tuple[torch.Tensor, torch.Tensor]]], last: int) -> torch.Tensor:
        """Folded conv blocks on channels-last ``x``; every block but number ``last`` ends in a 2x2 average pool."""
        x = x.contiguous(memory_format=torch.channels_last)
        for i, layers in enumerate(blocks):
            for weight, bias in layers:
                x = F.relu(F.conv2d(x, weight, bias, padding=1), inplace=True)
            if i != last:
                x = F.avg_pool2d(x, 2)
        return x

    def head(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip embedding ``(batch, 2048)`` and logits ``(batch, classes)`` from :meth:`features` output."""
        x = features.mean(dim=3)  # average over mel axis -> (batch, 2048, frames')
        x = x.amax(dim=2) + x.mean(dim=2)  # max + mean pooling over time (Kong et al. 2020, Sec. III-A)
        embedding = F.relu(self.fc1(x))
        return embedding, self.fc_audioset(embedding)

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """``wav`` ``(batch, samples)`` float32 at :attr:`sample_rate` Hz -> ``{"embedding": (batch, 1, 2048),
        "logits": (batch, 1, classes)}``."""
        embedding, logits = self.head(self.features(self.logmel(wav)))
        return {"embedding": embedding[:, None], "logits": logits[:, None]}


def _forget_folded(model: Cnn14, _incompatible_keys: object) -> None:
    """``load_state_dict`` post-hook: the folded conv weights are stale."""
    model._folded_key = ()


class Cnn14At16k(Cnn14):
    """Cnn14 trained at 16 kHz (``Cnn14_16k_mAP=0.438.pth``)."""

    name = "panns-cnn14-16k"
    config = CONFIGS[name]
    sample_rate = config.sample_rate


class Cnn14At32k(Cnn14):
    """Cnn14 trained at 32 kHz (``Cnn14_mAP=0.431.pth``)."""

    name = "panns-cnn14-32k"
    config = CONFIGS[name]
    sample_rate = config.sample_rate


def _state_dict_of(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: ``obj["model"]`` or ``obj`` itself, ``module.`` prefixes removed."""
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(
            f"{path}: not a Cnn14 checkpoint (expected a state_dict or a dict with a 'model' "
            "state_dict); pass the PANNs .pth file"
        )
    return strip_module_prefix(state)


def _check_layout(model: Cnn14, state: dict[str, torch.Tensor], path: Path) -> None:
    """Raise a one-line WeightsError naming the first missing, unexpected or wrongly-shaped keys."""
    problems = layout_problems(model.state_dict(), state)
    if problems:
        raise WeightsError(
            f"{path}: does not match the {model.name} layout ({'; '.join(problems)}); use the "
            f"published {WEIGHTS[model.name].filename} (--checkpoint {model.name}=PATH)"
        )


def _load(cls: type[Cnn14], checkpoint: str | None, device: torch.device | str) -> Cnn14:
    """Build ``cls``, load its checkpoint (``checkpoint`` overrides the default file), move to ``device``."""
    path = Path(resolve_checkpoint(cls.name, checkpoint))
    state = _state_dict_of(load_checkpoint(path), path)
    with torch.device("meta"):  # shapes only: every tensor comes from the checkpoint, so skip the init
        model = cls()
    _check_layout(model, state, path)
    model.load_state_dict(state, strict=True, assign=True)
    model.checkpoint_sha256 = sha256_file(path)
    return model.to(device=device, dtype=torch.float32).eval()


def load_cnn14_16k(checkpoint: str | None, device: torch.device | str) -> Cnn14:
    """Cnn14 at 16 kHz with the PANNs weights, in eval mode on ``device``."""
    return _load(Cnn14At16k, checkpoint, device)


def load_cnn14_32k(checkpoint: str | None, device: torch.device | str) -> Cnn14:
    """Cnn14 at 32 kHz with the PANNs weights, in eval mode on ``device``."""
    return _load(Cnn14At32k, checkpoint, device)
