"""From the rows of ``results.csv`` to a verdict per metric: does it detect the damage beyond its own noise?

The test (also in docs/sweeps.md), per metric, with ``w = value`` when lower is better and ``w = -value``
otherwise (so ``w`` grows as the metric says "worse"):

- ``rho``: Spearman's rank correlation of the per-level mean of ``w`` (over seeds) with severity;
- the level-0 band: ``[min, max]`` over seeds of level 0's ``ci_low``/``ci_high`` (its values when no
  bootstrap was run), i.e. the metric's spread on undamaged data;
- a level is *outside* when, in every seed, its value lies beyond the band on the "worse" side;
- ``threshold``: the lowest level above 0 that is outside;
- verdict ``detects`` when ``rho >= RHO_MIN`` and the highest level is outside; else ``does not detect``.

Everything here reads only the columns of ``results.csv``, so every number can be recomputed from it.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

RHO_MIN = 0.8
COLUMNS = (
    "corruption",
    "protocol",
    "level",
    "seed",
    "metric",
    "better",
    "value",
    "ci_low",
    "ci_high",
    "n_generated",
    "n_reference",
    "backbone",
    "note",
)


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a ``results.csv`` with numbers parsed (empty cells are ``None``)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("level", "value", "ci_low", "ci_high"):
            row[key] = float(row[key]) if row[key] not in ("", None) else None
        row["seed"] = int(row["seed"])
    return rows


def verdicts(rows: Iterable[dict]) -> dict[str, dict]:
    """Per metric (in first-seen order): the numbers of the test above and the verdict."""
    by_metric: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_metric[row["metric"]].append(row)
    return {metric: verdict(items) for metric, items in by_metric.items()}


def verdict(rows: list[dict]) -> dict:
    """The test above on one metric's rows (rows without a value are ignored)."""
    lower = rows[0]["better"] == "lower"
    sign = 1.0 if lower else -1.0
    values: dict[float, dict[int, dict]] = defaultdict(dict)
    for row in rows:
        if row["value"] is not None and math.isfinite(row["value"]):
            values[row["level"]][row["seed"]] = row
    levels = sorted(values)
    out = {
        "better": "lower" if lower else "higher",
        "levels": levels,
        "rho": None,
        "band": None,
        "threshold": None,
        "relative_change": None,
        "absolute_change": None,
        "outside": {},
        "verdict": "does not detect",
        "means": {f"{lv:g}": float(np.mean([r["value"] for r in values[lv].values()])) for lv in levels},
    }
    if not levels or levels[0] != 0 or len(levels) < 2:
        out["reason"] = "needs values at level 0 and at least one level above it"
        return out
    means = np.array([out["means"][f"{lv:g}"] for lv in levels])
    zero = list(values[0].values())
    band = (min(_low(r) for r in zero), max(_high(r) for r in zero))
    outside = {lv: all(_beyond(r["value"], band, lower) for r in values[lv].values()) for lv in levels[1:]}
    # Spearman (1904) rank correlation; undefined (NaN) when the means are all equal
    rho = float(spearmanr(levels, sign * means).statistic) if np.ptp(means) > 0 else float("nan")
    rho = round(rho, 12)  # 0.8999999999999998 from float ranks is 0.9
    out.update(
        rho=None if math.isnan(rho) else rho,
        band=list(band),
        outside={f"{lv:g}": flag for lv, flag in outside.items()},
        threshold=next((lv for lv in levels[1:] if outside[lv]), None),
        absolute_change=float(means[-1] - means[0]),
        relative_change=_relative(means[0], means[-1]),
    )
    if out["rho"] is not None and out["rho"] >= RHO_MIN and outside[levels[-1]]:
        out["verdict"] = "detects"
    return out


def _relative(zero: float, top: float) -> float | None:
    """``(top - zero) / |zero|``; ``None`` when level 0 is 0 up to float rounding (|zero| <= 1e-9 |top|)."""
    if abs(zero) <= 1e-9 * abs(top) or zero == 0:
        return None
    return float((top - zero) / abs(zero))


def _low(row: dict) -> float:
    return row["ci_low"] if row["ci_low"] is not None else row["value"]


def _high(row: dict) -> float:
    return row["ci_high"] if row["ci_high"] is not None else row["value"]


def _beyond(value: float, band: tuple[float, float], lower_is_better: bool) -> bool:
    return value > band[1] if lower_is_better else value < band[0]


def markdown(title: str, results: dict[str, dict], notes: list[str]) -> str:
    """``summary.md``: one table row per metric, then the test and any notes."""
    lines = [
        f"# {title}",
        "",
        "| metric | better | Spearman ρ | change at highest level | level-0 band | detection threshold | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric, r in results.items():
        change = "n/a"
        if r["absolute_change"] is not None:
            change = f"{r['absolute_change']:+.4g}"
            if r["relative_change"] is not None:
                change += f" ({100 * r['relative_change']:+.1f} %)"
        band = f"[{r['band'][0]:.4g}, {r['band'][1]:.4g}]" if r["band"] else "n/a"
        rho = f"{r['rho']:.2f}" if r["rho"] is not None else "n/a"
        threshold = f"{r['threshold']:g}" if r["threshold"] is not None else "none"
        lines.append(f"| {metric} | {r['better']} | {rho} | {change} | {band} | {threshold} | **{r['verdict']}** |")
    lines += [
        "",
        f'Verdict `detects`: Spearman ρ of the per-level mean (in the metric\'s "worse" direction) '
        f"with severity ≥ {RHO_MIN}, and at the highest level every seed's value lies beyond the level-0 "
        "band (min/max over seeds of level 0's bootstrap CI, or of its values without --bootstrap) on the "
        "worse side. The detection threshold is the lowest level where that holds. All numbers are "
        "recomputed from results.csv.",
    ]
    lines += [""] + [f"- {note}" for note in notes] if notes else []
    return "\n".join(lines) + "\n"
