"""Precomputed reference statistics: ``audiometric stats REF -o ref.npz`` and reading them back.

The file holds one streaming moment accumulator (count, mean, scatter; O(d²) whatever the number of
clips) per backbone output that a Fréchet metric reads, plus the checkpoints and preprocessing they were
computed with, so scoring against them with other weights or settings is refused instead of silently wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.extraction.clipset import extract_folder
from audiometric.extraction.extract import Clip, Extractor, backbone_record, preprocessing_record
from audiometric.metrics.moments import MomentAccumulator
from audiometric.runtime.atomic import atomic_savez
from audiometric.runtime.distributed import all_gather

FORMAT = "audiometric-reference-v1"


@dataclass
class ReferenceStats:
    """Moments per ``"backbone:output"`` and the provenance they must match."""

    path: str
    moments: dict[str, MomentAccumulator]
    meta: dict

    def accumulator(self, backbone: str, output: str) -> MomentAccumulator:
        """The moments of ``backbone``'s ``output``, or a one-line error saying how to compute them."""
        key = f"{backbone}:{output}"
        if key not in self.moments:
            have = ", ".join(sorted(self.moments)) or "nothing"
            raise AudiometricError(
                f"{self.path or 'these statistics'} hold{'s' if self.path else ''} statistics for "
                f"{have}, not {key}; "
                f"{self.recompute_hint()} and the --metrics/--backbone you score with"
            )
        return self.moments[key]

    def recompute_hint(self) -> str:
        """How to rebuild this file, naming its reference folder only while that folder still exists."""
        folder = self.meta.get("folder")
        source = folder if folder and Path(folder).is_dir() else "REF_DIR"
        return f"recompute it with `audiometric stats {source} -o {self.path or 'ref.npz'}`"

    def summary(self) -> dict:
        """Provenance of the reference side of a result."""
        return {
            "path": self.path,
            "statistics": sorted(self.moments),
            "files": self.meta["files"],
            "scored": self.meta["clips"],
            "skipped": self.meta["skipped"],
            "folder": self.meta["folder"],
        }


def setting_difference(saved: dict, current: dict) -> str | None:
    """The first key whose value differs between ``saved`` and ``current``, as one phrase; ``None`` if equal."""
    for key in sorted(set(saved) | set(current), key=str):
        if key not in saved:
            return f"{key} is not recorded in it (now {current[key]!r})"
        if key not in current:
            return f"it records {key}={saved[key]!r}, which this version does not use"
        if saved[key] != current[key]:
            if isinstance(saved[key], dict) and isinstance(current[key], dict):
                inner = setting_difference(saved[key], current[key])
                return f"{key}: {inner}" if inner else None
            return f"{key}={saved[key]!r} there, {current[key]!r} now"
    return None


def check_provenance(
    path: str,
    meta: dict,
    checkpoints: dict[str, str | None],
    preprocessing: dict,
    fix: str,
    precisions: dict[str, str] | None = None,
) -> None:
    """Raise a one-line error when a stored file (statistics or embeddings) was made with other preprocessing,
    other weights than ``checkpoints`` (backbone -> sha256) or another ``precisions`` entry (backbone ->
    ``--precision``; files without one are fp32) for a backbone both share."""
    differs = setting_difference(meta.get("preprocessing", {}), preprocessing)
    if differs:
        raise AudiometricError(f"{path} was computed with other preprocessing ({differs}); {fix}")
    for name, sha in checkpoints.items():
        saved = meta.get("backbones", {}).get(name)
        if saved is not None and saved["checkpoint_sha256"] != sha:
            raise AudiometricError(
                f"{path} was computed with {name} checkpoint {saved['checkpoint_sha256']}, not {sha}; {fix}"
            )
        precision = (precisions or {}).get(name, "fp32")
        if saved is not None and saved.get("precision", "fp32") != precision:
            raise AudiometricError(
                f"{path} was computed with {name} in {saved.get('precision', 'fp32')}, not {precision}; {fix}"
            )


def accumulate(
    folder: str, extractor: Extractor, outputs: dict[str, set[str]], strict: bool = False, rank: int = 0, size: int = 1
) -> ReferenceStats:
    """Moments of ``outputs`` (backbone -> output names) over the clips of ``folder``, streamed clip by clip.

    Each clip's rows are folded in as soon as they exist and then dropped, so memory stays O(d²) per
    output whatever the number of clips. Under ``torchrun`` (``rank``/``size``) each rank folds its shard
    and the moments are merged across ranks.
    """
    moments: dict[str, MomentAccumulator] = {}

    def fold(clip: Clip) -> None:
        for backbone, names in outputs.items():
            for output in names:
                rows = clip.outputs[backbone][output]
                moments.setdefault(f"{backbone}:{output}", MomentAccumulator(rows.shape[1])).update(rows)

    clips = extract_folder(folder, extractor, strict, rank, size, desc="reference", sink=fold)
    moments = merge_moments(moments, size)
    meta = {
        "format": FORMAT,
        "folder": clips.path,
        "files": clips.listed,
        "clips": len(clips.extraction.clips),
        "skipped": clips.extraction.skipped,
        "preprocessing": preprocessing_record(extractor.pre),
        "backbones": {name: backbone_record(model) for name, model in extractor.backbones.items()},
    }
    return ReferenceStats("", dict(sorted(moments.items())), meta)


def save(stats: ReferenceStats, path: str | Path) -> Path:
    """Write ``stats`` to ``path`` atomically."""
    arrays = {"meta": np.array(json.dumps(stats.meta))}
    for key, acc in stats.moments.items():
        arrays.update({f"{key}:{field}": value for field, value in acc.state().items()})
    return atomic_savez(path, arrays)


def load_reference(path: str | Path) -> ReferenceStats:
    """Read a file written by :func:`save`; one-line error naming the file if it is not one."""
    fix = f"create it with `audiometric stats REF_DIR -o {path}`"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError) as err:
        raise AudiometricError(f"{path} is not an audiometric statistics file ({type(err).__name__}); {fix}") from None
    if meta.get("format") != FORMAT:
        raise AudiometricError(f"{path} has statistics format {meta.get('format')!r}, expected {FORMAT!r}; {fix}")
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for name, value in arrays.items():
        key, _, field = name.rpartition(":")
        grouped.setdefault(key, {})[field] = value
    return ReferenceStats(str(path), {key: MomentAccumulator.from_state(state) for key, state in grouped.items()}, meta)


def merge_moments(local: dict[str, MomentAccumulator], size: int) -> dict[str, MomentAccumulator]:
    """Every rank's streaming moments merged per key, in rank order (each rank receives the result).

    Moments, not rows, cross the ranks, so memory stays O(d²); the merge (Chan et al. 1979) equals the
    one-process statistics up to float64 rounding.
    """
    if size == 1:
        return local
    merged: dict[str, MomentAccumulator] = {}
    for part in all_gather({key: acc.state() for key, acc in local.items()}, size):
        for key, state in part.items():
            acc = MomentAccumulator.from_state(state)
            merged.setdefault(key, MomentAccumulator(acc.dim)).merge(acc)
    return dict(sorted(merged.items()))
