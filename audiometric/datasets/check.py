"""``datasets check``: clips per split and class, and the audio files missing from a local copy."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

from audiometric.datasets.base import DatasetSpec
from audiometric.errors import AudiometricError

#: The partition checked by default, per dataset (others: the default split).
PARTITIONS = {
    "us8k": ("train", "test"),
    "esc50": ("train", "test"),
    "audiocaps": ("train", "val", "test"),
    "audioset": ("train", "test"),
}


def check(spec: DatasetSpec, data_dir: str | Path, splits: tuple[str, ...] | None = None, **options) -> dict:
    """{split: {"clips": n, "missing": [paths], "classes": {label: n}} or {"error": message}}."""
    result = {}
    for split in splits or PARTITIONS.get(spec.name, (spec.default_split,)):
        missing: list[Path] = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                items = spec.items(data_dir, split, skip_missing=True, missing=missing, **options)
        except AudiometricError as err:
            if not missing:
                result[split] = {"error": str(err)}
                continue
            items = []
        result[split] = {
            "clips": len(items),
            "missing": [str(p) for p in missing],
            "classes": dict(sorted(Counter(i.label for i in items if i.label).items())),
        }
    if all("error" in info for info in result.values()):
        raise AudiometricError(next(iter(result.values()))["error"])
    return result


def format_check(result: dict, shown_missing: int = 5) -> str:
    """Human-readable summary of :func:`check`."""
    lines = []
    for split, info in result.items():
        if "error" in info:
            lines.append(f"{split}: {info['error']}")
            continue
        lines.append(f"{split}: {info['clips']} clips, {len(info['missing'])} missing audio files")
        lines += [f"  missing {path}" for path in info["missing"][:shown_missing]]
        if len(info["missing"]) > shown_missing:
            lines.append(f"  ... and {len(info['missing']) - shown_missing} more")
        if info["classes"]:
            lines.append("  " + ", ".join(f"{label} {n}" for label, n in info["classes"].items()))
    return "\n".join(lines)
