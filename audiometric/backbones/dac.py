"""Descript Audio Codec (Kumar et al. 2023, "High-Fidelity Audio Compression with Improved RVQGAN") encoder.

transformers ``DacModel`` (default ``descript/dac_44khz``): 44.1 kHz mono -> ``DacFeatureExtractor``
(zero-pads the end to a multiple of the 512-sample hop, no normalisation) -> the convolutional encoder ->
one 1024-d continuous latent per hop (86 frames/s), before the residual quantiser, frames as rows. fadtk's
``dac-44kHz`` instead takes the quantised latent ``z``; the encoder output is the codec's own embedding,
independent of the number of codebooks used. The whole clip goes through the encoder in one pass.
"""

from __future__ import annotations

import torch

from audiometric.backbones.codec import CodecEncoder, load_codec

SAMPLE_RATE = 44100  # Hz: DacFeatureExtractor.sampling_rate of descript/dac_44khz
HOP = 512  # samples per frame: DacFeatureExtractor.hop_length, the product of downsampling_ratios [2, 4, 8, 8]


class DacBackbone(CodecEncoder):
    """DAC encoder: ``(batch, samples)`` at 44.1 kHz -> ``{"embedding": (batch, frames, 1024)}``."""

    name = "dac-44k"
    sample_rate = SAMPLE_RATE
    min_samples = HOP


def load_dac(checkpoint: str | None, device: str | torch.device) -> DacBackbone:
    """DAC from a ``save_pretrained`` folder or hub id on ``device``, eval mode."""
    return load_codec(DacBackbone, checkpoint, device, "Dac")
