"""The backbone protocol: what every embedding network plugged into audiometric provides.

A backbone is a ``torch.nn.Module`` with four class attributes and a ``forward``:

- ``name``: the registry name (``"panns-cnn14-16k"``).
- ``sample_rate``: the input rate in Hz; audio is resampled to it once per file.
- ``min_samples``: inputs shorter than this are zero-padded at the end before ``forward``.
- ``outputs``: the names of the tensors ``forward`` returns, e.g. ``("embedding", "logits")``.

``forward(wav)`` takes ``wav`` of shape ``(batch, samples)``, float32, at ``sample_rate``, and returns
``{output_name: tensor of shape (batch, frames, dim)}``. A clip-level output has ``frames == 1``;
a frame-level one (VGGish patches) has one row per frame. Every clip in a batch has the same length,
so ``frames`` is the same for the whole batch.

A backbone module also exposes ``load(checkpoint: str | None, device) -> Backbone`` which builds the
network and loads its weights (``checkpoint`` overrides the default file), and registers that
function in ``audiometric/backbones/__init__.py`` with one line that also states ``sample_rate``,
``min_samples`` and ``outputs`` (so cached runs never import the module; a test checks they match).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar, TypeVar

import torch

from audiometric.backbones.weights import sha256_file
from audiometric.errors import WeightsError


class Backbone(torch.nn.Module):
    """Base class for embedding networks; see the module docstring for the protocol."""

    name: ClassVar[str]
    sample_rate: ClassVar[int]
    min_samples: ClassVar[int] = 1
    outputs: ClassVar[tuple[str, ...]]

    #: sha256 of the checkpoint the weights came from (``None`` for random initialisation).
    checkpoint_sha256: str | None = None
    #: loader settings it was built with (``--param``, e.g. ``{"layer": "6"}``); empty for the defaults
    params: dict[str, object] = {}  # noqa: RUF012 - replaced per instance by backbones.load, never mutated

    def forward(self, wav: torch.Tensor) -> dict[str, torch.Tensor]:  # pragma: no cover - protocol
        raise NotImplementedError


def layout_problems(expected: Mapping[str, torch.Tensor], state: Mapping[str, object]) -> list[str]:
    """How ``state`` differs from the ``expected`` state_dict: missing keys, unexpected keys, wrong shapes.

    Each entry is one short phrase naming up to four keys (``[]`` when the layouts match), for one-line
    errors that say which checkpoint entries are wrong.
    """

    def short(keys: list[str]) -> str:
        return ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")

    def shape(value: object) -> str:
        return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__

    missing = [k for k in expected if k not in state]
    unexpected = [str(k) for k in state if k not in expected]
    wrong = [
        f"{k} {shape(state[k])} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and shape(state[k]) != str(tuple(v.shape))
    ]
    found = (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong))
    return [f"{label} {short(keys)}" for label, keys in found if keys]


def check_layout(
    expected: Callable[[], Mapping[str, torch.Tensor]], state: Mapping[str, object], what: str, fix: str
) -> None:
    """A one-line WeightsError ``"<what>: <problems>; <fix>"`` unless ``state`` has exactly the keys and shapes of
    ``expected()``, a state_dict built on the meta device (shapes only: no memory, no random initialisation)."""
    with torch.device("meta"):
        problems = layout_problems(expected(), state)
    if problems:
        raise WeightsError(f"{what}: {'; '.join(problems)}; {fix}")


_B = TypeVar("_B", bound=Backbone)


def with_weights(model: _B, state: Mapping[str, torch.Tensor], path: str | Path, device: str | torch.device) -> _B:
    """``model`` with ``state`` loaded (strict), the sha256 of checkpoint ``path`` recorded, moved to ``device``
    (buffers keep their dtype: float64 front ends stay float64), in eval mode."""
    model.load_state_dict(state, strict=True)
    model.checkpoint_sha256 = sha256_file(path)
    return model.to(torch.device(device)).eval()
