"""File digests remembered across runs, so an unchanged multi-hundred-MB checkpoint is hashed once.

A digest is reused while the file's identity is unchanged: absolute path, size, modification time,
change time and inode (``ctime`` cannot be set back by ``touch``/``cp -p``, so an edited file always
misses). The table is a JSON file written atomically; losing it, or a racing writer's entry, only
costs a re-hash.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from audiometric.audio.files import file_digests
from audiometric.runtime.atomic import atomic_write_text

_memory: dict[str, dict] = {}  # this process's entries, also for a store that cannot be written


class DigestMemo:
    """(sha256, md5) of files, remembered in the JSON file ``store``."""

    def __init__(self, store: Path):
        self.store = Path(store)

    def digests(self, path: str | Path) -> tuple[str, str]:
        """Lowercase hex (sha256, md5) of ``path``, read from the table when its identity matches."""
        key, identity = _identity(Path(path))
        entry = self._table().get(key)
        if not isinstance(entry, dict) or entry.get("identity") != identity:
            entry = self._put(key, identity, *file_digests(path, "sha256", "md5"))
        return entry["sha256"], entry["md5"]

    def remember(self, path: str | Path, sha256: str, md5: str) -> None:
        """Record digests computed elsewhere (e.g. while downloading ``path``)."""
        self._put(*_identity(Path(path)), sha256, md5)

    def _table(self) -> dict[str, dict]:
        try:
            stored = json.loads(self.store.read_text())
        except (OSError, ValueError):
            stored = {}
        return {**(stored if isinstance(stored, dict) else {}), **_memory}

    def _put(self, key: str, identity: dict, sha256: str, md5: str) -> dict:
        entry = {"identity": identity, "sha256": sha256, "md5": md5}
        _memory[key] = entry
        table = {k: v for k, v in self._table().items() if Path(k).exists()}  # drop deleted files
        with contextlib.suppress(OSError):  # read-only cache: remembered for this process only
            atomic_write_text(self.store, json.dumps(table, indent=1, sort_keys=True))
        return entry


def _identity(path: Path) -> tuple[str, dict]:
    """``(absolute path, the stat fields that must be unchanged for a remembered digest to hold)``."""
    stat = path.stat()
    return str(path.resolve()), {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "ctime_ns": stat.st_ctime_ns,
        "inode": stat.st_ino,
    }
