"""Metric-side speed at d = 2048, measured side by side in one run: FD∞ and bootstrap time against FD time.

Rows (seconds; ratios against the FD point estimate of the same sets):

1. FD: the point estimate of 400 generated vs 1000 reference clips (one 2048-d row each: both sets below d,
   the regime of audioldm_eval's test sets, where both covariances are singular).
2. FD + FD∞ (15 subsets) through the pipeline (``evaluate.compute``): the reference factored once (from
   its rows when they are fewer than d, else one Cholesky/eigh), every subset a Gram eigenproblem of
   size rows x rows.
3. FD + bootstrap, 50 replicates, through the pipeline.
   Rows 1-3 against reference clips (both sets resampled) and against the statistics file (reference fixed).
4. FD∞ by the previous path (per subset: full d x d moments and ``frechet_distance``, which here needs two
   2048-d ``eigh`` calls), with the largest relative difference of the subset values (``--no-previous``
   skips it).

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

from audiometric.extraction.clipset import ClipSet
from audiometric.extraction.extract import Clip, Extraction
from audiometric.metrics import MetricWarning, frechet_distance
from audiometric.metrics.extrapolated import subset_sizes
from audiometric.metrics.moments import MomentAccumulator
from audiometric.scoring.compute import Settings, compute
from audiometric.scoring.reference import ReferenceStats


def clip_set(rows: np.ndarray) -> ClipSet:
    clips = [
        Clip(
            index=i,
            path=f"/b/{i}.wav",
            sha256="x",
            sample_rate=16000,
            channels=1,
            seconds=1.0,
            outputs={"bench": {"embedding": r[None, :]}},
        )
        for i, r in enumerate(rows)
    ]
    return ClipSet("/b", len(clips), Extraction(clips=clips, skipped=[]))


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
    parser.add_argument("--no-previous", action="store_true", help="skip the previous FD∞ path (minutes at d = 2048)")
    args = parser.parse_args()
    d, n_gen, n_ref, replicates = (256, 100, 200, 10) if args.quick else (2048, 400, 1000, 50)
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    gen = np.maximum(rng.standard_normal((n_gen, d)) @ mix + 0.1, 0.0)  # ReLU-like, as PANNs embeddings
    ref = np.maximum(rng.standard_normal((n_ref, d)) @ mix, 0.0)
    acc = MomentAccumulator(d).update(ref)
    gen_set, ref_set = clip_set(gen), clip_set(ref)
    stats = ReferenceStats("ref.npz", {"bench:embedding": acc}, {"clips": n_ref})
    print(
        f"metrics_speed: d={d}, {n_gen} generated vs {n_ref} reference clips (one row each), "
        f"load average {os.getloadavg()[0]:.1f}, BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}"
    )

    def pipeline(ref_side, **kw) -> tuple[float, dict]:
        return timed(
            lambda: compute(
                Settings(metrics=("fd",), backbone="bench", fad_backbone="bench", **kw),
                gen_set,
                *ref_side,
                progress=False,
            )[0]
        )

    clips_side, stats_side = (ref_set, None), (None, stats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        rows = []
        for label, side in (("reference clips", clips_side), ("statistics file", stats_side)):
            t_fd, _ = pipeline(side)
            t_inf, inf = pipeline(side, fd_inf=True)
            t_boot, _ = pipeline(side, bootstrap=replicates)
            rows += [
                (f"FD, {label}", t_fd, ""),
                (f"FD + FD∞ ({len(inf['fd_inf']['points'])} subsets), {label}", t_inf, f"{t_inf / t_fd:.1f}x FD"),
                (f"FD + bootstrap {replicates} replicates, {label}", t_boot, f"{t_boot / t_fd:.1f}x FD"),
            ]
        if not args.no_previous:
            clips = [r[None, :] for r in gen]
            t_old, old = timed(lambda: previous_fd_infinity(clips, acc.mean, acc.cov(), seed=0))
            diff = max(abs(a - p[2]) / abs(a) for a, p in zip(old, inf["fd_inf"]["points"]))  # same subset draws
            rows.append(
                (
                    "FD∞ alone, previous path (full d x d per subset)",
                    t_old,
                    f"{t_old / rows[0][1]:.1f}x FD; max rel. diff of the subset values {diff:.1e}",
                )
            )
    width = max(len(r[0]) for r in rows)
    for name, seconds, note in rows:
        print(f"{name.ljust(width)}  {seconds:8.2f} s  {note}")


if __name__ == "__main__":
    main()
