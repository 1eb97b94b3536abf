"""The corruption registry: each entry is a :class:`Corruption` with its parameter documentation.

Protocol (every entry's ``apply``)::

    apply(audio, sample_rate, rng, severity, **params) -> (audio, record)

``audio`` is float32 ``(channels, samples)`` (mono ``(samples,)`` accepted and returned as mono),
``sample_rate`` in Hz, ``rng`` an explicit ``np.random.Generator`` (the only source of randomness),
``severity`` in the unit that the entry documents (``severity == 0`` returns the input unchanged,
bit-exact), and ``record`` a JSON-able dict of everything drawn. Set-level entries also carry
``select(names, severity, rng) -> set of names``, which picks the clips of a set that ``apply`` corrupts.

Adding a corruption is one module in this package that defines ``CORRUPTION = Corruption(...)`` and
one line (its module name) in ``MODULES`` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import CorruptionError

MODULES: tuple[str, ...] = (
    "gaussian_noise",
    "mel_noise",
    "mel_mask",
    "interference",
    "interference_fraction",
    "event_permutation",
)


@dataclass(frozen=True)
class Param:
    """One parameter: name, unit (dB, fraction, count, s, Hz, samples, ...), default, valid range, meaning."""

    name: str
    unit: str
    default: Any
    range: str
    doc: str
    type: type = float
    choices: tuple[str, ...] = ()

    def parse(self, text: str) -> Any:
        """Convert a command-line string to this parameter's type (``CorruptionError`` if it does not fit)."""
        if self.choices:
            if text not in self.choices:
                raise CorruptionError(f"--param {self.name}={text}: choose one of {', '.join(self.choices)}")
            return text
        try:
            return self.type(text)
        except ValueError:
            raise CorruptionError(
                f"--param {self.name}={text}: expected a {self.type.__name__} ({self.unit})"
            ) from None

    def describe(self) -> str:
        """One line for ``audiometric corrupt --list``."""
        default = "required" if self.default is None else repr(self.default)
        return f"{self.name} [{self.unit}; {self.range}; default {default}]: {self.doc}"


@dataclass(frozen=True)
class Corruption:
    """A registered corruption: its function, severity, other parameters and (set-level) clip selector."""

    name: str
    summary: str
    apply: Callable[..., tuple[np.ndarray, dict]]
    severity: Param
    params: tuple[Param, ...] = ()
    inputs: tuple[Param, ...] = ()
    select: Callable[[Sequence[str], float, np.random.Generator], set[str]] | None = None

    def defaults(self) -> dict[str, Any]:
        """Every parameter's default value."""
        return {p.name: p.default for p in self.params}

    def describe(self) -> str:
        """Multi-line description for ``audiometric corrupt --list``."""
        lines = [f"{self.name}{' (set-level)' if self.select else ''}: {self.summary}"]
        lines.append(f"  severity [{self.severity.unit}; {self.severity.range}]: {self.severity.doc}")
        lines += [f"  --param {p.describe()}" for p in self.params]
        lines += [f"  input {p.describe()}" for p in self.inputs]
        return "\n".join(lines)


def _load() -> dict[str, Corruption]:
    entries = [importlib.import_module(f"{__package__}.{m}").CORRUPTION for m in MODULES]
    return {c.name: c for c in entries}


REGISTRY: dict[str, Corruption] = _load()


def names() -> list[str]:
    """Registered corruption names, sorted."""
    return sorted(REGISTRY)


def get(name: str) -> Corruption:
    """The registry entry ``name`` (``CorruptionError`` listing the valid names otherwise)."""
    if name not in REGISTRY:
        raise CorruptionError(f"unknown corruption '{name}'; choose one of: {', '.join(names())}")
    return REGISTRY[name]
