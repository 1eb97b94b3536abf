"""Sharding files across ``torchrun`` ranks and gathering per-clip outputs back in file order.

torch is imported only when a process group is actually used, so one-process runs (and the CLI's
error path) need none of it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


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

    from audiometric.runtime.device import resolve_device

    device = resolve_device(device)

    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, size


@contextmanager
def process_group(device: str | torch.device) -> Iterator[tuple[int, int]]:
    """``(rank, world_size)`` inside a block that every rank runs: the one torchrun choreography.

    Joins the group on entry (:func:`init`; one process joins nothing). When the block ends normally every
    rank waits for the others and the group is torn down (:func:`finish`); when it raises, this rank
    leaves without waiting (:func:`abandon`), so the others fail fast instead of hanging.
    """
    rank, size = init(device)
    try:
        yield rank, size
    except BaseException:
        abandon()
        raise
    finish()


def shard(files: list[Path], rank: int, size: int) -> list[int]:
    """Global indices of the files rank ``rank`` owns: every ``size``-th, no padding, no duplicates."""
    return list(range(rank, len(files), size))


def all_gather(local: T, size: int) -> list[T]:
    """Every rank's ``local`` object, in rank order (each rank receives the list; ``[local]`` alone)."""
    if size == 1:
        return [local]
    import torch.distributed as dist

    parts: list[T | None] = [None] * size
    dist.all_gather_object(parts, local)
    return [p for p in parts if p is not None]


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
