"""Dataset loaders with the official layouts and splits, one module each, behind a registry.

``get(name).items(data_dir, split, eval_size, seed, ...)`` lists :class:`Item` records (clip id, audio
path, prompt, label, split); adding a dataset is one module exposing ``SPEC`` and one line below.
"""

from __future__ import annotations

import importlib

from audiometric.datasets.base import DatasetSpec, Item
from audiometric.errors import AudiometricError

__all__ = ["DatasetSpec", "Item", "available", "get"]

_MODULES = {
    "us8k": "us8k",
    "esc50": "esc50",
    "audiocaps": "audiocaps",
    "audioset": "audioset",
    "csv": "table",
}


def available() -> list[str]:
    """Registered dataset names."""
    return list(_MODULES)


def get(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` registered as ``name``."""
    if name not in _MODULES:
        raise AudiometricError(f"--dataset {name!r}: unknown; choose one of {', '.join(_MODULES)}")
    return importlib.import_module(f".{_MODULES[name]}", __name__).SPEC
