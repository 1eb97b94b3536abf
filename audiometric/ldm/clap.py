"""CLAP conditioning: text embeddings from the pipeline's text tower, audio embeddings from a CLAP audio tower.

AudioLDM conditions its U-Net on the L2-normalised CLAP projection (``class_labels``), text at sampling time
and audio at training time, so either modality can drive generation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from audiometric.audio.resample import resample
from audiometric.errors import AudiometricError
from audiometric.ldm.components import Components, one_line_error, quiet_loading, resolve_model

#: The rate ClapFeatureExtractor accepts (Hz).
CLAP_RATE = 48000


def _features(output) -> torch.Tensor:
    """transformers v5 returns an output object from get_*_features, v4 a tensor."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


@torch.inference_mode()
def text_embeddings(components: Components, prompts: list[str]) -> torch.Tensor:
    """(B, D) L2-normalised CLAP text projections of ``prompts`` (truncated at the tokenizer's maximum length).

    Padded to the longest prompt, not to the maximum length as the pipeline does: the attention mask makes
    the two equal to float rounding, and a ~20-token prompt padded to CLAP's 512 tokens wastes most of the work.
    """
    tokens = components.tokenizer(
        list(prompts),
        padding="longest",
        max_length=components.tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    )
    device = components.text_encoder.device
    out = components.text_encoder(tokens.input_ids.to(device), attention_mask=tokens.attention_mask.to(device))
    return F.normalize(out.text_embeds, dim=-1)


def empty_embedding(components: Components) -> torch.Tensor:
    """(1, D) embedding of the empty prompt: the unconditional branch of classifier-free guidance."""
    return text_embeddings(components, [""])


@dataclass
class ClapAudio:
    """A CLAP model with an audio tower and its feature extractor (48 kHz)."""

    model: Any  # transformers.ClapModel (both towers) or ClapAudioModelWithProjection
    feature_extractor: Any  # transformers.ClapFeatureExtractor
    tokenizer: Any | None  # present when the folder has a text tower
    source: str

    @property
    def fusion(self) -> bool:
        return bool(getattr(self._audio_config(), "enable_fusion", False))

    def _audio_config(self):
        return getattr(self.model.config, "audio_config", self.model.config)

    @property
    def max_samples(self) -> int:
        """Samples at 48 kHz the audio tower sees (longer clips are cut at a seeded random offset)."""
        return int(self.feature_extractor.nb_max_samples)


def load_clap_audio(model_or_folder: str | os.PathLike, device: str | torch.device = "cpu") -> ClapAudio:
    """Load a CLAP audio tower (``laion/clap-htsat-unfused`` or a folder with its files) for audio conditioning."""
    folder = resolve_model(model_or_folder)
    name = str(model_or_folder)
    if not (Path(folder) / "config.json").is_file():
        raise AudiometricError(
            f"CLAP {name!r} ({folder}) has no config.json; pass a CLAP model folder or hub id "
            f"such as laion/clap-htsat-unfused"
        )
    with quiet_loading():
        model, extractor, tokenizer = _load_clap(folder, name)
    model.eval().requires_grad_(False).to(device)
    return ClapAudio(model=model, feature_extractor=extractor, tokenizer=tokenizer, source=name)


def _load_clap(folder: Path, name: str):
    from transformers import AutoConfig, AutoTokenizer, ClapAudioModelWithProjection, ClapFeatureExtractor, ClapModel

    try:
        kind = AutoConfig.from_pretrained(str(folder)).model_type
        model: ClapModel | ClapAudioModelWithProjection
        if kind == "clap":
            model = ClapModel.from_pretrained(str(folder))
        elif kind == "clap_audio_model":
            model = ClapAudioModelWithProjection.from_pretrained(str(folder))
        else:
            raise AudiometricError(
                f"CLAP {name!r} ({folder}) is a {kind!r} model without a CLAP audio tower; "
                f"audio conditioning needs a CLAP such as laion/clap-htsat-unfused (--clap)"
            )
        extractor = ClapFeatureExtractor.from_pretrained(str(folder))
    except AudiometricError:
        raise
    except Exception as err:
        raise AudiometricError(f"CLAP {name!r}: cannot load {folder} ({one_line_error(err, 200)})") from None
    tokenizer = None
    if kind == "clap":
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except Exception:  # a CLAP folder without tokenizer files: text-tower checks are skipped
            tokenizer = None
    return model, extractor, tokenizer


