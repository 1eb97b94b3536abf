"""``audiometric compare``: two or more systems against one reference, with significance for every difference.

Every system folder (or ``embed`` ``.npz``) and the reference go through the score pipeline and its cache once
(one backbone pass per clip, never one per permutation). Per pair and metric entry: both values, Δ = m(B) −
m(A), a bootstrap CI of Δ and a permutation p (:mod:`compare_stats`), Holm-adjusted across pairs × metrics
(:func:`~audiometric.metrics.significance.holm`); per metric a ranking with a compact letter display
(:mod:`compare_letters`). Unequal clip counts are subsampled to the smallest (Fréchet bias depends on N),
unless ``fd_inf`` compares FD∞. See ``docs/statistics.md``.
"""

from __future__ import annotations

import csv
import io
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import cast

import numpy as np

from audiometric import backbones
from audiometric._version import __version__
from audiometric.audio.preprocess import list_audio_files
from audiometric.errors import AudiometricError
from audiometric.extraction.clipset import ClipSet, extract_folder
from audiometric.metrics import (
    BACKBONE_SEPARATOR,
    Estimate,
    entry_labels,
    entry_metric,
    get_metric,
    pair_clips,
    split_request,
)
from audiometric.metrics.significance import holm
from audiometric.runtime.atomic import atomic_write_text
from audiometric.scoring.captions import Captions, read_captions
from audiometric.scoring.compare_letters import letters, pair_cells, ranking_csv, ranking_markdown
from audiometric.scoring.compare_stats import (
    PairTest,
    Plan,
    SystemInput,
    draw_indices,
    pair_test,
    replicates,
    system_ci,
)
from audiometric.scoring.compute import Settings, backbone_for, metric_input, needed_outputs
from audiometric.scoring.export import StoredClipSet
from audiometric.scoring.pipeline import ExtractionOptions, Sides, add_captions, versions
from audiometric.scoring.reference import ReferenceStats


@dataclass(kw_only=True)
class Sets:
    """The clip sets of a comparison: systems by label (in the order given), the reference, provenance, and
    the captions every system's clips pair with by name (``clap_score``; ``None`` without ``--prompts``)."""

    systems: dict[str, ClipSet]
    paths: dict[str, str]
    ref: ClipSet | None
    ref_stats: ReferenceStats | None
    sides: Sides
    captions: Captions | None = None


def labels_for(paths: Sequence[str]) -> list[str]:
    """Short system labels: folder or file names, the paths as given where two names collide."""
    names = [Path(p).name.removesuffix(".npz") or str(p) for p in paths]
    return [n if names.count(n) == 1 else str(p) for n, p in zip(names, paths)]


def load_sets(
    systems: Sequence[str],
    reference: str,
    settings: Settings,
    opts: ExtractionOptions,
    held: dict[str, backbones.LazyBackbone] | None = None,
    captions: str | None = None,
) -> Sets:
    """Extract (or read) every system and the reference once, checking stored files' provenance.

    ``captions``: a ``--prompts`` file; every system's clips get their caption's text embedding by name, and a
    clip without a caption fails (one line naming it and the file) before any clip is embedded."""
    if len(systems) < 2:
        raise AudiometricError(f"compare needs at least two systems, got {len(systems)}")
    needs = needed_outputs(settings)
    labels = labels_for(systems)
    held = {} if held is None else held
    caps = read_captions(captions) if captions else None
    all_sides = [Sides.load(str(path), str(reference), needs, opts, 0, held) for path in systems]
    if all_sides[-1].ref_stats is None and all_sides[-1].ref_stored is None:
        list_audio_files(reference)  # a missing or empty reference folder fails before any clip is embedded
    for path, sides in zip(systems, all_sides):  # every system checked before the first clip is embedded
        if sides.gen_stored is None:
            list_audio_files(path)
        if caps is not None and sides.gen_stored is not None:
            caps.lookup(sides.gen_stored.names(), str(path))
        elif caps is not None:
            caps.check_folder(str(path))
    sides = all_sides[-1]
    ref: ClipSet | None = None
    if sides.ref_stats is None:
        stored = sides.ref_stored
        ref = stored if isinstance(stored, StoredClipSet) else _extract(str(reference), sides, opts, "reference")
    out = {
        label: s.gen_stored or _extract(str(path), s, opts, label) for label, path, s in zip(labels, systems, all_sides)
    }
    if caps is not None:
        for clips in out.values():
            add_captions(caps, settings, clips, opts, held)
    return Sets(
        systems=out,
        paths=dict(zip(labels, map(str, systems))),
        ref=ref,
        ref_stats=sides.ref_stats,
        sides=sides,
        captions=caps,
    )


