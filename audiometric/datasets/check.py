"""``datasets check``: clips per split and class, and the audio files missing from a local copy or unusable.

Each present file is decoded as ``score`` decodes it (:func:`audiometric.audio.decode.decode`: unreadable,
empty, NaN/Inf or truncated files are reported with the reason).
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

from audiometric.audio.decode import decode, read_and_hash
from audiometric.datasets.base import DatasetSpec, Item
from audiometric.errors import AudioDecodeError, AudiometricError

#: The partition checked by default, per dataset (others: the default split).
PARTITIONS = {
    "us8k": ("train", "test"),
    "esc50": ("train", "test"),
    "audiocaps": ("train", "val", "test"),
    "audioset": ("train", "test"),
}


def check(spec: DatasetSpec, data_dir: str | Path, splits: tuple[str, ...] | None = None, **options) -> dict:
    """{split: {"clips": n, "missing": [paths], "unusable": [{"file", "reason"}], "classes": {label: n}}
    or {"error": message}}."""
    result: dict[str, dict] = {}
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
            "unusable": unusable(items),
            "classes": dict(sorted(Counter(i.label for i in items if i.label).items())),
        }
    if all("error" in info for info in result.values()):
        raise AudiometricError(next(iter(result.values()))["error"])
    return result


def unusable(items: list[Item]) -> list[dict[str, str]]:
    """The items whose audio does not decode into usable audio, with the reason (score's decode check)."""
    bad = []
    for item in items:
        try:
            decode(*read_and_hash(item.path))
        except AudioDecodeError as err:
            bad.append({"file": str(item.path), "reason": str(err)})
    return bad


def format_check(result: dict, shown_missing: int = 5) -> str:
    """Human-readable summary of :func:`check`."""
    lines = []
    for split, info in result.items():
        if "error" in info:
            lines.append(f"{split}: {info['error']}")
            continue
        bad = info["unusable"]
        lines.append(f"{split}: {info['clips']} clips, {len(info['missing'])} missing audio files, {len(bad)} unusable")
        lines += [f"  missing {path}" for path in info["missing"][:shown_missing]]
        if len(info["missing"]) > shown_missing:
            lines.append(f"  ... and {len(info['missing']) - shown_missing} more")
        lines += [f"  unusable {entry['file']}: {entry['reason']}" for entry in bad[:shown_missing]]
        if len(bad) > shown_missing:
            lines.append(f"  ... and {len(bad) - shown_missing} more unusable")
        if info["classes"]:
            lines.append("  " + ", ".join(f"{label} {n}" for label, n in info["classes"].items()))
    return "\n".join(lines)
