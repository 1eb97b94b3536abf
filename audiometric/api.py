"""The Python API behind the CLI: a configured :class:`Scorer`, and ``score``/``embed``/``stats`` over it.

The click commands in :mod:`audiometric.cli` only parse options and call these, so a script and a shell
command with the same settings give the same numbers and the same JSON. A :class:`Scorer` holds its
options and the networks it has loaded: a notebook or a loop that scores many sets builds each network
once. Nothing here is process-wide: checkpoints, device and cache are the Scorer's own.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics import DEFAULT_METRICS
from audiometric.scoring.result import Result

if TYPE_CHECKING:
    from audiometric.backbones import LazyBackbone
    from audiometric.scoring.pipeline import ExtractionOptions
    from audiometric.scoring.reference import ReferenceStats

DEFAULT_BACKBONE = "panns-cnn14-16k"
Channels = Literal["first", "mean"]
DEFAULT_FAD_BACKBONE = "vggish"
#: Fewer bootstrap replicates than this give interval ends that move by several percent between seeds.
MIN_BOOTSTRAP = 100


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


def stats_metrics() -> tuple[str, ...]:
    """The metrics whose reference side a statistics file can hold (registry entries with moments)."""
    from audiometric.metrics import METRICS

    return tuple(name for name, info in METRICS.items() if info.stats_file)


def _check_backbone(name: str, option: str) -> str:
    from audiometric import backbones

    if name not in backbones.available():
        raise AudiometricError(
            f"{option}: unknown backbone '{name}'; choose one of: {', '.join(backbones.available())}"
        )
    return name


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
) -> ExtractionOptions:
    """Checked :class:`audiometric.scoring.pipeline.ExtractionOptions` (one-line errors naming the bad argument)."""
    from audiometric.audio.preprocess import Preprocess
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
    return ExtractionOptions(
        device=device,
        batch_size=batch_size,
        workers=workers,
        preprocess=Preprocess(channels=cast(Channels, channels), max_seconds=max_seconds),  # checked above
        strict=strict,
        use_cache=cache,
        progress=progress,
        allow_truncated=allow_truncated,
        checkpoints=checkpoint_map(checkpoints),
    )


class Scorer:
    """A configured scorer: backbones, device, checkpoints, cache and extraction options, set once.

    ``backbones``: the backbone of FD/IS/KL/KAD/KID/density, then the one of FAD (default VGGish); ``embed``
    embeds with every name given. ``checkpoints`` maps backbone names to local weights (``--checkpoint
    NAME=PATH``). The networks are built on first need and kept, so later calls reuse them. The other
    keywords are the extraction options of :func:`extraction_options`.
    """

    def __init__(
        self,
        backbones: str | Sequence[str] = (DEFAULT_BACKBONE, DEFAULT_FAD_BACKBONE),
        *,
        device: str = "auto",
        checkpoints: Mapping[str, str | Path] | Sequence[str] | None = None,
        cache: bool = True,
        batch_size: int = 16,
        workers: int = 2,
        channels: str = "first",
        max_seconds: float | None = None,
        strict: bool = False,
        allow_truncated: bool = False,
        progress: bool = True,
    ) -> None:
        given = [backbones] if isinstance(backbones, str) else list(backbones)
        self.names = [_check_backbone(name, "backbones") for name in dict.fromkeys(given)]
        if not self.names:
            raise AudiometricError("backbones: give at least one backbone name")
        self.backbone = self.names[0]
        self.fad_backbone = given[1] if len(given) > 1 else DEFAULT_FAD_BACKBONE
        self.options = extraction_options(
            device=device,
            batch_size=batch_size,
            workers=workers,
            channels=channels,
            max_seconds=max_seconds,
            strict=strict,
            cache=cache,
            progress=progress,
            allow_truncated=allow_truncated,
            checkpoints=checkpoints,
        )
        #: backbone name -> the lazily built network, shared by every call of this scorer
        self.loaded: dict[str, LazyBackbone] = {}

    def score(
        self,
        generated: str | Path,
        reference: str | Path,
        metrics: str | Sequence[str] = DEFAULT_METRICS,
        *,
        compat: bool = False,
        bootstrap: int = 0,
        confidence: float = 0.95,
        ci_method: str = "percentile",
        fd_inf: bool = False,
        seed: int = 0,
        per_clip: str | Path | None = None,
    ) -> Result | None:
        """Score ``generated`` against ``reference`` (see :func:`score`); ``None`` on torchrun ranks > 0."""
        from audiometric.scoring.compute import Settings
        from audiometric.scoring.per_clip import per_clip_metrics
        from audiometric.scoring.pipeline import score as run

        names = metric_names(metrics)
        few = _check_score_options(bootstrap, confidence, ci_method)
        if per_clip is not None and not set(per_clip_metrics()) & set(names):
            raise AudiometricError(
                f"--per-clip ranks clips by {', '.join(per_clip_metrics())}: add one of them to the metrics"
            )
        settings = Settings(
            names, self.backbone, self.fad_backbone, compat, bootstrap, confidence, fd_inf, int(seed), ci_method
        )
        clips_csv = None if per_clip is None else str(per_clip)
        data = run(str(generated), str(reference), settings, self.options, clips_csv, held=self.loaded)
        if data is None:
            return None
        if few:  # recorded with the result it qualifies
            data["warnings"] = sorted({*data["warnings"], few})
        return Result(data)

    def embed(self, folder: str | Path, output: str | Path | None = None) -> dict[str, np.ndarray] | None:
        """Every output of this scorer's backbones for ``folder`` (see :func:`embed`)."""
        from audiometric.extraction.clipset import extract_folder
        from audiometric.extraction.extract import preprocessing_record
        from audiometric.runtime.distributed import process_group
        from audiometric.scoring.export import embedding_arrays, save_embeddings
        from audiometric.scoring.pipeline import make_extractor

        needs: dict[str, set[str]] = {name: set() for name in self.names}
        opts = self.options
        with process_group(opts.device) as (rank, size):
            extractor = make_extractor(needs, opts, progress=rank == 0, held=self.loaded)
            clips = extract_folder(str(folder), extractor, opts.strict, rank, size, desc="embedding")
        if rank != 0:
            return None
        arrays = embedding_arrays(clips, extractor.backbones, preprocessing_record(opts.preprocess))
        if output is not None:
            save_embeddings(arrays, output)
        return arrays

    def stats(
        self, folder: str | Path, output: str | Path | None = None, metrics: str | Sequence[str] | None = None
    ) -> ReferenceStats | None:
        """Reference statistics of ``folder`` for the moment-based ``metrics`` (see :func:`stats`)."""
        from audiometric.runtime.distributed import process_group
        from audiometric.scoring.compute import Settings, needed_outputs
        from audiometric.scoring.pipeline import make_extractor
        from audiometric.scoring.reference import accumulate, save

        asked = metric_names(stats_metrics() if metrics is None else metrics)
        frechet = tuple(m for m in asked if m in stats_metrics())
        if not frechet:
            raise AudiometricError(
                f"statistics files serve {' and '.join(stats_metrics())} only; got metrics {', '.join(asked)}"
            )
        needs = needed_outputs(Settings(frechet, self.backbone, self.fad_backbone))
        opts = self.options
        with process_group(opts.device) as (rank, size):
            extractor = make_extractor(needs, opts, progress=rank == 0, held=self.loaded)
            result = accumulate(str(folder), extractor, needs, opts.strict, rank, size)
        if rank != 0:
            return None
        if output is not None:
            save(result, output)
            result.path = str(output)
        return result

    def compare(
        self,
        systems: Sequence[str | Path],
        reference: str | Path,
        metrics: str | Sequence[str] = DEFAULT_METRICS,
        *,
        permutations: int = 1000,
        bootstrap: int = 200,
        confidence: float = 0.95,
        alpha: float = 0.05,
        fd_inf: bool = False,
        seed: int = 0,
    ) -> dict:
        """Compare ``systems`` against ``reference`` (see :func:`compare`): the JSON-able result."""
        from audiometric.scoring.compare import compare as run
        from audiometric.scoring.compare_stats import Plan
        from audiometric.scoring.compute import Settings

        _check_score_options(bootstrap, confidence, "percentile")
        if not isinstance(permutations, int) or permutations < 1 or not 0 < alpha < 1:
            raise AudiometricError(f"permutations must be >= 1 and alpha in (0, 1), got {permutations!r}, {alpha!r}")
        settings = Settings(metric_names(metrics), self.backbone, self.fad_backbone, fd_inf=fd_inf, seed=int(seed))
        plan = Plan(permutations=permutations, bootstrap=bootstrap, confidence=confidence, seed=int(seed))
        result, sets = run(
            [str(s) for s in systems], str(reference), settings, plan, self.options, alpha, held=self.loaded
        )
        return result


