"""The API's defaults and argument checks: metric names, backbone names, extraction and interval options.

Every check raises a one-line :class:`~audiometric.errors.AudiometricError` naming the bad argument, before any
file is read or any network is built.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

from audiometric.errors import AudiometricError

if TYPE_CHECKING:
    from audiometric.audio.preprocess import Channels
    from audiometric.scoring.pipeline import ExtractionOptions

DEFAULT_BACKBONE = "panns-cnn14-16k"
DEFAULT_FAD_BACKBONE = "vggish"
#: Fewer bootstrap replicates than this give interval ends that move by several percent between seeds.
MIN_BOOTSTRAP = 100


def metric_names(metrics: str | Sequence[str]) -> tuple[str, ...]:
    """``"FD,is,fd@vggish"`` or ``["fd", "IS"]`` -> ``("fd", "is", "fd@vggish")``: metric names in any case,
    duplicates dropped, metric and ``@backbone`` names checked (:func:`audiometric.metrics.parse_requests`)."""
    from audiometric.metrics import parse_requests, split_request

    names = parse_requests(metrics)
    for name in names:
        backbone = split_request(name)[1]
        if backbone is not None:
            check_backbone(backbone, f"metric '{name}'")
    return names


def stats_metrics() -> tuple[str, ...]:
    """The metrics whose reference side a statistics file can hold (registry entries with moments)."""
    from audiometric.metrics import METRICS

    return tuple(name for name, info in METRICS.items() if info.stats_file)


def is_stats_metric(request: str) -> bool:
    """Whether a metric request (``fd``, ``fd@passt``) can be scored against a statistics file."""
    from audiometric.metrics import get_metric

    return get_metric(request).stats_file


def check_backbone(name: str, option: str) -> str:
    from audiometric import backbones

    if name not in backbones.available():
        raise AudiometricError(
            f"{option}: unknown backbone '{name}'; choose one of: {', '.join(backbones.available())}"
        )
    return name


class ExtractionKeywords(TypedDict, total=False):
    """The keywords of :func:`extraction_options` (its defaults), which :class:`Scorer` and every function of
    :mod:`audiometric.api.functions` take and pass on unchanged."""

    device: str
    batch_size: int
    workers: int
    channels: str
    max_seconds: float | None
    strict: bool
    cache: bool
    progress: bool
    allow_truncated: bool
    checkpoints: Mapping[str, str | Path] | Sequence[str] | None
    backbone_params: Mapping[str, object] | None
    precision: str


def extraction_options(
    *,
    device: str = "auto",
    batch_size: int = 16,
    workers: int = 2,
    channels: str = "first",
    max_seconds: float | None = None,
    strict: bool = False,
    cache: bool = True,
    progress: bool = True,
    allow_truncated: bool = False,
    checkpoints: Mapping[str, str | Path] | Sequence[str] | None = None,
    backbone_params: Mapping[str, object] | None = None,
    precision: str = "fp32",
) -> ExtractionOptions:
    """Checked :class:`audiometric.scoring.pipeline.ExtractionOptions` (one-line errors naming the bad argument)."""
    from audiometric.audio.preprocess import Preprocess
    from audiometric.backbones import PRECISIONS
    from audiometric.backbones.weights import checkpoint_map
    from audiometric.runtime.device import parse_device
    from audiometric.scoring.pipeline import ExtractionOptions

    parse_device(device)  # the spelling now; a named GPU is checked when the extractor is made
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AudiometricError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not isinstance(workers, int) or workers < 0:
        raise AudiometricError(f"workers must be an integer >= 0, got {workers!r}")
    if channels not in ("first", "mean"):
        raise AudiometricError(f"channels must be 'first' or 'mean', got {channels!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise AudiometricError(f"max_seconds must be > 0 seconds (or None for whole files), got {max_seconds!r}")
    if precision not in PRECISIONS:  # which backbone tolerates which is checked when the backbones are chosen
        raise AudiometricError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return ExtractionOptions(
        device=device,
        batch_size=batch_size,
        workers=workers,
        preprocess=Preprocess(channels=cast("Channels", channels), max_seconds=max_seconds),  # checked above
        strict=strict,
        use_cache=cache,
        progress=progress,
        allow_truncated=allow_truncated,
        checkpoints=checkpoint_map(checkpoints),
        backbone_params={str(key): str(value) for key, value in (backbone_params or {}).items()},
        precision=precision,
    )


def check_score_options(bootstrap: int, confidence: float, ci_method: str) -> str | None:
    """One-line errors for bad interval options; the few-replicates warning (also returned, for the result)."""
    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise AudiometricError(f"bootstrap must be an integer >= 0 (replicates), got {bootstrap!r}")
    if not 0 < confidence < 1:
        raise AudiometricError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    if ci_method not in ("percentile", "basic"):
        raise AudiometricError(f"ci_method must be 'percentile' or 'basic', got {ci_method!r}")
    if not 0 < bootstrap < MIN_BOOTSTRAP:
        return None
    few = (
        f"bootstrap with {bootstrap} replicates: interval ends are unstable below {MIN_BOOTSTRAP} "
        "(use 1000 for intervals you report)"
    )
    warnings.warn(few, UserWarning, stacklevel=4)
    return few
