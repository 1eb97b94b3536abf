"""Draw docs/img/sweep_level_test.png: the sweep's level test under the null (p-value histogram) and its power.

Synthetic clip embeddings (2 dimensions, one row per clip), scored by the registry's FD and KAD; each
trial is one sweep cell at one level against level 0, tested by :func:`audiometric.sweep.swap.swap_deltas`
and summarised by :func:`audiometric.sweep.summary.verdict`, as a sweep does. Null: the "corruption"
redraws every clip from the same distribution. Power: it shifts every clip by ``SHIFT`` (in units of the
clips' standard deviation) plus independent noise. Run: ``python docs/make_sweep_statistics_figure.py``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from audiometric.metrics import METRICS, MetricInput
from audiometric.sweep.summary import CellStats, verdict
from audiometric.sweep.swap import swap_deltas

SWAPS = 99
SHIFT = 0.5
OUT = Path(__file__).resolve().parent / "img" / "sweep_level_test.png"


def p_value(metric: str, clean: np.ndarray, damaged: np.ndarray, ref: np.ndarray, seed: int) -> float:
    """The sweep's one-sided p of Δ = m(damaged, ref) - m(clean, ref), one seed, one level."""

    def data(gen: np.ndarray) -> MetricInput:
        return MetricInput(
            name=metric,
            gen=[g[None] for g in gen],
            ref=[r[None] for r in ref],
            ref_moments=None,
            n_reference=len(ref),
            params=METRICS[metric].defaults,
        )

    values = {level: METRICS[metric].run(data(g))[metric].value for level, g in ((0.0, clean), (1.0, damaged))}
    swap = swap_deltas(METRICS[metric], data(clean), data(damaged), SWAPS, seed)[metric]
    rows = [{"metric": metric, "better": "lower", "level": lv, "seed": 0, "value": v} for lv, v in values.items()]
    stats = CellStats(swaps={(metric, 1.0, 0): (swap["observed"], np.asarray(swap["null"]))})
    return verdict(rows, stats)["levels"][0]["p_value"]


def trial(metric: str, n: int, shift: float, t: int) -> float:
    rng = np.random.default_rng(1000 + t)
    clean, ref, fresh = (rng.normal(size=(n, 2)) for _ in range(3))
    damaged = fresh if shift == 0 else clean + shift + 0.5 * fresh
    return p_value(metric, clean, damaged, ref, seed=t)


def main() -> None:
    fig, (null_ax, power_ax) = plt.subplots(1, 2, figsize=(8, 3))
    sizes = (6, 10, 20, 40)
    for metric, colour in (("fd", "C0"), ("kad", "C1")):
        p = np.array([trial(metric, 10, 0.0, t) for t in range(400)])
        null_ax.hist(
            p, bins=20, range=(0, 1), histtype="step", color=colour, label=f"{metric}: {np.mean(p <= 0.05):.3f} ≤ 0.05"
        )
        power = [np.mean([trial(metric, n, SHIFT, t) <= 0.05 for t in range(100)]) for n in sizes]
        power_ax.plot(sizes, power, "o-", color=colour, label=metric)
        print(metric, "null rate", np.mean(p <= 0.05), "power", dict(zip(sizes, power)))
    null_ax.axhline(400 / 20, color="0.5", linestyle=":", linewidth=1)
    null_ax.set(xlabel="p (zero-effect corruption, 10 clips, 400 trials)", ylabel="trials")
    null_ax.legend(fontsize=7)
    power_ax.set(xlabel="clips per side", ylabel="rejection rate at α = 0.05", ylim=(0, 1.02))
    power_ax.set_title(f"shift {SHIFT} sd per clip (+ noise)", fontsize=9)
    power_ax.legend(fontsize=7)
    fig.suptitle(f"The sweep's level test: within-pair swaps ({SWAPS}), one seed, one level", fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT, dpi=150)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
