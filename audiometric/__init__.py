"""audiometric: score generated audio against reference audio, and study how trustworthy the scores are.

Python API (the CLI's commands call these; heavy modules load on first use, so ``import audiometric``
stays light)::

    result = audiometric.score("gen/", "ref/", metrics=("fd", "kad"), backbone="aisfx")
    result["fd"].value, result.to_json("result.json")
    audiometric.embed("gen/", "gen.npz"); audiometric.stats("ref/", "ref.npz")
    audiometric.frechet_distance(x, y); audiometric.inception_score(logits); audiometric.kl(g, r)

``audiometric.score``, ``.embed`` and ``.stats`` are also the submodules of those names: calling one runs
the API function, while its attributes are the module's (``audiometric.score.make_extractor``).
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

#: Submodules that are also called as the API function of the same name (``audiometric/score.py`` ...).
_CALLABLE = ("score", "embed", "stats")


def _load(name: str):
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __getattr__(name: str):
    if name in _EXPORTS:
        return _load(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _CallableModule(types.ModuleType):
    """A submodule that, called, runs the API function of its name: ``audiometric.score(gen, ref)`` is
    :func:`audiometric.api.score`, while ``audiometric.score.make_extractor`` and ``from audiometric
    import score`` still reach the module (so imports and monkeypatching keep working)."""

    def __call__(self, *args, **kwargs):
        return _load(self.__name__.rpartition(".")[2])(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(_load(self.__name__.rpartition(".")[2]))


def _callable_module(name: str) -> property:
    def get(package):
        module = importlib.import_module(f"{__name__}.{name}")
        if not isinstance(module, _CallableModule):
            module.__class__ = _CallableModule
        return module

    # the import system sets each imported submodule as an attribute here; the getter returns it anyway
    return property(get, lambda package, value: None)


class _Package(types.ModuleType):
    """This package: ``score``, ``embed`` and ``stats`` are callable submodules (see :class:`_CallableModule`)."""


for _name in _CALLABLE:
    setattr(_Package, _name, _callable_module(_name))
sys.modules[__name__].__class__ = _Package

__all__ = ["__version__", *_EXPORTS]
