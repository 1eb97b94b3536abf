"""Frozen-encoder outputs per training clip, computed once and cached by content.

Per clip: the VAE posterior's mean and std of the clip's log-mel (a fresh latent is sampled from them at
every step) and the CLAP conditioning vector (text tower on the clip's prompt, or audio tower on the clip).
Keys follow :mod:`audiometric.extraction.cache`: sha256 of (input sha256, encoder name, encoder weights digest,
settings), so a changed file, model or setting misses and nothing stale is ever read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from audiometric.backbones.weights import cache_dir
from audiometric.extraction.cache import EmbeddingCache, entry_key
from audiometric.ldm import mel

#: Bump when the numerics feeding cached features change.
FORMAT = 1


@dataclass
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
    vae: torch.nn.Module, waves: torch.Tensor, duration: float, n_mels: int = mel.N_MELS
) -> tuple[torch.Tensor, torch.Tensor]:
    """VAE posterior ``(mean, std)`` of fitted 16 kHz waveforms ``(B, samples)``: each ``(B, C, T/f, n_mels/f)``."""
    logmel = mel.log_mel(waves, duration, n_mels)[:, None]  # (B, 1, frames, n_mels), as AudioLDM feeds its VAE
    dist = vae.encode(logmel.to(vae.dtype)).latent_dist
    return dist.mean.float(), dist.std.float()


def encode(
    items: list,
    components,
    condition: str,
    duration: float,
    seed: int,
    device: torch.device,
    clap_audio=None,
    batch_size: int = 8,
    progress: bool = True,
) -> Features:
    """Features of ``items`` (``datasets.Item``), reading the cache first and encoding only the misses."""
    from audiometric.ldm.clap import audio_embeddings, empty_embedding, text_embeddings

    cache = feature_cache()
    vae_digest = module_digest(components.vae)
    cond_digest = module_digest(components.text_encoder if condition == "text" else clap_audio.model)
    n_mels = components.n_mels
    # the crop offset (below), not the seed, enters the key: runs with other seeds share every uncropped clip
    settings = {
        "duration": duration,
        "mel": [mel.SAMPLE_RATE, mel.N_FFT, mel.HOP, mel.WIN, n_mels, mel.FMIN, mel.FMAX],
        "format": FORMAT,
    }
    rows: list[dict | None] = [None] * len(items)
    hits = misses = 0
    todo = list(range(len(items)))
    bar = tqdm(total=len(items), desc="encoding clips (VAE, CLAP)", unit="clip", disable=not progress)
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        waves, keys = [], []
        for i in chunk:
            wave, sha, offset = mel.clip_for_training(items[i].path, duration, seed)
            cond_input = hashlib.sha256(items[i].prompt.encode()).hexdigest() if condition == "text" else sha
            key = entry_key(
                sha,
                "audioldm-features",
                vae_digest,
                {
                    **settings,
                    "offset": offset,
                    "condition": condition,
                    "cond_input": cond_input,
                    "cond_digest": cond_digest,
                },
            )
            waves.append(wave)
            keys.append(key)
        missing = []
        for j, (i, key) in enumerate(zip(chunk, keys)):
            rows[i] = cache.get(key)
            if rows[i] is None:
                missing.append(j)
        hits += len(chunk) - len(missing)
        misses += len(missing)
        if missing:
            batch = torch.from_numpy(np.stack([waves[j] for j in missing])).to(device)
            means, stds = encode_latents(components.vae, batch, duration, n_mels)
            if condition == "text":
                conds = text_embeddings(components, [items[chunk[j]].prompt for j in missing])
            else:
                conds = audio_embeddings(clap_audio, [waves[j] for j in missing], mel.SAMPLE_RATE)
            conds = conds.float().cpu()
            for k, j in enumerate(missing):
                row = {"mean": means[k].cpu().numpy(), "std": stds[k].cpu().numpy(), "cond": conds[k].numpy()}
                cache.put(keys[j], row)
                rows[chunk[j]] = row
        bar.update(len(chunk))
    bar.close()
    empty = empty_embedding(components).float().reshape(-1).cpu().clone()  # a plain (not inference) tensor
    stack = lambda name: torch.from_numpy(np.stack([r[name] for r in rows]))  # noqa: E731
    return Features([it.clip_id for it in items], stack("mean"), stack("std"), stack("cond"), empty, hits, misses)
