"""LAION CLAP (Wu et al. 2023, "Large-scale Contrastive Language-Audio Pretraining"), transformers ``ClapModel``.

Audio: 48 kHz mono -> the HTSAT audio tower and its projection -> one L2-normalised 512-d embedding per
clip. Text: the RoBERTa tower and its projection -> one L2-normalised 512-d embedding per caption
(:meth:`ClapBackbone.embed_text`, for the CLAP score). Cosine similarity of the two is CLAP's score.

Preprocessing is ``ClapFeatureExtractor`` from the checkpoint's ``preprocessor_config.json`` (64-band
log-mel, 10 s input, ``repeatpad`` for shorter clips; transformers' ClapFeatureExtractor, as the model
card uses it). Longer clips are cut into 10 s chunks, the last one repeat-padded, and the clip's
embedding is the normalised mean of the chunks' normalised embeddings (fadtk's CLAP cuts 10 s chunks
too); with chunks of at most 10 s the extractor's random crop and fusion never trigger, so the result
is deterministic. A fused checkpoint (``enable_fusion``) gets ``truncation="fusion"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiometric.backbones.base import Backbone
from audiometric.backbones.hf import chunk_rows, load_parts, require_transformers, to_device

SAMPLE_RATE = 48000  # Hz: ClapFeatureExtractor.sampling_rate of laion/clap-htsat-unfused
CHUNK = 480000  # samples: 10 s, ClapFeatureExtractor.nb_max_samples
TEXT_BATCH = 64  # captions per forward pass in embed_text


class ClapBackbone(Backbone):
    """CLAP audio tower: ``(batch, samples)`` at 48 kHz -> ``{"embedding": (batch, 1, projection_dim)}``, unit norm."""

    name = "clap-laion"
    sample_rate = SAMPLE_RATE
    min_samples = 1
    outputs = ("embedding",)

    def __init__(self, model: Any, features: Any, folder: Path | None = None) -> None:
        """``model``: a transformers ``ClapModel``; ``features``: its ``ClapFeatureExtractor``; ``folder``: the
        checkpoint folder, where :meth:`embed_text` finds the tokenizer."""
        super().__init__()
        self.model: Any = model
        self.features, self.folder = features, folder
        self.truncation = "fusion" if model.config.audio_config.enable_fusion else "rand_trunc"
        self._tokenizer: Any = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def audio_features(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """The feature extractor's inputs for ``wav`` ``(batch, samples)``: one row per 10 s chunk, chunk-major per clip."""
        chunks, _ = chunk_rows(wav, CHUNK)
        inputs = self.features(
            chunks, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding="repeatpad", truncation=self.truncation
        )
        return to_device(inputs, self.device)

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"embedding": (batch, 1, dim)}``: normalised mean of the normalised 10 s chunk embeddings."""
        inputs = self.audio_features(wav)
        pooled = self.model.audio_model(input_features=inputs["input_features"], is_longer=inputs["is_longer"])
        chunks = torch.nn.functional.normalize(self.model.audio_projection(pooled.pooler_output), dim=-1)
        mean = chunks.reshape(wav.shape[0], -1, chunks.shape[-1]).mean(dim=1, keepdim=True)
        return {"embedding": torch.nn.functional.normalize(mean, dim=-1)}

    @torch.no_grad()
    def embed_text(self, captions: Sequence[str]) -> np.ndarray:
        """L2-normalised text embeddings ``(len(captions), projection_dim)`` float32 (512 for LAION CLAP).

        Tokenised with the checkpoint's tokenizer (padding, truncation at its maximum length).
        """
        if self._tokenizer is None:
            self._tokenizer = require_transformers(self.name).AutoTokenizer.from_pretrained(
                self.folder, local_files_only=True
            )
        out = []
        for start in range(0, len(captions), TEXT_BATCH):
            tokens = self._tokenizer(
                list(captions[start : start + TEXT_BATCH]), padding=True, truncation=True, return_tensors="pt"
            )
            text = self.model.text_model(
                input_ids=tokens["input_ids"].to(self.device), attention_mask=tokens["attention_mask"].to(self.device)
            )
            out.append(torch.nn.functional.normalize(self.model.text_projection(text.pooler_output), dim=-1))
        dim = self.model.config.projection_dim
        return torch.cat(out).float().cpu().numpy() if out else np.zeros((0, dim), np.float32)


def load_clap(checkpoint: str | None, device: str | torch.device) -> ClapBackbone:
    """CLAP from a ``save_pretrained`` folder or hub id (default ``laion/clap-htsat-unfused``) on ``device``."""
    model, features, folder, digest = load_parts(ClapBackbone.name, checkpoint)
    backbone = ClapBackbone(model, features, folder)
    backbone.checkpoint_sha256 = digest
    return backbone.to(torch.device(device)).eval()
