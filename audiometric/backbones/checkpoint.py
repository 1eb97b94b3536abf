"""Safe checkpoint loading: ``torch.load(weights_only=True)`` with only numpy's array helpers allowed beyond it.

Every checkpoint audiometric reads goes through :func:`load_checkpoint`; a file that needs any other global
is refused in one line, and a damaged one is named with the fix. torch is imported only when a file loads.
"""

from __future__ import annotations

import pickle
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from audiometric.errors import WeightsError


def _numpy_safe_globals() -> list[Callable[..., Any] | tuple[Callable[..., Any], str]]:
    """What ``torch.load(weights_only=True)`` may rebuild beyond tensors: numpy arrays, scalars, dtypes.

    Pickles name numpy's helpers by module path, which numpy 2 moved from ``numpy.core`` to
    ``numpy._core``; both spellings map to the installed functions.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]  # the same module under numpy 1's name
    allowed: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
        np.ndarray,
        np.dtype,
        bytes,
    ]  # b"" pickles as bytes()
    allowed += sorted({type(np.dtype(code)) for code in np.typecodes["All"]}, key=str)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [(multiarray._reconstruct, f"{module}._reconstruct"), (multiarray.scalar, f"{module}.scalar")]
    return allowed


# torch's safe_globals context edits one process-wide allow-list and restores it on exit, so two loads in
# overlapping contexts (networks loading in background threads) would shrink each other's list mid-load.
_LOAD_LOCK = threading.Lock()

_REFUSAL_MARKERS = ("unsupported global", "allowlisted", "unrecognized function", "is blocked")
_TORCH_ADVICE = ("Weights only load failed", "Check the documentation", "Please file an issue")


def _unpickler_detail(message: str) -> str:
    """The first sentence of torch's reason, without the generic advice paragraphs around it."""
    for paragraph in re.split(r"\n\s*\n", message.split("WeightsUnpickler error:")[-1]):
        paragraph = " ".join(paragraph.split())
        if paragraph and not paragraph.startswith(_TORCH_ADVICE):
            return paragraph.split(". ")[0].rstrip(".")
    return "rejected by torch's weights-only unpickler"


def load_checkpoint(path: str | Path) -> object:
    """``torch.load`` a checkpoint onto the CPU, allowing only tensors, numpy data and plain containers."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"checkpoint {path} does not exist; check the path")
    try:
        with _LOAD_LOCK, torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = _unpickler_detail(str(err))
        if any(marker in detail.lower() for marker in _REFUSAL_MARKERS):
            raise WeightsError(
                f"refusing to load {path}: {detail}; only tensors, numpy arrays/scalars and plain containers "
                f"are allowed, so use the published checkpoint or re-save it as a plain state_dict"
            ) from None
        raise _unreadable(path, detail) from None
    except Exception as err:  # torch reports damaged files as EOFError, RuntimeError, KeyError, ...
        reason = " ".join(str(err).split()).split(". ")[0].rstrip(".")
        raise _unreadable(path, f"{type(err).__name__}: {reason}" if reason else type(err).__name__) from None


def _unreadable(path: Path, detail: str) -> WeightsError:
    return WeightsError(
        f"{path} is not a readable PyTorch checkpoint ({detail}); replace it with an intact copy "
        f"(a deleted file in the cache is downloaded again)"
    )
