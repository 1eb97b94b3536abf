"""Frozen-encoder outputs per training clip, computed once and cached by content.

Per clip: the VAE posterior's mean and std of the clip's log-mel (a fresh latent is sampled from them at
every step) and the CLAP conditioning vector (text tower on the clip's prompt, or audio tower on the clip).
Keys follow :mod:`audiometric.extraction.cache`: sha256 of (input sha256, encoder name, encoder weights digest,
settings), so a changed file, model or setting misses and nothing stale is ever read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from audiometric.backbones.weights import cache_dir
from audiometric.extraction.cache import EmbeddingCache, entry_key
from audiometric.ldm import mel

if TYPE_CHECKING:
    from diffusers import AutoencoderKL

#: Bump when the numerics feeding cached features change.
FORMAT = 1


@dataclass(kw_only=True)
class Features:
    """Training inputs of N clips: posterior ``mean``/``std`` ``(N, C, T/f, 64/f)``, ``cond`` ``(N, D)``."""

    clip_ids: list[str]
    mean: torch.Tensor
    std: torch.Tensor
    cond: torch.Tensor
    empty: torch.Tensor
    hits: int = 0
    misses: int = 0


def module_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's state (names, dtypes, shapes and bytes of every tensor)."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def feature_cache() -> EmbeddingCache:
    """Cache of latents and CLAP vectors under ``<cache_dir>/ldm-features``."""
    return EmbeddingCache(cache_dir() / "ldm-features")


@torch.no_grad()
def encode_latents(
    vae: AutoencoderKL, waves: torch.Tensor, duration: float, n_mels: int = mel.N_MELS
) -> tuple[torch.Tensor, torch.Tensor]:
    """VAE posterior ``(mean, std)`` of fitted 16 kHz waveforms ``(B, samples)``: each ``(B, C, T/f, n_mels/f)``."""
    logmel = mel.log_mel(waves, duration, n_mels)[:, None]  # (B, 1, frames, n_mels), as AudioLDM feeds its VAE
    dist = vae.encode(logmel.to(vae.dtype)).latent_dist  # type: ignore[attr-defined]  # hidden by diffusers' typing
    return dist.mean.float(), dist.std.float()


def encode(items: list, components, cfg, device: torch.device, clap_audio=None, progress: bool = True) -> Features:
    """Features of ``items`` (``datasets.Item``) for the run ``cfg`` (``condition``, ``duration``, ``seed``,
    ``encode_batch_size``), reading the cache first and encoding only the misses."""
    from audiometric.ldm.clap import empty_embedding

    encoder = _Encoder(
        components=components,
        condition=cfg.condition,
        duration=cfg.duration,
        seed=cfg.seed,
        device=device,
        clap_audio=clap_audio,
    )
    rows: list[dict] = []
    hits = 0
    bar = tqdm(total=len(items), desc="encoding clips (VAE, CLAP)", unit="clip", disable=not progress)
    for start in range(0, len(items), cfg.encode_batch_size):
        chunk = items[start : start + cfg.encode_batch_size]
        found, chunk_hits = encoder.chunk(chunk)
        rows += found
        hits += chunk_hits
        bar.update(len(chunk))
    bar.close()
    empty = empty_embedding(components).float().reshape(-1).cpu().clone()  # a plain (not inference) tensor
    stack = lambda name: torch.from_numpy(np.stack([r[name] for r in rows]))  # noqa: E731
    ids = [it.clip_id for it in items]
    return Features(
        clip_ids=ids,
        mean=stack("mean"),
        std=stack("std"),
        cond=stack("cond"),
        empty=empty,
        hits=hits,
        misses=len(items) - hits,
    )


class _Encoder:
    """The frozen encoders of one run, their digests and the cache: one chunk of clips at a time."""

    def __init__(self, *, components, condition: str, duration: float, seed: int, device: torch.device, clap_audio):
        self.components, self.condition, self.duration, self.seed = components, condition, duration, seed
        self.device, self.clap_audio, self.cache = device, clap_audio, feature_cache()
        self.vae_digest = module_digest(components.vae)
        self.cond_digest = module_digest(components.text_encoder if condition == "text" else clap_audio.model)
        # the crop offset (below), not the seed, enters the key: runs with other seeds share every uncropped clip
        self.settings = {
            "duration": duration,
            "mel": [mel.SAMPLE_RATE, mel.N_FFT, mel.HOP, mel.WIN, components.n_mels, mel.FMIN, mel.FMAX],
            "format": FORMAT,
            "condition": condition,
            "cond_digest": self.cond_digest,
        }

    def key(self, item, sha: str, offset: int) -> str:
        """The cache key of one clip: its bytes, the crop, the conditioning input and the encoders."""
        cond_input = hashlib.sha256(item.prompt.encode()).hexdigest() if self.condition == "text" else sha
        settings = {**self.settings, "offset": offset, "cond_input": cond_input}
        return entry_key(sha, "audioldm-features", self.vae_digest, settings)

    def chunk(self, items: list) -> tuple[list[dict], int]:
        """Each item's features (cached or encoded now, then cached) and the number of cache hits."""
        from audiometric.ldm.clap import audio_embeddings, text_embeddings

        waves, keys = [], []
        for item in items:
            wave, sha, offset = mel.clip_for_training(item.path, self.duration, self.seed)
            waves.append(wave)
            keys.append(self.key(item, sha, offset))
        rows = [self.cache.get(key) for key in keys]
        missing = [j for j, row in enumerate(rows) if row is None]
        if missing:
            batch = torch.from_numpy(np.stack([waves[j] for j in missing])).to(self.device)
            means, stds = encode_latents(self.components.vae, batch, self.duration, self.components.n_mels)
            if self.condition == "text":
                conds = text_embeddings(self.components, [items[j].prompt for j in missing])
            else:
                conds = audio_embeddings(self.clap_audio, [waves[j] for j in missing], mel.SAMPLE_RATE)
            conds = conds.float().cpu()
            for k, j in enumerate(missing):
                row = {"mean": means[k].cpu().numpy(), "std": stds[k].cpu().numpy(), "cond": conds[k].numpy()}
                self.cache.put(keys[j], row)
                rows[j] = row
        return [row for row in rows if row is not None], len(items) - len(missing)
