"""Sharding files across ``torchrun`` ranks and gathering per-clip outputs back in file order.

torch is imported only when a process group is actually used, so one-process runs (and the CLI's
error path) need none of it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from .extract import Clip, Extraction
    from .moments import MomentAccumulator


def world() -> tuple[int, int]:
    """``(rank, world_size)`` from the environment ``torchrun`` sets; ``(0, 1)`` otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init(device: str | torch.device) -> tuple[int, int]:
    """Join the process group when launched by ``torchrun`` (gloo on CPU, nccl on CUDA; ``device`` is a
    ``--device`` value or a ``torch.device``)."""
    rank, size = world()
    if size == 1:
        return rank, size
    import torch
    import torch.distributed as dist

    from .device import resolve_device

    device = resolve_device(device)

    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, size


def shard(files: list[Path], rank: int, size: int) -> list[int]:
    """Global indices of the files rank ``rank`` owns: every ``size``-th, no padding, no duplicates."""
    return list(range(rank, len(files), size))


def gather(local: Extraction, indices: list[int], size: int) -> Extraction:
    """All ranks' extractions merged in global file order (every rank receives the result).

    Per-clip outputs, not pre-merged moments, are gathered, so the statistics and every metric are then
    computed by the same code in the same order as in a one-process run.
    """
    for clip in local.clips:
        clip.index = indices[clip.index]
    if size == 1:
        return local
    import torch.distributed as dist

    from .extract import Extraction

    parts: list[Extraction | None] = [None] * size
    dist.all_gather_object(parts, local)
    clips: list[Clip] = sorted((c for p in parts for c in p.clips), key=lambda c: c.index)
    skipped = sorted((s for p in parts for s in p.skipped), key=lambda s: s["file"])
    return Extraction(clips, skipped, sum(p.cache_hits for p in parts), sum(p.cache_misses for p in parts),
                      max(p.seconds for p in parts))


def finish() -> None:
    """After the last collective: wait for every rank, then tear the process group down explicitly.

    A rank that exits with its group still alive can abort in the group's destructor while the others
    are still talking to it, so every rank leaves through here.
    """
    dist = _group_module()
    if dist is not None:
        dist.barrier()
        dist.destroy_process_group()


def abandon() -> None:
    """Leave the process group without waiting for the other ranks (a rank stopping on an error)."""
    dist = _group_module()
    if dist is not None:
        dist.destroy_process_group()


def _group_module():
    """``torch.distributed`` when this process has joined a group, else None (never imports torch)."""
    dist = sys.modules.get("torch.distributed")
    return dist if dist is not None and dist.is_available() and dist.is_initialized() else None


def merge_moments(local: dict[str, MomentAccumulator], size: int) -> dict[str, MomentAccumulator]:
    """Every rank's streaming moments merged per key, in rank order (each rank receives the result).

    Moments, not rows, cross the ranks, so memory stays O(d²); the merge (Chan et al. 1979) equals the
    one-process statistics up to float64 rounding.
    """
    if size == 1:
        return local
    import torch.distributed as dist

    from .moments import MomentAccumulator

    parts: list[dict | None] = [None] * size
    dist.all_gather_object(parts, {key: acc.state() for key, acc in local.items()})
    merged: dict[str, MomentAccumulator] = {}
    for part in parts:
        for key, state in part.items():
            acc = MomentAccumulator.from_state(state)
            merged.setdefault(key, MomentAccumulator(acc.dim)).merge(acc)
    return dict(sorted(merged.items()))
