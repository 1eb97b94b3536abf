"""Shared loading of transformers encoders: ``save_pretrained`` folders, hub ids, digests, one-line errors.

A transformers backbone's checkpoint is a folder written by ``save_pretrained`` (``config.json``, the
weights as ``model.safetensors`` or ``pytorch_model.bin``, possibly sharded, and the preprocessor's
``preprocessor_config.json``). ``--checkpoint NAME=PATH`` takes such a folder (any config of the model's
class, so tests use tiny ones) or a Hugging Face hub id; without it the registered ``hub`` id is used.
A hub id is fetched with ``huggingface_hub`` (from its local cache when offline); when that fails the
error names the files to fetch and where from. ``transformers`` is imported only here, lazily, so a
missing ``encoders`` extra is one line naming it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audiometric.errors import AudiometricError, WeightsError

if TYPE_CHECKING:
    import torch

    from audiometric.backbones.weights import WeightFile

EXTRA = "pip install 'audiometric[encoders]'"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


def require_transformers(name: str) -> Any:
    """The ``transformers`` module, or a one-line error naming the ``encoders`` extra."""
    try:
        import transformers
    except ImportError:
        raise AudiometricError(f"the {name} backbone needs transformers, which is not installed; {EXTRA}") from None
    return transformers


def weight_files(folder: Path) -> list[Path]:
    """The weights files of a ``save_pretrained`` folder (safetensors or pickled, possibly sharded), sorted."""
    return sorted({p for pattern in _WEIGHT_PATTERNS for p in folder.glob(pattern)})


#: Files besides the weights that change an embedding: what the weights mean (layers, heads) and what they
#: are fed (the preprocessor's rate, mel bins and normalisation; the tokenizer of CLAP's text tower).
_DIGESTED = (
    "config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
)


def folder_digest(folder: Path, digest: Callable[[Path], str]) -> str:
    """SHA-256 over ``"<file> <sha256>\\n"`` lines of the files in :data:`_DIGESTED` that the folder holds,
    then each weights file (name order), so the embedding cache never serves a folder whose preprocessing
    changed. A weights file's line holds its own sha256, the digest the hub lists for it.
    """
    files = [*(folder / name for name in _DIGESTED), *weight_files(folder)]
    lines = "".join(f"{file.name} {digest(file)}\n" for file in files if file.is_file())
    return hashlib.sha256(lines.encode()).hexdigest()


def _hub_reason(err: Exception) -> str:
    """Why ``snapshot_download`` failed, in a few words (its own messages run over several sentences)."""
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    if isinstance(err, LocalEntryNotFoundError):
        return "the hub cannot be reached and the Hugging Face cache has no copy"
    if isinstance(err, RepositoryNotFoundError):
        return "no such repository on the hub, or it needs a login"
    return " ".join(str(err).split()).split(". ")[0][:200] or type(err).__name__


def _fetch_hint(entry: WeightFile, repo: str) -> str:
    return (
        f"fetch {', '.join(entry.files)} from https://huggingface.co/{repo} into one folder and pass "
        f"--checkpoint {entry.name}=FOLDER (or set {entry.env_var}=FOLDER)"
    )


def _check_folder(entry: WeightFile, folder: Path, source: str) -> Path:
    """``folder`` if it holds a config and weights; else a one-line error naming what is missing."""
    missing = [] if (folder / "config.json").is_file() else ["config.json"]
    missing += [] if weight_files(folder) else ["model.safetensors (or pytorch_model.bin)"]
    if missing:
        raise WeightsError(
            f"{entry.name} checkpoint folder {folder} (from {source}) lacks {' and '.join(missing)}; "
            f"pass a folder written by save_pretrained, or {_fetch_hint(entry, entry.hub or '')}"
        )
    return folder


def resolve_folder(entry: WeightFile, value: str, source: str, offline: bool) -> Path:
    """The local ``save_pretrained`` folder for ``value`` (a folder, or a hub id fetched or found in the cache)."""
    path = Path(value).expanduser()
    if path.is_dir():
        return _check_folder(entry, path, source)
    if path.exists() or not _HUB_ID.match(value):
        what = "is a file, not a save_pretrained folder" if path.exists() else "does not exist"
        raise WeightsError(
            f"{entry.name} checkpoint {path} (from {source}) {what}; {_fetch_hint(entry, entry.hub or '')}"
        )
    require_transformers(entry.name)
    from huggingface_hub import snapshot_download

    offline = offline or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    try:
        folder = snapshot_download(
            value, allow_patterns=[*entry.files, *_WEIGHT_PATTERNS, "*.json"], local_files_only=offline
        )
    except Exception as err:  # offline, unknown repo, no network: huggingface_hub raises many kinds
        reason = _hub_reason(err)
        raise WeightsError(f"cannot fetch {value} for {entry.name} ({reason}); {_fetch_hint(entry, value)}") from None
    return _check_folder(entry, Path(folder), f"hub {value}")


def load_model(model_class: Any, folder: Path, name: str) -> torch.nn.Module:
    """``model_class.from_pretrained(folder)`` in float32, eval mode; a one-line error unless every weight loads.

    transformers initialises missing or wrongly shaped weights at random with only a log message; a
    metric on such a network would be silently meaningless, so that is an error naming the keys.
    """
    import torch

    try:
        model, info = model_class.from_pretrained(
            folder, local_files_only=True, output_loading_info=True, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        reason = " ".join(str(err).split()).split(". ")[0][:200]
        raise WeightsError(
            f"{folder} is not a {model_class.__name__} checkpoint for {name} ({reason}); "
            f"pass a folder that {model_class.__name__}.save_pretrained wrote"
        ) from None
    problems = [
        f"{label} {', '.join(map(str, keys[:4]))}" + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")
        for label, keys in (("missing", list(info["missing_keys"])), ("wrong shapes", info["mismatched_keys"]))
        if keys
    ]
    if problems:
        raise WeightsError(
            f"{folder} does not match {model_class.__name__}'s layout for {name}: {'; '.join(problems)}; "
            f"pass the folder of a {model_class.__name__} checkpoint"
        )
    return model.eval()


def load_processor(processor_class: Any, folder: Path) -> Any:
    """The folder's preprocessor (``preprocessor_config.json``), or ``processor_class``'s defaults without one."""
    if (folder / "preprocessor_config.json").is_file():
        return processor_class.from_pretrained(folder, local_files_only=True)
    return processor_class()


#: Each transformers backbone's model and preprocessor classes (what its ``save_pretrained`` folder holds).
CLASSES: dict[str, tuple[str, str]] = {
    "clap-laion": ("ClapModel", "ClapFeatureExtractor"),
    "ast-audioset": ("ASTForAudioClassification", "ASTFeatureExtractor"),
    "encodec-24k": ("EncodecModel", "EncodecFeatureExtractor"),
    "dac-44k": ("DacModel", "DacFeatureExtractor"),
    "wavlm-base-plus": ("WavLMModel", "Wav2Vec2FeatureExtractor"),
}


def load_parts(name: str, checkpoint: str | None) -> tuple[Any, Any, Path, str]:
    """``(model, preprocessor, folder, digest)`` of backbone ``name``: its :data:`CLASSES`, from ``checkpoint``
    (folder or hub id; default the registered hub id), float32, eval mode, on the CPU."""
    from audiometric.backbones.weights import resolve_checkpoint, sha256_file

    transformers = require_transformers(name)
    model_class, processor_class = CLASSES[name]
    folder = resolve_checkpoint(name, checkpoint)
    model = load_model(getattr(transformers, model_class), folder, name)
    return model, load_processor(getattr(transformers, processor_class), folder), folder, sha256_file(folder)


def chunk_rows(wav: torch.Tensor, size: int) -> tuple[list[np.ndarray], int]:
    """``wav`` ``(batch, samples)`` cut into ``ceil(samples / size)`` chunks per clip (the last one shorter):
    float32 numpy rows, clip-major, for a feature extractor, and the number of chunks per clip."""
    n_chunks = max(1, -(-wav.shape[-1] // size))
    rows = wav.detach().float().cpu().numpy()
    return [row[i * size : (i + 1) * size] for row in rows for i in range(n_chunks)], n_chunks


def to_device(inputs: Any, device: torch.device) -> dict[str, torch.Tensor]:
    """A feature extractor's ``BatchFeature`` as a dict of tensors on ``device``."""
    return {key: value.to(device) for key, value in inputs.items()}
