"""Training logs: ``RUN/train.csv`` / ``RUN/eval.csv`` (one row per step, resumable) and TensorBoard events."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from audiometric.runtime.atomic import atomic_write_text


class CsvLog:
    """Rows ``{column: value}`` appended to a CSV with a ``step`` column; new columns widen the header."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict] = []
        if path.is_file():
            with open(path, newline="") as handle:
                self.rows = list(csv.DictReader(handle))

    def truncate(self, step: int) -> None:
        """Forget rows after ``step`` (a resumed run rewrites them)."""
        kept = [r for r in self.rows if int(r["step"]) <= step]
        if len(kept) != len(self.rows):
            self.rows = kept
            self._rewrite()

    def append(self, row: dict) -> None:
        columns = self.columns()
        self.rows.append({k: _fmt(v) for k, v in row.items()})
        if set(row) - set(columns) or not self.path.is_file():
            self._rewrite()
        else:
            with open(self.path, "a", newline="") as handle:
                csv.DictWriter(handle, columns).writerow(self.rows[-1])

    def columns(self) -> list[str]:
        names: list[str] = []
        for row in self.rows:
            names += [k for k in row if k not in names]
        return names

    def _rewrite(self) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, self.columns())
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, out.getvalue())


def _fmt(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)  # shortest round-trip: no digits lost


class Events:
    """TensorBoard scalars under ``RUN/tensorboard`` when tensorboard is installed; otherwise nothing."""

    def __init__(self, folder: Path, enabled: bool = True):
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                return
            self.writer = SummaryWriter(str(folder))

    def scalars(self, step: int, values: dict[str, float], prefix: str) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
