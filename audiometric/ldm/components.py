"""AudioLDM's core components loaded from a diffusers pipeline folder or a Hugging Face hub id.

The folder layout is diffusers' (``model_index.json`` and one subfolder per component), as published at
``cvssp/audioldm-s-full-v2`` and friends; :func:`save_pipeline` writes the same layout back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from audiometric.errors import AudiometricError
from audiometric.ldm import attention
from audiometric.runtime.atomic import atomic_write_text

#: Subfolder -> (library, class) of an AudioLDM pipeline (the ``model_index.json`` entries).
LAYOUT = {
    "scheduler": ("diffusers", "DDIMScheduler"),
    "text_encoder": ("transformers", "ClapTextModelWithProjection"),
    "tokenizer": ("transformers", "RobertaTokenizerFast"),
    "unet": ("diffusers", "UNet2DConditionModel"),
    "vae": ("diffusers", "AutoencoderKL"),
    "vocoder": ("transformers", "SpeechT5HifiGan"),
}

_CONFIG_FILE = {"scheduler": "scheduler_config.json", "tokenizer": "tokenizer_config.json"}


@dataclass(kw_only=True)
class Components:
    """The pieces of an AudioLDM pipeline, plus where they came from."""

    unet: Any  # diffusers.UNet2DConditionModel
    vae: Any  # diffusers.AutoencoderKL
    text_encoder: Any  # transformers.ClapTextModelWithProjection
    tokenizer: Any
    vocoder: Any  # transformers.SpeechT5HifiGan
    scheduler: Any  # diffusers.DDIMScheduler (sampling)
    noise_scheduler_config: dict  # the training (DDPM) schedule: same betas as ``scheduler``
    source: str  # the model id or folder as given
    digest: str  # sha256 over the folder's files (names and contents); "" when not from a folder

    @property
    def sample_rate(self) -> int:
        """Output sample rate of the vocoder (Hz)."""
        return int(self.vocoder.config.sampling_rate)

    @property
    def hop(self) -> int:
        """Waveform samples per mel frame (the vocoder's total upsampling)."""
        hop = 1
        for rate in self.vocoder.config.upsample_rates:
            hop *= int(rate)
        return hop

    @property
    def vae_scale(self) -> int:
        """Mel frames (and bins) per latent row (column)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def n_mels(self) -> int:
        return int(self.vocoder.config.model_in_dim)

    @property
    def device(self) -> torch.device:
        return self.unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    def attention_layout(self) -> dict:
        """Head layout of the U-Net's attention blocks against the original 32 channels per head."""
        return attention.layout(self.unet.config)

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Components:
        """Move the networks to ``device`` (and ``dtype`` when given and different), in place."""
        for module in (self.unet, self.vae, self.text_encoder, self.vocoder):
            module.to(device)
            if dtype is not None and module.dtype != dtype:
                module.to(dtype)
        return self


def _offline_hint(model: str, looked: str) -> str:
    return (
        f"model {model!r} is not a local folder and is not in the Hugging Face cache ({looked}), and the hub "
        f"cannot be reached; download it where there is a network (huggingface-cli download {model} "
        f"--local-dir DIR), copy DIR here and pass --model DIR"
    )


def resolve_model(model: str | os.PathLike) -> Path:
    """A local folder holding ``model``: the path itself, or the hub snapshot (cache first, then the network)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if path.exists() or str(model).startswith((".", "/", "~")) or str(model).count("/") != 1:
        raise AudiometricError(
            f"model {str(model)!r}: no such folder; pass a diffusers pipeline folder or a hub id "
            f"such as cvssp/audioldm-s-full-v2"
        )
    from huggingface_hub import constants, snapshot_download

    try:
        return Path(snapshot_download(str(model), local_files_only=True))
    except Exception:  # not cached: try the network unless told to stay offline
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in {"", "0", "false", "no", "off"}:
        raise AudiometricError(_offline_hint(str(model), constants.HF_HUB_CACHE))
    try:
        return Path(snapshot_download(str(model)))
    except Exception as err:
        raise AudiometricError(f"{_offline_hint(str(model), constants.HF_HUB_CACHE)} ({one_line_error(err)})") from None


def one_line_error(err: BaseException, limit: int = 100) -> str:
    """``Type: message`` on one line, cut at a word boundary after ``limit`` characters."""
    text = f"{type(err).__name__}: {' '.join(str(err).split())}"
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path and sha256 (hidden files and caches excluded)."""
    from audiometric.backbones.weights import sha256_file

    total = hashlib.sha256()
    for path in sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ):
        total.update(f"{path.relative_to(folder).as_posix()}\0{sha256_file(path)}\n".encode())
    return total.hexdigest()


