"""Files the project writes get the permissions of a plain ``open()``: 0o666 minus the umask (mkstemp alone
would leave every output 0o600). Checked through atomic.py and through the CLI's outputs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tone_set

from audiometric.extraction.cache import EmbeddingCache
from audiometric.runtime.atomic import atomic_write, atomic_write_text, current_umask


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_respect_the_umask(umask, tmp_path):
    assert current_umask() == umask
    text = atomic_write_text(tmp_path / "out.json", "{}")
    blob = atomic_write(tmp_path / "sub" / "out.bin", lambda h: h.write(b"x"))
    expected = 0o666 & ~umask
    assert _mode(text) == expected and _mode(blob) == expected
    assert not list(tmp_path.glob(".*.tmp")) and not list((tmp_path / "sub").glob(".*.tmp"))


def test_cache_entries_respect_the_umask(umask, tmp_path):
    import numpy as np

    cache = EmbeddingCache(tmp_path / "cache")
    cache.put("ab" * 32, {"embedding": np.zeros((1, 4), np.float32)})
    entries = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert entries and all(_mode(p) == 0o666 & ~umask for p in entries)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_corrupt_outputs_respect_the_umask(mask, tmp_path):
    """A subprocess started under the umask, as a user's shell would start the CLI."""
    tone_set(tmp_path / "in", 2, seconds=0.2)
    code = (
        f"import os, sys; os.umask({mask}); from audiometric.cli import main; "
        f"main(['corrupt', sys.argv[1], sys.argv[2], '-c', 'gaussian_noise', '-s', '20', '--no-progress'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "in"), str(tmp_path / "out")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(written) == 4 and all(_mode(p) == 0o666 & ~mask for p in written)  # 2 clips, manifest, stamp
