"""Content-keyed on-disk cache of per-clip backbone outputs.

A key is the sha256 of (audio-file sha256, backbone name, checkpoint sha256, preprocessing and
resampling settings, cache format). Entries live under ``<cache dir>/embeddings/`` (never beside the
user's data), one ``.npz`` per clip and backbone, written to a temporary file and renamed into place,
so a reader never sees a partial entry and two concurrent runs at worst write the same bytes twice.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np

from audiometric.backbones.weights import cache_dir
from audiometric.runtime.atomic import atomic_savez

#: Bump when the stored layout or any numerics feeding the cache change.
FORMAT = 1


def entry_key(audio_sha256: str, backbone: str, checkpoint_sha256: str | None, settings: dict) -> str:
    """Hex digest naming one clip's outputs for one backbone under given settings."""
    payload = json.dumps(
        {
            "audio": audio_sha256,
            "backbone": backbone,
            "checkpoint": checkpoint_sha256,
            "settings": settings,
            "format": FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class EmbeddingCache:
    """Get and put ``{output name: array (frames, dim)}`` by key; ``root=None`` disables caching."""

    def __init__(self, root: Path | None):
        self.root = root
        self.writable = root is not None

    @classmethod
    def default(cls, enabled: bool = True) -> EmbeddingCache:
        """The cache under ``<cache_dir>/embeddings`` (``$AUDIOMETRIC_HOME``), or a disabled one."""
        return cls(cache_dir() / "embeddings" if enabled else None)

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """Stored outputs, or ``None`` on a miss (a damaged entry counts as a miss and is rewritten)."""
        if self.root is None:
            return None
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                out = {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            return None
        return out

    def put(self, key: str, outputs: dict[str, np.ndarray]) -> None:
        """Store outputs atomically; on a read-only or full cache, warn once and stop writing."""
        if not self.writable:
            return
        try:
            atomic_savez(self._path(key), outputs)
        except OSError as err:
            self.writable = False
            warnings.warn(
                f"embedding cache {self.root} is not writable ({err.strerror or err}); "
                "continuing without caching (set AUDIOMETRIC_HOME to a writable folder)",
                stacklevel=2,
            )
