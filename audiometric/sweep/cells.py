"""One (level, seed) cell of a sweep: which clips it holds, its key, its corrupted audio, its result file.

A cell's clips are corrupted in memory with the registry's ``apply`` and the per-file generators of
:mod:`audiometric.corrupt.clip` (``file_rng(seed, name)``, so the result does not depend on order or
sharding). A clip the corruption leaves unchanged (severity 0, or not selected by a set-level
corruption) is not rewritten: the cell points at the reference file itself, so the content-keyed
embedding cache serves it. Changed clips are written as float32 WAV whose bytes depend on the samples
alone, so an interrupted cell rewrites identical bytes and hits the cache on rerun.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import corruptions
from audiometric.corrupt.clip import corrupt_clip, dumps, set_rng, stable_hash, wav_float32_bytes
from audiometric.errors import USER_ERRORS
from audiometric.runtime.atomic import atomic_write, atomic_write_text
from audiometric.sweep.spec import required
from corruptions.event_permutation import load_events
from corruptions.pool import Pool

#: Bump when the meaning of a cell file or key changes.
CELL_FORMAT = 3  # 3: entries keep their bootstrap values (paired tests across levels)


def digest(obj: Any) -> str:
    """SHA-256 of ``obj``'s canonical JSON."""
    return hashlib.sha256(dumps(obj).encode()).hexdigest()


@dataclass(kw_only=True)
class Reference:
    """The clean clips: files, names (relative POSIX paths), content digests, and per-clip extras."""

    root: Path
    files: list[Path]
    names: list[str]
    sha256: list[str]
    labels: list[str] = field(default_factory=list)  # target classes (interference)
    compositions: list[dict] = field(default_factory=list)  # event records (event_permutation)

    def content(self) -> str:
        """One digest of every clip's name and bytes (part of every cell key)."""
        return digest(sorted(zip(self.names, self.sha256)))


@dataclass(kw_only=True)
class Plan:
    """What every cell shares: the corruption, its parameters, the inputs it reads, the protocol."""

    corruption: str
    kwargs: dict[str, Any]  # the corruption's parameters as ``apply`` takes them
    reference: Reference
    protocol: str
    pool: Pool | None = None


@dataclass(frozen=True)
class Members:
    """Reference indices of a cell: corrupted (``generated``), scored against (``reference``), KL's pairs."""

    generated: tuple[int, ...]
    reference: tuple[int, ...]
    kl_reference: tuple[int, ...]


def members(protocol: str, n: int, seed: int) -> Members:
    """``paired``: all clips against all; ``split``: half A (corrupted) against half B, KL A against clean A.

    The split is seeded by ``seed`` alone, so every level of a seed uses the same halves.
    """
    if protocol == "paired":
        every = tuple(range(n))
        return Members(every, every, every)
    rng = np.random.default_rng(np.random.SeedSequence([seed, stable_hash("\0sweep-split")]))
    order = rng.permutation(n)
    a, b = tuple(sorted(int(i) for i in order[: n // 2])), tuple(sorted(int(i) for i in order[n // 2 :]))
    return Members(a, b, a)


def cell_name(level: float, seed: int, key: str) -> str:
    """File stem of a cell: readable level and seed, then the key."""
    return f"level-{level:g}_seed-{seed}_{key[:16]}"


@dataclass
class Prepared:
    """A cell's clips ready to embed: file to read and name per generated clip, records, skips."""

    files: list[Path]
    names: list[str]
    records: dict[str, dict]
    skipped: list[dict[str, str]]


def prepare(plan: Plan, level: float, seed: int, indices: tuple[int, ...], audio_dir: Path) -> Prepared:
    """Corrupt the reference clips ``indices`` at ``level`` with seed ``seed``; write the changed ones.

    A clip whose corruption fails (e.g. a silent clip and an SNR) is skipped with its reason.
    """
    ref = plan.reference
    entry = corruptions.get(plan.corruption)
    names = [ref.names[i] for i in indices]
    selected = set(names) if entry.select is None else entry.select(names, level, set_rng(seed))
    out = Prepared([], [], {}, [])
    for i in indices:
        name = ref.names[i]
        if level == 0 or name not in selected:
            out.files.append(ref.files[i])
            out.names.append(name)
            out.records[name] = {"unchanged": True}
            continue
        try:
            corrupted, rate, record = corrupt_clip(
                entry, ref.files[i], name, level, seed, partial(_clip_inputs, plan, i)
            )
        except USER_ERRORS as err:
            out.skipped.append({"file": name, "reason": str(err)})
            continue
        path = audio_dir / f"{i:06d}.wav"
        content = wav_float32_bytes(corrupted, rate)
        atomic_write(path, lambda handle: handle.write(content))
        out.files.append(path)
        out.names.append(name)
        out.records[name] = record
    return out


def _clip_inputs(plan: Plan, index: int, _: np.ndarray, rate: int) -> dict[str, Any]:
    """The corruption's keyword arguments for reference clip ``index`` at ``rate`` Hz (the audio is unused)."""
    kwargs = dict(plan.kwargs)
    if plan.corruption in ("interference", "interference_fraction"):
        kwargs.update(pool=plan.pool, target_label=plan.reference.labels[index])
    if plan.corruption == "event_permutation":
        kwargs["events"] = load_events(
            required(plan.pool, "--pool"), plan.reference.compositions[index]["events"], rate
        )
    return kwargs


def read_cell(path: Path) -> dict | None:
    """A finished cell's result, or ``None`` when absent or unreadable (then it is recomputed)."""
    try:
        cell = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return cell if cell.get("format") == CELL_FORMAT else None


def write_cell(path: Path, cell: dict) -> None:
    """Write a finished cell atomically."""
    atomic_write_text(path, dumps(cell))
