"""Audio files in, mono float32 waveforms out: listing, decoding (soundfile) and preprocessing.

One read and one decode per file: the bytes are read once, hashed for the cache, and decoded from
memory. Preprocessing defaults reproduce audioldm_eval's cnn14 path (``datasets/load_mel.py``):
channel 0, mean (DC) subtracted at the file's own rate, then resampled per backbone.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from .errors import AudioDecodeError, AudiometricError
from .files import AUDIO_EXTENSIONS

@dataclass(frozen=True)
class Preprocess:
    """How a decoded file becomes the mono waveform every backbone sees.

    channels: ``"first"`` keeps channel 0 (reference behaviour), ``"mean"`` averages all channels.
    remove_dc: subtract the waveform mean before resampling (reference behaviour).
    max_seconds: keep only the first ``max_seconds`` seconds (``None``: whole file, as the reference).
    """

    channels: Literal["first", "mean"] = "first"
    remove_dc: bool = True
    max_seconds: float | None = None

    def as_dict(self) -> dict:
        """JSON-able settings, part of every cache key and of the provenance record."""
        return asdict(self)


@dataclass(frozen=True)
class Decoded:
    """A decoded file: ``audio`` has shape ``(channels, samples)``, float32 in [-1, 1]."""

    audio: np.ndarray
    sample_rate: int
    sha256: str


def list_audio_files(directory: str | os.PathLike) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files directly inside ``directory`` (sorted by name), and the entries passed over with why.

    Hidden files are ignored; files whose extension is not audio are returned as skips; symbolic
    links are followed (a dangling link is a skip). Sub-folders are not entered.
    """
    root = Path(directory)
    if not root.exists():
        raise AudiometricError(f"{root}: directory not found; check the path")
    if not root.is_dir():
        raise AudiometricError(f"{root}: not a directory; pass a folder of audio files")
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            continue
        if not entry.exists():
            skipped.append((entry, "dangling symbolic link"))
        elif entry.suffix.lower() not in AUDIO_EXTENSIONS:
            skipped.append((entry, f"not an audio file extension ({entry.suffix or 'none'})"))
        else:
            files.append(entry)
    if not files:
        raise AudiometricError(f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS[:5])}, ...) in this folder")
    return files, skipped


def read_and_hash(path: Path) -> tuple[bytes, str]:
    """The file's bytes and their sha256 hex digest."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise AudioDecodeError(f"cannot read file ({err.strerror or err})") from err
    return data, hashlib.sha256(data).hexdigest()


def decode(data: bytes, sha256: str = "") -> Decoded:
    """Decode audio bytes with libsndfile; raise :class:`AudioDecodeError` with the reason if unusable."""
    if not data:
        raise AudioDecodeError("empty file (0 bytes)")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile reports every format problem through one error type per version
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AudioDecodeError(f"cannot decode audio ({reason})") from err
    if samples.shape[0] == 0:
        raise AudioDecodeError("no audio samples (zero-length)")
    if not np.isfinite(samples).all():
        raise AudioDecodeError("contains NaN or Inf samples")
    return Decoded(audio=np.ascontiguousarray(samples.T), sample_rate=int(rate), sha256=sha256)


def to_mono(decoded: Decoded, pre: Preprocess) -> np.ndarray:
    """Apply ``pre`` to a decoded file: returns a float32 mono waveform of shape ``(samples,)``."""
    audio = decoded.audio
    mono = audio[0] if pre.channels == "first" else audio.mean(axis=0, dtype=np.float32)
    if pre.max_seconds is not None:
        mono = mono[: max(1, int(round(pre.max_seconds * decoded.sample_rate)))]
    mono = np.array(mono, dtype=np.float32)
    if pre.remove_dc:
        import torch  # here, not at import: a fully cached run never needs torch

        # torch's float32 reduction, bit-for-bit the reference's ``audio - audio.mean()``
        mono -= torch.from_numpy(mono).mean().item()
    return mono
