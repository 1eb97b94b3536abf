"""EnCodec (Défossez et al. 2022, "High Fidelity Neural Audio Compression") encoder, 24 kHz.

transformers ``EncodecModel`` (default ``facebook/encodec_24khz``): 24 kHz mono -> ``EncodecFeatureExtractor``
(no normalisation, no chunking for the 24 kHz model: ``chunk_length_s`` is null in its
``preprocessor_config.json``) -> the convolutional/LSTM encoder -> one 128-d continuous latent per
320-sample hop (75 frames/s), before quantisation, frames as rows (FAD-style, as fadtk's ``encodec-emb``).
The whole clip goes through the encoder in one pass.
"""

from __future__ import annotations

import torch

from audiometric.backbones.codec import CodecEncoder, load_codec

SAMPLE_RATE = 24000  # Hz: EncodecFeatureExtractor.sampling_rate of facebook/encodec_24khz
HOP = 320  # samples per frame: the product of the official upsampling_ratios [8, 5, 4, 2]


class EncodecBackbone(CodecEncoder):
    """EnCodec encoder: ``(batch, samples)`` at 24 kHz -> ``{"embedding": (batch, frames, 128)}``."""

    name = "encodec-24k"
    sample_rate = SAMPLE_RATE
    min_samples = HOP


def load_encodec(checkpoint: str | None, device: str | torch.device) -> EncodecBackbone:
    """EnCodec from a ``save_pretrained`` folder or hub id on ``device``, eval mode."""
    return load_codec(EncodecBackbone, checkpoint, device)
