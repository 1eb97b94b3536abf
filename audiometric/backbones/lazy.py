"""A registered backbone that builds its network on first call.

Everything the pipeline reads before running a network (``name``, ``sample_rate``, ``min_samples``,
``outputs``, ``checkpoint_sha256``) comes from the registry and the remembered checkpoint digest, without
importing torch; when every clip is cached the network is never built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..weights import resolve_checkpoint, sha256_file
from . import load, spec

if TYPE_CHECKING:
    import torch

    from .base import Backbone


class LazyBackbone:
    """Stands in for ``backbones.load(name, checkpoint, device)`` until it is called on a batch."""

    def __init__(self, name: str, device: str | torch.device, checkpoint: str | None = None):
        entry = spec(name)
        self.name, self.sample_rate, self.min_samples, self.outputs = (name, entry.sample_rate, entry.min_samples,
                                                                       entry.outputs)
        self.device, self.checkpoint = device, checkpoint
        self.checkpoint_sha256: str | None = sha256_file(resolve_checkpoint(name, checkpoint))
        self.model: Backbone | None = None

    def build(self) -> Backbone:
        """The network with its weights on the device (built once; the device spec resolved then)."""
        if self.model is None:
            from ..device import resolve_device

            self.model = load(self.name, self.checkpoint, resolve_device(self.device))
        return self.model

    def __call__(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """``forward`` of the built network: ``(batch, samples)`` at ``sample_rate`` Hz -> outputs."""
        return self.build()(wav)