def _extract(folder: str, sides: Sides, opts: ExtractionOptions, desc: str) -> ClipSet:
    assert sides.extractor is not None  # a folder side always gets an extractor
    return extract_folder(folder, sides.extractor, opts.strict, desc=desc)


def subset(clips: ClipSet, keep: Sequence[int]) -> ClipSet:
    """The clip set restricted to the clips at positions ``keep`` (file order kept)."""
    chosen = sorted(keep)
    extraction = replace(clips.extraction, clips=[clips.extraction.clips[i] for i in chosen])
    if isinstance(clips, StoredClipSet):
        return replace(clips, extraction=extraction, stored_names=tuple(clips.stored_names[i] for i in chosen))
    return replace(clips, extraction=extraction)


def equal_sizes(systems: dict[str, ClipSet], seed: int) -> tuple[dict[str, ClipSet], str | None]:
    """Subsample every system to the smallest clip count (seeded): the same names where all systems share them."""
    counts = {label: len(s.extraction.clips) for label, s in systems.items()}
    n = min(counts.values())
    if len(set(counts.values())) == 1:
        return systems, None
    rng = np.random.default_rng(seed)
    common = sorted(set.intersection(*(set(s.names()) for s in systems.values())))
    shared = len(common) >= n
    chosen = set(rng.choice(common, n, replace=False)) if shared else set()
    out = {}
    for label, clips in systems.items():
        names = clips.names()
        keep = [i for i, name in enumerate(names) if name in chosen] if shared else rng.choice(len(names), n, False)
        out[label] = subset(clips, list(keep))
    sizes = ", ".join(f"{label} {count}" for label, count in counts.items())
    how = "the same names in every system" if shared else "independently per system"
    note = (
        f"systems have unequal clip counts ({sizes}); each was subsampled to {n} clips ({how}, seed {seed}), "
        "since Fréchet distances are biased by N; pass --fd-inf to compare FD∞ on all clips instead"
    )
    return out, note


def _system_input(settings: Settings, metric: str, clips: ClipSet, sets: Sets) -> SystemInput:
    """One system's metric input and estimates; keys are clip names (also of clips paired with their
    captions), or the indices of the reference clips they pair with."""
    info = get_metric(metric)
    backbone = backbone_for(metric, settings)[0]
    data = metric_input(metric, settings, clips, sets.ref, sets.ref_stats)
    if info.paired and info.reference == "clips":
        assert sets.ref is not None
        keys: list = [j for _, j in pair_clips(clips.names(backbone), sets.ref.names(backbone))[0]]
    else:
        keys = clips.names(backbone)
    return SystemInput(data, info.run(data), keys)


def _metric(settings: Settings, metric: str, sets: Sets, plan: Plan) -> tuple[dict, dict, str | None]:
    """``({key: per-system values and CIs}, {(a, b, key): PairTest}, why not computed)`` for one metric."""
    info = get_metric(metric)
    labels = list(sets.systems)
    try:
        inputs = [_system_input(settings, metric, sets.systems[label], sets) for label in labels]
    except AudiometricError as err:
        return {}, {}, str(err)
    first = inputs[0].data
    resample_ref = not info.paired and info.resample_reference and first.ref is not None
    draws = draw_indices(inputs, info.paired, len(first.ref) if resample_ref and first.ref else None, plan)
    keys = [k for k, e in inputs[0].estimates.items() if all(isinstance(i.estimates.get(k), Estimate) for i in inputs)]
    values: dict[str, dict] = {}
    tests: dict[tuple[str, str, str], PairTest] = {}
    for key in keys:
        reps = replicates(inputs, key, draws, info.paired)
        points = [cast(Estimate, i.estimates[key]).value for i in inputs]
        floors = [float(cast(Estimate, i.estimates[key]).fields.get("resolution", 0.0)) for i in inputs]
        values[key] = {
            label: {"value": v, "ci": system_ci(v, r, plan.confidence), "resolution": f}
            for label, v, r, f in zip(labels, points, reps, floors)
        }
        for x in range(len(labels)):
            for y in range(x + 1, len(labels)):
                tests[labels[x], labels[y], key] = pair_test(info, key, inputs[x], inputs[y], (reps[x], reps[y]), plan)
    return values, tests, None


