"""Which torch device a ``--device`` value names, with a one-line error for one this machine lacks.

``parse_device`` checks the spelling without importing torch; ``resolve_device`` also checks that the
device exists here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from audiometric.errors import AudiometricError

if TYPE_CHECKING:
    import torch

#: What ``--device`` accepts, for messages and help texts.
VALID = "auto, cpu, cuda, cuda:N or mps"

_SPEC = re.compile(r"(auto|cpu|mps|cuda)(?::(\d+))?")


def parse_device(spec: str | torch.device) -> tuple[str, int | None]:
    """``(kind, index)`` of a device spelling (``"cuda:1"`` -> ``("cuda", 1)``); raises for any other text."""
    text = str(spec).strip().lower()
    match = _SPEC.fullmatch(text)
    if match is None or (match[2] is not None and match[1] != "cuda"):
        raise AudiometricError(f"--device '{spec}' is not a device this tool knows; use one of {VALID}")
    return match[1], None if match[2] is None else int(match[2])


def resolve_device(spec: str | torch.device) -> torch.device:
    """The ``torch.device`` for ``spec``: ``auto`` is CUDA when available, else CPU.

    Raises :class:`AudiometricError` (one line naming ``--device`` and what this machine offers) for an
    unknown spelling, CUDA without a usable GPU, a CUDA index beyond the GPU count, or MPS off Apple GPUs.
    """
    kind, index = parse_device(spec)
    import torch

    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise AudiometricError(
                f"--device {spec}: no CUDA GPU is usable here (torch {torch.__version__} is "
                f"{build}); use --device cpu, or auto to take a GPU when there is one"
            )
        if index is not None and index >= count:
            raise AudiometricError(
                f"--device {spec}: this machine has {count} CUDA GPU(s), so use cuda:0"
                f"{f' to cuda:{count - 1}' if count > 1 else ''} (or cuda, auto, cpu)"
            )
        return torch.device("cuda", index) if index is not None else torch.device("cuda")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise AudiometricError(f"--device {spec}: MPS (Apple GPUs) is not available here; use --device cpu or auto")
    return torch.device(kind)


def checked_device(spec: str | torch.device) -> str | torch.device:
    """``spec`` checked as far as is cheap: the spelling always; a device named explicitly (cuda, cuda:N,
    mps) is also resolved at once, so a missing GPU fails before any work. ``auto`` and ``cpu`` stay
    strings, resolved by the extractor only if some clip must be computed (a cached run needs no torch)."""
    if not isinstance(spec, str):
        return spec
    kind, _ = parse_device(spec)
    return spec if kind in ("auto", "cpu") else resolve_device(spec)
