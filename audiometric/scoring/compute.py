"""From extracted clip sets to metric values: the rules every registered metric shares.

Each metric's maths and its set-level ``compute`` live in :mod:`audiometric.metrics` (the protocol is
``metrics/protocol.py``); this module selects the rows a metric reads, decides whether it can be
computed (enough rows, per-clip reference, name pairing), runs the shared bootstrap, and adds the
entry fields and notes every result carries. It has no per-metric code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from audiometric.errors import AudiometricError
from audiometric.extraction.clipset import ClipSet
from audiometric.metrics import (
    BACKBONE_SEPARATOR,
    Estimate,
    MetricInfo,
    MetricInput,
    get_metric,
    pair_clips,
    split_request,
)
from audiometric.metrics.bootstrap import draw_replicates, interval
from audiometric.metrics.protocol import no_progress
from audiometric.scoring.captions import TEXT
from audiometric.scoring.reference import ReferenceStats


@dataclass(kw_only=True, frozen=True)
class Settings:
    """The options that change metric values (a subset of the score options).

    ``metrics``: metric requests, each a registered name or ``METRIC@BACKBONE`` (``fd@vggish``: FD on that
    backbone; its entries are keyed ``fd@vggish``, ``fd_inf@vggish``). ``ci_method``: ``"percentile"`` or ``"basic"`` (see :func:`audiometric.metrics.bootstrap.interval`).
    ``keep_replicates``: each entry also carries its bootstrap values (``replicate_values``), for paired
    tests across calls that share ``seed`` and clip counts (the same draws: common random numbers).
    """

    metrics: tuple[str, ...]
    backbone: str
    fad_backbone: str
    compat: bool = False
    bootstrap: int = 0
    confidence: float = 0.95
    fd_inf: bool = False
    seed: int = 0
    ci_method: str = "percentile"
    keep_replicates: bool = False


def backbone_for(metric: str, settings: Settings) -> tuple[str, str]:
    """``(backbone, output)`` that ``metric`` (a name, or ``METRIC@BACKBONE``) reads under ``settings``."""
    info = get_metric(metric)
    backbone = split_request(metric)[1] or info.backbone or getattr(settings, info.backbone_option)
    return backbone, info.output


def needed_outputs(settings: Settings) -> dict[str, set[str]]:
    """Backbone name -> the outputs the requested metrics read from it."""
    needs: dict[str, set[str]] = {}
    for metric in settings.metrics:
        backbone, output = backbone_for(metric, settings)
        needs.setdefault(backbone, set()).add(output)
    return needs


def compute(
    settings: Settings, gen: ClipSet, ref: ClipSet | None, ref_stats: ReferenceStats | None, progress: bool = True
) -> tuple[dict[str, dict], dict[str, str]]:
    """Every requested metric: ``({name: entry}, {name: why it was not computed})``.

    ``progress``: show a bar for metric loops (bootstrap, FD∞) that run longer than two seconds.
    """
    values: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for metric in settings.metrics:
        try:
            entries = _one(metric, settings, gen, ref, ref_stats, progress)
        except AudiometricError as err:  # a metric's own precondition (too few clips, unpaired names, ...)
            skipped[metric] = str(err)
            continue
        asked_on = split_request(metric)[1]
        suffix = "" if asked_on is None else f"{BACKBONE_SEPARATOR}{asked_on}"  # fd@passt gives fd@passt, fd_inf@passt
        for key, entry in ((k + suffix, e) for k, e in entries.items()):
            if isinstance(entry, str):
                skipped[key] = entry
            else:
                values[key] = entry
    return values, skipped


def metric_input(
    metric: str, settings: Settings, gen: ClipSet, ref: ClipSet | None, ref_stats: ReferenceStats | None = None
) -> MetricInput:
    """What ``metric`` computes from for ``gen`` against ``ref`` (or ``ref_stats``): rows selected, name pairs
    and captions index-aligned.

    For tests built on a metric's ``replicate`` (the sweep's paired swap test, ``compare``'s permutations);
    raises AudiometricError where the metric cannot be computed.
    """
    backbone, output = backbone_for(metric, settings)
    return _inputs(get_metric(metric), settings, gen, ref, ref_stats, backbone, output, False)[0]


def _one(
    metric: str,
    settings: Settings,
    gen: ClipSet,
    ref: ClipSet | None,
    ref_stats: ReferenceStats | None,
    progress: bool,
) -> dict[str, dict | str]:
    """The result entries of one metric request (keys without its ``@backbone``); raises AudiometricError
    with why it cannot be computed."""
    info = get_metric(metric)
    backbone, output = backbone_for(metric, settings)
    data, notes = _inputs(info, settings, gen, ref, ref_stats, backbone, output, progress)
    estimates = info.run(data)
    intervals = _bootstrap(info, settings, data, estimates)
    n_generated = len(gen.names(backbone))  # clips the backbone left out (--compat's FAD) do not count
    left_out = [len(s.excluded().get(backbone, [])) if s is not None else 0 for s in (gen, ref)]
    if any(left_out):
        notes = [
            *notes,
            f"{left_out[0]} generated and {left_out[1]} reference clips shorter than one {backbone} "
            "input left out, as audioldm_eval's FAD does (listed under excluded)",
        ]
    base = {
        "backbone": backbone,
        "output": output,
        "better": info.better,
        "n_generated": n_generated,
        "n_reference": data.n_reference,
        "source": info.source,
    }
    if info.defined_on and backbone not in info.defined_on:
        notes = [f"defined on {', '.join(info.defined_on)}; computed here on {backbone}, not comparable to it", *notes]
    out: dict[str, dict | str] = {}
    for key, est in estimates.items():
        if isinstance(est, str):
            out[key] = est
            continue
        fields, ci_notes = intervals.get(key, ({}, []))
        entry = {**base, "value": est.value, **est.fields, **fields}
        entry_notes = [*notes, *est.notes, *ci_notes, *_negative_note(info, est.value, n_generated)]
        if entry_notes:
            entry["note"] = "; ".join(entry_notes)
        out[key] = entry
    return out


def _inputs(
    info: MetricInfo,
    settings: Settings,
    gen: ClipSet,
    ref: ClipSet | None,
    ref_stats: ReferenceStats | None,
    backbone: str,
    output: str,
    progress: bool,
) -> tuple[MetricInput, list[str]]:
    """The shared not-computable rules, then the metric's input (paired clips index-aligned)."""
    gen_clips = gen.rows(backbone, output)
    if info.reference == "captions":  # each clip's caption embedding, index-aligned (see scoring/captions.py)
        return _caption_inputs(info, settings, gen, backbone, output)
    ref_clips = ref.rows(backbone, output) if ref is not None and info.reference != "none" else None
    if info.reference == "clips" and ref is None:
        raise AudiometricError("needs per-clip reference data; pass the reference folder instead of a statistics file")
    moments = None
    if ref is None and info.reference == "moments":
        assert ref_stats is not None  # a score has reference clips or reference statistics
        moments = ref_stats.accumulator(backbone, output)
    for side, count in (
        ("generated", sum(len(c) for c in gen_clips)),
        ("reference", sum(len(c) for c in ref_clips) if ref_clips is not None else None),
        ("reference", moments.count if moments is not None else None),
    ):
        if count is not None and count < info.min_rows:
            raise AudiometricError(
                f"needs at least {info.min_rows} rows (clips or frames) per set; the {side} set gives {count}"
            )
    notes = []
    if info.paired:
        assert ref is not None and ref_clips is not None  # paired metrics read clips (refused above without)
        pairs, note = pair_clips(gen.names(backbone), ref.names(backbone))
        gen_clips, ref_clips = [gen_clips[i] for i, _ in pairs], [ref_clips[j] for _, j in pairs]
        notes += [note] if note else []
    n_reference = len(ref.names(backbone)) if ref is not None else int(ref_stats.meta["clips"]) if ref_stats else 0
    bars = (lambda total, desc: tqdm(total=total, desc=desc, leave=False, delay=2.0)) if progress else no_progress
    data = MetricInput(
        name=info.name,
        gen=gen_clips,
        ref=ref_clips,
        ref_moments=moments,
        n_reference=n_reference,
        compat=settings.compat,
        fd_inf=settings.fd_inf,
        seed=settings.seed,
        progress=bars,
        params=info.defaults,
    )
    return data, notes