def compare(
    systems: Sequence[str],
    reference: str,
    settings: Settings,
    plan: Plan,
    opts: ExtractionOptions,
    alpha: float = 0.05,
    held: dict[str, backbones.LazyBackbone] | None = None,
    captions: str | None = None,
) -> tuple[dict, Sets]:
    """Compare ``systems`` against ``reference``: the JSON-able result and the clip sets it used.

    ``captions``: the ``--prompts`` file ``clap_score`` reads (see :func:`load_sets`)."""
    start = time.perf_counter()
    sets = load_sets(systems, reference, settings, opts, held, captions)
    extracted = time.perf_counter()
    notes: list[str] = []
    if not settings.fd_inf:
        sets.systems, note = equal_sizes(sets.systems, plan.seed)
        notes += [note] if note else []
        for note in notes:
            warnings.warn(note, UserWarning, stacklevel=2)
    values: dict[str, dict] = {}
    tests: dict = {}
    not_computed: dict[str, str] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for metric in settings.metrics:
            metric_values, metric_tests, why = _metric(settings, metric, sets, plan)
            if why:
                not_computed[metric] = why
            asked_on = split_request(metric)[1]
            suffix = "" if asked_on is None else f"{BACKBONE_SEPARATOR}{asked_on}"  # fd@passt's entry is fd@passt
            values.update({key + suffix: v for key, v in metric_values.items()})
            tests.update({(a, b, key + suffix): t for (a, b, key), t in metric_tests.items()})
    messages = sorted({str(w.message) for w in caught} | set(notes))
    for message in sorted({str(w.message) for w in caught}):
        warnings.warn(message, stacklevel=2)
    result = _assemble(settings, plan, alpha, sets, values, tests, not_computed, messages)
    result["provenance"]["timings_s"] = {
        "extraction": round(extracted - start, 3),
        "statistics": round(time.perf_counter() - extracted, 3),
    }
    return result, sets


def _assemble(
    settings: Settings,
    plan: Plan,
    alpha: float,
    sets: Sets,
    values: dict,
    tests: dict,
    not_computed: dict,
    messages: list[str],
) -> dict:
    """The result JSON: systems, reference, pairs (Holm across pairs × metrics), ranking, provenance."""
    labels = list(sets.systems)
    order = list(tests)
    adjusted = holm([np.nan if tests[t].p_value is None else tests[t].p_value for t in order])
    pairs = []
    for x in range(len(labels)):
        for y in range(x + 1, len(labels)):
            entries = {}
            for t, q in zip(order, adjusted):
                if t[:2] != (labels[x], labels[y]):
                    continue
                test, key = tests[t], t[2]
                entries[key] = {
                    "a": values[key][labels[x]]["value"],
                    "b": values[key][labels[y]]["value"],
                    "difference": test.difference,
                    "ci": None if test.ci is None else list(test.ci),
                    "p_value": test.p_value,
                    "p_adjusted": None if np.isnan(q) else float(q),
                    "significant": bool(q <= alpha) if not np.isnan(q) else False,
                }
            pairs.append({"a": labels[x], "b": labels[y], "metrics": entries})
    return {
        "systems": labels,
        "reference": sets.ref_stats.path if sets.ref_stats else sets.ref.path if sets.ref else None,
        "pairs": pairs,
        "ranking": _ranking(values, pairs),
        "provenance": _provenance(settings, plan, alpha, sets, tests, not_computed, messages),
    }


