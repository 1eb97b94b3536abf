"""PaSST (Koutini et al. 2022, "Efficient Training of Audio Transformers with Patchout"), inference only.

The AudioSet model that av-benchmark (the harness behind MMAudio) reports FD, KL and IS on:
``passt_s_swa_p16_128_ap476``, a DeiT-B/16 distilled transformer over 128-bin log-mels of 10 s at 32 kHz,
with 16x16 patches at stride 10 (12 x 99 patches), separate frequency and time position embeddings
(Sec. 2.1), a class and a distillation token, 527 AudioSet logits. The module tree mirrors the official
``passt-s-f128-p16-s10-ap.476-swa.pt`` key for key (``cls_token``, ``patch_embed.proj``, ``blocks.N.attn.qkv``,
``head.1``, ...), so that file loads with ``strict=True``, unchanged. Patchout and dropout only act in
training and are left out; the front end is ``passt_frontend.PasstMel``.

Outputs, as av-benchmark takes them from hear21passt's wrapper (``mode="all"``): ``embedding`` is the mean
of the class and distillation tokens after the final layer norm (768-d), ``logits`` is ``head`` on that
mean (pre-sigmoid; ``head_dist`` is in the checkpoint but unused at inference, as in the original).
Each clip is cut or zero-padded to exactly 10 s first, as av-benchmark's ``extract.py`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from audiometric.backbones.base import Backbone, layout_problems
from audiometric.backbones.checkpoint import load_checkpoint
from audiometric.backbones.passt_frontend import N_MELS, SAMPLE_RATE, PasstMel
from audiometric.backbones.weights import WEIGHTS, resolve_checkpoint, sha256_file
from audiometric.errors import WeightsError

CLIP_SAMPLES = 10 * SAMPLE_RATE  # av-benchmark cuts or pads every clip to 320000 samples (10 s at 32 kHz)
HEAD_DIM = 64  # the official model has 12 heads of 64 over 768 dims; heads are not stored in a checkpoint
_BLOCK_EPS = 1e-6  # LayerNorm eps of the blocks and final norm (timm ViT default); the head's keeps 1e-5


@dataclass(frozen=True, kw_only=True)
class PasstConfig:
    """Shape of a PaSST network; the defaults are the official AudioSet model (patch and stride in mel bins
    and frames, ``freq_patches`` x ``time_patches`` the patch grid of a 128 x 998 input)."""

    embed_dim: int = 768
    depth: int = 12
    mlp_dim: int = 3072
    classes: int = 527
    patch: int = 16
    stride: int = 10
    freq_patches: int = 12  # 128 // 10, hear21passt's PatchEmbed.grid_size
    time_patches: int = 99  # 998 // 10

    @property
    def heads(self) -> int:
        """Attention heads: ``embed_dim // 64``."""
        return max(1, self.embed_dim // HEAD_DIM)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor], path: Path) -> PasstConfig:
        """The config whose layout ``state`` has (sizes read off the tensors; stride 10 as in the file name)."""
        try:
            embed_dim = state["cls_token"].shape[-1]
            depth = len({key.split(".")[1] for key in state if key.startswith("blocks.")})
            config = cls(
                embed_dim=embed_dim,
                depth=depth,
                mlp_dim=state["blocks.0.mlp.fc1.weight"].shape[0],
                classes=state["head.1.weight"].shape[0],
                patch=state["patch_embed.proj.weight"].shape[-1],
                freq_patches=state["freq_new_pos_embed"].shape[2],
                time_patches=state["time_new_pos_embed"].shape[3],
            )
        except (KeyError, IndexError, AttributeError) as err:
            raise WeightsError(
                f"{path}: not a PaSST checkpoint (no {err} entry); pass the official "
                f"{WEIGHTS['passt'].filename} (--checkpoint passt=PATH)"
            ) from None
        if (N_MELS - config.patch) // config.stride + 1 != config.freq_patches:
            raise WeightsError(
                f"{path}: a PaSST with {config.freq_patches} frequency patches of {config.patch} does not fit "
                f"{N_MELS} mel bins at stride {config.stride}; use the official {WEIGHTS['passt'].filename}"
            )
        return config


class _PatchEmbed(nn.Module):
    """Overlapping patches: one strided conv, ``(batch, 1, mels, frames)`` -> ``(batch, dim, F, T)``."""

    def __init__(self, config: PasstConfig) -> None:
        super().__init__()
        self.proj = nn.Conv2d(1, config.embed_dim, config.patch, stride=config.stride)


class _Attention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection (Vaswani et al. 2017, Sec. 3.2.2)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, tokens, dim)`` -> same shape; softmax(q k^T / sqrt(head_dim)) v per head."""
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (batch, heads, tokens, head_dim)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class _Mlp(nn.Module):
    """``fc1`` -> exact GELU -> ``fc2`` (Dosovitskiy et al. 2021, Eq. 3)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)) (Dosovitskiy et al. 2021, Eq. 2-3)."""

    def __init__(self, config: PasstConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.embed_dim, eps=_BLOCK_EPS)
        self.attn = _Attention(config.embed_dim, config.heads)
        self.norm2 = nn.LayerNorm(config.embed_dim, eps=_BLOCK_EPS)
        self.mlp = _Mlp(config.embed_dim, config.mlp_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Passt(Backbone):
    """PaSST AudioSet tagger: 768-d clip embedding and 527 logits from 10 s of 32 kHz audio.

    A fresh instance has small random weights (normal, std 0.02; layer norms at identity); the official
    checkpoint, or any file of the same layout (:meth:`PasstConfig.from_state_dict`), overwrites them.
    """

    name = "passt"
    sample_rate = SAMPLE_RATE
    min_samples: ClassVar[int] = CLIP_SAMPLES
    outputs: ClassVar[tuple[str, ...]] = ("embedding", "logits")

    def __init__(self, config: PasstConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or PasstConfig()
        dim = cfg.embed_dim
        self.mel = PasstMel()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, dim))  # position of the two tokens (Sec. 2.1)
        self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, dim, cfg.freq_patches, 1))
        self.time_new_pos_embed = nn.Parameter(torch.zeros(1, dim, 1, cfg.time_patches))
        self.patch_embed = _PatchEmbed(cfg)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(dim, eps=_BLOCK_EPS)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, cfg.classes))
        self.head_dist = nn.Linear(dim, cfg.classes)  # the distillation head: stored, unused at inference
        for param in self.parameters():
            if param.dim() > 1 and not param.is_meta:  # meta: no values (and normal_ there imports dynamo)
                nn.init.normal_(param, std=0.02)

    def tokens(self, logmel: torch.Tensor) -> torch.Tensor:
        """Patch tokens with position embeddings, ``(batch, 128, frames)`` -> ``(batch, 2 + F * T, dim)``.

        Frequency-major order (all times of the lowest band first). Inputs shorter than 10 s use the first
        ``T`` time embeddings, as hear21passt does; longer ones are an error (``forward`` cuts them).
        """
        x = logmel.to(self.cls_token.dtype)[:, None]
        x = self.patch_embed.proj(x)  # (batch, dim, F, T)
        steps = x.shape[-1]
        if steps > self.config.time_patches:
            raise ValueError(f"{steps} time patches, more than the {self.config.time_patches} of 10 s")
        x = x + self.time_new_pos_embed[..., :steps] + self.freq_new_pos_embed
        x = x.flatten(2).transpose(1, 2)
        batch = x.shape[0]
        cls = (self.cls_token + self.new_pos_embed[:, :1]).expand(batch, -1, -1)
        dist = (self.dist_token + self.new_pos_embed[:, 1:]).expand(batch, -1, -1)
        return torch.cat((cls, dist, x), dim=1)

    def classify(self, logmel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedding ``(batch, dim)`` and logits ``(batch, classes)`` of normalised log-mels ``(batch, 128, frames)``."""
        x = self.tokens(logmel)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        embedding = (x[:, 0] + x[:, 1]) / 2  # class and distillation tokens averaged (hear21passt PaSST.forward)
        return embedding, self.head(embedding)

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """``wav`` ``(batch, samples)`` at 32 kHz -> ``{"embedding": (batch, 1, dim), "logits": (batch, 1, classes)}``.

        Clips are cut to their first 10 s, or zero-padded to 10 s, first (av-benchmark ``extract.py``).
        """
        wav = wav[:, :CLIP_SAMPLES]
        if wav.shape[-1] < CLIP_SAMPLES:
            wav = F.pad(wav, (0, CLIP_SAMPLES - wav.shape[-1]))
        embedding, logits = self.classify(self.mel(wav))
        return {"embedding": embedding.float()[:, None], "logits": logits.float()[:, None]}


def _state_dict_of(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The official file is a plain state_dict; anything else is refused with a one-line error."""
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(
            f"{path}: not a PaSST checkpoint (expected a plain state_dict); pass the official "
            f"{WEIGHTS['passt'].filename} (--checkpoint passt=PATH)"
        )
    return obj


def load_passt(checkpoint: str | None, device: torch.device | str) -> Passt:
    """PaSST with the official AudioSet weights (or ``checkpoint``, any file in that layout), eval mode."""
    path = Path(resolve_checkpoint("passt", checkpoint))
    state = _state_dict_of(load_checkpoint(path), path)
    config = PasstConfig.from_state_dict(state, path)
    with torch.device("meta"):  # shapes only: every weight comes from the checkpoint (the front end is on CPU)
        model = Passt(config)
    problems = layout_problems(model.state_dict(), state)
    if problems:
        raise WeightsError(
            f"{path}: does not match the PaSST layout ({'; '.join(problems)}); use the official "
            f"{WEIGHTS['passt'].filename} (--checkpoint passt=PATH)"
        )
    model.load_state_dict(state, strict=True, assign=True)
    model.checkpoint_sha256 = sha256_file(path)
    return model.to(device=device, dtype=torch.float32).eval()
