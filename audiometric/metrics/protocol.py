"""The set-level metric protocol: what a registered metric computes from a generated and a reference set.

A metric is one module in this folder with a function ``compute(data: MetricInput) -> dict[str, Estimate | str]``
and one line in ``METRICS`` (``metrics/__init__.py``) naming it as ``"module:function"``. The function
gets the per-clip rows of the backbone output the metric reads and returns one :class:`Estimate` per
result entry (``kl`` gives ``kl_softmax`` and ``kl_sigmoid``; ``fd`` gives ``fd`` and, when asked,
``fd_inf``); a string instead of an estimate says why that entry could not be computed. Rules shared
by every metric live in the pipeline (``audiometric/evaluate.py``), not here:

- **not computable** (listed under ``not_computed`` with the reason): a set with fewer than
  ``MetricInfo.min_rows`` rows; a metric with ``reference="clips"`` scored against a statistics file; a
  ``paired`` metric whose clip names do not pair (the pipeline pairs them and passes index-aligned
  ``gen``/``ref``). A metric raises :class:`~audiometric.errors.AudiometricError` for any other
  precondition of its own (IS needs 10 clips), with a one-line reason.
- **confidence intervals**: with ``bootstrap > 0`` the pipeline draws clip indices with replacement
  (generated, then reference; the same indices for paired metrics; none for the reference when it is
  a statistics file or ``MetricInfo.resample_reference`` is false) and calls each estimate's
  ``replicate(gen_idx, ref_idx)``; intervals, bias notes and seeding are the pipeline's.
- **entry fields** every result has: backbone, output, better, n_generated, n_reference (clips), source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.moments import MomentAccumulator

#: Float64 rounding noise relative to the size of the terms a metric subtracts (FD: the two covariance traces;
#: KID, KAD: the kernel values): far above eps (2.2e-16) times any accumulation length here, far below any
#: real difference. An entry's ``resolution`` field is this times that size; tables print smaller values as 0.
RESOLUTION = 1e-9


class Progress(Protocol):
    """What a progress factory returns (a ``tqdm`` bar fits): ``update()`` per step, ``close()`` at the end."""

    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


def no_progress(total: int, desc: str) -> Progress:
    """The default progress factory: shows nothing."""
    return _Silent()


@dataclass(frozen=True, kw_only=True)
class MetricInput:
    """Everything a set-level metric may read.

    ``name``: the registry name (the key of the main entry). ``gen``/``ref``: one ``(frames, dim)``
    array per clip (``ref`` is ``None`` against a statistics file; index-aligned with ``gen`` for
    paired metrics). ``ref_moments``: the reference statistics when ``ref`` is ``None`` (Fréchet
    metrics), else ``None``. ``n_reference``: reference CLIPS.
    ``progress(total, desc)`` gives a bar for long loops (pure maths takes its ``update`` as a callback).
    ``params``: the metric's parameters (its registry entry's ``defaults``).
    """

    name: str
    gen: list[np.ndarray]
    ref: list[np.ndarray] | None
    ref_moments: MomentAccumulator | None
    n_reference: int
    compat: bool = False
    fd_inf: bool = False
    seed: int = 0
    progress: Callable[[int, str], Progress] = no_progress
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref_clips(self) -> list[np.ndarray]:
        """``ref``, for a metric that reads reference clips (the pipeline gives it no statistics file)."""
        if self.ref is None:
            raise AudiometricError(f"{self.name} needs the reference clips, not a statistics file")
        return self.ref

    @property
    def ref_stats(self) -> MomentAccumulator:
        """``ref_moments``, for a metric scored against a statistics file (``ref`` is ``None``)."""
        if self.ref_moments is None:
            raise AudiometricError(f"{self.name}: neither reference clips nor reference statistics were given")
        return self.ref_moments


@dataclass
class Estimate:
    """One result entry: its value, extra JSON fields, and how to recompute it on a clip resample.

    ``replicate(gen_idx, ref_idx)`` gets clip indices drawn with replacement (``ref_idx`` is ``None``
    when the reference stays fixed; equal to ``gen_idx`` for paired metrics) and returns the value on
    that resample; ``None`` means the entry gets no interval. ``notes`` are shown under the table.
    """

    value: float
    fields: dict[str, Any] = field(default_factory=dict)
    replicate: Callable[[np.ndarray, np.ndarray | None], float] | None = None
    notes: list[str] = field(default_factory=list)


def gather(clips: list[np.ndarray], idx: np.ndarray | None = None) -> np.ndarray:
    """The stacked rows of ``clips`` (all, or the clips ``idx`` with repeats, in that order)."""
    chosen = clips if idx is None else [clips[i] for i in idx]
    return np.concatenate(chosen, axis=0)


__all__ = ["RESOLUTION", "Estimate", "MetricInput", "Progress", "gather", "no_progress"]