def _crop(wave: np.ndarray, length: int, seed: int) -> np.ndarray:
    """A seeded random ``length``-sample window of ``wave`` (CLAP's rand_trunc, with our own generator so the
    choice depends only on the seed, not on numpy's global state)."""
    if wave.shape[0] <= length:
        return wave
    start = int(np.random.default_rng(seed).integers(0, wave.shape[0] - length + 1))
    return wave[start : start + length]


def _fusion_features(clap_audio: ClapAudio, wave: np.ndarray, seed: int) -> dict:
    """The extractor's 4-channel fusion input for one clip. Its chunk choice draws from numpy's global RNG,
    so the draw runs under ``seed`` and the caller's RNG state is restored afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        return clap_audio.feature_extractor(
            [wave],
            sampling_rate=CLAP_RATE,
            truncation="fusion",
            padding="repeatpad",
            max_length=clap_audio.max_samples,
            return_tensors="pt",
        )
    finally:
        np.random.set_state(state)


@torch.inference_mode()
def audio_embeddings(
    clap_audio: ClapAudio, waves: list[np.ndarray], sample_rate: int, seeds: list[int] | None = None
) -> torch.Tensor:
    """(B, D) L2-normalised CLAP audio projections of mono ``waves`` at ``sample_rate`` Hz (resampled to 48 kHz).

    Non-fusion towers see one ``max_samples`` window per clip, cut at an offset drawn from the clip's seed
    (``seeds``, default 0 each); fusion towers get the extractor's 4-channel fusion input, its random
    chunks drawn under the same seed.
    """
    seeds = [0] * len(waves) if seeds is None else list(seeds)
    batch = []
    for wave, seed in zip(waves, seeds):
        wave = np.asarray(wave, dtype=np.float32).reshape(-1)
        if sample_rate != CLAP_RATE:
            wave = resample(torch.from_numpy(wave)[None], sample_rate, CLAP_RATE)[0].numpy()
        batch.append(wave if clap_audio.fusion else _crop(wave, clap_audio.max_samples, seed))
    if clap_audio.fusion:
        inputs = [_fusion_features(clap_audio, wave, seed) for wave, seed in zip(batch, seeds)]
        features = torch.cat([x["input_features"] for x in inputs])
    else:
        features = clap_audio.feature_extractor(
            batch,
            sampling_rate=CLAP_RATE,
            truncation="rand_trunc",
            padding="repeatpad",
            max_length=clap_audio.max_samples,
            return_tensors="pt",
        )["input_features"]
    device = clap_audio.model.device
    kwargs = {"input_features": features.to(device, clap_audio.model.dtype)}
    if clap_audio.fusion:
        kwargs["is_longer"] = torch.cat([x["is_longer"] for x in inputs]).to(device)
    if hasattr(clap_audio.model, "get_audio_features"):
        embeds = _features(clap_audio.model.get_audio_features(**kwargs))
    else:
        embeds = clap_audio.model(**kwargs).audio_embeds
    return F.normalize(embeds.float(), dim=-1)


@torch.inference_mode()
def clap_text_embeddings(clap_audio: ClapAudio, prompts: list[str]) -> torch.Tensor:
    """(B, D) L2-normalised text projections from the CLAP model's own text tower (None-safe: raises when absent)."""
    if clap_audio.tokenizer is None or not hasattr(clap_audio.model, "get_text_features"):
        raise AudiometricError(f"CLAP {clap_audio.source!r} has no text tower or tokenizer; pass a full CLAP model")
    tokens = clap_audio.tokenizer(list(prompts), padding=True, truncation=True, return_tensors="pt")
    device = clap_audio.model.device
    embeds = _features(
        clap_audio.model.get_text_features(
            input_ids=tokens.input_ids.to(device), attention_mask=tokens.attention_mask.to(device)
        )
    )
    return F.normalize(embeds.float(), dim=-1)


def text_tower_agreement(components: Components, clap_audio: ClapAudio, prompts: list[str]) -> float | None:
    """Mean cosine between the pipeline's and the CLAP model's text embeddings of ``prompts`` (None without a
    CLAP text tower). Near 1 when both come from the same CLAP; audio conditioning from another CLAP lands
    in a space the U-Net was not trained on."""
    if clap_audio.tokenizer is None or not hasattr(clap_audio.model, "get_text_features"):
        return None
    a = text_embeddings(components, prompts).float().cpu()
    b = clap_text_embeddings(clap_audio, prompts).cpu()
    if a.shape[1] != b.shape[1]:
        return float("nan")
    return float((a * b).sum(dim=1).mean())
