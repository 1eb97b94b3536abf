"""Neural codec encoders through transformers (EnCodec, DAC): the continuous encoder latent, before
quantisation, one row per hop (frames as rows, FAD-style). The whole clip goes through the encoder in one pass;
each codec's module states its model, rate and hop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from audiometric.backbones.base import Backbone
from audiometric.backbones.hf import load_parts, to_device


class CodecEncoder(Backbone):
    """A codec's encoder: ``(batch, samples)`` at ``sample_rate`` -> ``{"embedding": (batch, frames, hidden)}``.

    Subclasses set ``name``, ``sample_rate`` and ``min_samples`` (the hop, in samples)."""

    outputs = ("embedding",)

    def __init__(self, model: Any, features: Any) -> None:
        """``model``: a transformers codec model (``EncodecModel``, ``DacModel``); ``features``: its feature
        extractor."""
        super().__init__()
        self.model: Any = model
        self.features = features

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encoder latents, one row per hop: ``(batch, ceil(samples / hop), hidden)``."""
        rows = list(wav.detach().float().cpu().numpy())
        device = next(self.model.parameters()).device
        inputs = to_device(self.features(rows, sampling_rate=self.sample_rate, return_tensors="pt"), device)
        return {"embedding": self.model.encoder(inputs["input_values"]).transpose(1, 2)}


_C = TypeVar("_C", bound=CodecEncoder)


def load_codec(
    cls: type[_C],
    checkpoint: str | None,
    device: str | torch.device,
    check: Callable[[Any, Any, Path], None] | None = None,
) -> _C:
    """``cls`` from a ``save_pretrained`` folder or hub id (its ``hf.CLASSES``) on ``device``, eval mode;
    ``check(model, features, folder)`` first, when given."""
    model, features, folder, digest = load_parts(cls.name, checkpoint)
    if check is not None:
        check(model, features, folder)
    backbone = cls(model, features)
    backbone.checkpoint_sha256 = digest
    return backbone.to(torch.device(device)).eval()
