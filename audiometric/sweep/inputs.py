"""A sweep's inputs, checked before any backbone runs: parameters, pool, reference clips and their classes.

Every check raises a one-line :class:`~audiometric.errors.AudiometricError` that names the option and
the fix: too few pool classes for a level, too few clips for a metric, unknown parameters, missing labels.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import corruptions
from audiometric.corrupt.compose import compose_set
from audiometric.corrupt.labels import read_labels
from audiometric.corrupt.options import parse_params, takes
from audiometric.corrupt.setrun import MANIFEST
from audiometric.errors import USER_ERRORS, AudiometricError
from audiometric.extraction.clipset import ClipSet
from audiometric.metrics import METRICS, split_request
from audiometric.scoring.captions import Captions, read_captions
from audiometric.sweep.cells import Reference, digest
from audiometric.sweep.core import Scorer, barrier, preview_names
from audiometric.sweep.spec import SweepSpec, required
from corruptions.event_permutation import COMPOSE_PARAMS
from corruptions.pool import Pool


def resolve_params(spec: SweepSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(all resolved parameters, the corruption's own keyword arguments)``; permute adds the composer's.

    Values are parsed from their text by each parameter's type, so ``k: 1`` in YAML and ``-p k=1`` give the
    same value (and the same cell keys)."""
    raw = {k: str(v) for k, v in spec.params.items()}
    try:
        if spec.corruption == "event_permutation":
            resolved = parse_params(COMPOSE_PARAMS, raw)
            return resolved, {k: resolved[k] for k in ("gap_s", "crossfade_s")}
        resolved = parse_params(corruptions.get(spec.corruption), raw)
    except USER_ERRORS as err:
        raise AudiometricError(f"--param: {err}") from None
    return resolved, dict(resolved)


def preview(spec: SweepSpec, resolved: dict[str, Any]) -> list[str]:
    """The names the reference will have, for the checks made before any backbone runs."""
    if spec.corruption == "event_permutation":
        return [f"clip_{i:05d}.wav" for i in range(int(resolved["n_clips"]))]
    return preview_names(required(spec.ref, "--ref"))


def check_sizes(spec: SweepSpec, n: int) -> None:
    """Each level's corrupted set and reference must be large enough for every requested metric."""
    gen = n if spec.protocol == "paired" else n // 2
    ref = n if spec.protocol == "paired" else n - n // 2
    where = "" if spec.protocol == "paired" else f" (--protocol split corrupts half of the {n} reference clips)"
    splits = METRICS["is"].defaults["splits"]  # IS needs a clip per split
    if any(split_request(m)[0] == "is" for m in spec.metrics) and gen < splits:  # is, is@BACKBONE
        need = splits if spec.protocol == "paired" else 2 * splits
        raise AudiometricError(
            f"--metrics is: IS uses {splits} splits, so each level needs >= {splits} "
            f"corrupted clips, this sweep has {gen}{where}; give >= {need} reference clips, "
            "use --protocol paired, or drop is"
        )
    if any(m in spec.metrics for m in ("fd", "fad", "kad")) and min(gen, ref) < 2:
        need = 2 if spec.protocol == "paired" else 4
        raise AudiometricError(
            f"--metrics: FD/FAD/KAD need >= 2 clips per set, this sweep has {gen} corrupted and "
            f"{ref} reference clips{where}; give >= {need} reference clips"
        )


def captions(spec: SweepSpec, names: list[str], scorer: Scorer) -> Captions | None:
    """``--prompts``: read, check that every reference clip name has a caption (before any clip is embedded),
    and embed them once (:meth:`Scorer.caption`); ``None`` without it."""
    if spec.prompts is None:
        return None
    caps = read_captions(spec.prompts)
    scorer.caption(caps, names, spec.ref or "the composed reference")
    return caps


