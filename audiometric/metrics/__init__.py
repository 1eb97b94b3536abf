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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from audiometric.errors import AudiometricError
from audiometric.metrics.density import DEFAULT_K
from audiometric.metrics.extrapolated import Extrapolation, extrapolate, fd_infinity
from audiometric.metrics.frechet import (
    MetricWarning,
    compat_statistics,
    frechet_distance,
    frechet_distance_compat,
    frechet_from_features,
    frechet_from_stats,
)
from audiometric.metrics.inception import IS_SEED, IS_SPLITS, inception_score
from audiometric.metrics.kad import KAD_SCALE, kernel_audio_distance, median_pairwise_distance
from audiometric.metrics.kid import KID_SEED, KID_SUBSET_SIZE, KID_SUBSETS
from audiometric.metrics.kl import kl_sigmoid, kl_softmax, pair_clips, pairing
from audiometric.metrics.protocol import Estimate, MetricInput

PANNS = ("panns-cnn14-16k", "panns-cnn14-32k")
CLAP = "clap-laion"
PASST = "passt"
#: av-benchmark (MMAudio's harness) reports FD, KL (softmax) and IS on PaSST beside PANNs: av_bench/evaluate.py
AV_BENCHMARK = "av-benchmark av_bench/evaluate.py"


@dataclass(frozen=True, kw_only=True)
class MetricInfo:
    """Every fact about a metric, stated once: what it reads, how to read its value, its defaults.

    ``label``: the name shown in tables; ``entries``: every result key the metric gives, with its label
    (``kl`` gives ``kl_softmax`` and ``kl_sigmoid``; ``fd`` gives ``fd`` and, when asked, ``fd_inf``).
    ``unit``: what the value is measured in. ``output``: the backbone output it reads (``"embedding"`` or
    ``"logits"``); ``lower_is_better``: its direction (damage raises a lower-is-better metric);
    ``defined_on``: the backbones of its published definition (empty: any), so a result computed on another
    one can say so; ``source``: the reference implementation and paper it follows.

    ``compute`` is the set-level function as ``"module:function"`` in this package (or
    ``"pkg.module:function"`` elsewhere). ``backbone_option`` names the ``Settings`` field choosing its
    backbone, unless ``backbone`` fixes one (``clap_score`` reads ``clap-laion``); ``METRIC@BACKBONE``
    overrides both. ``reference``: ``"none"`` (IS), ``"moments"`` (a statistics file will do), ``"clips"``
    or ``"captions"`` (each generated clip's caption, embedded by the backbone's text tower).
    ``paired``: clips are paired by name first. ``per_clip``: ``--per-clip`` ranks clips by it.
    ``resample_reference``: the bootstrap also resamples reference clips. ``estimator``: ``"plug-in"``
    (biased at small N) or ``"unbiased"`` (may be negative). ``min_rows``: rows per set. ``defaults``: the
    metric's parameters (as ``MetricInput.params``).
    """

    name: str
    label: str
    entries: tuple[tuple[str, str], ...] = ()
    unit: str
    output: str
    lower_is_better: bool
    defined_on: tuple[str, ...]
    source: str
    compute: str = ""
    backbone_option: str = "backbone"
    backbone: str = ""
    reference: str = "clips"
    paired: bool = False
    per_clip: bool = False
    resample_reference: bool = True
    estimator: str = "plug-in"
    min_rows: int = 2
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def stats_file(self) -> bool:
        """Whether ``audiometric stats`` can store its reference side (its reference is moments)."""
        return self.reference == "moments"

    @property
    def better(self) -> str:
        """``"lower"`` or ``"higher"``, as result entries state it."""
        return "lower" if self.lower_is_better else "higher"

    def labels(self) -> dict[str, str]:
        """Result key -> display label, for every entry this metric can give."""
        return dict(self.entries) if self.entries else {self.name: self.label}

    def run(self, data: MetricInput) -> dict[str, Estimate | str]:
        """The result entries of this metric on ``data`` (imports its module on first use)."""
        module, func = self.compute.split(":")
        path = module if "." in module else f"{__name__}.{module}"  # a dotted name is a module outside this package
        return getattr(importlib.import_module(path), func)(data)


