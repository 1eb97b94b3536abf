"""Metric functions (arrays in, numbers out) and the registry the scoring pipeline computes from.

Adding a metric is one file in this folder with a set-level ``compute(data: MetricInput) ->
dict[str, Estimate | str]`` (the protocol in ``protocol.py``) and one line in ``METRICS`` below naming
it as ``"module:function"``; modules are imported when the metric is computed. Each
:class:`MetricInfo` says which backbone output the metric reads, whether lower or higher is better,
what reference it needs and whether clips are name-paired; the pipeline (``evaluate.py``) applies the
shared not-computable and bootstrap rules. See ``docs/metrics.md`` for formulas, sources and pitfalls.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from audiometric.errors import AudiometricError
from audiometric.metrics.bootstrap import BootstrapResult, bootstrap_ci, bootstrap_frechet
from audiometric.metrics.extrapolated import Extrapolation, extrapolate, fd_infinity
from audiometric.metrics.frechet import (
    MetricWarning,
    compat_statistics,
    frechet_distance,
    frechet_distance_compat,
    frechet_from_features,
    frechet_from_stats,
)
from audiometric.metrics.inception import inception_score
from audiometric.metrics.kad import KAD_SCALE, kernel_audio_distance, median_pairwise_distance
from audiometric.metrics.kl import kl_sigmoid, kl_softmax, pair_clips, pairing
from audiometric.metrics.protocol import Estimate, MetricInput

PANNS = ("panns-cnn14-16k", "panns-cnn14-32k")


@dataclass(frozen=True)
class MetricInfo:
    """What a metric reads and how to read its value.

    ``output`` is the backbone output it reads (``"embedding"`` or ``"logits"``); ``defined_on`` lists the
    backbones of its published definition (empty: any backbone), so a result computed on another one can
    say so; ``source`` names the reference implementation and paper it follows.

    ``compute`` is the set-level function as ``"module:function"`` in this package (or ``"pkg.module:function"``
    elsewhere). ``backbone_option``
    names the ``evaluate.Settings`` field choosing its backbone. ``reference``: ``"none"`` (IS),
    ``"moments"`` (a statistics file will do) or ``"clips"``. ``paired``: clips are paired by name
    first. ``resample_reference``: the bootstrap also resamples reference clips. ``estimator``:
    ``"plug-in"`` (biased at small N) or ``"unbiased"`` (may be negative). ``min_rows``: rows per set.
    """

    name: str
    output: str
    lower_is_better: bool
    defined_on: tuple[str, ...]
    source: str
    compute: str = ""
    backbone_option: str = "backbone"
    reference: str = "clips"
    paired: bool = False
    resample_reference: bool = True
    estimator: str = "plug-in"
    min_rows: int = 2

    def run(self, data: MetricInput) -> dict[str, Estimate | str]:
        """The result entries of this metric on ``data`` (imports its module on first use)."""
        module, func = self.compute.split(":")
        path = module if "." in module else f"{__name__}.{module}"  # a dotted name is a module outside this package
        return getattr(importlib.import_module(path), func)(data)


METRICS: dict[str, MetricInfo] = {
    info.name: info
    for info in (
        MetricInfo(
            "fd",
            "embedding",
            True,
            PANNS,
            "audioldm_eval metrics/fid.py; Heusel et al. 2017",
            "fd:compute",
            reference="moments",
        ),
        MetricInfo(
            "is",
            "logits",
            False,
            PANNS,
            "audioldm_eval metrics/isc.py; Salimans et al. 2016",
            "inception:compute",
            reference="none",
            min_rows=1,
        ),
        MetricInfo(
            "kl",
            "logits",
            True,
            PANNS,
            "audioldm_eval metrics/kl.py (softmax and sigmoid variants)",
            "kl:compute",
            paired=True,
            min_rows=1,
        ),
        MetricInfo(
            "fad",
            "embedding",
            True,
            ("vggish",),
            "audioldm_eval metrics/fad.py; Kilgour et al. 2019",
            "fd:compute",
            backbone_option="fad_backbone",
            reference="moments",
        ),
        MetricInfo("kad", "embedding", True, (), "Chung et al. 2025 (kadtk)", "kad:compute", estimator="unbiased"),
        MetricInfo(
            "kid",
            "embedding",
            True,
            PANNS,
            "audioldm_eval metrics/kid.py; Bińkowski et al. 2018",
            "kid:compute",
            estimator="unbiased",
        ),
        MetricInfo(
            "density_coverage",
            "embedding",
            False,
            (),
            "Naeem et al. 2020 (k = 5)",
            "density:compute",
            resample_reference=False,
        ),
    )
}


def get_metric(name: str) -> MetricInfo:
    """The registry entry for ``name``; raises ``AudiometricError`` listing the known names."""
    if name.lower() not in METRICS:
        raise AudiometricError(f"unknown metric '{name}'; choose from: {', '.join(METRICS)}")
    return METRICS[name.lower()]


__all__ = [
    "KAD_SCALE",
    "METRICS",
    "BootstrapResult",
    "Estimate",
    "Extrapolation",
    "MetricInfo",
    "MetricInput",
    "MetricWarning",
    "bootstrap_ci",
    "bootstrap_frechet",
    "compat_statistics",
    "extrapolate",
    "fd_infinity",
    "frechet_distance",
    "frechet_distance_compat",
    "frechet_from_features",
    "frechet_from_stats",
    "get_metric",
    "inception_score",
    "kernel_audio_distance",
    "kl_sigmoid",
    "kl_softmax",
    "median_pairwise_distance",
    "pair_clips",
    "pairing",
]
