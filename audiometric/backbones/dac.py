"""Descript Audio Codec (Kumar et al. 2023, "High-Fidelity Audio Compression with Improved RVQGAN") encoder.

transformers ``DacModel`` (default ``descript/dac_44khz``): 44.1 kHz mono -> ``DacFeatureExtractor``
(zero-pads the end to a multiple of the 512-sample hop, no normalisation) -> the convolutional encoder ->
one 1024-d continuous latent per hop (86 frames/s), before the residual quantiser, frames as rows. fadtk's
``dac-44kHz`` instead takes the quantised latent ``z``; the encoder output is the codec's own embedding,
independent of the number of codebooks used. The whole clip goes through the encoder in one pass.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from audiometric.backbones.codec import CodecEncoder, load_codec
from audiometric.errors import WeightsError

SAMPLE_RATE = 44100  # Hz: DacFeatureExtractor.sampling_rate of descript/dac_44khz
HOP = 512  # samples per frame: DacFeatureExtractor.hop_length, the product of downsampling_ratios [2, 4, 8, 8]


class DacBackbone(CodecEncoder):
    """DAC encoder: ``(batch, samples)`` at 44.1 kHz -> ``{"embedding": (batch, frames, 1024)}``."""

    name = "dac-44k"
    sample_rate = SAMPLE_RATE
    min_samples = HOP


def load_dac(checkpoint: str | None, device: str | torch.device) -> DacBackbone:
    """DAC from a ``save_pretrained`` folder or hub id on ``device``, eval mode."""
    return load_codec(DacBackbone, checkpoint, device, _check_rates)


def _check_rates(model: Any, features: Any, folder: Path) -> None:
    """A DAC that is not 44.1 kHz is one line; a preprocessor saying another rate warns and is set to 44100."""
    rate = getattr(model.config, "sampling_rate", SAMPLE_RATE)
    if rate != SAMPLE_RATE:
        raise WeightsError(f"{folder} holds a {rate} Hz DAC; dac-44k needs a 44100 Hz one such as descript/dac_44khz")
    if features.sampling_rate != SAMPLE_RATE:  # copies fetched before 2024-10-11 say 16000; the model is 44.1 kHz
        warnings.warn(
            f"{folder}/preprocessor_config.json says sampling_rate {features.sampling_rate}, its model 44100: "
            "using 44100 (the hub corrected the file; fetch it again to silence this)",
            stacklevel=4,  # the caller of load_dac
        )
        features.sampling_rate = SAMPLE_RATE