def _check_score_options(bootstrap: int, confidence: float, ci_method: str) -> str | None:
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
    per_clip: str | Path | None = None,
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
) -> Result | None:
    """Score ``generated`` against ``reference``: what ``audiometric score`` computes, as a :class:`Result`.

    A one-call convenience over :class:`Scorer` (``Scorer((backbone, fad_backbone), ...).score(...)``).
    ``generated``: a folder of audio files or an ``audiometric embed`` ``.npz``; ``reference``: the same,
    or an ``audiometric stats`` ``.npz``. ``metrics``: registered names (``audiometric.metrics.METRICS``:
    fd, is, kl, fad, kad, kid, ...; any case, a list or ``"fd,is"``). ``bootstrap`` replicates give
    ``confidence`` intervals (``ci_method`` ``"percentile"`` or the bias-correcting ``"basic"``); ``fd_inf``
    adds FD∞/FAD∞; ``per_clip`` writes the per-clip outlier ranking CSV there; ``max_seconds`` keeps the first
    seconds of each file; ``checkpoints`` maps backbone names to local weight files; ``allow_truncated``
    scores files that decode shorter than their header says (a warning) instead of skipping them.
    Metrics that cannot be computed are listed in ``result.not_computed`` with the reason. Under
    ``torchrun``, ranks other than 0 return ``None``.
    """
    scorer = Scorer(
        (backbone, fad_backbone),
        device=device,
        checkpoints=checkpoints,
        cache=cache,
        batch_size=batch_size,
        workers=workers,
        channels=channels,
        max_seconds=max_seconds,
        strict=strict,
        allow_truncated=allow_truncated,
        progress=progress,
    )
    return scorer.score(
        generated,
        reference,
        metrics,
        compat=compat,
        bootstrap=bootstrap,
        confidence=confidence,
        ci_method=ci_method,
        fd_inf=fd_inf,
        seed=seed,
        per_clip=per_clip,
    )


