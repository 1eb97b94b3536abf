"""The Python API behind the CLI: ``score``, ``embed`` and ``stats`` with the same options and defaults.

The click commands in :mod:`audiometric.cli` only parse options and call these functions, so a script
and a shell command with the same settings give the same numbers and the same JSON.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.scoring.result import Result

if TYPE_CHECKING:
    from audiometric.scoring.reference import ReferenceStats

DEFAULT_METRICS = ("fd", "is", "kl", "fad")
DEFAULT_BACKBONE = "panns-cnn14-16k"
DEFAULT_FAD_BACKBONE = "vggish"
#: The Fréchet metrics whose reference statistics ``stats`` can store.
STATS_METRICS = ("fd", "fad")
#: Fewer bootstrap replicates than this give interval ends that move by several percent between seeds.
MIN_BOOTSTRAP = 100
#: The metrics ``per_clip`` ranks clips by.
PER_CLIP_METRICS = ("fd", "fad", "kl")


def metric_names(metrics: str | Sequence[str]) -> tuple[str, ...]:
    """``"FD,is"`` or ``["fd", "IS"]`` -> ``("fd", "is")``: case-insensitive, duplicates dropped, names checked."""
    from audiometric.metrics import METRICS

    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = tuple(dict.fromkeys(str(m).strip().lower() for m in items if str(m).strip()))
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise AudiometricError(
            f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METRICS)}"
        )
    return names


def _check_backbone(name: str, option: str) -> str:
    from audiometric import backbones

    if name not in backbones.available():
        raise AudiometricError(
            f"{option}: unknown backbone '{name}'; choose one of: {', '.join(backbones.available())}"
        )
    return name


def extraction_options(
    device: str = "auto",
    batch_size: int = 16,
    workers: int = 2,
    channels: str = "first",
    max_seconds: float | None = None,
    strict: bool = False,
    cache: bool = True,
    progress: bool = True,
    allow_truncated: bool = False,
):
    """Checked :class:`audiometric.scoring.pipeline.ExtractionOptions` (one-line errors naming the bad argument)."""
    from audiometric.audio.preprocess import Preprocess
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
    return ExtractionOptions(
        device=device,
        batch_size=batch_size,
        workers=workers,
        preprocess=Preprocess(channels=channels, max_seconds=max_seconds),
        strict=strict,
        use_cache=cache,
        progress=progress,
        allow_truncated=allow_truncated,
    )


@contextmanager
def _checkpoints(paths: Mapping[str, str | Path] | None) -> Iterator[None]:
    """Use ``paths`` (backbone name -> local checkpoint file) for the duration of one call."""
    from audiometric.backbones.weights import set_overrides

    set_overrides({name: str(path) for name, path in (paths or {}).items()})
    try:
        yield
    finally:
        set_overrides({})


def score(
    generated: str | Path,
    reference: str | Path,
    metrics: str | Sequence[str] = DEFAULT_METRICS,
    backbone: str = DEFAULT_BACKBONE,
    *,
    fad_backbone: str = DEFAULT_FAD_BACKBONE,
    compat: bool = False,
    bootstrap: int = 0,
    confidence: float = 0.95,
    ci_method: str = "percentile",
    fd_inf: bool = False,
    seed: int = 0,
    strict: bool = False,
    per_clip: str | Path | None = None,
    device: str = "auto",
    batch_size: int = 16,
    workers: int = 2,
    channels: str = "first",
    max_seconds: float | None = None,
    checkpoints: Mapping[str, str | Path] | None = None,
    cache: bool = True,
    allow_truncated: bool = False,
    progress: bool = True,
) -> Result | None:
    """Score ``generated`` against ``reference``: what ``audiometric score`` computes, as a :class:`Result`.

    ``generated``: a folder of audio files or an ``audiometric embed`` ``.npz``; ``reference``: the same,
    or an ``audiometric stats`` ``.npz``. ``metrics``: registered names (``audiometric.metrics.METRICS``:
    fd, is, kl, fad, kad, kid, ...; any case, a list or ``"fd,is"``). ``bootstrap`` replicates give ``confidence`` intervals (``ci_method``
    ``"percentile"`` or the bias-correcting ``"basic"``); ``fd_inf`` adds FD∞/FAD∞; ``per_clip`` writes the
    per-clip outlier ranking CSV there (:mod:`audiometric.scoring.per_clip`); ``max_seconds`` keeps the first
    seconds of each file; ``checkpoints`` maps backbone names to local weight files; ``allow_truncated``
    scores files that decode shorter than their header says (a warning) instead of skipping them.
    Metrics that cannot be computed are listed in ``result.not_computed`` with the reason. Under
    ``torchrun``, ranks other than 0 return ``None``.
    """
    from audiometric.scoring.compute import Settings
    from audiometric.scoring.pipeline import score as run

    names = metric_names(metrics)
    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise AudiometricError(f"bootstrap must be an integer >= 0 (replicates), got {bootstrap!r}")
    if not 0 < confidence < 1:
        raise AudiometricError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    if ci_method not in ("percentile", "basic"):
        raise AudiometricError(f"ci_method must be 'percentile' or 'basic', got {ci_method!r}")
    if per_clip is not None and not set(PER_CLIP_METRICS) & set(names):
        raise AudiometricError(
            f"--per-clip ranks clips by {', '.join(PER_CLIP_METRICS)}: add one of them to the metrics"
        )
    few = (
        (
            f"bootstrap with {bootstrap} replicates: interval ends are unstable below {MIN_BOOTSTRAP} "
            "(use 1000 for intervals you report)"
        )
        if 0 < bootstrap < MIN_BOOTSTRAP
        else None
    )
    if few:
        warnings.warn(few, UserWarning, stacklevel=2)
    settings = Settings(
        names,
        _check_backbone(backbone, "backbone"),
        _check_backbone(fad_backbone, "fad_backbone"),
        compat,
        bootstrap,
        confidence,
        fd_inf,
        int(seed),
        ci_method,
    )
    opts = extraction_options(
        device, batch_size, workers, channels, max_seconds, strict, cache, progress, allow_truncated
    )
    with _checkpoints(checkpoints):
        data = run(str(generated), str(reference), settings, opts, None if per_clip is None else str(per_clip))
    if data is None:
        return None
    if few:  # recorded with the result it qualifies
        data["warnings"] = sorted({*data["warnings"], few})
    return Result(data)


def embed(
    folder: str | Path,
    output: str | Path | None = None,
    backbones: Sequence[str] = (DEFAULT_BACKBONE,),
    *,
    strict: bool = False,
    device: str = "auto",
    batch_size: int = 16,
    workers: int = 2,
    channels: str = "first",
    max_seconds: float | None = None,
    checkpoints: Mapping[str, str | Path] | None = None,
    cache: bool = True,
    allow_truncated: bool = False,
    progress: bool = True,
) -> dict[str, np.ndarray] | None:
    """Every output of each backbone for the audio files in ``folder``, as the arrays of the ``.npz`` that
    ``audiometric embed`` writes (layout: :mod:`audiometric.scoring.export`); also written to ``output`` when given.
    Under ``torchrun`` each rank embeds a share of the files; rank 0 writes and returns, others ``None``."""
    from audiometric.extraction.clipset import extract_folder
    from audiometric.extraction.extract import RESAMPLER
    from audiometric.runtime.distributed import finish, init
    from audiometric.scoring.export import embedding_arrays, save_embeddings
    from audiometric.scoring.pipeline import make_extractor

    names = list(
        dict.fromkeys(
            _check_backbone(b, "backbones") for b in ([backbones] if isinstance(backbones, str) else backbones)
        )
    )
    if not names:
        raise AudiometricError("embed: give at least one backbone")
    opts = extraction_options(
        device, batch_size, workers, channels, max_seconds, strict, cache, progress, allow_truncated
    )
    rank, size = init(opts.device)
    with _checkpoints(checkpoints):
        extractor = make_extractor({name: set() for name in names}, opts, progress=rank == 0)
        clips = extract_folder(str(folder), extractor, opts.strict, rank, size, desc="embedding")
    finish()
    if rank != 0:
        return None
    arrays = embedding_arrays(clips, extractor.backbones, {**opts.preprocess.as_dict(), "resampler": RESAMPLER})
    if output is not None:
        save_embeddings(arrays, output)
    return arrays


def stats(
    folder: str | Path,
    output: str | Path | None = None,
    metrics: str | Sequence[str] = STATS_METRICS,
    backbone: str = DEFAULT_BACKBONE,
    *,
    fad_backbone: str = DEFAULT_FAD_BACKBONE,
    strict: bool = False,
    device: str = "auto",
    batch_size: int = 16,
    workers: int = 2,
    channels: str = "first",
    max_seconds: float | None = None,
    checkpoints: Mapping[str, str | Path] | None = None,
    cache: bool = True,
    allow_truncated: bool = False,
    progress: bool = True,
) -> ReferenceStats | None:
    """Mean and covariance of ``folder``'s embeddings for the Fréchet ``metrics`` (fd, fad), streamed clip by
    clip: a :class:`audiometric.scoring.reference.ReferenceStats`, also written to ``output`` when given (what
    ``audiometric stats`` writes, to score against later). Under ``torchrun`` each rank folds a share of
    the files and the moments are merged; rank 0 writes and returns, others ``None``."""
    from audiometric.runtime.distributed import finish, init
    from audiometric.scoring.compute import Settings, needed_outputs
    from audiometric.scoring.pipeline import make_extractor
    from audiometric.scoring.reference import accumulate, save

    frechet = tuple(m for m in metric_names(metrics) if m in STATS_METRICS)
    if not frechet:
        raise AudiometricError(
            f"statistics files serve {' and '.join(STATS_METRICS)} only; got metrics {', '.join(metric_names(metrics))}"
        )
    settings = Settings(frechet, _check_backbone(backbone, "backbone"), _check_backbone(fad_backbone, "fad_backbone"))
    opts = extraction_options(
        device, batch_size, workers, channels, max_seconds, strict, cache, progress, allow_truncated
    )
    needs = needed_outputs(settings)
    rank, size = init(opts.device)
    with _checkpoints(checkpoints):
        result = accumulate(
            str(folder), make_extractor(needs, opts, progress=rank == 0), needs, opts.strict, rank, size
        )
    finish()
    if rank != 0:
        return None
    if output is not None:
        save(result, output)
        result.path = str(output)
    return result


__all__ = [
    "DEFAULT_BACKBONE",
    "DEFAULT_FAD_BACKBONE",
    "DEFAULT_METRICS",
    "embed",
    "extraction_options",
    "metric_names",
    "score",
    "stats",
]
