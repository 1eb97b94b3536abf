"""Metric-side speed at d = 2048, measured side by side in one run: FD∞ and bootstrap time against FD time.

Rows (seconds; ratios against the FD point estimate of the same sets):

1. FD: the point estimate of 400 generated vs 1000 reference clips (one 2048-d row each: both sets below d,
   the regime of audioldm_eval's test sets, where both covariances are singular).
2. FD∞ (15 subsets): the pipeline's path (reference covariance factored once, every subset a Gram
   eigenproblem of size rows x rows) against the previous path (per subset: full d x d moments and
   ``frechet_distance``, which here needs two 2048-d ``eigh`` calls), with the largest difference of the
   15 subset values.
3. Bootstrap, 50 replicates through the shared pipeline (``evaluate.compute``): against reference clips
   (both sets resampled) and against the reference statistics (generated resampled, reference fixed).

Usage: ``python benchmarks/metrics_speed.py [--quick]`` (``--quick``: d = 256, a smoke test). Run on an idle
machine; on a shared one every number is pessimistic.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiometric.embed import Clip, Extraction  # noqa: E402
from audiometric.evaluate import Settings, compute  # noqa: E402
from audiometric.metrics import MetricWarning, frechet_distance, frechet_from_features  # noqa: E402
from audiometric.metrics.extrapolated import fd_infinity, subset_sizes  # noqa: E402
from audiometric.reference import ReferenceStats  # noqa: E402
from audiometric.sets import ClipSet  # noqa: E402
from audiometric.stats import MomentAccumulator  # noqa: E402


def clip_set(rows: np.ndarray) -> ClipSet:
    clips = [Clip(i, f"/b/{i}.wav", "x", 16000, 1, 1.0, {"bench": {"embedding": r[None, :]}}) for i, r in enumerate(rows)]
    return ClipSet("/b", len(clips), Extraction(clips, []))


def timed(func):
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def previous_fd_infinity(clips: list[np.ndarray], mu: np.ndarray, sigma: np.ndarray, seed: int) -> list[float]:
    """The path FD∞ took before: full moments and frechet_distance on every subset (same subset draws)."""
    rng = np.random.default_rng(seed)
    values = []
    for size in subset_sizes(len(clips)):
        rows = np.concatenate([clips[i] for i in rng.choice(len(clips), size=int(size), replace=False)])
        acc = MomentAccumulator(rows.shape[1]).update(rows)
        values.append(frechet_distance(acc.mean, acc.cov(), mu, sigma, n1=acc.count))
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d = 256: a smoke test, ratios not meaningful")
    args = parser.parse_args()
    d, n_gen, n_ref, replicates = (256, 100, 200, 10) if args.quick else (2048, 400, 1000, 50)
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    gen = np.maximum(rng.standard_normal((n_gen, d)) @ mix + 0.1, 0.0)  # ReLU-like, as PANNs embeddings
    ref = np.maximum(rng.standard_normal((n_ref, d)) @ mix, 0.0)
    clips = [r[None, :] for r in gen]
    acc = MomentAccumulator(d).update(ref)
    mu, sigma = acc.mean, acc.cov()
    print(f"metrics_speed: d={d}, {n_gen} generated vs {n_ref} reference clips (one row each), "
          f"load average {os.getloadavg()[0]:.1f}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        t_fd, _ = timed(lambda: frechet_from_features(gen, ref))
        t_inf, fit = timed(lambda: fd_infinity(clips, mu, sigma, seed=0))
        t_old, old = timed(lambda: previous_fd_infinity(clips, mu, sigma, seed=0))
        gen_set, ref_set = clip_set(gen), clip_set(ref)
        stats = ReferenceStats("ref.npz", {"bench:embedding": acc}, {"clips": n_ref})
        settings = Settings(("fd",), "bench", "bench", bootstrap=replicates)
        t_boot, _ = timed(lambda: compute(settings, gen_set, ref_set, None, progress=False))
        t_boot_stats, _ = timed(lambda: compute(settings, gen_set, None, stats, progress=False))
    diff = max(abs(a - b[2]) / abs(a) for a, b in zip(old, fit.points))
    rows = [
        ("FD (point estimate)", t_fd, ""),
        (f"FD∞, {len(fit.points)} subsets, reference factored once", t_inf, f"{t_inf / t_fd:.1f}x FD"),
        (f"FD∞, {len(fit.points)} subsets, previous path (full d x d per subset)", t_old,
         f"{t_old / t_fd:.1f}x FD; new path {t_old / t_inf:.1f}x faster; max rel. diff {diff:.1e}"),
        (f"FD + bootstrap {replicates} replicates, reference clips", t_boot, f"{t_boot / t_fd:.1f}x FD"),
        (f"FD + bootstrap {replicates} replicates, statistics file", t_boot_stats, f"{t_boot_stats / t_fd:.1f}x FD"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, seconds, note in rows:
        print(f"{name.ljust(width)}  {seconds:8.2f} s  {note}")


if __name__ == "__main__":
    main()
