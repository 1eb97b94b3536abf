"""The practical side of a verdict: how far two clean draws of the reference differ, at the sweep's N.

A change can be statistically sure (the paired test) and still smaller than what sampling alone produces
between two systems of equal quality. Each repeat splits the clean reference at random into two disjoint
draws of ``n // 2`` clips and scores one against the other; the standard deviation of those values over
the repeats is the metric's clean-vs-clean spread. The repeats are seeded
(``SeedSequence([repeat, stable_hash('\\0clean-spread')])``) and written to ``OUT_DIR/clean_spread.json``
under a key of everything that can change them, so a rerun reuses them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from audiometric.corrupt.clip import dumps, stable_hash
from audiometric.runtime.atomic import atomic_write_text
from audiometric.sweep.core import Scorer

#: Repeats of the clean split: the standard deviation of 20 values is known to about ±16 % (1 / sqrt(2 (R - 1))).
REPEATS = 20


def draws(n: int, repeat: int) -> tuple[list[int], list[int]]:
    """Two disjoint random draws of ``n // 2`` reference indices each, for repeat ``repeat``."""
    rng = np.random.default_rng(np.random.SeedSequence([repeat, stable_hash("\0clean-spread")]))
    order = [int(i) for i in rng.permutation(n)]
    half = n // 2
    return sorted(order[:half]), sorted(order[half : 2 * half])


def clean_spread(scorer: Scorer, clips: list, root: Path, metrics: tuple[str, ...], key: str, path: Path) -> dict:
    """Per result entry: the values of two clean draws scored against each other, their mean and sd.

    Read back from ``path`` when its key matches ``key``; else computed (no bootstrap) and written atomically.
    """
    try:
        old = json.loads(path.read_text())
        if old.get("key") == key:
            return old
    except (OSError, ValueError):
        pass
    values: dict[str, list[float]] = {}
    reasons: dict[str, str] = {}
    for repeat in range(REPEATS):
        first, second = draws(len(clips), repeat)
        with warnings.catch_warnings():  # the cells already show the metrics' warnings (e.g. fewer clips than dims)
            warnings.simplefilter("ignore")
            got, why = scorer.compute(
                [clips[i] for i in first], [clips[i] for i in second], root, metrics, seed=repeat, bootstrap=False
            )
        for entries in got.values():
            for name, entry in entries.items():
                values.setdefault(name, []).append(float(entry["value"]))
        reasons.update(why)
    out: dict[str, Any] = {"key": key, "repeats": REPEATS, "n": len(clips) // 2, "metrics": {}, "not_computed": {}}
    for name, vals in values.items():
        if len(vals) == REPEATS:
            sd = float(np.std(vals, ddof=1))
            out["metrics"][name] = {"mean": float(np.mean(vals)), "sd": sd, "values": vals}
    out["not_computed"] = {name: why for name, why in reasons.items() if name not in out["metrics"]}
    atomic_write_text(path, dumps(out))
    return out
