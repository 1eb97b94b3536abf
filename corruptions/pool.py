"""Labelled pools of clips (interferers, events) and audio file reading for the corruptions.

A pool is either a folder with one sub-folder per class (``pool/dog/a.wav`` has class ``dog``), or a
CSV file with rows ``path,label`` (paths relative to the CSV's folder, or absolute; an optional
header row ``path,label``). Clips are decoded with soundfile and resampled with soxr on demand.
"""

from __future__ import annotations

import csv
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioReadError, PoolError

#: Extensions offered to libsndfile; other files in a folder are passed over (audiometric lists them as skips).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64", ".rf64")
CACHE_CLIPS = 256  # decoded clips kept in memory per pool (least recently used are dropped)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Decode ``path`` into float32 ``(channels, samples)`` and its sample rate in Hz.

    Raises :class:`AudioReadError` (one line naming the file) when it cannot be decoded, is empty,
    or holds NaN/Inf samples.
    """
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioReadError(f"{path}: cannot decode audio ({err}); convert it to WAV or FLAC") from None
    if data.shape[0] == 0:
        raise AudioReadError(f"{path}: file holds no samples; remove it")
    if not np.all(np.isfinite(data)):
        raise AudioReadError(f"{path}: audio contains NaN or Inf samples; re-export it")
    return np.ascontiguousarray(data.T), int(rate)


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample ``(channels, samples)`` from ``rate_in`` to ``rate_out`` Hz with soxr (HQ), float64."""
    if rate_in == rate_out:
        return np.asarray(x, dtype=np.float64)
    return soxr.resample(np.asarray(x, dtype=np.float64).T, rate_in, rate_out, quality="HQ").T.copy()


@dataclass(frozen=True)
class PoolClip:
    """One pool entry: its class, its path as written in the pool, and the resolved file."""

    label: str
    name: str
    path: Path


class Pool:
    """A labelled set of clips, decoded (and resampled) lazily and cached per sample rate."""

    def __init__(self, clips: list[PoolClip], source: str) -> None:
        if not clips:
            raise PoolError(
                f"pool {source} holds no audio clips; give a folder with one sub-folder per class or a path,label CSV"
            )
        self.source = source
        self._by_label: dict[str, list[PoolClip]] = {}
        for clip in sorted(clips, key=lambda c: (c.label, c.name)):
            self._by_label.setdefault(clip.label, []).append(clip)
        self._cache: OrderedDict[tuple[Path, int], tuple[np.ndarray, dict]] = OrderedDict()
        self._hashes: dict[Path, str] = {}

    @classmethod
    def from_path(cls, path: str | Path) -> Pool:
        """Load a pool from a class-per-folder directory or a ``path,label`` CSV."""
        root = Path(path)
        if root.is_dir():
            clips = [
                PoolClip(f.relative_to(root).parts[0], f.relative_to(root).as_posix(), f)
                for f in sorted(root.rglob("*"))
                if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS and len(f.relative_to(root).parts) >= 2
            ]
            return cls(clips, str(root.resolve()))
        if root.is_file():
            return cls(_read_csv(root), str(root.resolve()))
        raise PoolError(f"pool {path} does not exist; pass a folder with one sub-folder per class or a path,label CSV")

    def classes(self) -> list[str]:
        """Class labels, sorted."""
        return sorted(self._by_label)

    def clips(self, label: str) -> list[PoolClip]:
        """Clips of class ``label``, sorted by name."""
        return self._by_label.get(label, [])

    def find(self, name: str) -> PoolClip:
        """The clip whose pool name is ``name`` (``PoolError`` when absent)."""
        for clips in self._by_label.values():
            for clip in clips:
                if clip.name == name:
                    return clip
        raise PoolError(f"pool {self.source} has no clip named {name}; pass the pool the set was made from")

    def sha256(self, clip: PoolClip) -> str:
        """SHA-256 of the clip's file (cached)."""
        if clip.path not in self._hashes:
            self._hashes[clip.path] = sha256_file(clip.path)
        return self._hashes[clip.path]

    def load(self, clip: PoolClip, sample_rate: int) -> tuple[np.ndarray, dict]:
        """The clip as float64 ``(channels, samples)`` at ``sample_rate`` Hz, and a JSON-able description."""
        key = (clip.path, sample_rate)
        if key not in self._cache:
            audio, rate = read_audio(clip.path)
            info = {"class": clip.label, "path": clip.name, "sha256": self.sha256(clip), "sample_rate": rate}
            if rate != sample_rate:
                info["resampled_to"] = sample_rate
            self._cache[key] = (resample(audio, rate, sample_rate), info)
            if len(self._cache) > CACHE_CLIPS:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        audio, info = self._cache[key]
        return audio, dict(info)


def _read_csv(path: Path) -> list[PoolClip]:
    clips = []
    with open(path, newline="", encoding="utf-8-sig") as fh:  # utf-8-sig: a spreadsheet's BOM is dropped
        for i, row in enumerate(csv.reader(fh)):
            if not row or (i == 0 and [c.strip().lower() for c in row] in (["path", "label"], ["path", "label", ""])):
                continue
            if i == 0 and Path(row[0].strip()).suffix.lower() not in AUDIO_EXTENSIONS:  # a header of other columns
                found = ",".join(c.strip() for c in row)
                raise PoolError(
                    f"{path}: expected the columns path,label, found {found}; write one path,label row per clip"
                )
            if len(row) < 2 or not row[1].strip():
                raise PoolError(f"{path}: row {i + 1} is not 'path,label'; fix the CSV")
            file = Path(row[0].strip())
            resolved = file if file.is_absolute() else path.parent / file
            if not resolved.is_file():
                raise PoolError(f"{path}: row {i + 1} names {row[0]}, which does not exist; fix the path")
            clips.append(PoolClip(row[1].strip(), row[0].strip(), resolved))
    return clips
