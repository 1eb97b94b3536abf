"""A score result: the JSON-able dict that ``audiometric score --json`` writes, with typed access to it.

``result["fd"].value``, ``result["fd"].ci``, ``result.not_computed``, ``result.to_json(path)``,
``result.to_csv(path)``, ``result.table()``, ``result.as_dict()``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(kw_only=True, frozen=True)
class MetricValue:
    """One result entry: ``value`` (and ``std``, ``ci`` where computed) plus every field of the JSON entry."""

    name: str
    value: float
    std: float | None
    ci: tuple[float, float] | None
    backbone: str | None
    better: str | None
    entry: Mapping[str, Any]

    def __float__(self) -> float:
        return float(self.value)

    def __getitem__(self, key: str) -> Any:
        """Any field of the JSON entry (``n_generated``, ``rows_reference``, ``slope``, ``note``, ...)."""
        return self.entry[key]


class Result(Mapping[str, MetricValue]):
    """Read-only view of a score result; iterating yields the computed entries' names (``fd``, ``kl_softmax``, ...)."""

    def __init__(self, data: dict):
        self._data = data

    def __getitem__(self, name: str) -> MetricValue:
        key = name.lower()
        metrics = self._data["metrics"]
        if key in metrics:
            entry = metrics[key]
            ci = tuple(entry["ci"]) if "ci" in entry else None
            return MetricValue(
                name=key,
                value=entry["value"],
                std=entry.get("std"),
                ci=ci,
                backbone=entry.get("backbone"),
                better=entry.get("better"),
                entry=entry,
            )
        if key in self._data["not_computed"]:
            raise KeyError(f"{key} was not computed: {self._data['not_computed'][key]}")
        variants = [k for k in metrics if k.startswith(f"{key}_")]
        hint = f"; {key} is reported as {', '.join(variants)}" if variants else ""
        raise KeyError(f"no entry '{name}' in this result (entries: {', '.join(metrics) or 'none'}){hint}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data["metrics"])

    def __len__(self) -> int:
        return len(self._data["metrics"])

    def __repr__(self) -> str:
        from audiometric.scoring.report import format_value

        values = ", ".join(
            f"{k}={format_value(e['value'], e.get('resolution', 0.0))}" for k, e in self._data["metrics"].items()
        )
        return f"Result({values})"

    @property
    def not_computed(self) -> dict[str, str]:
        """Requested metrics that could not be computed, with the reason."""
        return dict(self._data["not_computed"])

    @property
    def warnings(self) -> list[str]:
        """Cautions raised while computing (too few rows, singular covariance, ...)."""
        return list(self._data["warnings"])

    def as_dict(self) -> dict:
        """A deep copy of the full result with provenance (what ``--json`` writes)."""
        return copy.deepcopy(self._data)

    def to_json(self, path: str | Path | None = None) -> str:
        """The result as indented JSON text (:func:`audiometric.scoring.report.json_text`); also written atomically
        to ``path`` when given."""
        from audiometric.scoring.report import json_text, write_json

        if path is not None:
            write_json(self._data, path)
        return json_text(self._data)

    def to_csv(self, path: str | Path) -> Path:
        """One row per metric (see :func:`audiometric.scoring.report.write_csv`), written atomically to ``path``."""
        from audiometric.scoring.report import write_csv

        return write_csv(self._data, path)

    def table(self) -> str:
        """The aligned text table the CLI prints."""
        from audiometric.scoring.report import table

        return table(self._data)
