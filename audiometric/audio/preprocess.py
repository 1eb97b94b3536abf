"""How a decoded file becomes the mono waveform a backbone sees, and which files of a folder are clips.

Preprocessing defaults reproduce audioldm_eval's cnn14 path (``datasets/load_mel.py``): channel 0, mean
(DC) subtracted at the file's own rate, then resampled per backbone with the windowed-sinc resampler.
:func:`compat_fad` gives audioldm_eval's FAD input path (``metrics/fad.py``): the file read as int16 PCM
scaled by 1/32768, channels averaged, no DC removal, resampy ``kaiser_best`` resampling, clips shorter
than one VGGish patch left out. Decoding lives in :mod:`audiometric.audio.decode` (one decode, several views).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Literal

import numpy as np

from audiometric.audio.files import AUDIO_EXTENSIONS, Listing, walk_audio
from audiometric.errors import AudiometricError, DataError

#: How a multichannel file becomes mono: its first channel, or the mean of all channels.
Channels = Literal["first", "mean"]


@dataclass(kw_only=True, frozen=True)
class Preprocess:
    """How a decoded file becomes the mono waveform every backbone sees.

    channels: ``"first"`` keeps channel 0 (reference behaviour), ``"mean"`` averages all channels.
    remove_dc: subtract the waveform mean before resampling (reference behaviour).
    max_seconds: keep only the first ``max_seconds`` seconds (``None``: whole file, as the reference).
    pcm: ``"float"`` uses libsndfile's float decode; ``"int16"`` reads integer PCM files as int16 scaled
        by 1/32768 (audioldm_eval's FAD read; float and lossy files keep their float decode).
    resampler: ``"sinc"`` (:mod:`audiometric.audio.resample`) or ``"kaiser_best"`` (resampy's filter).
    short: clips shorter than a backbone's ``min_samples`` after resampling are zero-padded (``"pad"``) or
        left out of that backbone's metrics (``"drop"``, listed under ``excluded``).
    """

    channels: Channels = "first"
    remove_dc: bool = True
    max_seconds: float | None = None
    pcm: Literal["float", "int16"] = "float"
    resampler: Literal["sinc", "kaiser_best"] = "sinc"
    short: Literal["pad", "drop"] = "pad"

    def as_dict(self) -> dict:
        """JSON-able settings, part of every cache key and of the provenance record.

        ``pcm``, ``resampler`` and ``short`` appear only when not at their defaults, so cache entries and
        statistics files written before these fields existed stay valid.
        """
        out = asdict(self)
        for f in fields(self):
            if f.name in ("pcm", "resampler", "short") and out[f.name] == f.default:
                del out[f.name]
        return out


def compat_fad(pre: Preprocess) -> Preprocess:
    """audioldm_eval 0.0.3's FAD input path, keeping the user's ``max_seconds`` (``metrics/fad.py``)."""
    return replace(pre, channels="mean", remove_dc=False, pcm="int16", resampler="kaiser_best", short="drop")


def keep_frames(pre: Preprocess, sample_rate: int) -> int | None:
    """Frames at ``sample_rate`` Hz that ``pre`` keeps (``None``: all)."""
    if pre.max_seconds is None:
        return None
    return max(1, int(round(pre.max_seconds * sample_rate)))


def mono_block(block: np.ndarray, pre: Preprocess, integer: bool) -> np.ndarray:
    """One block ``(frames, channels)`` of decoded samples as ``pre``'s mono view, shape ``(frames,)``.

    ``block`` is int32 for integer PCM (libsndfile's left-aligned integer read) and float32 otherwise.
    The float view is float32 and equals libsndfile's float read (int32 · 2⁻³¹, exact for ≤ 24 bits and
    rounded as libsndfile rounds for 32 bits); the int16 view of integer PCM is ``(x >> 16) / 32768`` and the
    channel mean in float64, what ``soundfile.read(dtype="int16") / 32768.0`` gives (audioldm_eval
    ``load_audio_task``); the caller may store it as float32 where that is exact (see ``decode._view_dtype``).
    """
    if pre.pcm == "int16" and integer:
        top16 = (block[:, :1] if pre.channels == "first" else block) >> 16
        samples = top16.astype(np.float64) / 32768.0
        return samples[:, 0] if pre.channels == "first" else np.mean(samples, axis=1)
    if pre.channels == "first":
        block = block[:, :1]
    if integer:
        block = block.astype(np.float32) * np.float32(2.0**-31)
    if pre.pcm == "int16":  # a float or lossy file under the compat view: float samples, float64 like the rest
        block = block.astype(np.float64)
    return block[:, 0] if pre.channels == "first" else block.mean(axis=1, dtype=block.dtype)


def finish(mono: np.ndarray, pre: Preprocess) -> np.ndarray:
    """Apply ``pre``'s DC removal in place to a mono view (a torch mean in the view's dtype)."""
    if pre.remove_dc:
        import torch  # here, so that listing files and parsing options never import torch

        # torch's float32 reduction, bit-for-bit the reference's ``audio - audio.mean()``
        mono -= torch.from_numpy(mono).mean().item()
    return mono


def list_audio_files(directory: str | os.PathLike) -> Listing:
    """The audio files under ``directory`` (recursive, sorted by relative path) and every entry not used.

    Relative POSIX paths are the clip names. Files whose extension is not audio and dangling links are
    ``skipped``; hidden entries and audiometric's own JSON/CSV sidecars are ``ignored``.
    """
    root = Path(directory)
    if not root.exists():
        raise AudiometricError(f"{root}: directory not found; check the path")
    if not root.is_dir():
        raise AudiometricError(f"{root}: not a directory; pass a folder of audio files")
    listing = walk_audio(root)
    if not listing.files:
        raise DataError(
            f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS[:5])}, ...) in this folder or its sub-folders"
        )
    return listing
