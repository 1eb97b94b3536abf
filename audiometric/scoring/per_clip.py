"""Per-clip outlier ranking (fadtk's per-song FAD): one row per generated clip, worst first.

For each Fréchet metric requested (``fd``, ``fad``), column ``<metric>_clip`` is the Fréchet distance
between the Gaussian of the CLIP'S OWN rows and the reference Gaussian, as fadtk's per-song score:
the clip's mean and ``ddof=1`` covariance of its frames (VGGish gives one row per 0.96 s patch); a
one-row clip (PANNs Cnn14 gives one embedding per clip) has zero covariance, so its value is
``||x - mu_ref||^2 + tr Sigma_ref``. It is not a leave-one-out change of the set's FD. The reference
covariance is factored once (:class:`~audiometric.metrics.frechet.ReferenceGaussian`). With ``kl``
requested and the names pairing, ``kl_softmax``/``kl_sigmoid`` are the clip's KL to its paired reference
clip (the set's KL is their mean). Where the backbone has class logits, ``top_classes`` lists the three
highest-scoring AudioSet classes with their sigmoid probabilities: by name when a label list is given
(AudioSet's ``class_labels_indices.csv``, which no installed package ships), else by class index.
Rows are sorted by the first distance column, highest (worst) first, else by ``kl_softmax``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.extraction.clipset import ClipSet
from audiometric.metrics import METRICS, kl_sigmoid, kl_softmax, pair_clips
from audiometric.metrics.frechet import ReferenceGaussian
from audiometric.metrics.moments import MomentAccumulator
from audiometric.metrics.special import expit
from audiometric.runtime.atomic import atomic_write_text
from audiometric.scoring.compute import Settings, backbone_for
from audiometric.scoring.reference import ReferenceStats

TOP_K = 3


def per_clip_metrics() -> tuple[str, ...]:
    """The metrics ``--per-clip`` ranks clips by (registry order): their entries say ``per_clip``."""
    return tuple(name for name, info in METRICS.items() if info.per_clip)


def _distance_metrics(requested: Sequence[str]) -> list[str]:
    """Requested per-clip metrics read against a reference Gaussian (each clip's Fréchet distance to it)."""
    return [m for m in per_clip_metrics() if m in requested and METRICS[m].reference == "moments"]


def load_class_labels(path: str | Path) -> list[str]:
    """Display names by class index from an AudioSet ``class_labels_indices.csv`` (index,mid,display_name)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [row["display_name"] for row in sorted(rows, key=lambda r: int(r["index"]))]
    except (OSError, KeyError, ValueError) as err:
        raise AudiometricError(
            f"{path} is not an AudioSet class_labels_indices.csv (index,mid,display_name): {type(err).__name__}"
        ) from None


def per_clip(
    settings: Settings,
    gen: ClipSet,
    ref: ClipSet | None,
    ref_stats: ReferenceStats | None,
    labels: Sequence[str] | None = None,
) -> list[dict]:
    """One dict per generated clip (``clip`` name, distance/KL columns, ``top_classes``), worst first."""
    names = gen.names()
    rows: list[dict] = [{"clip": name} for name in names]
    sort_key = None
    for metric in _distance_metrics(settings.metrics):
        backbone, output = backbone_for(metric, settings)
        reference = _reference(ref, ref_stats, backbone, output)
        kept = set(gen.names(backbone))  # clips the backbone left out (--compat's FAD) have no rows
        for row, clip_rows in zip([r for r in rows if r["clip"] in kept], gen.rows(backbone, output)):
            row[f"{metric}_clip"] = reference.distance(clip_rows)
        sort_key = sort_key or f"{metric}_clip"
    if "kl" in settings.metrics and ref is not None:
        backbone, output = backbone_for("kl", settings)
        try:
            pairs, _ = pair_clips(names, ref.names())
        except AudiometricError:  # unpaired sets: no KL columns (the result's not_computed says why)
            pairs = []
        gen_logits, ref_logits = gen.rows(backbone, output), ref.rows(backbone, output)
        for i, j in pairs:
            rows[i].update(
                paired_with=ref.names()[j],
                kl_softmax=kl_softmax(gen_logits[i], ref_logits[j]),
                kl_sigmoid=kl_sigmoid(gen_logits[i], ref_logits[j]),
            )
        sort_key = sort_key or ("kl_softmax" if pairs else None)
    if gen.extraction.clips and "logits" in gen.extraction.clips[0].outputs.get(settings.backbone, {}):
        for row, logits in zip(rows, gen.rows(settings.backbone, "logits")):
            row["top_classes"] = _top_classes(logits, labels)
    if sort_key is None:
        raise AudiometricError(
            f"--per-clip ranks by {', '.join(per_clip_metrics())}: request at least one of them with --metrics"
        )
    rows.sort(key=lambda r: -r[sort_key] if sort_key in r else np.inf)
    return rows


def write_per_clip_csv(rows: list[dict], path: str | Path) -> Path:
    """Write :func:`per_clip` rows atomically, one column per key in order of first appearance."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def _reference(ref: ClipSet | None, ref_stats: ReferenceStats | None, backbone: str, output: str) -> ReferenceGaussian:
    if ref is not None:
        rows = np.concatenate(ref.rows(backbone, output))
        acc = MomentAccumulator(rows.shape[1]).update(rows)
    else:
        assert ref_stats is not None  # a score has reference clips or reference statistics
        acc = ref_stats.accumulator(backbone, output)
    return ReferenceGaussian(acc.mean, acc.cov())


def _top_classes(logits: np.ndarray, labels: Sequence[str] | None) -> str:
    """``"name (p); ..."`` of the ``TOP_K`` classes with the highest clip-mean sigmoid probability."""
    prob = expit(np.asarray(logits, dtype=np.float64)).mean(axis=0)  # AudioSet tagging is multi-label: sigmoid
    top = np.argsort(-prob, kind="stable")[:TOP_K]
    name = (lambda c: labels[c]) if labels is not None else (lambda c: f"class {c}")
    return "; ".join(f"{name(int(c))} ({prob[c]:.3f})" for c in top)


__all__ = ["load_class_labels", "per_clip", "per_clip_metrics", "write_per_clip_csv"]