def _ranking(values: dict, pairs: list[dict]) -> dict[str, list[dict]]:
    """Per metric entry: systems best first, with value, CI, rank and compact letters."""
    out = {}
    for key, by_system in values.items():
        sign = 1.0 if entry_metric(key).lower_is_better else -1.0
        order = sorted(by_system, key=lambda s: sign * by_system[s]["value"])
        different = [(p["a"], p["b"]) for p in pairs if key in p["metrics"] and p["metrics"][key]["significant"]]
        cld = letters(order, different)
        out[key] = [{"system": s, "rank": r + 1, **by_system[s], "letters": cld[s]} for r, s in enumerate(order)]
    return out


def _provenance(
    settings: Settings, plan: Plan, alpha: float, sets: Sets, tests: dict, not_computed: dict, messages: list[str]
) -> dict:
    """Everything that can change a number: versions, settings, sets, backbones, the tests run, warnings."""
    methods = {t[2]: tests[t].method for t in tests}
    return {
        "audiometric": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {**asdict(settings), "metrics": list(settings.metrics), **asdict(plan), "alpha": alpha},
        "tests": methods,
        "multiple_comparisons": "Holm (1979) across all pairs × metric entries",
        "systems": {
            label: {**clips.summary(), "compared": len(clips.extraction.clips), "path": sets.paths[label]}
            for label, clips in sets.systems.items()
        },
        "reference": sets.ref.summary() if sets.ref else sets.ref_stats.summary() if sets.ref_stats else None,
        "captions": sets.captions.summary() if sets.captions else None,
        "backbones": sets.sides.backbones,
        "preprocessing": sets.sides.preprocessing,
        "not_computed": not_computed,
        "warnings": messages,
        "versions": versions(),
    }


def pairs_csv(result: dict) -> str:
    """One CSV row per pair and metric entry."""
    header = ["a", "b", "metric", "value_a", "value_b", "difference", "ci_low", "ci_high", "p_value", "p_adjusted"]
    rows = [[*header, "significant"]]
    for pair in result["pairs"]:
        for key, m in pair["metrics"].items():
            ci = m["ci"] or [None, None]
            cells = [pair["a"], pair["b"], key, m["a"], m["b"], m["difference"], *ci, m["p_value"], m["p_adjusted"]]
            rows.append(["" if c is None else c for c in cells] + [m["significant"]])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def summary_table(result: dict) -> str:
    """The pairwise table and the ranking as Markdown, for the terminal."""
    labels = entry_labels()
    lines = ["| A | B | metric | A | B | Δ = B − A | CI of Δ | p | p (Holm) |", "|" + "---|" * 9]
    for pair in result["pairs"]:
        for key, m in pair["metrics"].items():
            p = "—" if m["p_value"] is None else f"{m['p_value']:.3g}"
            q = "—" if m["p_adjusted"] is None else f"{m['p_adjusted']:.3g}" + (" *" if m["significant"] else "")
            cells = [pair["a"], pair["b"], labels.get(key, key), *pair_cells(result, pair, key)]
            lines.append("| " + " | ".join([*cells, p, q]) + " |")
    alpha = result["provenance"]["settings"]["alpha"]
    text = "\n".join(lines) + f"\n\n* significant at alpha = {alpha} after Holm correction\n"
    if len(result["systems"]) > 2:
        text += "\nRanking (systems sharing a letter are not significantly different):\n\n"
        text += ranking_markdown(result["ranking"], labels)
    for metric, why in result["provenance"]["not_computed"].items():
        text += f"\n{metric}: not computed: {why}"
    return text


def write_text(path: str | Path, text: str) -> Path:
    """The one place compare writes a file (atomically)."""
    return atomic_write_text(path, text)


def write_outputs(result: dict, json_path: str | None, csv_path: str | None, ranking_path: str | None) -> str | None:
    """Write the requested files; returns the JSON text when ``json_path`` is ``"-"`` (for stdout)."""
    text = json.dumps(result, indent=2, allow_nan=True) + "\n"
    if json_path and json_path != "-":
        write_text(json_path, text)
    if csv_path:
        write_text(csv_path, pairs_csv(result))
    if ranking_path:
        write_text(ranking_path, ranking_csv(result["ranking"]))
    return text if json_path == "-" else None


__all__ = ["Sets", "compare", "equal_sizes", "labels_for", "load_sets", "pairs_csv", "summary_table", "write_outputs"]
