"""ESC-50 (Piczak, 2015): 2000 labelled 5 s clips in 5 folds, 50 environmental classes."""

from __future__ import annotations

from pathlib import Path

from audiometric.datasets.base import DatasetSpec, Item, fold_of, folds, label_prompt, read_csv

LAYOUT = "meta/esc50.csv and audio/*.wav"


def load(data_dir: Path, split: str) -> list[Item]:
    """Clips of ``split``: train = folds 1-4, test = fold 5 (400 clips), all, or foldN."""
    table = data_dir / "meta" / "esc50.csv"
    rows = read_csv(table, ("filename", "fold", "category"), "esc50")
    chosen = folds(split, "esc50", 5, test_fold=5)
    return [
        Item(
            clip_id=Path(row["filename"]).stem,
            path=data_dir / "audio" / row["filename"],
            prompt=label_prompt(row["category"]),
            label=row["category"],
            split=f"fold{row['fold']}",
        )
        for row in rows
        if fold_of(row, table, "esc50") in chosen
    ]


SPEC = DatasetSpec(
    name="esc50",
    title="ESC-50",
    layout=LAYOUT,
    splits="train (folds 1-4), test (fold 5), all, foldN",
    default_split="test",
    load=load,
)
