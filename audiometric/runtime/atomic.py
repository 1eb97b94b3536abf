"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

The file ends up with the permissions ``open()`` would have given it (``0o666`` minus the umask), not
the ``0o600`` that ``mkstemp`` creates temporary files with.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path`` and rename it into place.

    A reader sees the old file or the whole new one, never a partial one; on any error the temporary
    file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_savez(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` (``np.savez``) to ``path`` atomically."""
    # numpy's stubs type savez's **kwds as if a key could be its allow_pickle flag
    return atomic_write(path, lambda handle: np.savez(handle, **arrays))  # type: ignore[arg-type]


def current_umask() -> int:
    """The process umask: Linux's ``/proc/self/status``, else set and restored at once (POSIX has no getter)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