_EMBEDDING_UNIT = "squared embedding units"
#: The registry, in display order (tables list result entries in this order).
METRICS: dict[str, MetricInfo] = {
    info.name: info
    for info in (
        MetricInfo(
            name="fd",
            label="FD",
            entries=(("fd", "FD"), ("fd_inf", "FD∞")),
            unit=_EMBEDDING_UNIT,
            output="embedding",
            lower_is_better=True,
            defined_on=(*PANNS, PASST),
            source=f"audioldm_eval metrics/fid.py; Heusel et al. 2017; on passt as {AV_BENCHMARK} (FD-PASST)",
            compute="fd:compute",
            reference="moments",
            per_clip=True,
        ),
        MetricInfo(
            name="fad",
            label="FAD",
            entries=(("fad", "FAD"), ("fad_inf", "FAD∞")),
            unit=_EMBEDDING_UNIT,
            output="embedding",
            lower_is_better=True,
            defined_on=("vggish",),
            source="audioldm_eval metrics/fad.py; Kilgour et al. 2019",
            compute="fd:compute",
            backbone_option="fad_backbone",
            reference="moments",
            per_clip=True,
        ),
        MetricInfo(
            name="kad",
            label="KAD",
            unit=f"MMD² × {KAD_SCALE:g} (RBF kernel, median bandwidth)",
            output="embedding",
            lower_is_better=True,
            defined_on=(),
            source="Chung et al. 2025 (kadtk)",
            compute="kad:compute",
            estimator="unbiased",
            defaults={"scale": KAD_SCALE},
        ),
        MetricInfo(
            name="kid",
            label="KID",
            unit="MMD² (cubic polynomial kernel)",
            output="embedding",
            lower_is_better=True,
            defined_on=PANNS,
            source="audioldm_eval metrics/kid.py; Bińkowski et al. 2018",
            compute="kid:compute",
            estimator="unbiased",
            defaults={"subsets": KID_SUBSETS, "subset_size": KID_SUBSET_SIZE, "seed": KID_SEED},
        ),
        MetricInfo(
            name="is",
            label="IS",
            unit="exp(nats), 1 to the number of classes",
            output="logits",
            lower_is_better=False,
            defined_on=(*PANNS, PASST),
            source=f"audioldm_eval metrics/isc.py; Salimans et al. 2016; on passt as {AV_BENCHMARK} (ISC-PASST)",
            compute="inception:compute",
            reference="none",
            min_rows=1,
            defaults={"splits": IS_SPLITS, "seed": IS_SEED},
        ),
        MetricInfo(
            name="kl",
            label="KL",
            entries=(("kl_softmax", "KL (softmax)"), ("kl_sigmoid", "KL (sigmoid)")),
            unit="nats",
            output="logits",
            lower_is_better=True,
            defined_on=(*PANNS, PASST),
            source=f"audioldm_eval metrics/kl.py (softmax and sigmoid variants); on passt as {AV_BENCHMARK} "
            "(KL-PASST-softmax)",
            compute="kl:compute",
            paired=True,
            per_clip=True,
            min_rows=1,
        ),
        MetricInfo(
            name="density_coverage",
            label="density/coverage",
            entries=(("density", "density"), ("coverage", "coverage")),
            unit="density ≥ 0 (1: as dense as the reference); coverage 0 to 1",
            output="embedding",
            lower_is_better=False,
            defined_on=(),
            source=f"Naeem et al. 2020 (k = {DEFAULT_K})",
            compute="density:compute",
            resample_reference=False,
            defaults={"k": DEFAULT_K},
        ),
        MetricInfo(
            name="clap_score",
            label="CLAP score",
            unit="cosine, -1 to 1 (some papers print it ×100)",
            output="embedding",
            lower_is_better=False,
            defined_on=(CLAP,),
            source="audio-text cosine of LAION CLAP (Wu et al. 2023), as AudioLDM 2 and audiocraft report it",
            compute="clap_score:compute",
            backbone=CLAP,
            reference="captions",
            paired=True,
            min_rows=1,
        ),
        MetricInfo(
            name="clap_pair",
            label="CLAP pair",
            unit="cosine, -1 to 1",
            output="embedding",
            lower_is_better=False,
            defined_on=(CLAP,),
            source="audio-audio cosine of LAION CLAP embeddings (Wu et al. 2023), name-paired as audioldm_eval's KL",
            compute="clap_score:compute",
            backbone=CLAP,
            paired=True,
            min_rows=1,
        ),
    )
}

