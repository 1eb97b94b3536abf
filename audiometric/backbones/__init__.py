"""Registry of embedding backbones.

Adding a backbone is one file in this folder (a ``Backbone`` subclass and a ``load`` function, see
``base.py``) and one line in ``_REGISTRY`` below: the ``"module:load_function"`` and the class's
``sample_rate``, ``min_samples`` and ``outputs`` (a test checks they match the class). Modules are
imported lazily and this registry imports no torch, so listing backbones, and a fully cached run
(:class:`LazyBackbone`), never build or even import a network.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from audiometric.errors import AudiometricError

if TYPE_CHECKING:
    import torch

    from audiometric.backbones.base import Backbone


@dataclass(frozen=True)
class Spec:
    """A registered backbone as the pipeline sees it before building it (the class attributes, Hz/samples).

    ``dims`` gives each output's width with the default checkpoint (the ``audiometric backbones`` listing);
    ``per_frame`` says whether a clip yields one row per frame (else one row per clip); ``params`` names the
    settings its loader takes as keywords (``--param KEY=VALUE``, part of the cache key when given);
    ``precisions`` the ``--precision`` values its network tolerates (docs/metrics.md, "Precision").
    """

    loader: str
    sample_rate: int
    min_samples: int
    outputs: tuple[str, ...]
    dims: tuple[int, ...] = field(default=(), kw_only=True)
    per_frame: bool = field(default=False, kw_only=True)
    params: tuple[str, ...] = field(default=(), kw_only=True)
    precisions: tuple[str, ...] = field(default=("fp32",), kw_only=True)


#: ``--precision`` values (generate's words): float32, or the network under float16/bfloat16 autocast.
PRECISIONS = ("fp32", "fp16", "bf16")
# A lower precision is allowed where it moved FD and KAD by < 1 % and no output by > 5e-2 (max relative)
# on the bundled example (benchmarks/precision.py; the table is in docs/metrics.md, "Precision").
_ALL = PRECISIONS
_FP16 = ("fp32", "fp16")
_FP32 = ("fp32",)

_REGISTRY: dict[str, Spec] = {
    "panns-cnn14-16k": Spec(
        "panns:load_cnn14_16k", 16000, 32000, ("embedding", "logits"), dims=(2048, 527), precisions=_ALL
    ),
    "panns-cnn14-32k": Spec(
        "panns:load_cnn14_32k", 32000, 32000, ("embedding", "logits"), dims=(2048, 527), precisions=_ALL
    ),
    "vggish": Spec("vggish:load_vggish", 16000, 15600, ("embedding",), dims=(128,), per_frame=True, precisions=_ALL),
    "aisfx": Spec("aisfx:load_aisfx", 44100, 100353, ("embedding",), dims=(512,), per_frame=True, precisions=_ALL),
    "clap-laion": Spec("clap:load_clap", 48000, 1, ("embedding",), dims=(512,), precisions=_FP32),
    "ast-audioset": Spec("ast:load_ast", 16000, 400, ("embedding", "logits"), dims=(768, 527), precisions=_ALL),
    "encodec-24k": Spec(
        "encodec:load_encodec", 24000, 320, ("embedding",), dims=(128,), per_frame=True, precisions=_FP32
    ),
    "dac-44k": Spec("dac:load_dac", 44100, 512, ("embedding",), dims=(1024,), per_frame=True, precisions=_FP32),
    "wavlm-base-plus": Spec(
        "wavlm:load_wavlm", 16000, 400, ("embedding",), dims=(768,), per_frame=True, params=("layer",), precisions=_FP16
    ),
    "passt": Spec("passt:load_passt", 32000, 320000, ("embedding", "logits"), dims=(768, 527), precisions=_FP16),
}


def available() -> list[str]:
    """Names of every registered backbone."""
    return sorted(_REGISTRY)


def spec(name: str) -> Spec:
    """The registry entry of ``name``, or a one-line error listing the valid names."""
    if name not in _REGISTRY:
        raise AudiometricError(f"unknown backbone '{name}'; choose one of: {', '.join(available())}")
    return _REGISTRY[name]


def loader(name: str) -> Callable[..., Backbone]:
    """The ``load(checkpoint, device)`` function registered under ``name``."""
    module, func = spec(name).loader.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), func)


def load(
    name: str,
    checkpoint: str | None = None,
    device: str | torch.device = "cpu",
    params: Mapping[str, object] | None = None,
) -> Backbone:
    """Build backbone ``name`` with its weights on ``device``, in eval mode; ``params`` go to its loader."""
    import torch

    model = loader(name)(checkpoint, torch.device(device), **(params or {}))
    model.params = dict(params or {})
    return model.eval()


def params_for(name: str, params: Mapping[str, object] | None) -> dict[str, object]:
    """The entries of ``params`` (``--param KEY=VALUE``, shared by a run's backbones) that ``name`` takes."""
    return {key: value for key, value in (params or {}).items() if key in spec(name).params}


def check_params(names: Iterable[str], params: Mapping[str, object] | None) -> None:
    """One-line error for a ``--param`` key that no backbone of the run takes (no check without ``params``)."""
    if not params:
        return
    names = list(names)
    unused = sorted(set(params or {}) - {key for name in names for key in spec(name).params})
    if unused:
        takers = [f"{n}: {', '.join(spec(n).params)}" for n in available() if spec(n).params]
        raise AudiometricError(
            f"--param {unused[0]}: no backbone of this run ({', '.join(names)}) takes it; "
            f"backbone settings are {'; '.join(takers) or 'none'}"
        )


def check_precision(name: str, precision: str) -> str:
    """``precision`` when backbone ``name`` tolerates it, else a one-line error naming the allowed values."""
    if precision not in PRECISIONS:
        raise AudiometricError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    allowed = spec(name).precisions
    if precision not in allowed:
        raise AudiometricError(
            f"--precision {precision}: backbone {name} allows {', '.join(allowed)} only (its outputs move too "
            "far in lower precision, docs/metrics.md 'Precision'); pass --precision fp32 or choose another backbone"
        )
    return precision


def __getattr__(attribute: str):
    """``Backbone`` and ``LazyBackbone`` are imported on first use (``Backbone`` needs torch)."""
    if attribute == "Backbone":
        from audiometric.backbones.base import Backbone

        return Backbone
    if attribute == "LazyBackbone":
        from audiometric.backbones.lazy import LazyBackbone

        return LazyBackbone
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


__all__ = [
    "PRECISIONS",
    "Backbone",
    "LazyBackbone",
    "Spec",
    "available",
    "check_params",
    "check_precision",
    "load",
    "loader",
    "params_for",
    "spec",
]