def embed(
    folder: str | Path,
    output: str | Path | None = None,
    backbones: str | Sequence[str] = (DEFAULT_BACKBONE,),
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
    ``audiometric embed`` writes (layout: :mod:`audiometric.scoring.export`); also written to ``output`` when
    given. A one-call convenience over :meth:`Scorer.embed`. Under ``torchrun`` each rank embeds a share of
    the files; rank 0 writes and returns, others ``None``."""
    scorer = Scorer(
        backbones,
        device=device,
        checkpoints=checkpoints,
        cache=cache,
        batch_size=batch_size,
        workers=workers,
        channels=channels,
        max_seconds=max_seconds,
        strict=strict,
        allow_truncated=allow_truncated,
        progress=progress,
    )
    return scorer.embed(folder, output)


def stats(
    folder: str | Path,
    output: str | Path | None = None,
    metrics: str | Sequence[str] = stats_metrics(),
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
    ``audiometric stats`` writes, to score against later). A one-call convenience over :meth:`Scorer.stats`.
    Under ``torchrun`` each rank folds a share of the files and the moments are merged; rank 0 writes and
    returns, others ``None``."""
    scorer = Scorer(
        (backbone, fad_backbone),
        device=device,
        checkpoints=checkpoints,
        cache=cache,
        batch_size=batch_size,
        workers=workers,
        channels=channels,
        max_seconds=max_seconds,
        strict=strict,
        allow_truncated=allow_truncated,
        progress=progress,
    )
    return scorer.stats(folder, output, metrics)


def compare(
    systems: Sequence[str | Path],
    reference: str | Path,
    metrics: str | Sequence[str] = DEFAULT_METRICS,
    backbone: str = DEFAULT_BACKBONE,
    *,
    fad_backbone: str = DEFAULT_FAD_BACKBONE,
    device: str = "auto",
    checkpoints: Mapping[str, str | Path] | None = None,
    cache: bool = True,
    progress: bool = True,
    **options,
) -> dict:
    """What ``audiometric compare`` computes: per pair of ``systems`` and metric, both values, Δ = m(B) − m(A),
    its bootstrap CI, a permutation p, Holm-adjusted p and ``significant``; a ranking with compact letters.

    ``options``: ``permutations`` (1000), ``bootstrap`` (200), ``confidence``, ``alpha`` (0.05), ``fd_inf``,
    ``seed``, and the extraction keywords of :func:`score` (``workers``, ...). A
    one-call convenience over :meth:`Scorer.compare`."""
    extraction = {k: options.pop(k) for k in _EXTRACTION_KEYWORDS & set(options)}
    scorer = Scorer(
        (backbone, fad_backbone), device=device, checkpoints=checkpoints, cache=cache, progress=progress, **extraction
    )
    return scorer.compare(systems, reference, metrics, **options)


#: The keywords of :class:`Scorer` that :func:`compare` passes on from ``**options``.
_EXTRACTION_KEYWORDS = {"strict", "batch_size", "workers", "channels", "max_seconds", "allow_truncated"}


__all__ = [
    "DEFAULT_BACKBONE",
    "DEFAULT_FAD_BACKBONE",
    "Scorer",
    "compare",
    "embed",
    "extraction_options",
    "metric_names",
    "score",
    "stats",
    "stats_metrics",
]
