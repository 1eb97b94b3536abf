"""Figures of docs/statistics.md: null p-values of compare's tests, and their power against the clip count.

Synthetic Gaussian embeddings (d = 4, one row per clip), the same functions ``compare`` calls
(:func:`audiometric.scoring.compare_stats.pair_test`). Writes ``docs/img/compare_null_p.png`` and
``docs/img/compare_power.png``. Usage: ``python docs/make_statistics_figures.py [--trials 300]`` (about 3 min on one core).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiometric.metrics import METRICS, MetricInput
from audiometric.scoring.compare_stats import Plan, SystemInput, pair_test

OUT = Path(__file__).resolve().parent / "img"
TESTS = (
    ("fd", "fd", "FD (clip exchange)"),
    ("kad", "kad", "KAD (clip exchange)"),
    ("kl", "kl_softmax", "KL (sign flips)"),
)
DIM, PERMUTATIONS = 4, 99


def _system(metric: str, clips: np.ndarray, ref: np.ndarray) -> SystemInput:
    data = MetricInput(
        name=metric,
        gen=[row[None] for row in clips],
        ref=[row[None] for row in ref],
        ref_moments=None,
        n_reference=len(ref),
        params=METRICS[metric].defaults,
    )
    keys = list(range(len(clips))) if METRICS[metric].paired else [f"clip{i}" for i in range(len(clips))]
    return SystemInput(data, METRICS[metric].run(data), keys)


def p_value(metric: str, key: str, n: int, shift: float, rng: np.random.Generator, seed: int) -> float:
    """p of one trial: A and the reference ~ N(0, I), B ~ N(shift · (+1, -1, ...), I), ``n`` clips each."""
    a, ref = rng.normal(size=(n, DIM)), rng.normal(size=(n, DIM))
    b = rng.normal(size=(n, DIM)) + shift * (-1.0) ** np.arange(DIM)
    plan = Plan(permutations=PERMUTATIONS, bootstrap=0, seed=seed)
    test = pair_test(METRICS[metric], key, _system(metric, a, ref), _system(metric, b, ref), (None, None), plan)
    return float(test.p_value)


def null_figure(trials: int) -> None:
    fig, axes = plt.subplots(1, len(TESTS), figsize=(11, 3), sharey=True)
    for ax, (metric, key, label) in zip(axes, TESTS):
        rng = np.random.default_rng(0)
        p = [p_value(metric, key, 12, 0.0, rng, t) for t in range(trials)]
        rate = np.mean(np.array(p) <= 0.05)
        ax.hist(p, bins=np.linspace(0, 1, 11), color="#1f5fa8", edgecolor="white")
        ax.axhline(trials / 10, color="k", lw=1, ls="--")
        ax.set_title(f"{label}\nrejections at 0.05: {rate:.3f}")
        ax.set_xlabel("p-value (null: same distribution)")
    axes[0].set_ylabel(f"trials (of {trials}); dashed: uniform")
    fig.tight_layout()
    fig.savefig(OUT / "compare_null_p.png", dpi=110)


def power_figure(trials: int) -> None:
    sizes = [4, 6, 8, 12, 16, 24, 32]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for metric, key, label in TESTS:
        for shift, style in ((0.75, "-"), (1.5, "--")):
            rng = np.random.default_rng(1)
            power = [np.mean([p_value(metric, key, n, shift, rng, t) <= 0.05 for t in range(trials)]) for n in sizes]
            ax.plot(sizes, power, style, marker="o", label=f"{label}, shift {shift} sd")
    ax.axhline(0.95, color="k", lw=0.8, ls=":")
    ax.set_xlabel("clips per system (and in the reference)")
    ax.set_ylabel("power at alpha = 0.05")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "compare_power.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300, help="null trials per test (power: a third of it)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    null_figure(args.trials)
    power_figure(max(args.trials // 3, 20))


if __name__ == "__main__":
    main()
