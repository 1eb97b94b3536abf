"""Labels CSV: each clip's class, as ``path,label`` rows (``corrupt --labels`` and ``sweep --labels``).

The header row ``path,label`` is optional; a first row whose first cell is not an audio file name is read
as a header and must be exactly that. UTF-8 with or without a byte-order mark (spreadsheets add one).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from audiometric.audio.files import AUDIO_EXTENSIONS
from audiometric.errors import AudiometricError

#: The columns of a labels CSV, in order.
COLUMNS = ("path", "label")


def read_labels(path: Path) -> dict[str, str]:
    """A ``path,label`` CSV as ``{posix path: label}``; one-line errors naming the expected and found columns."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # utf-8-sig: a leading BOM is dropped
    except OSError as err:
        raise AudiometricError(f"--labels {path}: cannot read it ({err.strerror or err}); fix the path") from None
    except UnicodeDecodeError:
        raise AudiometricError(f"--labels {path}: not UTF-8 text; save it as a UTF-8 CSV") from None
    labels: dict[str, str] = {}
    first = True
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row]
        while cells and not cells[-1]:  # a trailing comma (spreadsheet export) adds an empty column
            cells.pop()
        if not cells:
            continue
        header, first = first and Path(cells[0]).suffix.lower() not in AUDIO_EXTENSIONS, False
        if header:
            if [c.lower() for c in cells] != list(COLUMNS):
                raise AudiometricError(
                    f"--labels {path}: expected the columns {','.join(COLUMNS)}, found {','.join(cells)}; "
                    f"write one {','.join(COLUMNS)} row per clip (the header row is optional)"
                )
            continue
        if len(cells) != len(COLUMNS) or not cells[1]:
            raise AudiometricError(
                f"--labels {path}: row {number} has {len(cells)} column(s) ({','.join(cells)}), expected "
                f"{','.join(COLUMNS)}; fix that row"
            )
        labels[Path(cells[0]).as_posix()] = cells[1]
    return labels


def label_of(name: str, labels: Mapping[str, str], fallback: str | None) -> str:
    """Clip ``name``'s class: its ``labels`` row, else ``fallback`` (``--target-label``), else its first folder."""
    if name in labels:
        return labels[name]
    if fallback is not None:
        return fallback
    if "/" in name:
        return name.split("/", 1)[0]
    raise AudiometricError(
        f"{name}: target class unknown; pass --labels CSV (path,label), --target-label NAME, or put files in class folders"
    )
