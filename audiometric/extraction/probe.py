"""The cheap look at a file: hash it (streamed) and collect the backbone outputs the cache already holds.

An :class:`Item` is what one file becomes before the backbones run: its metadata, its cached outputs and,
once decoded (``loading.Files``), the waves the missing backbones need. No torch is imported here, so a
fully cached run never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audiometric.audio.decode import header, sha256_of
from audiometric.audio.preprocess import Preprocess
from audiometric.extraction.cache import EmbeddingCache, entry_key

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class CacheKey:
    """What keys a backbone's cached outputs besides the audio bytes: its weights' sha256 and its settings."""

    checkpoint: str | None
    settings: dict[str, Any]

    def entry(self, audio_sha256: str, backbone: str) -> str:
        """The cache entry of one file's outputs from ``backbone``."""
        return entry_key(audio_sha256, backbone, self.checkpoint, self.settings)


@dataclass(kw_only=True)
class Item:
    """One file on its way to the backbones (``frames`` at ``sample_rate`` Hz; ``error``: why it is skipped)."""

    index: int
    path: str
    sha256: str = ""
    sample_rate: int = 0
    channels: int = 0
    frames: int = 0
    cached: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: (view, backbone rate) -> (mono wave, the rate it is at: the backbone's, or the file's when the
    #: main process resamples it on the device)
    waves: dict[tuple[Preprocess, int], tuple[torch.Tensor, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    float_pcm: bool = False  # IEEE float samples (audioldm_eval's int16 read would quantise them)
    error: str = ""


def probe(index: int, path: Path, keys: dict[str, CacheKey], cache: EmbeddingCache) -> Item:
    """Hash one file (streamed) and collect its cached outputs; header metadata when all are cached."""
    item = Item(index=index, path=str(path))
    item.sha256 = sha256_of(path)
    for name, key in keys.items():
        hit = cache.get(key.entry(item.sha256, name))
        if hit is not None:
            item.cached[name] = hit
    if len(item.cached) == len(keys):
        info = header(path)
        item.sample_rate, item.channels, item.frames = info.sample_rate, info.channels, info.frames
        item.float_pcm = info.float_pcm
    return item
