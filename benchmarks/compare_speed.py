"""FD permutation test speed: sample-space Gram method vs naive per-permutation scipy sqrtm, in one run.

The naive method runs on fewer permutations and is extrapolated linearly to the full count (printed as such).
Usage: python benchmarks/compare_speed.py [--clips 200] [--dim 2048] [--permutations 1000] [--naive 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import linalg

from audiometric.metrics.significance import exchanges
from audiometric.scoring.compare_permutation import frechet_permutation_test


def _naive_fd(x: np.ndarray, y: np.ndarray) -> float:
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--naive", type=int, default=5, help="permutations actually run by the naive method")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a, b, ref = (rng.normal(size=(args.clips, args.dim)) for _ in range(3))
    start = time.perf_counter()
    frechet_permutation_test(a, b, ref, n_perm=args.permutations, seed=0)
    fast = time.perf_counter() - start
    pooled = np.concatenate([a, b])
    start = time.perf_counter()
    for ia, ib in exchanges(len(a), len(b), args.naive, 0):
        _naive_fd(pooled[ib], ref) - _naive_fd(pooled[ia], ref)
    naive = (time.perf_counter() - start) / args.naive * args.permutations
    print(f"gram: {fast:.2f} s for {args.permutations} permutations ({args.clips} clips/system, d={args.dim})")
    print(f"naive sqrtm: {naive:.1f} s extrapolated from {args.naive} permutations")
    print(f"speed-up: {naive / fast:.1f}x")


if __name__ == "__main__":
    main()
