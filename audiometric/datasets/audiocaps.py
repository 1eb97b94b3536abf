"""AudioCaps (Kim et al., 2019): captioned 10 s AudioSet clips; the audio is downloaded by the user."""

from __future__ import annotations

from pathlib import Path

from audiometric.datasets.base import DatasetSpec, Item, read_csv
from audiometric.errors import AudiometricError

LAYOUT = "{train,val,test}.csv (audiocap_id, youtube_id, start_time, caption) and audio/ named by --file-pattern"
PATTERN = "{youtube_id}_{start_time}.wav"


def audio_name(pattern: str, row: dict[str, str], split: str) -> str:
    """The file name ``pattern`` gives a CSV row: {youtube_id}, {start_time} (as written), {start_seconds}
    (integer seconds) and {split}."""
    try:
        seconds = int(float(row["start_time"]))
        return pattern.format(
            youtube_id=row["youtube_id"], start_time=row["start_time"], start_seconds=seconds, split=split
        )
    except (KeyError, IndexError, ValueError) as err:
        raise AudiometricError(
            f"--file-pattern {pattern!r}: use {{youtube_id}}, {{start_time}}, {{start_seconds}} or {{split}} ({err})"
        ) from None


def load(data_dir: Path, split: str, file_pattern: str = PATTERN, audio_dir: str | None = None) -> list[Item]:
    """One item per audio clip of ``{split}.csv`` (train, val or test); a clip captioned several times (the
    test set has 5 captions per clip) is prompted with the caption of its lowest audiocap_id."""
    if split not in ("train", "val", "test"):
        raise AudiometricError(f"--split {split!r}: dataset audiocaps has train, val and test")
    rows = read_csv(data_dir / f"{split}.csv", ("audiocap_id", "youtube_id", "start_time", "caption"), "audiocaps")
    root = Path(audio_dir).expanduser() if audio_dir else data_dir / "audio"
    first: dict[str, tuple[int, Item]] = {}
    for row in rows:
        name = audio_name(file_pattern, row, split)
        rank = int(row["audiocap_id"]) if row["audiocap_id"].isdigit() else len(first)
        item = Item(clip_id=Path(name).stem, path=root / name, prompt=row["caption"], label="", split=split)
        if item.clip_id not in first or rank < first[item.clip_id][0]:
            first[item.clip_id] = (rank, item)
    order: dict[str, int] = {}
    for row in rows:
        order.setdefault(Path(audio_name(file_pattern, row, split)).stem, len(order))
    return [first[clip][1] for clip in sorted(first, key=order.__getitem__)]


SPEC = DatasetSpec(
    name="audiocaps",
    title="AudioCaps",
    layout=LAYOUT,
    splits="train, val, test",
    default_split="test",
    load=load,
    options=("file_pattern", "audio_dir"),
)