def load_pool(spec: SweepSpec, resolved: dict[str, Any]) -> tuple[Pool | None, str | None]:
    """The pool (if the corruption reads one) and a digest of its classes, names and bytes."""
    if not takes(corruptions.get(spec.corruption), "--pool"):
        return None, None
    pool = Pool.from_path(required(spec.pool, "--pool"))
    if spec.corruption == "event_permutation" and len(pool.classes()) < int(resolved["n_events"]):
        raise AudiometricError(
            f"--pool {spec.pool}: {len(pool.classes())} classes, but each composed clip needs "
            f"n_events={resolved['n_events']} distinct ones; add classes or lower --param n_events"
        )
    content = [(c, clip.name, pool.sha256(clip)) for c in pool.classes() for clip in pool.clips(c)]
    return pool, digest(content)


def check_classes(spec: SweepSpec, pool: Pool, labels: list[str], resolved: dict[str, Any]) -> None:
    """Every target must have enough pool classes other than its own for the most interferers asked."""
    most = int(max(spec.levels)) if spec.corruption == "interference" else int(resolved["k"])
    what = f"level {most}" if spec.corruption == "interference" else f"--param k={most}"
    for label in sorted(set(labels)):
        others = [c for c in pool.classes() if c != label]
        if len(others) < most:
            raise AudiometricError(
                f"--pool {spec.pool}: {len(others)} classes other than '{label}', but {what} mixes "
                f"{most} interferers of distinct classes into each clip; add classes or lower it"
            )


def reference(
    spec: SweepSpec, out: Path, resolved: dict[str, Any], pool: Pool | None, scorer: Scorer, progress: bool
) -> tuple[Reference, ClipSet]:
    """The clean reference through the backbones: the ``--ref`` folder, or for permute a set composed from
    the pool (seed 0, by rank 0) under OUT_DIR."""
    records: dict[str, dict] = {}
    if spec.corruption == "event_permutation":
        folder = out / f"reference-{digest([required(pool, '--pool').source, resolved])[:12]}"
        if scorer.rank == 0:
            compose_set(required(spec.pool, "--pool"), folder, seed=0, params=resolved, progress=progress)
        barrier()
        records = {e["name"]: e["record"] for e in json.loads((folder / MANIFEST).read_text())["files"]}
    else:
        folder = Path(required(spec.ref, "--ref"))
    clips = scorer.reference(folder)
    if scorer.rank == 0:
        report_skips(folder, clips.extraction.skipped)
    names = clips.names()
    ref = Reference(
        root=folder,
        files=[Path(c.path) for c in clips.extraction.clips],
        names=names,
        sha256=[c.sha256 for c in clips.extraction.clips],
    )
    if records:
        ref.compositions = [records[name] for name in names]
    if takes(corruptions.get(spec.corruption), "--labels"):
        ref.labels = target_labels(names, spec.labels)
    return ref, clips


def report_skips(folder: Path, skipped: list[dict[str, str]], shown: int = 10) -> None:
    """Name on stderr each reference file left out as unusable (also listed in results.json)."""
    for skip in skipped[:shown]:
        warnings.warn(f"reference {folder}: skipped {skip['file']}: {skip['reason']}", stacklevel=2)
    if skipped:
        more = f", {len(skipped) - shown} more not shown" if len(skipped) > shown else ""
        warnings.warn(
            f"reference {folder}: {len(skipped)} unusable file(s) left out{more} (all listed in results.json "
            "under skipped); fix or remove them, or pass --strict to stop at the first",
            stacklevel=2,
        )


def target_labels(names: list[str], labels_csv: str | None) -> list[str]:
    """Each clip's class: from ``--labels`` (CSV ``path,label`` relative to the reference), else its folder."""
    table: dict[str, str] = {}
    if labels_csv:
        if not Path(labels_csv).is_file():
            raise AudiometricError(f"--labels {labels_csv}: no such file; pass a path,label CSV")
        table = read_labels(Path(labels_csv))
    out = []
    for name in names:
        label = table.get(name, table.get(Path(name).name)) or (name.split("/", 1)[0] if "/" in name else None)
        if label is None:
            raise AudiometricError(
                f"{name}: class unknown for interference; pass --labels CSV (path,label) or put the "
                "reference clips in class folders"
            )
        out.append(label)
    return out


__all__ = [
    "captions",
    "check_classes",
    "check_sizes",
    "load_pool",
    "preview",
    "reference",
    "report_skips",
    "resolve_params",
    "target_labels",
]
