"""Figure 1 of the seed study, with error bars: one panel per metric, value against severity.

Each panel shows the mean over seeds (line), the band spanned by the seeds' bootstrap CIs (or by the
seeds' values without ``--bootstrap``), the level-0 band shaded across the panel, and the verdict in
the title. Where severity is a noise-to-signal ratio, a second x axis gives the SNR in dB. matplotlib
runs headless (Agg).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from audiometric.runtime.atomic import atomic_write


def snr_label(severity: float) -> str:
    """SNR in dB of a noise-to-signal power ratio: ``-10 log10(severity)`` (∞ at 0)."""
    return "∞" if severity == 0 else f"{-10 * math.log10(severity) + 0.0:.0f}"


def draw_row(axes: list, rows: list[dict], results: dict[str, dict], axis: dict, row_title: str = "") -> None:
    """Fill ``axes`` (one per metric of ``results``) from the rows of ``results.csv``."""
    for ax, (metric, verdict) in zip(axes, results.items()):
        by_level: dict[float, list[dict]] = defaultdict(list)
        for row in rows:
            if row["metric"] == metric and row["value"] is not None:
                by_level[row["level"]].append(row)
        levels = sorted(by_level)
        if not levels:
            ax.set_title(f"{metric}: no values", fontsize=9)
            continue
        mean = np.array([np.mean([r["value"] for r in by_level[lv]]) for lv in levels])
        low = np.array([min(_get(r, "ci_low") for r in by_level[lv]) for lv in levels])
        high = np.array([max(_get(r, "ci_high") for r in by_level[lv]) for lv in levels])
        if verdict.get("band"):
            ax.axhspan(*verdict["band"], color="0.85", zorder=0, label="level-0 band")
        ax.fill_between(levels, low, high, color="C0", alpha=0.25, linewidth=0, label="seeds / CI")
        ax.plot(levels, mean, "o-", color="C0", markersize=3, label="mean over seeds")
        ax.set_title(
            f"{metric}: {verdict['verdict']}", fontsize=9, color="C2" if verdict["verdict"] == "detects" else "C3"
        )
        ax.set_xlabel(axis["label"], fontsize=8)
        ax.tick_params(labelsize=7)
        if axis.get("snr"):  # ratios span decades: linear near 0, logarithmic above the smallest level
            ax.set_xscale("symlog", linthresh=min(lv for lv in levels if lv > 0) if len(levels) > 1 else 1)
            top = ax.twiny()
            top.set_xscale(ax.get_xscale(), linthresh=ax.xaxis.get_transform().linthresh)
            top.set_xlim(ax.get_xlim())
            top.set_xticks(levels)
            top.set_xticklabels([snr_label(lv) for lv in levels], fontsize=7)
            top.set_xlabel("SNR (dB)", fontsize=8)
    if row_title:
        axes[0].set_ylabel(row_title, fontsize=9)


def _get(row: dict, key: str) -> float:
    return row[key] if row[key] is not None else row["value"]


def save(fig: plt.Figure, path: Path) -> None:
    """Write ``fig`` atomically (format from the suffix) and close it."""
    fmt = path.suffix.lstrip(".")
    atomic_write(path, lambda handle: fig.savefig(handle, format=fmt, dpi=150, bbox_inches="tight"))


def plot(rows: list[dict], results: dict[str, dict], axis: dict, title: str, paths: list[Path]) -> None:
    """One row of panels (one per metric), written to each of ``paths``."""
    n = max(1, len(results))
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.9 if axis.get("snr") else 2.6), squeeze=False)
    draw_row(list(axes[0]), rows, results, axis)
    axes[0][0].legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    for path in paths:
        save(fig, path)
    plt.close(fig)
