"""Tiny random-weight AudioLDM and CLAP folders built offline from the real classes (for tests and benchmarks).

The layouts follow the official ``cvssp/audioldm-*`` pipelines and ``laion/clap-htsat-*`` checkpoints; only
the sizes shrink, so every code path (loading, conditioning, sampling, saving) runs as with the real weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import SpeechT5HifiGan

# AudioLDM's DDIM schedule (latent_diffusion config: linear_start 0.0015, linear_end 0.0195, 1000 steps).
AUDIOLDM_SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_start=0.0015,
    beta_end=0.0195,
    beta_schedule="scaled_linear",
    clip_sample=False,
    set_alpha_to_one=False,
    steps_offset=1,
)


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins of GPT-2's byte-level BPE (printable bytes map to themselves)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for byte in range(256):
        if byte in keep:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def write_tiny_tokenizer(folder: Path, max_length: int = 24) -> Path:
    """A byte-level RobertaTokenizer with no merges (one token per byte), saved in ``folder``."""
    from transformers import RobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {tok: i for i, tok in enumerate(["<s>", "<pad>", "</s>", "<unk>", *_byte_chars(), "<mask>"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = RobertaTokenizer.from_pretrained(str(folder), model_max_length=max_length)
    tokenizer.save_pretrained(str(folder))
    return folder


def _mel_bins(fusion: bool) -> int:
    return 64 if fusion else 16  # the extractor's fusion path resizes to 64 bins whatever feature_size says


def tiny_clap_config(projection_dim: int = 16, vocab_size: int = 261, max_length: int = 24, fusion: bool = False):
    """A ClapConfig small enough for unit tests: 1-layer RoBERTa text tower, 2-stage HTSAT audio tower.

    The top-level ``projection_dim`` overrides the towers'; the audio ``hidden_size`` must equal
    ``patch_embeds_hidden_size * 2 ** (len(depths) - 1)`` (the last Swin stage's width).
    """
    from transformers import ClapConfig

    text = dict(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=max_length + 4,
        projection_dim=projection_dim,
    )
    bins = _mel_bins(fusion)
    audio = dict(
        num_mel_bins=bins,
        spec_size=2 * bins if not fusion else bins,
        patch_size=4,
        patch_stride=(4, 4),
        window_size=4,
        depths=[1, 1],
        num_attention_heads=[1, 2],
        patch_embeds_hidden_size=8,
        hidden_size=16,
        projection_dim=projection_dim,
        enable_fusion=fusion,
        fusion_type="aff_2d" if fusion else None,
    )
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=projection_dim)


def tiny_feature_extractor(fusion: bool = False):
    """A ClapFeatureExtractor matching :func:`tiny_clap_config` (48 kHz input, 0.5 s windows)."""
    from transformers import ClapFeatureExtractor

    return ClapFeatureExtractor(
        feature_size=_mel_bins(fusion),
        sampling_rate=48000,
        hop_length=480,
        max_length_s=0.5,
        fft_window_size=1024 if fusion else 256,
        truncation="fusion" if fusion else "rand_trunc",
        padding="repeatpad",
    )


def write_tiny_pipeline(folder: Path, seed: int = 0) -> Path:
    """Write a complete tiny AudioLDM diffusers pipeline folder (random weights, official classes) and return it.

    Mel: 16 bins, hop 160 at 16 kHz (vocoder upsampling 160x); VAE downsamples 2x; latent 8 channels.
    """
    from diffusers import DDIMScheduler
    from transformers import ClapTextModelWithProjection, RobertaTokenizer

    from audiometric.ldm.components import Components, save_pipeline

    folder = Path(folder)
    torch.manual_seed(seed)
    projection = 16
    tokenizer = RobertaTokenizer.from_pretrained(str(write_tiny_tokenizer(folder / "tokenizer")))
    text_encoder = ClapTextModelWithProjection(tiny_clap_config(projection, len(tokenizer)).text_config)
    unet, vae, vocoder = _tiny_unet(projection), _tiny_vae(), _tiny_vocoder()  # built in this order (seeded)
    scheduler = DDIMScheduler(**AUDIOLDM_SCHEDULER)
    components = Components(
        unet=unet.eval(),  # type: ignore[attr-defined]  # diffusers' models are torch Modules its stubs hide
        vae=vae.eval(),  # type: ignore[attr-defined]
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        vocoder=vocoder.eval(),
        scheduler=scheduler,
        noise_scheduler_config=dict(scheduler.config),  # type: ignore[attr-defined]  # ConfigMixin, as above
        source=str(folder),
        digest="",
    )
    save_pipeline(components, folder)
    return folder


def _tiny_unet(projection: int) -> UNet2DConditionModel:
    """A 2-level conditional U-Net on 8 latent channels, class-conditioned by a ``projection``-d embedding."""
    from diffusers import UNet2DConditionModel

    channels = (16, 32)
    return UNet2DConditionModel(
        sample_size=32,
        in_channels=8,
        out_channels=8,
        block_out_channels=channels,
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        attention_head_dim=2,
        cross_attention_dim=channels,
        class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=projection,
        class_embeddings_concat=True,
    )


def _tiny_vae() -> AutoencoderKL:
    """A 1-channel mel VAE that downsamples 2x into 8 latent channels."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=1,
        out_channels=1,
        latent_channels=8,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4,
        sample_size=64,
    )


def _tiny_vocoder() -> SpeechT5HifiGan:
    """A HiFi-GAN from 16 mel bins to 16 kHz audio (upsampling 5 x 4 x 8 = 160, the mel hop)."""
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    return SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=16,
            sampling_rate=16000,
            upsample_initial_channel=16,
            upsample_rates=[5, 4, 8],
            upsample_kernel_sizes=[15, 8, 16],
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3]],
            normalize_before=False,
            initializer_range=0.2,  # audible (~0.1-1 peak) rather than ~1e-7 output
        )
    )


def write_tiny_clap_audio(folder: Path, seed: int = 0, pipeline: Path | None = None, fusion: bool = False) -> Path:
    """Write a tiny CLAP folder (ClapModel with both towers + feature extractor + tokenizer) and return it.

    With ``pipeline`` (a folder from :func:`write_tiny_pipeline`), the text tower and tokenizer are that
    pipeline's, as for the real AudioLDM whose text encoder is its CLAP's text tower. ``fusion`` builds a
    fusion tower (``laion/clap-htsat-fused``'s layout) with its 4-channel extractor.
    """
    from transformers import ClapModel, ClapTextModelWithProjection, RobertaTokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = RobertaTokenizer.from_pretrained(str(write_tiny_tokenizer(folder)))
    model = ClapModel(tiny_clap_config(16, len(tokenizer), fusion=fusion)).eval()
    if pipeline is not None:
        from audiometric.ldm.components import quiet_loading

        with quiet_loading():
            text = ClapTextModelWithProjection.from_pretrained(str(Path(pipeline) / "text_encoder"))
            tokenizer = RobertaTokenizer.from_pretrained(str(Path(pipeline) / "tokenizer"))
        missing = model.load_state_dict(text.state_dict(), strict=False)
        if any(key.startswith(("text_model.", "text_projection.")) for key in missing.missing_keys):
            raise RuntimeError(f"{pipeline}: text encoder does not fit the tiny CLAP text tower")
        tokenizer.save_pretrained(str(folder))
    model.save_pretrained(str(folder))
    tiny_feature_extractor(fusion).save_pretrained(str(folder))
    return folder
