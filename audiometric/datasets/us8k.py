"""UrbanSound8K (Salamon et al., 2014): 8732 labelled clips of ≤ 4 s in 10 folds, 10 urban classes."""

from __future__ import annotations

from pathlib import Path

from audiometric.datasets.base import DatasetSpec, Item, fold_of, folds, label_prompt, read_csv

LAYOUT = "metadata/UrbanSound8K.csv and audio/fold1..fold10/*.wav"


def load(data_dir: Path, split: str) -> list[Item]:
    """Clips of ``split``: train = folds 1-9, test = fold 10 (837 clips), all, or foldN."""
    table = data_dir / "metadata" / "UrbanSound8K.csv"
    rows = read_csv(table, ("slice_file_name", "fold", "class"), "us8k")
    chosen = folds(split, "us8k", 10, test_fold=10)
    items = []
    for row in rows:
        fold = fold_of(row, table, "us8k")
        if fold in chosen:
            name = row["slice_file_name"]
            items.append(
                Item(
                    clip_id=Path(name).stem,
                    path=data_dir / "audio" / f"fold{fold}" / name,
                    prompt=label_prompt(row["class"]),
                    label=row["class"],
                    split=f"fold{fold}",
                )
            )
    return items


SPEC = DatasetSpec(
    name="us8k",
    title="UrbanSound8K",
    layout=LAYOUT,
    splits="train (folds 1-9), test (fold 10), all, foldN",
    default_split="test",
    load=load,
)
