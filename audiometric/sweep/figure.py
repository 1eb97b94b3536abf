"""Figure 1 of the seed study, with error bars: one panel per metric, the paired change against severity.

Each panel shows ``Δ(level) = m(level) - m(0)`` (mean over seeds) with its CI per level (the paired
bootstrap's, or the seeds' t interval), filled where the level is detected (Holm-adjusted one-sided test),
the zero line, the band ``±1.96·√2·sd`` of two clean draws (what sampling alone moves a metric by between
two systems), and the verdict with its threshold in the title. Where severity is a noise-to-signal
ratio, a second x axis gives the SNR in dB. matplotlib runs headless (Agg).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from audiometric.runtime.atomic import atomic_write
from audiometric.sweep.summary import VISIBLE


def snr_label(severity: float) -> str:
    """SNR in dB of a noise-to-signal power ratio: ``-10 log10(severity)`` (∞ at 0)."""
    return "∞" if severity == 0 else f"{-10 * math.log10(severity) + 0.0:.0f}"


def draw_row(axes: list, results: dict[str, dict], axis: dict, row_title: str = "") -> None:
    """Fill ``axes`` (one per metric of ``results``, the per-metric summaries of summary.json)."""
    for ax, (metric, r) in zip(axes, results.items()):
        tests = r.get("levels") or []
        if not tests:
            ax.set_title(f"{metric}: no values", fontsize=9)
            continue
        levels = [0.0] + [t["level"] for t in tests]
        diff = np.array([0.0] + [t["difference"] for t in tests])
        sd = (r.get("clean_spread") or {}).get("sd")
        if sd:
            ax.axhspan(-VISIBLE * sd, VISIBLE * sd, color="0.88", zorder=0, label="two clean draws (±1.96√2 sd)")
        ax.axhline(0.0, color="0.4", linewidth=0.6, zorder=1)
        ax.plot(levels, diff, "-", color="C0", linewidth=1, zorder=2)
        for t in tests:
            if t["ci"]:
                ax.errorbar(
                    t["level"],
                    t["difference"],
                    yerr=[[t["difference"] - t["ci"][0]], [t["ci"][1] - t["difference"]]],
                    fmt="none",
                    ecolor="C0",
                    elinewidth=1,
                    capsize=2,
                    zorder=2,
                )
            ax.plot(
                t["level"],
                t["difference"],
                "o",
                markersize=4,
                zorder=3,
                color="C0",
                markerfacecolor="C0" if t["detected"] else "white",
            )
        ax.plot([], [], "o", color="C0", markersize=4, label="Δ, CI (filled: detected)")
        threshold = f", from {r['threshold']:g}" if r.get("threshold") is not None else ""
        ax.set_title(f"{metric}: {r['verdict']}{threshold}", fontsize=9, color="C2" if r["detects"] else "C3")
        ax.set_xlabel(axis["label"], fontsize=8)
        ax.tick_params(labelsize=7)
        if axis.get("snr"):  # ratios span decades: linear near 0, logarithmic above the smallest level
            ax.set_xscale("symlog", linthresh=min(lv for lv in levels if lv > 0))
            top = ax.twiny()
            top.set_xscale(ax.get_xscale(), linthresh=ax.xaxis.get_transform().linthresh)
            top.set_xlim(ax.get_xlim())
            top.set_xticks(levels)
            top.set_xticklabels([snr_label(lv) for lv in levels], fontsize=7)
            top.set_xlabel("SNR (dB)", fontsize=8)
    if row_title:
        axes[0].set_ylabel(f"{row_title}: Δ vs level 0", fontsize=9)
    elif axes:
        axes[0].set_ylabel("Δ vs level 0", fontsize=9)


def save(fig: plt.Figure, path: Path) -> None:
    """Write ``fig`` atomically (format from the suffix) and close it."""
    fmt = path.suffix.lstrip(".")
    atomic_write(path, lambda handle: fig.savefig(handle, format=fmt, dpi=150, bbox_inches="tight"))


def plot(results: dict[str, dict], axis: dict, title: str, paths: list[Path]) -> None:
    """One row of panels (one per metric), written to each of ``paths``."""
    n = max(1, len(results))
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.9 if axis.get("snr") else 2.6), squeeze=False)
    draw_row(list(axes[0]), results, axis)
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    for path in paths:
        save(fig, path)
    plt.close(fig)
