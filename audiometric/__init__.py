"""audiometric: score generated audio against reference audio, and study how trustworthy the scores are.

Python API (the CLI's commands call these; heavy modules load on first use, so ``import audiometric``
stays light)::

    result = audiometric.score("gen/", "ref/", metrics=("fd", "kad"), backbone="aisfx")
    result["fd"].value, result.to_json("result.json")
    audiometric.embed("gen/", "gen.npz"); audiometric.stats("ref/", "ref.npz")
    audiometric.frechet_distance(x, y); audiometric.inception_score(logits); audiometric.kl(g, r)

``audiometric.score``, ``.embed`` and ``.stats`` always name these functions, although submodules of the
same names exist: import from the modules with ``from audiometric.score import make_extractor`` (``import
audiometric.score as m`` binds the function).
"""

import importlib
import sys
import types

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "score": "api", "embed": "api", "stats": "api",
    "Result": "result", "MetricValue": "result",
    "frechet_distance": "features", "inception_score": "features", "kl": "features",
    "kernel_audio_distance": "features",
    "AudiometricError": "errors",
}

#: Names that are both an API function and a submodule (``audiometric/score.py`` ...).
_SHADOWED = ("score", "embed", "stats")


def _load(name: str):
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __getattr__(name: str):
    if name in _EXPORTS:
        return _load(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def _api_property(name: str) -> property:
    # Importing the submodule of the same name makes the import system set it as this package's
    # attribute; this setter drops that assignment (the submodule stays in sys.modules, so
    # ``from audiometric.score import make_extractor`` still works) and the getter keeps the function.
    return property(lambda self: _load(name), lambda self, value: None)


class _Package(types.ModuleType):
    """This package, whose ``score``, ``embed`` and ``stats`` attributes always name the API functions."""


for _name in _SHADOWED:
    setattr(_Package, _name, _api_property(_name))
sys.modules[__name__].__class__ = _Package

__all__ = ["__version__", *_EXPORTS]