def _caption_inputs(
    info: MetricInfo, settings: Settings, gen: ClipSet, backbone: str, output: str
) -> tuple[MetricInput, list[str]]:
    """Generated rows against the text rows the pipeline stored beside them (one caption per clip)."""
    gen_clips, text = gen.rows(backbone, output), gen.rows(backbone, TEXT)
    if not gen_clips or len(text) != len(gen_clips):
        raise AudiometricError(
            "needs a caption per generated clip: pass --prompts CSV (file,caption) or generate's manifest.json"
        )
    data = MetricInput(
        name=info.name, gen=gen_clips, ref=text, ref_moments=None, n_reference=len(text), seed=settings.seed
    )
    return data, []


def _bootstrap(
    info: MetricInfo, settings: Settings, data: MetricInput, estimates: dict[str, Estimate | str]
) -> dict[str, tuple[dict, list[str]]]:
    """Interval fields and notes per entry: the shared clip-resampling draws, then the ``ci_method`` interval."""
    points = {k: e.value for k, e in estimates.items() if isinstance(e, Estimate)}
    replicates = {k: e.replicate for k, e in estimates.items() if isinstance(e, Estimate) and e.replicate}
    if not settings.bootstrap or not replicates:
        return {}
    paired = info.paired
    if paired:
        n_ref, resampled = len(data.gen), "name-paired clips (the same draws for both sets)"
    elif info.reference == "none":
        n_ref, resampled = None, "generated clips"
    elif data.ref is None:
        n_ref, resampled = None, "generated clips only; the reference statistics (a file, no clips) stay fixed"
    elif not info.resample_reference:
        n_ref, resampled = None, "generated clips only; the reference clips stay fixed"
    else:
        n_ref, resampled = len(data.ref), "generated and reference clips, independently"
    bar = data.progress(settings.bootstrap, f"{info.name} bootstrap")
    try:
        values = draw_replicates(
            replicates, len(data.gen), n_ref, settings.bootstrap, settings.seed, paired=paired, progress=bar.update
        )
    finally:
        bar.close()
    out = {}
    for key, reps in values.items():
        point = points[key]
        fields = {
            "ci": list(interval(reps, point, settings.confidence, settings.ci_method)),
            "ci_method": settings.ci_method,
            "confidence": settings.confidence,
            "replicates": settings.bootstrap,
            "resampled": resampled,
            "bootstrap_bias": float(np.mean(reps) - point),
        }
        if settings.keep_replicates:
            fields["replicate_values"] = [float(v) for v in reps]
        percentile = interval(reps, point, settings.confidence, "percentile")
        notes = []
        if not percentile[0] <= point <= percentile[1]:
            basic = interval(reps, point, settings.confidence, "basic")
            notes.append(
                f"the point estimate lies outside its percentile bootstrap interval [{percentile[0]:.4g}, "
                f"{percentile[1]:.4g}]: {_WHY_SHIFTED[info.estimator]} (bootstrap estimate of the bias "
                f"{fields['bootstrap_bias']:+.4g}); the basic interval "
                f"(percentile interval of the centred statistic, [2θ̂ − q_hi, 2θ̂ − q_lo]) corrects for it: "
                f"[{basic[0]:.4g}, {basic[1]:.4g}]" + (" (the CI shown)" if settings.ci_method == "basic" else "")
            )
        out[key] = (fields, notes)
    return out


#: Why bootstrap replicates sit to one side of the point estimate, by kind of estimator.
_WHY_SHIFTED = {
    "plug-in": "resampled sets repeat clips, so the small-N bias of the plug-in estimator grows in every replicate",
    "unbiased": "resampled sets repeat clips, and a repeated clip paired with its own copy inflates the within-set "
    "kernel means of every replicate",
}


def _negative_note(info: MetricInfo, value: float, n_gen: int) -> list[str]:
    """Why an unbiased estimate below 0 is not a better-than-reference score."""
    if info.estimator != "unbiased" or not value < 0:
        return []
    return [
        f"negative: the unbiased estimator is 0 in expectation for equal distributions and its spread "
        f"shrinks like 1/N, so at {n_gen} generated clips a negative value is sampling noise "
        "(indistinguishable from the reference), not a better-than-reference score"
    ]
