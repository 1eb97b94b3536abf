"""AudioSet (Gemmeke et al., 2017): segments CSVs + ontology JSON; the audio is downloaded by the user."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from audiometric.datasets.audiocaps import audio_name
from audiometric.datasets.base import DatasetSpec, Item
from audiometric.errors import AudiometricError

LAYOUT = (
    "eval_segments.csv / balanced_train_segments.csv / unbalanced_train_segments.csv, ontology.json, "
    "and audio/ named by --file-pattern"
)
PATTERN = "{youtube_id}_{start_seconds}.wav"
SEGMENTS = {
    "test": "eval_segments.csv",
    "eval": "eval_segments.csv",
    "train": "balanced_train_segments.csv",
    "unbalanced": "unbalanced_train_segments.csv",
}


def label_names(path: Path) -> dict[str, str]:
    """Ontology id (``/m/09x0r``) -> display name (``Speech``)."""
    if not path.is_file():
        raise AudiometricError(
            f"dataset audioset: ontology {path} not found; download ontology.json from "
            f"github.com/audioset/ontology into --data-dir"
        )
    try:
        return {entry["id"]: entry["name"] for entry in json.loads(path.read_text(encoding="utf-8"))}
    except (ValueError, KeyError, TypeError) as err:
        raise AudiometricError(f"dataset audioset: {path} is not the AudioSet ontology JSON ({err})") from None


def segments(path: Path) -> list[tuple[str, str, list[str]]]:
    """(YTID, start_seconds as written, label ids) of a segments CSV (``#`` lines are comments)."""
    if not path.is_file():
        raise AudiometricError(
            f"dataset audioset: segments file {path} not found; point --data-dir at the folder "
            f"holding the AudioSet CSVs"
        )
    with open(path, newline="", encoding="utf-8") as handle:
        rows = csv.reader((line for line in handle if not line.startswith("#")), skipinitialspace=True)
        return [
            (row[0].strip(), row[1].strip(), [x.strip() for x in row[3].split(",")]) for row in rows if len(row) >= 4
        ]


def load(data_dir: Path, split: str, file_pattern: str = PATTERN, audio_dir: str | None = None) -> list[Item]:
    """Segments of ``split`` (test/eval, train = balanced train, unbalanced); prompt = label names, comma-joined."""
    if split not in SEGMENTS:
        raise AudiometricError(f"--split {split!r}: dataset audioset has {', '.join(SEGMENTS)}")
    names = label_names(data_dir / "ontology.json")
    root = Path(audio_dir).expanduser() if audio_dir else data_dir / "audio"
    items = []
    for ytid, start, labels in segments(data_dir / SEGMENTS[split]):
        label = ", ".join(names.get(x, x) for x in labels)
        name = audio_name(file_pattern, {"youtube_id": ytid, "start_time": start}, split)
        items.append(Item(clip_id=Path(name).stem, path=root / name, prompt=label.lower(), label=label, split=split))
    return items


SPEC = DatasetSpec(
    name="audioset",
    title="AudioSet",
    layout=LAYOUT,
    splits="test/eval (eval_segments), train (balanced), unbalanced",
    default_split="test",
    load=load,
    options=("file_pattern", "audio_dir"),
)
