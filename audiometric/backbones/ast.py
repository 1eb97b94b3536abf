"""Audio Spectrogram Transformer (Gong et al. 2021, "AST: Audio Spectrogram Transformer"), AudioSet-finetuned.

transformers ``ASTForAudioClassification`` (default ``MIT/ast-finetuned-audioset-10-10-0.4593``): 16 kHz
mono -> ``ASTFeatureExtractor`` (128-band Kaldi-style log-mel fbank, 10 ms hop, padded or cut to 1024
frames = 10.24 s, normalised with the AudioSet mean and std of its ``preprocessor_config.json``) -> the
pooled embedding (mean of the CLS and distillation tokens, 768-d) and the 527 AudioSet logits
(pre-sigmoid), so IS and KL run on it. Longer clips are cut into 10.24 s chunks (the model's input
window, as the model card uses it); the clip's embedding and logits are the means over its chunks.
"""

from __future__ import annotations

from typing import Any

import torch

from audiometric.backbones.base import Backbone
from audiometric.backbones.hf import chunk_rows, load_parts, to_device

SAMPLE_RATE = 16000  # Hz: ASTFeatureExtractor.sampling_rate
HOP = 160  # samples: the fbank's 10 ms frame shift


class ASTBackbone(Backbone):
    """AST: ``(batch, samples)`` at 16 kHz -> ``{"embedding": (batch, 1, 768), "logits": (batch, 1, 527)}``."""

    name = "ast-audioset"
    sample_rate = SAMPLE_RATE
    min_samples = 400  # one 25 ms fbank frame
    outputs = ("embedding", "logits")

    def __init__(self, model: Any, features: Any) -> None:
        """``model``: a transformers ``ASTForAudioClassification``; ``features``: its ``ASTFeatureExtractor``."""
        super().__init__()
        self.model: Any = model
        self.features = features
        self.chunk = features.max_length * HOP  # samples: 163840 (10.24 s) for max_length 1024

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pooled embedding and logits, each averaged over the clip's 10.24 s chunks."""
        chunks, n_chunks = chunk_rows(wav, self.chunk)
        device = next(self.model.parameters()).device
        with torch.autocast(wav.device.type, enabled=False):  # the fbank (torchaudio's, if installed) in float32
            inputs = to_device(self.features(chunks, sampling_rate=SAMPLE_RATE, return_tensors="pt"), device)
        pooled = self.model.audio_spectrogram_transformer(inputs["input_values"]).pooler_output
        logits = self.model.classifier(pooled)
        batch = wav.shape[0]
        return {
            "embedding": pooled.reshape(batch, n_chunks, -1).mean(dim=1, keepdim=True),
            "logits": logits.reshape(batch, n_chunks, -1).mean(dim=1, keepdim=True),
        }


def load_ast(checkpoint: str | None, device: str | torch.device) -> ASTBackbone:
    """AST from a ``save_pretrained`` folder or hub id on ``device``, eval mode."""
    model, features, _, digest = load_parts(ASTBackbone.name, checkpoint)
    backbone = ASTBackbone(model, features)
    backbone.checkpoint_sha256 = digest
    return backbone.to(torch.device(device)).eval()
