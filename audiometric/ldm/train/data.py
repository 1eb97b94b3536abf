"""Which clips and which random draws each rank uses at each micro-step: pure functions of the seed.

Clip order: one seeded permutation of the N clips per epoch, read as a stream of slots; micro-step g
takes slots ``[g·W·B, (g+1)·W·B)`` and rank r the r-th block of B of them, so ranks see distinct clips and
the data position is just the step counter. Noise, timesteps, posterior draws and CFG dropout come from a
generator seeded by ``(seed, g, rank)``. Resuming at any step therefore replays exactly the same draws,
whatever RNG states the process had, and a W-rank run differs from a 1-rank run only by the batch split.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from audiometric.errors import AudiometricError


def check_size(clips: int, batch_size: int, world_size: int) -> None:
    """One line if the training split cannot fill one batch on every rank."""
    if clips < batch_size * world_size:
        raise AudiometricError(
            f"the training split has {clips} clip(s), fewer than one batch per rank "
            f"({batch_size} × {world_size} processes); lower --batch-size or use more data"
        )


@lru_cache(maxsize=4)
def _permutation(clips: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(clips)


def indices(clips: int, batch_size: int, world_size: int, rank: int, seed: int, micro_step: int) -> torch.Tensor:
    """Clip indices ``(batch_size,)`` rank ``rank`` trains on at global micro-step ``micro_step``."""
    first = (micro_step * world_size + rank) * batch_size
    slots = np.arange(first, first + batch_size)
    out = np.empty(batch_size, dtype=np.int64)
    for epoch in np.unique(slots // clips):
        where = slots // clips == epoch
        out[where] = _permutation(clips, seed, int(epoch))[slots[where] % clips]
    return torch.from_numpy(out)


@dataclass
class Draws:
    """Random inputs of one micro-batch: timesteps ``(B,)``, noise and posterior draws ``(B, C, H, W)``."""

    timesteps: torch.Tensor
    noise: torch.Tensor
    posterior: torch.Tensor
    drop: torch.Tensor


def draws(shape: tuple[int, ...], timesteps: int, cfg_dropout: float, seed: int, micro_step: int, rank: int) -> Draws:
    """The seeded draws of ``(seed, micro_step, rank)``, made on the CPU (identical on every device)."""
    state = np.random.SeedSequence([seed, micro_step, rank]).generate_state(2, dtype=np.uint32)
    gen = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    batch = shape[0]
    return Draws(
        timesteps=torch.randint(0, timesteps, (batch,), generator=gen),
        noise=torch.randn(shape, generator=gen),
        posterior=torch.randn(shape, generator=gen),
        drop=torch.rand(batch, generator=gen) < cfg_dropout,
    )
