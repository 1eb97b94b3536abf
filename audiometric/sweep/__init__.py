"""Sensitivity sweeps: which metric notices which damage, beyond its own sampling noise (issue 7).

``run_sweep(make_spec({...}))`` corrupts a clean reference at rising severity over several seeds, scores
every cell with the scoring core, and writes results, a verdict per metric and a Figure-1-style plot.
See docs/sweeps.md. Importing this package is light; :func:`run_sweep` loads torch when first used.
"""

from typing import Any

from audiometric.sweep.spec import ALIASES, SCALES, SweepSpec, load_config, make_spec

__all__ = ["ALIASES", "SCALES", "SweepSpec", "load_config", "make_spec", "run_sweep"]


def __getattr__(name: str) -> Any:
    if name == "run_sweep":  # PEP 562: keeps `audiometric sweep --help` free of the scoring stack
        from audiometric.sweep.run import run_sweep

        return run_sweep
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
