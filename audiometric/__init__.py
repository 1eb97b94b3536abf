"""audiometric: score generated audio against reference audio, and study how trustworthy the scores are.

Python API (the CLI's commands call these; heavy modules load on first use, so ``import audiometric``
stays light)::

    result = audiometric.score("gen/", "ref/", metrics=("fd", "kad"), backbone="aisfx")
    result["fd"].value, result.to_json("result.json")
    audiometric.embed("gen/", "gen.npz"); audiometric.stats("ref/", "ref.npz")
    audiometric.frechet_distance(x, y); audiometric.inception_score(logits); audiometric.kl(g, r)

The pipeline behind them lives in submodules with other names (``audiometric.scoring.pipeline``,
``audiometric.extraction.extract``, ``audiometric.metrics.moments``), so ``audiometric.score`` is always the function.
"""

import importlib

from audiometric._version import __version__

#: Public name -> the module that defines it.
_EXPORTS = {
    "score": "api",
    "embed": "api",
    "stats": "api",
    "compare": "api",
    "Scorer": "api",
    "Result": "scoring.result",
    "MetricValue": "scoring.result",
    "frechet_distance": "metrics.functional",
    "inception_score": "metrics.functional",
    "kl": "metrics.functional",
    "kernel_audio_distance": "metrics.functional",
    "AudiometricError": "errors",
}


def __getattr__(name: str):
    """The public names, imported on first use (PEP 562), so ``import audiometric`` loads no torch."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = ["__version__", *_EXPORTS]
