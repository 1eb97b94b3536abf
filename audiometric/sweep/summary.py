"""From ``results.csv`` and the cells' test data to a verdict per metric: paired tests of the damage.

The test (also in docs/sweeps.md and docs/statistics.md), per result entry (metric), seed ``s`` and level ``L``:

- ``Δ_s(L) = m_s(L) - m_s(0)``: the same clean clips and split at every level of a seed, so the difference
  is paired; ``difference`` is its mean over seeds;
- its CI: with ``--bootstrap B`` the cells of a seed share their bootstrap draws (seeded by the seed, equal
  clip counts), so ``Δ*_s,b = m*_s,b(L) - m*_s,b(0)`` are common-random-number replicates, averaged over
  seeds (:func:`~audiometric.metrics.significance.bootstrap_test`); without it, the seeds' t interval;
- its p-value: one-sided, in the metric's damage direction (the registry's ``lower_is_better``: damage
  raises FD, lowers IS), from the within-pair swap test of each cell (:mod:`audiometric.sweep.swap`; the
  seeds' nulls averaged), else the seeds' t-test; Holm-adjusted over the levels at ``alpha = 1 - confidence``;
- ``threshold``: the lowest detected level; ``rho``: Spearman's correlation of severity with the mean ``Δ``
  in the damage direction (``Δ(0) = 0``); ``detects`` when ``rho >= RHO_MIN`` and the highest level is detected;
- practical side: ``effect_vs_clean_spread = Δ / sd``, ``sd`` the spread of two disjoint clean draws
  (:mod:`audiometric.sweep.spread`); ``visible`` when ``|Δ| >= VISIBLE * sd``.

The bootstrap sets only the CI, so more replicates never change a detection.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audiometric.metrics.significance import bootstrap_test, holm, permutation_p_value, seeds_test, spearman
from audiometric.sweep.cells import cell_name

RHO_MIN = 0.8
#: Two systems of equal quality, each measured with sd ``s``, differ by more than ``1.96 sqrt(2) s`` in 5 %
#: of comparisons (normal approximation of the difference of two independent values).
VISIBLE = 1.96 * math.sqrt(2.0)
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

Key = tuple[str, float, int]  # (result entry, level, seed)


@dataclass
class CellStats:
    """What the summary reads from the cells besides results.csv: bootstrap values and swap-test nulls."""

    replicates: dict[Key, np.ndarray] = field(default_factory=dict)
    swaps: dict[Key, tuple[float, np.ndarray]] = field(default_factory=dict)


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a ``results.csv`` with numbers parsed (empty cells are ``None``)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("level", "value", "ci_low", "ci_high"):
            row[key] = float(row[key]) if row[key] not in ("", None) else None
        row["seed"] = int(row["seed"])
    return rows


def cell_stats(cells: Iterable[dict]) -> CellStats:
    """Bootstrap values (entries that kept them) and swap-test nulls of finished cells."""
    out = CellStats()
    for cell in cells:
        level, seed = float(cell["level"]), int(cell["seed"])
        for entries in (cell.get("metrics") or {}).values():
            for name, entry in entries.items():
                if entry.get("replicate_values"):
                    out.replicates[(name, level, seed)] = np.asarray(entry["replicate_values"])
        for name, swap in (cell.get("swaps") or {}).items():
            out.swaps[(name, level, seed)] = (float(swap["observed"]), np.asarray(swap["null"]))
    return out


def verdicts(
    rows: Iterable[dict], stats: CellStats | None = None, spread: dict | None = None, confidence: float = 0.95
) -> dict[str, dict]:
    """Per result entry (in first-seen order): the tests above and the verdict."""
    by_metric: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_metric[row["metric"]].append(row)
    spreads = (spread or {}).get("metrics", {})
    n = (spread or {}).get("n")
    return {
        metric: verdict(items, stats or CellStats(), spreads.get(metric, {}).get("sd"), n, confidence)
        for metric, items in by_metric.items()
    }


def verdict(
    rows: list[dict], stats: CellStats, sd: float | None = None, n: int | None = None, confidence: float = 0.95
) -> dict:
    """The test above on one entry's rows (rows without a finite value are ignored)."""
    lower = rows[0]["better"] == "lower"
    name = rows[0]["metric"]
    values: dict[float, dict[int, float]] = defaultdict(dict)
    for row in rows:
        if row["value"] is not None and math.isfinite(row["value"]):
            values[row["level"]][row["seed"]] = row["value"]
    levels = sorted(values)
    out: dict[str, Any] = {
        "better": "lower" if lower else "higher",
        "alpha": round(1.0 - confidence, 12),
        "detects": False,
        "verdict": "does not detect",
        "threshold": None,
        "rho": None,
        "test": None,
        "means": {f"{lv:g}": float(np.mean(list(values[lv].values()))) for lv in levels},
        "clean_spread": None if sd is None else {"sd": sd, "n": n},
        "levels": [],
    }
    if not levels or levels[0] != 0 or len(levels) < 2:
        out["reason"] = "needs values at level 0 and at least one level above it"
        return out
    alternative = "greater" if lower else "less"
    tested = [_level(name, lv, values, stats, alternative, confidence) for lv in levels[1:]]
    adjusted = holm([t["p_value"] if t["p_value"] is not None else math.nan for t in tested])
    sign = 1.0 if lower else -1.0
    for t, q in zip(tested, adjusted):
        t["p_adjusted"] = None if math.isnan(q) else float(q)
        t["detected"] = t["p_adjusted"] is not None and t["p_adjusted"] <= out["alpha"]
        t["effect_vs_clean_spread"] = t["difference"] / sd if sd else None
        t["visible"] = None if not sd else bool(abs(t["difference"]) >= VISIBLE * sd)
    worse = [0.0] + [sign * t["difference"] for t in tested]
    rho = spearman(levels, worse)
    top = tested[-1]
    out.update(
        levels=tested,
        rho=rho,
        test=next((t["method"] for t in reversed(tested) if t["p_value"] is not None), None),
        threshold=next((t["level"] for t in tested if t["detected"]), None),
        change=_change(values, top["difference"], sd),
    )
    if out["test"] is None:
        out["reason"] = "no test: give --bootstrap B, or 2 or more seeds"
    if rho is not None and rho >= RHO_MIN and top["detected"]:
        out.update(detects=True, verdict="detects")
    return out


