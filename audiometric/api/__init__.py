"""The Python API behind the CLI: a configured :class:`Scorer`, and ``score``/``embed``/``stats`` over it.

The click commands in :mod:`audiometric.cli` only parse options and call these, so a script and a shell
command with the same settings give the same numbers and the same JSON. ``options`` holds the defaults and
the argument checks, ``scorer`` the :class:`Scorer`, ``functions`` the one-call conveniences.
"""

from audiometric.api.functions import compare, embed, score, stats
from audiometric.api.options import (
    DEFAULT_BACKBONE,
    DEFAULT_FAD_BACKBONE,
    MIN_BOOTSTRAP,
    extraction_options,
    metric_names,
    stats_metrics,
)
from audiometric.api.scorer import Scorer

__all__ = [
    "DEFAULT_BACKBONE",
    "DEFAULT_FAD_BACKBONE",
    "MIN_BOOTSTRAP",
    "Scorer",
    "compare",
    "embed",
    "extraction_options",
    "metric_names",
    "score",
    "stats",
    "stats_metrics",
]
