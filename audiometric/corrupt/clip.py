"""One clip: its seeded random stream, its corruption, and the float32 WAV and JSON it is written as.

Shared by ``corrupt`` (:mod:`audiometric.corrupt.folder`) and the sweep's cells, so a clip gets the same
damage, bit for bit, wherever it is corrupted.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import corruptions
from audiometric.audio.decode import decode, read_and_hash
from audiometric.errors import AudioDecodeError, DataError
from audiometric.runtime.atomic import atomic_write, atomic_write_text


def stable_hash(name: str) -> int:
    """64-bit hash of ``name`` that is the same on every machine and run (SHA-256 prefix)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def file_rng(seed: int, name: str) -> np.random.Generator:
    """The generator for file ``name`` (relative POSIX path) under run seed ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, stable_hash(name)]))


def set_rng(seed: int) -> np.random.Generator:
    """The generator for set-level draws (which clips a set-level corruption selects)."""
    return np.random.default_rng(np.random.SeedSequence([seed, stable_hash("\0set-selection")]))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return sorted(obj) if isinstance(obj, set) else list(obj)
    raise TypeError(f"not JSON-able: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """Sorted, indented JSON (numpy scalars, sets and tuples converted): manifests, records, sweep cells."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"


def wav_float32_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A float32 WAV file (``WAVE_FORMAT_IEEE_FLOAT``, fmt + fact + data chunks) holding ``audio``.

    Written by hand so the bytes depend on the samples alone (libsndfile adds a PEAK chunk with a
    timestamp to float WAVs). Layout: Microsoft/IBM RIFF WAVE spec (1991), rev. 3.0 fmt/fact chunks.
    """
    data = np.asarray(audio, dtype="<f4")
    frames = data.T if data.ndim == 2 else data[:, None]
    channels, payload = frames.shape[1], np.ascontiguousarray(frames).tobytes()
    fmt = struct.pack("<HHIIHHH", 3, channels, sample_rate, sample_rate * 4 * channels, 4 * channels, 32, 0)
    fact = struct.pack("<I", frames.shape[0])
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact
    chunks += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write ``audio`` (``(samples,)`` or ``(channels, samples)``) atomically as float32 WAV."""
    content = wav_float32_bytes(audio, sample_rate)
    atomic_write(path, lambda handle: handle.write(content))


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` atomically as sorted, indented JSON."""
    atomic_write_text(path, dumps(obj))


def corrupt_clip(
    entry: corruptions.Corruption,
    path: Path,
    name: str,
    level: float,
    seed: int,
    inputs: Callable[[np.ndarray, int], dict[str, Any]],
    selected: bool = True,
) -> tuple[np.ndarray, int, dict]:
    """Read clip ``path`` and corrupt it at ``level``: ``(audio, sample rate in Hz, record)``.

    The one place a clip is corrupted (``corrupt`` and the sweep's cells): its random stream is
    :func:`file_rng` of ``seed`` and its ``name``, so a clip gets the same damage wherever it is corrupted;
    ``inputs(audio, rate)`` gives the corruption's keyword inputs (pool, target class, events). A clip not
    ``selected`` by a set-level corruption comes back unchanged with an empty record.
    """
    decoded = decode(*read_and_hash(path))  # score's decode: unreadable, empty, NaN or truncated is an error
    audio, rate = decoded.audio, decoded.sample_rate
    if not selected:
        return audio, rate, {}
    out, record = entry.apply(audio, rate, file_rng(seed, name), level, **inputs(audio, rate))
    return out, rate, record


def check_decodable(root: Path, names: list[str]) -> None:
    """Decode every file ``root / name`` as ``score`` does; the unusable ones are one error (``--strict``:
    raised before anything is written)."""
    bad = []
    for name in names:
        try:
            decode(*read_and_hash(root / name))
        except AudioDecodeError as err:
            bad.append(f"{root / name}: {err}")
    if bad:
        raise DataError(
            f"{bad[0]} (--strict: {len(bad)} unusable input file(s), nothing written; fix or remove them, "
            "or drop --strict to skip them)"
        )