def _level(
    name: str,
    level: float,
    values: dict[float, dict[int, float]],
    stats: CellStats,
    alternative: str,
    confidence: float,
) -> dict[str, Any]:
    """``Δ(level)`` over seeds: its CI (paired bootstrap, else seeds) and p (swap test, else seeds)."""
    seeds = sorted(set(values[level]) & set(values[0]))
    diffs = [values[level][s] - values[0][s] for s in seeds]
    difference = float(np.mean(diffs))
    ci, ci_method = _interval(name, level, seeds, diffs, stats, alternative, confidence)
    p, p_method = _p_value(name, level, seeds, diffs, stats, alternative)
    methods = [m for m in (ci_method, p_method) if m]
    return {
        "level": level,
        "difference": difference,
        "seeds": len(seeds),
        "ci": ci,
        "p_value": p,
        "method": "; ".join(methods) or None,
    }


def _interval(
    name: str, level: float, seeds: list[int], diffs: list[float], stats: CellStats, alternative: str, confidence: float
) -> tuple[list[float] | None, str | None]:
    """CI of the mean Δ: the cells' common bootstrap draws where every seed has them, else the seeds' t."""
    pairs = [(stats.replicates.get((name, level, s)), stats.replicates.get((name, 0.0, s))) for s in seeds]
    reps = [(a, b) for a, b in pairs if a is not None and b is not None and len(a) == len(b) >= 2]
    if seeds and len(reps) == len(seeds):
        draws = np.mean([a - b for a, b in reps], axis=0)  # seeds draw independently: the mean's replicates
        low, high = bootstrap_test(float(np.mean(diffs)), draws, alternative, confidence).ci
        return [float(low), float(high)], f"CI: paired bootstrap (common draws), {len(draws)} replicates"
    if len(seeds) >= 2:
        low, high = seeds_test(diffs, alternative, confidence).ci
        return [float(low), float(high)], f"CI: t over {len(seeds)} seeds"
    return None, None


def _p_value(
    name: str, level: float, seeds: list[int], diffs: list[float], stats: CellStats, alternative: str
) -> tuple[float | None, str | None]:
    """One-sided p of the mean Δ: the within-pair swap test where every seed has its null, else the seeds' t."""
    swaps = [w for s in seeds if (w := stats.swaps.get((name, level, s))) is not None]
    if seeds and len(swaps) == len(seeds) and len({len(null) for _, null in swaps}) == 1:
        observed = float(np.mean([obs for obs, _ in swaps]))
        null = np.mean([null for _, null in swaps], axis=0)  # independent swaps per seed: the mean's null
        return permutation_p_value(observed, null, alternative), f"p: paired swap test, {len(null)} permutations"
    if len(seeds) >= 2:
        return seeds_test(diffs, alternative).p_value, f"p: t-test over {len(seeds)} seeds"
    return None, None


