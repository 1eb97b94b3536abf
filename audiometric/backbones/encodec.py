"""EnCodec (Défossez et al. 2022, "High Fidelity Neural Audio Compression") encoder, 24 kHz.

transformers ``EncodecModel`` (default ``facebook/encodec_24khz``): 24 kHz mono -> ``EncodecFeatureExtractor``
(no normalisation, no chunking for the 24 kHz model: ``chunk_length_s`` is null in its
``preprocessor_config.json``) -> the convolutional/LSTM encoder -> one 128-d continuous latent per
320-sample hop (75 frames/s), before quantisation, frames as rows (FAD-style, as fadtk's ``encodec-emb``).
The whole clip goes through the encoder in one pass.
"""

from __future__ import annotations

from typing import Any

import torch

from audiometric.backbones.base import Backbone
from audiometric.backbones.hf import load_parts, to_device

SAMPLE_RATE = 24000  # Hz: EncodecFeatureExtractor.sampling_rate of facebook/encodec_24khz
HOP = 320  # samples per frame: the product of the official upsampling_ratios [8, 5, 4, 2]


class EncodecBackbone(Backbone):
    """EnCodec encoder: ``(batch, samples)`` at 24 kHz -> ``{"embedding": (batch, frames, 128)}``."""

    name = "encodec-24k"
    sample_rate = SAMPLE_RATE
    min_samples = HOP
    outputs = ("embedding",)

    def __init__(self, model: Any, features: Any) -> None:
        """``model``: a transformers ``EncodecModel``; ``features``: its ``EncodecFeatureExtractor``."""
        super().__init__()
        self.model: Any = model
        self.features = features

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encoder latents, one row per frame: ``(batch, ceil(samples / hop), hidden)``."""
        rows = list(wav.detach().float().cpu().numpy())
        device = next(self.model.parameters()).device
        inputs = to_device(self.features(rows, sampling_rate=SAMPLE_RATE, return_tensors="pt"), device)
        return {"embedding": self.model.encoder(inputs["input_values"]).transpose(1, 2)}


def load_encodec(checkpoint: str | None, device: str | torch.device) -> EncodecBackbone:
    """EnCodec from a ``save_pretrained`` folder or hub id on ``device``, eval mode."""
    model, features, _, digest = load_parts(EncodecBackbone.name, checkpoint, "EncodecModel", "EncodecFeatureExtractor")
    backbone = EncodecBackbone(model, features)
    backbone.checkpoint_sha256 = digest
    return backbone.to(torch.device(device)).eval()
