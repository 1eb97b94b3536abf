"""WavLM (Chen et al. 2022, "WavLM: Large-Scale Self-Supervised Pre-Training for Full Stack Speech Processing").

transformers ``WavLMModel`` (default ``microsoft/wavlm-base-plus``): 16 kHz mono -> ``Wav2Vec2FeatureExtractor``
(per-clip zero-mean unit-variance when its ``preprocessor_config.json`` says ``do_normalize``) -> the CNN
feature encoder (one frame per 320 samples, 20 ms) -> the transformer. The output is the hidden state of
one layer, frames as rows: ``layer`` 0 is the projected CNN features, ``layer`` N the N-th transformer
block; the default is the last block (12 for base-plus), as fadtk's ``wavlm-base-plus``. The whole clip
goes through the model in one pass.
"""

from __future__ import annotations

from typing import Any

import torch

from audiometric.backbones.base import Backbone
from audiometric.backbones.hf import load_parts, to_device
from audiometric.errors import AudiometricError

SAMPLE_RATE = 16000  # Hz: Wav2Vec2FeatureExtractor.sampling_rate of microsoft/wavlm-base-plus


class WavLMBackbone(Backbone):
    """WavLM: ``(batch, samples)`` at 16 kHz -> ``{"embedding": (batch, frames, hidden)}`` of layer ``layer``."""

    name = "wavlm-base-plus"
    sample_rate = SAMPLE_RATE
    min_samples = 400  # the CNN encoder's receptive field (kernels 10, 3x4, 2x2; strides 5, 2x6)
    outputs = ("embedding",)

    def __init__(self, model: Any, features: Any, layer: int | str | None = None) -> None:
        """``model``: a transformers ``WavLMModel``; ``layer`` in 0..num_hidden_layers (default: the last)."""
        super().__init__()
        self.model: Any = model
        self.features = features
        layers = model.config.num_hidden_layers
        try:
            self.layer = layers if layer is None else int(layer)
        except ValueError:
            raise AudiometricError(
                f"--param layer={layer} for {self.name} is not an integer: choose 0..{layers}"
            ) from None
        if not 0 <= self.layer <= layers:
            raise AudiometricError(f"--param layer={layer} is out of range for {self.name}: choose 0..{layers}")

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """Hidden states of ``self.layer``, one row per 20 ms frame: ``(batch, frames, hidden)``."""
        rows = list(wav.detach().float().cpu().numpy())
        device = next(self.model.parameters()).device
        inputs = to_device(self.features(rows, sampling_rate=SAMPLE_RATE, return_tensors="pt"), device)
        hidden = self.model(inputs["input_values"], output_hidden_states=True).hidden_states
        return {"embedding": hidden[self.layer]}


def load_wavlm(checkpoint: str | None, device: str | torch.device, layer: int | str | None = None) -> WavLMBackbone:
    """WavLM from a ``save_pretrained`` folder or hub id on ``device``, eval mode, reading ``layer``."""
    model, features, _, digest = load_parts(WavLMBackbone.name, checkpoint)
    backbone = WavLMBackbone(model, features, layer)
    backbone.checkpoint_sha256 = digest
    return backbone.to(torch.device(device)).eval()
