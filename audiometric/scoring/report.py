"""A score result as a readable table, JSON (with provenance) and CSV; files are written atomically."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from audiometric.metrics import entry_label, entry_labels, split_request
from audiometric.runtime.atomic import atomic_write_text

#: CSV columns: one row per result entry, then one per metric that was not computed (with its reason).
CSV_FIELDS = [
    "metric",
    "value",
    "std",
    "ci_low",
    "ci_high",
    "ci_method",
    "n_generated",
    "n_reference",
    "backbone",
    "better",
    "slope",
    "r2",
    "trusted",
    "note",
    "reason",
]


def format_value(value: float | None, resolution: float = 0.0, digits: int = 6, signed: bool = False) -> str:
    """``value`` to ``digits`` significant digits (``+`` before positives when ``signed``); exact zeros, and
    rounding noise (``|value| <= resolution``, the entry's float64 noise floor, see
    ``metrics.protocol.RESOLUTION``), print as ``0`` without sign."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if abs(value) <= resolution:
        return "0"
    sign = "+" if signed else ""
    return f"{value:{sign}.{digits}g}" if abs(value) < 1e5 else f"{value:{sign}.{digits}e}"


def result_labels(result: dict) -> dict[str, str]:
    """Display label of every key of ``result`` (entries and not computed): registry order first, then
    ``METRIC@BACKBONE`` keys in the order they were asked for."""
    labels = entry_labels()
    keys = [*result["metrics"], *result["not_computed"]]
    asked = {key: entry_label(key) for key in keys if key not in labels and split_request(key)[0] in labels}
    return {**labels, **asked}


def table(result: dict) -> str:
    """The metrics, their confidence intervals and what they were computed on, as aligned text."""
    gen, ref = result["generated"], result["reference"]
    lines = [
        f"audiometric {result['audiometric']}: {gen['scored']} generated vs {ref['scored']} reference clips"
        f" ({len(gen['skipped'])} generated skipped, {len(ref.get('skipped', []))} reference)"
    ]
    method = result["settings"].get("ci_method", "percentile")
    rows = [
        (
            "metric",
            "value",
            f"{result['settings']['confidence']:.0%} CI" + (f" ({method})" if method != "percentile" else ""),
            "backbone",
            "better",
        )
    ]
    labels = result_labels(result)
    order: list[str] = list(labels) + [key for key in result["metrics"] if key not in labels]
    for key in order:
        entry = result["metrics"].get(key)
        if entry is None:
            continue
        res = entry.get("resolution", 0.0)
        value = format_value(entry["value"], res) + (f" ± {format_value(entry['std'], res)}" if "std" in entry else "")
        value += " (untrusted fit)" if entry.get("trusted") is False else ""
        ci = f"[{format_value(entry['ci'][0], res)}, {format_value(entry['ci'][1], res)}]" if "ci" in entry else ""
        rows.append((labels.get(key, key), value, ci, entry.get("backbone", ""), entry.get("better", "")))
    columns = [i for i in range(5) if i != 2 or any(r[2] for r in rows[1:])]  # no CI column without intervals
    widths = {i: max(len(r[i]) for r in rows) for i in columns}
    lines += ["  ".join(row[i].ljust(widths[i]) for i in columns).rstrip() for row in rows]
    for key, entry in result["metrics"].items():
        if "note" in entry:
            lines.append(f"note: {labels.get(key, key)}: {entry['note']}")
    for key, why in result["not_computed"].items():
        lines.append(f"not computed: {labels.get(key, key)}: {why}")
    for side, data in (("generated", gen), ("reference", ref)):
        for skip in data.get("skipped", []):
            lines.append(f"skipped ({side}): {skip['file']}: {skip['reason']}")
    return "\n".join(lines)


def json_text(result: dict) -> str:
    """The full result with provenance as indented JSON text."""
    return json.dumps(result, indent=2, ensure_ascii=False, allow_nan=True) + "\n"


def write_json(result: dict, path: str | Path) -> Path:
    """:func:`json_text` of ``result``, written atomically to ``path``."""
    return atomic_write_text(path, json_text(result))


def write_csv(result: dict, path: str | Path) -> Path:
    """One row per result entry (columns :data:`CSV_FIELDS`; ``note`` as under the table), then one row per
    metric not computed, with empty values and why in ``reason``. ``slope``, ``r2`` and ``trusted`` are
    filled for FD∞/FAD∞ fits."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for key, entry in result["metrics"].items():
        ci = entry.get("ci", [None, None])
        writer.writerow(
            {
                "metric": key,
                "value": entry["value"],
                "std": entry.get("std"),
                "ci_low": ci[0],
                "ci_high": ci[1],
                "ci_method": entry.get("ci_method"),
                "n_generated": entry.get("n_generated"),
                "n_reference": entry.get("n_reference"),
                "backbone": entry.get("backbone"),
                "better": entry.get("better"),
                "slope": entry.get("slope"),
                "r2": entry.get("r2"),
                "trusted": entry.get("trusted"),
                "note": entry.get("note"),
            }
        )
    for key, why in result["not_computed"].items():
        writer.writerow({"metric": key, "reason": why})
    return atomic_write_text(path, buffer.getvalue())
