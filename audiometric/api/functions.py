"""One-call conveniences: ``score``, ``embed``, ``stats`` and ``compare``, each building a :class:`Scorer` and
calling it.

Each takes the :class:`Scorer`'s keywords (``device``, ``batch_size``, ``workers``, ``channels``,
``max_seconds``, ``checkpoints``, ``backbone_params``, ``cache``, ``strict``, ``allow_truncated``,
``progress``; defaults in :func:`~audiometric.api.options.extraction_options`) and passes them on unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audiometric.api.options import DEFAULT_BACKBONE, DEFAULT_FAD_BACKBONE, stats_metrics
from audiometric.api.scorer import Scorer
from audiometric.metrics import DEFAULT_METRICS

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from audiometric.api.options import ExtractionKeywords
    from audiometric.scoring.reference import ReferenceStats
    from audiometric.scoring.result import Result


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
    prompts: str | Path | None = None,
    overwrite: bool = False,
    **options: Unpack[ExtractionKeywords],
) -> Result | None:
    """Score ``generated`` against ``reference``: what ``audiometric score`` computes, as a :class:`Result`.

    ``Scorer((backbone, fad_backbone), **options).score(...)`` in one call; :meth:`Scorer.score` describes the
    inputs, metrics and interval arguments. ``max_seconds`` keeps the first seconds of each file;
    ``checkpoints`` maps backbone names to local weight files; ``allow_truncated`` scores files that decode
    shorter than their header says (a warning) instead of skipping them; ``overwrite`` lets ``per_clip``
    replace a file of another kind. Under ``torchrun``, ranks other than 0 return ``None``.
    """
    return Scorer((backbone, fad_backbone), **options).score(
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
        prompts=prompts,
        overwrite=overwrite,
    )


def embed(
    folder: str | Path,
    output: str | Path | None = None,
    backbones: str | Sequence[str] = (DEFAULT_BACKBONE,),
    *,
    overwrite: bool = False,
    **options: Unpack[ExtractionKeywords],
) -> dict[str, np.ndarray] | None:
    """Every output of each backbone for the audio files in ``folder``, as the arrays of the ``.npz`` that
    ``audiometric embed`` writes (layout: :mod:`audiometric.scoring.export`); also written to ``output`` when
    given (an existing file that is not an ``.npz`` only with ``overwrite``). A one-call convenience over
    :meth:`Scorer.embed`. Under ``torchrun`` each rank embeds a share of the files; rank 0 writes and returns,
    others ``None``."""
    return Scorer(backbones, **options).embed(folder, output, overwrite=overwrite)


def stats(
    folder: str | Path,
    output: str | Path | None = None,
    metrics: str | Sequence[str] = stats_metrics(),
    backbone: str = DEFAULT_BACKBONE,
    *,
    fad_backbone: str = DEFAULT_FAD_BACKBONE,
    overwrite: bool = False,
    **options: Unpack[ExtractionKeywords],
) -> ReferenceStats | None:
    """Mean and covariance of ``folder``'s embeddings for the Fréchet ``metrics`` (fd, fad), streamed clip by
    clip: a :class:`audiometric.scoring.reference.ReferenceStats`, also written to ``output`` when given (what
    ``audiometric stats`` writes, to score against later; an existing file that is not an ``.npz`` only with
    ``overwrite``). A one-call convenience over :meth:`Scorer.stats`. Under ``torchrun`` each rank folds a
    share of the files and the moments are merged; rank 0 writes and returns, others ``None``."""
    return Scorer((backbone, fad_backbone), **options).stats(folder, output, metrics, overwrite=overwrite)


def compare(
    systems: Sequence[str | Path],
    reference: str | Path,
    metrics: str | Sequence[str] = DEFAULT_METRICS,
    backbone: str = DEFAULT_BACKBONE,
    *,
    fad_backbone: str = DEFAULT_FAD_BACKBONE,
    permutations: int = 1000,
    bootstrap: int = 200,
    confidence: float = 0.95,
    alpha: float = 0.05,
    fd_inf: bool = False,
    seed: int = 0,
    report: str | Path | None = None,
    prompts: str | Path | None = None,
    overwrite: bool = False,
    **options: Unpack[ExtractionKeywords],
) -> dict:
    """What ``audiometric compare`` computes, as its JSON dict: per pair of ``systems`` (folders or ``embed``
    ``.npz``) and metric, both values, Δ = m(B) − m(A), its bootstrap CI (``bootstrap`` replicates,
    ``confidence``), a permutation p (``permutations``), the Holm-adjusted p and ``significant`` at ``alpha``;
    per metric a ranking with compact letters. ``fd_inf`` keeps unequal clip counts and compares FD∞;
    ``report`` writes the HTML report there (``overwrite``: also over a file of another kind); ``prompts``
    gives each clip's caption by name (``clap_score``). The other keywords are :func:`score`'s. A one-call
    convenience over :meth:`Scorer.compare`; see docs/statistics.md."""
    return Scorer((backbone, fad_backbone), **options).compare(
        systems,
        reference,
        metrics,
        permutations=permutations,
        bootstrap=bootstrap,
        confidence=confidence,
        alpha=alpha,
        fd_inf=fd_inf,
        seed=seed,
        report=report,
        prompts=prompts,
        overwrite=overwrite,
    )