def _check_folder(folder: Path, model: str) -> None:
    for name in LAYOUT:
        sub = folder / name
        config = _CONFIG_FILE.get(name, "config.json")
        if not (sub / config).is_file() and not (name == "tokenizer" and sub.is_dir() and any(sub.iterdir())):
            raise AudiometricError(
                f"model {model!r} ({folder}) lacks its {name} component ({sub / config} missing); "
                f"pass a complete diffusers AudioLDM pipeline folder "
                f"({', '.join(n + '/' for n in LAYOUT)})"
            )


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence the per-file "Loading weights" bars of diffusers and transformers while loading."""
    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    states = [(lib, lib.is_progress_bar_enabled()) for lib in (diffusers_logging, transformers_logging)]
    for lib, _ in states:
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, enabled in states:
            if enabled:
                lib.enable_progress_bar()


def _load(name: str, load, folder: Path, model: str):
    try:
        return load(str(folder / name))
    except Exception as err:
        raise AudiometricError(
            f"model {model!r}: cannot load {folder / name} ({one_line_error(err, 200)}); "
            f"the folder may be incomplete or corrupt, download it again"
        ) from None


def load_components(
    model: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    original_attention: bool = False,
) -> Components:
    """Load AudioLDM from a diffusers pipeline folder or hub id onto ``device`` in ``dtype``, in eval mode.

    ``original_attention`` rebuilds the U-Net with the original AudioLDM head layout (32 channels per head);
    the weights are loaded unchanged.
    """
    folder = resolve_model(model)
    _check_folder(folder, str(model))
    with quiet_loading():
        components = _load_all(folder, str(model), original_attention)
    for module in (components.unet, components.vae, components.text_encoder, components.vocoder):
        module.eval().requires_grad_(False)
    return components.to(device, dtype)


def _load_all(folder: Path, model: str, original_attention: bool) -> Components:
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import AutoTokenizer, ClapTextModelWithProjection, SpeechT5HifiGan

    unet = _load("unet", UNet2DConditionModel.from_pretrained, folder, model)
    if original_attention and not attention.layout(unet.config)["matches_original"]:
        rebuilt = UNet2DConditionModel.from_config(attention.original_attention_config(unet.config))
        rebuilt.load_state_dict(unet.state_dict(), strict=True)
        unet = rebuilt
    scheduler = _load("scheduler", DDIMScheduler.from_pretrained, folder, model)
    components = Components(
        unet=unet,
        vae=_load("vae", AutoencoderKL.from_pretrained, folder, model),
        text_encoder=_load("text_encoder", ClapTextModelWithProjection.from_pretrained, folder, model),
        tokenizer=_load("tokenizer", AutoTokenizer.from_pretrained, folder, model),
        vocoder=_load("vocoder", SpeechT5HifiGan.from_pretrained, folder, model),
        scheduler=scheduler,
        noise_scheduler_config=dict(scheduler.config),
        source=model,
        digest=folder_digest(folder),
    )
    return components


def save_pipeline(components: Components, folder: str | os.PathLike) -> Path:
    """Write ``components`` as a diffusers AudioLDM pipeline folder (what :func:`load_components` and
    ``AudioLDMPipeline.from_pretrained`` read); ``model_index.json`` is written last, atomically."""
    import diffusers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in LAYOUT:
        getattr(components, name).save_pretrained(str(folder / name))
    index: dict[str, str | list[str]] = {"_class_name": "AudioLDMPipeline", "_diffusers_version": diffusers.__version__}
    index.update({name: [library, type(getattr(components, name)).__name__] for name, (library, _) in LAYOUT.items()})
    atomic_write_text(folder / "model_index.json", json.dumps(index, indent=2) + "\n")
    return folder