def _change(values: dict[float, dict[int, float]], difference: float, sd: float | None) -> dict:
    """Change at the highest level: absolute, and relative where the baseline is positive beyond its noise.

    The noise band of the baseline ``b`` (the mean level-0 value) is ``1.96 sd`` of two clean draws, or,
    without that spread, the range of level 0 over seeds; relative change ``Δ / b`` needs ``b`` above it.
    """
    zero = list(values[0].values())
    baseline = float(np.mean(zero))
    noise = 1.96 * sd if sd else float(np.ptp(zero)) / 2.0
    relative = difference / baseline if baseline > 0 and baseline > noise else None
    return {"baseline": baseline, "baseline_noise": noise, "absolute": difference, "relative": relative}


def markdown(title: str, results: dict[str, dict], notes: list[str]) -> str:
    """``summary.md``: one row per metric, then one row per (metric, level), then the test and notes."""
    lines = [
        f"# {title}",
        "",
        "| metric | better | Spearman ρ | Δ at highest level | detection threshold | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for metric, r in results.items():
        change = "n/a"
        if r.get("change"):
            change = f"{r['change']['absolute']:+.4g}"
            if r["change"]["relative"] is not None:
                change += f" ({100 * r['change']['relative']:+.1f} %)"
        rho = f"{r['rho']:.2f}" if r["rho"] is not None else "n/a"
        threshold = f"{r['threshold']:g}" if r["threshold"] is not None else "none"
        lines.append(f"| {metric} | {r['better']} | {rho} | {change} | {threshold} | **{r['verdict']}** |")
    n = next((r["clean_spread"]["n"] for r in results.values() if r.get("clean_spread")), None)
    visible_at = f"visible in a system comparison at {n} clips" if n else "visible in a system comparison"
    lines += ["", f"| metric | level | Δ | CI | p | p (Holm) | Δ / clean spread | {visible_at} |"]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for metric, r in results.items():
        for t in r["levels"]:
            ci = f"[{t['ci'][0]:.4g}, {t['ci'][1]:.4g}]" if t["ci"] else "n/a"
            p = f"{t['p_value']:.3g}" if t["p_value"] is not None else "n/a"
            q = f"{t['p_adjusted']:.3g}" if t["p_adjusted"] is not None else "n/a"
            effect = f"{t['effect_vs_clean_spread']:+.2f}" if t["effect_vs_clean_spread"] is not None else "n/a"
            visible = "n/a" if t["visible"] is None else "yes" if t["visible"] else "no"
            row = f"| {metric} | {t['level']:g} | {t['difference']:+.4g} | {ci} | {p} | {q} | {effect} | {visible} |"
            lines.append(row)
    tests = sorted({r["test"] for r in results.values() if r.get("test")})
    lines += [
        "",
        "Δ(level) = value at the level − value at level 0, same clips and split, mean over seeds. Detection: "
        f"one-sided paired test of Δ in the metric's damage direction ({'; '.join(tests) or 'no test'}), "
        f"Holm over levels; `detects`: Spearman ρ ≥ {RHO_MIN} and the highest level detected. Relative change "
        "only where level 0 is positive beyond its noise. Visible: |Δ| ≥ 1.96·√2 × the spread of the metric "
        "between two disjoint clean draws. All numbers are recomputed from results.csv and the cells' "
        "bootstrap values and swap nulls (`audiometric.sweep.summary.recompute`).",
    ]
    lines += [""] + [f"- {note}" for note in notes] if notes else []
    return "\n".join(lines) + "\n"


def recompute(out: str | Path) -> dict[str, dict]:
    """The per-metric summary of a finished sweep folder, from its results.csv, cells and clean spread."""
    root = Path(out)
    info = json.loads((root / "results.json").read_text())
    cells = []
    for cell in info["cells"]:
        path = root / "cells" / f"{cell_name(cell['level'], cell['seed'], cell['key'])}.json"
        if path.exists():
            cells.append(json.loads(path.read_text()))
    spread_path = root / "clean_spread.json"
    spread = json.loads(spread_path.read_text()) if spread_path.exists() else None
    confidence = info["bootstrap"]["confidence"]
    return verdicts(read_rows(root / "results.csv"), cell_stats(cells), spread, confidence)
