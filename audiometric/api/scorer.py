"""A configured :class:`Scorer`: options and the networks it has loaded, reused by every call.

A notebook or a loop that scores many sets builds each network once. Nothing here is process-wide:
checkpoints, device and cache are the Scorer's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audiometric.api.options import (
    DEFAULT_BACKBONE,
    DEFAULT_FAD_BACKBONE,
    ExtractionKeywords,
    check_backbone,
    check_score_options,
    extraction_options,
    is_stats_metric,
    metric_names,
    stats_metrics,
)
from audiometric.errors import AudiometricError
from audiometric.metrics import DEFAULT_METRICS
from audiometric.runtime.outputs import check_file
from audiometric.scoring.captions import check_captions
from audiometric.scoring.result import Result

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from audiometric.backbones import LazyBackbone
    from audiometric.scoring.reference import ReferenceStats


class Scorer:
    """A configured scorer: backbones, device, checkpoints, cache and extraction options, set once.

    ``backbones``: the backbone of FD/IS/KL/KAD/KID/density, then the one of FAD (default VGGish); ``embed``
    embeds with every name given. ``checkpoints`` maps backbone names to local weights (``--checkpoint
    NAME=PATH``); ``backbone_params`` are backbone settings (``--param KEY=VALUE``, e.g. ``{"layer": 6}`` for
    wavlm-base-plus), each given to the backbones that take KEY. ``precision``: ``"fp32"`` (default), or
    ``"fp16"``/``"bf16"`` autocast around each network where its registry entry allows it (``--precision``,
    ``Spec.precisions``). The networks are built on first need and kept,
    so later calls reuse them. The keywords (``device``, ``checkpoints``, ``cache``, ...) and their defaults are
    those of :func:`~audiometric.api.options.extraction_options`.

    Each ``output``/``per_clip``/``report`` path is checked by the output policy before any work
    (:func:`~audiometric.runtime.outputs.check_file`): an existing file of another kind (a ``.wav``) is
    replaced only with ``overwrite=True``.
    """

    def __init__(
        self,
        backbones: str | Sequence[str] = (DEFAULT_BACKBONE, DEFAULT_FAD_BACKBONE),
        **options: Unpack[ExtractionKeywords],
    ) -> None:
        unknown = sorted(set(options) - set(ExtractionKeywords.__annotations__))
        if unknown:
            raise TypeError(
                f"Scorer got unknown keyword(s) {', '.join(unknown)}; it takes "
                f"{', '.join(ExtractionKeywords.__annotations__)}"
            )
        given = [backbones] if isinstance(backbones, str) else list(backbones)
        self.names = [check_backbone(name, "backbones") for name in dict.fromkeys(given)]
        if not self.names:
            raise AudiometricError("backbones: give at least one backbone name")
        self.backbone = self.names[0]
        self.fad_backbone = given[1] if len(given) > 1 else DEFAULT_FAD_BACKBONE
        self.options = extraction_options(**options)
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
        prompts: str | Path | None = None,
        overwrite: bool = False,
    ) -> Result | None:
        """Score ``generated`` against ``reference`` as a :class:`Result`; ``None`` on torchrun ranks > 0.

        ``generated``: a folder of audio files or an ``audiometric embed`` ``.npz``; ``reference``: the same,
        or an ``audiometric stats`` ``.npz``. ``metrics``: registered names (``audiometric.metrics.METRICS``:
        fd, is, kl, fad, kad, kid, ...; any case, a list or ``"fd,is"``). ``bootstrap`` replicates give
        ``confidence`` intervals (``ci_method`` ``"percentile"`` or the bias-correcting ``"basic"``); ``fd_inf``
        adds FD∞/FAD∞; ``per_clip`` writes the per-clip outlier ranking CSV there. Metrics that cannot be
        computed are listed in ``result.not_computed`` with the reason. ``prompts``: each generated clip's
        caption, for ``clap_score`` (a ``file,caption`` CSV or the ``manifest.json`` of ``generate``).
        """
        from audiometric.scoring.compute import Settings
        from audiometric.scoring.per_clip import per_clip_metrics
        from audiometric.scoring.pipeline import score as run

        names = metric_names(metrics)
        few = check_score_options(bootstrap, confidence, ci_method)
        if per_clip is not None and not set(per_clip_metrics()) & set(names):
            raise AudiometricError(
                f"--per-clip ranks clips by {', '.join(per_clip_metrics())}: add one of them to the metrics"
            )
        check_captions(names, prompts)
        if per_clip is not None:
            check_file(per_clip, "csv", flag="per_clip", inputs=(generated, reference, prompts), overwrite=overwrite)
        settings = Settings(
            metrics=names,
            backbone=self.backbone,
            fad_backbone=self.fad_backbone,
            compat=compat,
            bootstrap=bootstrap,
            confidence=confidence,
            fd_inf=fd_inf,
            seed=int(seed),
            ci_method=ci_method,
        )
        clips_csv = None if per_clip is None else str(per_clip)
        captions = None if prompts is None else str(prompts)
        data = run(str(generated), str(reference), settings, self.options, clips_csv, self.loaded, captions)
        if data is None:
            return None
        if few:  # recorded with the result it qualifies
            data["warnings"] = sorted({*data["warnings"], few})
        return Result(data)

    def embed(
        self, folder: str | Path, output: str | Path | None = None, *, overwrite: bool = False
    ) -> dict[str, np.ndarray] | None:
        """Every output of this scorer's backbones for ``folder`` (see :func:`embed`)."""
        from audiometric.extraction.clipset import extract_folder
        from audiometric.extraction.extract import preprocessing_record
        from audiometric.runtime.distributed import process_group
        from audiometric.scoring.export import embedding_arrays, save_embeddings
        from audiometric.scoring.pipeline import make_extractor

        if output is not None:
            check_file(output, "npz", flag="output", inputs=(folder,), overwrite=overwrite)
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
        self,
        folder: str | Path,
        output: str | Path | None = None,
        metrics: str | Sequence[str] | None = None,
        *,
        overwrite: bool = False,
    ) -> ReferenceStats | None:
        """Reference statistics of ``folder`` for the moment-based ``metrics`` (see :func:`stats`)."""
        from audiometric.runtime.distributed import process_group
        from audiometric.scoring.compute import Settings, needed_outputs
        from audiometric.scoring.pipeline import make_extractor
        from audiometric.scoring.reference import accumulate, save

        asked = metric_names(stats_metrics() if metrics is None else metrics)
        frechet = tuple(m for m in asked if is_stats_metric(m))
        if not frechet:
            raise AudiometricError(
                f"statistics files serve {' and '.join(stats_metrics())} only; got metrics {', '.join(asked)}"
            )
        if output is not None:
            check_file(output, "npz", flag="output", inputs=(folder,), overwrite=overwrite)
        needs = needed_outputs(Settings(metrics=frechet, backbone=self.backbone, fad_backbone=self.fad_backbone))
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
        report: str | Path | None = None,
        prompts: str | Path | None = None,
        overwrite: bool = False,
    ) -> dict:
        """Compare ``systems`` against ``reference`` (see :func:`audiometric.api.functions.compare`);
        ``report``: also write the HTML report there; ``prompts``: the captions every system's clips pair
        with by name, for ``clap_score`` (as in :meth:`score`)."""
        from audiometric.scoring.compare import compare as run
        from audiometric.scoring.compare_stats import Plan
        from audiometric.scoring.compute import Settings

        check_score_options(bootstrap, confidence, "percentile")
        if not isinstance(permutations, int) or permutations < 1 or not 0 < alpha < 1:
            raise AudiometricError(f"permutations must be >= 1 and alpha in (0, 1), got {permutations!r}, {alpha!r}")
        names = metric_names(metrics)
        check_captions(names, prompts)
        if report is not None:
            check_file(report, "html", flag="report", inputs=(*systems, reference, prompts), overwrite=overwrite)
        settings = Settings(
            metrics=names, backbone=self.backbone, fad_backbone=self.fad_backbone, fd_inf=fd_inf, seed=int(seed)
        )
        plan = Plan(permutations=permutations, bootstrap=bootstrap, confidence=confidence, seed=int(seed))
        captions = None if prompts is None else str(prompts)
        paths = [str(s) for s in systems]
        result, sets = run(paths, str(reference), settings, plan, self.options, alpha, self.loaded, captions)
        if report is not None:
            from audiometric.scoring.compare_report import write_report

            write_report(result, sets, settings, report)
        return result