#: The metrics ``score`` computes when none are named (audioldm_eval's set).
DEFAULT_METRICS = ("fd", "is", "kl", "fad")


def entry_labels() -> dict[str, str]:
    """Every result key of every registered metric -> its display label, in registry order."""
    return {key: label for info in METRICS.values() for key, label in info.labels().items()}


#: Separates a metric from the backbone it is asked on: ``fd@passt`` is FD on PaSST embeddings.
BACKBONE_SEPARATOR = "@"


def split_request(request: str) -> tuple[str, str | None]:
    """``"FD@passt"`` -> ``("fd", "passt")``; ``"fd"`` -> ``("fd", None)`` (the metric's usual backbone).

    Also splits result keys (``"kl_softmax@passt"`` -> ``("kl_softmax", "passt")``)."""
    name, sep, backbone = request.strip().partition(BACKBONE_SEPARATOR)
    if sep and (not backbone.strip() or BACKBONE_SEPARATOR in backbone):
        raise AudiometricError(f"metric request '{request}' is not METRIC@BACKBONE (for example fd@vggish)")
    return name.strip().lower(), backbone.strip() or None


def get_metric(name: str) -> MetricInfo:
    """The registry entry for ``name`` (a metric, or a ``METRIC@BACKBONE`` request); raises
    ``AudiometricError`` listing the known names."""
    metric, _ = split_request(name)
    if metric not in METRICS:
        raise AudiometricError(f"unknown metric '{name}'; choose from: {', '.join(METRICS)}")
    return METRICS[metric]


def parse_requests(metrics: str | Sequence[str]) -> tuple[str, ...]:
    """``"FD,is,fd@vggish"`` or a list -> ``("fd", "is", "fd@vggish")``: metric names lower-cased, backbone
    names kept, duplicates dropped, metric names checked (backbone names are checked by the API, which knows
    the backbones). The one parse of ``--metrics`` for score, stats, compare and sweep."""
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    requests: list[str] = []
    unknown: list[str] = []
    for item in (str(m).strip() for m in items if str(m).strip()):
        name, backbone = split_request(item)
        (requests if name in METRICS else unknown).append(
            name + (f"{BACKBONE_SEPARATOR}{backbone}" if backbone else "")
        )
    if unknown or not requests:
        raise AudiometricError(
            f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METRICS)} "
            f"(optionally as METRIC{BACKBONE_SEPARATOR}BACKBONE, e.g. fd{BACKBONE_SEPARATOR}vggish)"
        )
    return tuple(dict.fromkeys(requests))


def request_labels(request: str) -> dict[str, str]:
    """Result key -> display label for every entry of a request (``kl@passt`` gives ``kl_softmax@passt``
    labelled ``KL (softmax)@passt``)."""
    info = get_metric(request)
    _, backbone = split_request(request)
    suffix = f"{BACKBONE_SEPARATOR}{backbone}" if backbone else ""
    return {key + suffix: label + suffix for key, label in info.labels().items()}


def entry_metric(key: str) -> MetricInfo:
    """The registry entry that gives result key ``key`` (``"kl_softmax@passt"`` -> KL's)."""
    entry, _ = split_request(key)
    for info in METRICS.values():
        if entry in info.labels():
            return info
    raise AudiometricError(f"'{key}' is not a result entry of any metric; choose from {', '.join(entry_labels())}")


def entry_label(key: str) -> str:
    """The display label of result key ``key``, with its ``@backbone`` kept (``fd@passt`` -> ``FD@passt``)."""
    entry, backbone = split_request(key)
    label = entry_metric(key).labels()[entry]
    return label + (f"{BACKBONE_SEPARATOR}{backbone}" if backbone else "")


def column_label(key: str) -> str:
    """A table header for result key ``key``: its label and which way is better (``FD ↓``, ``IS ↑``)."""
    return f"{entry_label(key)} {'↓' if entry_metric(key).lower_is_better else '↑'}"


__all__ = [
    "BACKBONE_SEPARATOR",
    "DEFAULT_METRICS",
    "KAD_SCALE",
    "METRICS",
    "Estimate",
    "Extrapolation",
    "MetricInfo",
    "MetricInput",
    "MetricWarning",
    "column_label",
    "compat_statistics",
    "entry_label",
    "entry_labels",
    "entry_metric",
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
    "parse_requests",
    "request_labels",
    "split_request",
]
