"""audiometric: score generated audio against reference audio, and study how trustworthy the scores are.

Python API (the CLI's commands call these; heavy modules load on first use, so ``import audiometric``
stays light)::

    result = audiometric.score("gen/", "ref/", metrics=("fd", "kad"), backbone="aisfx")
    result["fd"].value, result.to_json("result.json")
    audiometric.embed("gen/", "gen.npz"); audiometric.stats("ref/", "ref.npz")
    audiometric.frechet_distance(x, y); audiometric.inception_score(logits); audiometric.kl(g, r)

The pipeline behind them lives in submodules with other names (``audiometric.scoring``,
``audiometric.extract``, ``audiometric.moments``), so ``audiometric.score`` is always the function.
"""

import importlib

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "score": "api", "embed": "api", "stats": "api",
    "Result": "result", "MetricValue": "result",
    "frechet_distance": "features", "inception_score": "features", "kl": "features",
    "kernel_audio_distance": "features",
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
