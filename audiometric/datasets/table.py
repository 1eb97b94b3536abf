"""A generic CSV of clips: ``path,caption[,label][,split]``, paths relative to the CSV's folder."""

from __future__ import annotations

from pathlib import Path

from audiometric.datasets.base import DatasetSpec, Item, read_csv
from audiometric.errors import AudiometricError

LAYOUT = "a CSV file with columns path, caption (optional label, split); --data-dir is the CSV itself"


def load(data_dir: Path, split: str) -> list[Item]:
    """Rows whose ``split`` column equals ``split`` (every row when the CSV has no split column)."""
    if not data_dir.is_file():
        raise AudiometricError(f"dataset csv: --data-dir {data_dir} must be the CSV file itself ({LAYOUT})")
    rows = read_csv(data_dir, ("path", "caption"), "csv")
    root = data_dir.parent
    items = []
    for row in rows:
        if "split" in row and row["split"] and row["split"] != split:
            continue
        path = Path(row["path"]).expanduser()
        path = path if path.is_absolute() else root / path
        items.append(
            Item(
                clip_id=path.stem,
                path=path,
                prompt=row["caption"],
                label=row.get("label", ""),
                split=row.get("split") or split,
            )
        )
    return items


SPEC = DatasetSpec(
    name="csv",
    title="CSV (path, caption[, label][, split])",
    layout=LAYOUT,
    splits="values of the split column (all rows when there is none)",
    default_split="test",
    load=load,
)
