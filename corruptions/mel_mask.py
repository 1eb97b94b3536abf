"""Masking on the mel grid: time masks, mel-band masks, or random time-frequency patches.

``severity`` is the fraction of the mel plane ``(n_mels, frames)`` that is masked; the number of
masked cells is ``round(severity * cells)`` exactly (so the achieved fraction is within half a cell,
or half a row/column in the ``time``/``freq`` modes, of the request). Masked cells get power gain 0
(silence) and the waveform is resynthesised by :func:`corruptions._mel.apply_mel_gains`.
"""

from __future__ import annotations

import numpy as np

from ._audio import as_channels, restore
from ._mel import apply_mel_gains, check_length, n_frames
from .errors import CorruptionError
from .mel_noise import MEL_PARAMS, mel_config
from .registry import Corruption, Param

MODES = ("time", "freq", "patch")


def _blocks(rng: np.random.Generator, length: int, count: int, max_width: int) -> list[list[int]]:
    """``[start, width]`` blocks that cover exactly ``count`` of ``length`` cells, each at most ``max_width``."""
    if count == 0:
        return []
    n_blocks = -(-count // max_width)
    widths = np.full(n_blocks, max_width)
    for _ in range(n_blocks * max_width - count):
        shrinkable = np.flatnonzero(widths > 1)
        widths[rng.choice(shrinkable)] -= 1
    free = length - count
    separators = min(n_blocks - 1, free)  # keep blocks apart by at least one cell where there is room
    slack = free - separators
    bars = np.sort(rng.choice(slack + n_blocks, size=n_blocks, replace=False))
    gaps = np.diff(np.concatenate([[-1], bars])) - 1  # gap before each block, from stars and bars
    blocks, pos = [], 0
    for i, (gap, width) in enumerate(zip(gaps, widths)):
        pos += int(gap) + (1 if 0 < i <= separators else 0)
        blocks.append([pos, int(width)])
        pos += int(width)
    return blocks


def _patches(
    rng: np.random.Generator, shape: tuple[int, int], count: int, max_bands: int, max_frames: int
) -> list[list[int]]:
    """Random ``[frame, band, frames, bands]`` rectangles drawn until their union reaches ``count`` cells."""
    mask = np.zeros(shape, dtype=bool)
    rects: list[list[int]] = []
    while mask.sum() < count:
        h = int(rng.integers(1, min(max_bands, shape[0]) + 1))
        w = int(rng.integers(1, min(max_frames, shape[1]) + 1))
        f0 = int(rng.integers(0, shape[0] - h + 1))
        t0 = int(rng.integers(0, shape[1] - w + 1))
        rects.append([t0, f0, w, h])
        _paint(mask, rects[-1], count)
    return rects


def _paint(mask: np.ndarray, rect: list[int], count: int) -> None:
    """Mask the cells of ``rect`` in raster order (band-major) until ``mask`` holds ``count`` cells."""
    t0, f0, w, h = rect
    region = mask[f0 : f0 + h, t0 : t0 + w]
    fresh = np.flatnonzero(~region)[: count - int(mask.sum())]
    region.flat[fresh] = True


def mask_from_record(record: dict) -> np.ndarray:
    """The boolean mask ``(n_mels, frames)`` (True = masked) that :func:`mel_mask` drew, from its record."""
    shape = tuple(record["grid"])
    mask = np.zeros(shape, dtype=bool)
    if record["mode"] == "time":
        for start, width in record["blocks"]:
            mask[:, start : start + width] = True
    elif record["mode"] == "freq":
        for start, width in record["blocks"]:
            mask[start : start + width, :] = True
    else:
        for rect in record["blocks"]:
            _paint(mask, rect, record["masked_cells"])
    return mask


def mel_mask(
    audio: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
    severity: float,
    mode: str = "patch",
    max_frames: int = 20,
    max_bands: int = 8,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 64,
    fmin: float = 0.0,
    fmax: float = 0.0,
) -> tuple[np.ndarray, dict]:
    """Silence a ``severity`` fraction of the mel plane with time, band (``freq``) or ``patch`` masks.

    Masks are contiguous blocks of at most ``max_frames`` frames (time, patch) and ``max_bands`` mel
    bands (freq, patch). ``severity == 0`` (or a request that rounds to zero cells) returns ``audio``
    unchanged. Raises :class:`ClipTooShortError` for a clip shorter than ``n_fft`` samples.
    """
    s = CORRUPTION.check(severity)
    if mode not in MODES:
        raise CorruptionError(f"mel_mask: mode must be one of {', '.join(MODES)}, got '{mode}'")
    if max_frames < 1 or max_bands < 1:
        raise CorruptionError("mel_mask: max_frames and max_bands must be >= 1")
    if s == 0.0:
        return audio, {"severity": 0.0}
    cfg = mel_config(n_fft, hop_length, n_mels, fmin, fmax, sample_rate)
    x, mono = as_channels(audio)
    check_length(x.shape[-1], cfg)
    grid = (cfg.n_mels, n_frames(x.shape[-1], cfg))
    if mode == "time":
        blocks = _blocks(rng, grid[1], round(s * grid[1]), max_frames)
        cells = sum(w for _, w in blocks) * grid[0]
    elif mode == "freq":
        blocks = _blocks(rng, grid[0], round(s * grid[0]), max_bands)
        cells = sum(w for _, w in blocks) * grid[1]
    else:
        cells = round(s * grid[0] * grid[1])
        blocks = _patches(rng, grid, cells, max_bands, max_frames)
    record = {"severity": s, "mode": mode, "grid": list(grid), "blocks": blocks, "masked_cells": int(cells)}
    mask = mask_from_record(record)
    record["masked_fraction"] = float(mask.mean())
    if not mask.any():
        return audio, record
    out = apply_mel_gains(x, sample_rate, np.where(mask, 0.0, 1.0), cfg)
    return restore(out, mono), record


CORRUPTION = Corruption(
    name="mel_mask",
    alias="mask",
    summary="silence time masks, mel-band masks or time-frequency patches on the mel grid",
    apply=mel_mask,
    severity=Param(
        name="severity",
        unit="fraction",
        default=0.0,
        range="",
        doc="fraction of the mel plane (bands x frames) that is masked",
        bounds=(0.0, 1.0),
    ),
    levels=(0, 0.05, 0.1, 0.2, 0.4),
    axis="masked fraction of the mel plane",
    params=(
        Param(
            name="mode",
            unit="-",
            default="patch",
            range="time|freq|patch",
            doc="mask shape: whole frames, whole mel bands, or rectangles",
            type=str,
            choices=MODES,
        ),
        Param(
            name="max_frames",
            unit="frames",
            default=20,
            range=">= 1",
            doc="longest mask in frames (time and patch modes)",
            type=int,
        ),
        Param(
            name="max_bands",
            unit="bands",
            default=8,
            range=">= 1",
            doc="widest mask in mel bands (freq and patch modes)",
            type=int,
        ),
        *MEL_PARAMS,
    ),
)
